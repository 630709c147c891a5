# Installs gort from the build tree into a scratch prefix, checks that
# libgort.so is there under its SONAME, then builds a C program exactly as
# the README says (cc app.c $(pkg-config --cflags --libs gort)) with the
# installed gort.pc and runs it. Inputs: GORT_SOURCE_DIR, GORT_BINARY_DIR,
# WORK_DIR, LIBDIR (CMAKE_INSTALL_LIBDIR), SOVERSION, VERSION, C_COMPILER.
# Then the same for gort-lua (below).
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${GORT_BINARY_DIR} --prefix ${prefix}
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed")
endif()
set(libdir ${prefix}/${LIBDIR})
foreach(f libgort.so libgort.so.${SOVERSION} libgort.so.${VERSION} pkgconfig/gort.pc)
  if(NOT EXISTS ${libdir}/${f})
    message(FATAL_ERROR "not installed: ${libdir}/${f}")
  endif()
endforeach()
foreach(h c.h version.h)
  if(NOT EXISTS ${prefix}/include/gort/${h})
    message(FATAL_ERROR "not installed: include/gort/${h}")
  endif()
endforeach()
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${libdir}/pkgconfig CC=${C_COMPILER}
    sh -c "\"$CC\" -std=c11 -o app ${GORT_SOURCE_DIR}/tests/install/c_consumer/app.c $(pkg-config --cflags --libs gort)"
  WORKING_DIRECTORY ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the C consumer with pkg-config failed:\n${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${WORK_DIR}/app
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "C consumer printed: ${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "c consumer ok: sum 285, gort ${VERSION}")
  message(FATAL_ERROR "the C consumer failed (rc=${rc})")
endif()

# gort-lua from its source against the installed gort, as embed/lua/README.md
# says (cc gort_lua.c $(pkg-config --cflags --libs gort lua5.4)), when the
# machine has Lua 5.4; then a script of the Lua suite runs on it.
execute_process(COMMAND pkg-config --exists lua5.4 RESULT_VARIABLE has_lua)
if(NOT has_lua EQUAL 0)
  message(STATUS "lua5.4 not found by pkg-config: gort-lua not built against the install")
  return()
endif()
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${libdir}/pkgconfig CC=${C_COMPILER}
    sh -c "\"$CC\" -std=c11 -o gort-lua ${GORT_SOURCE_DIR}/embed/lua/gort_lua.c $(pkg-config --cflags --libs gort lua5.4)"
  WORKING_DIRECTORY ${WORK_DIR} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building gort-lua with pkg-config failed:\n${out}")
endif()
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir}
    ${WORK_DIR}/gort-lua ${GORT_SOURCE_DIR}/tests/lua/channels.lua
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "gort-lua printed: ${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "channels ok")
  message(FATAL_ERROR "gort-lua built against the install failed (rc=${rc})")
endif()
