# GORT_SANITIZE: address, undefined, thread, combinable as the compiler allows.
# The flags go to every target (and the link), so tests and benchmarks are
# instrumented along with the runtime. The runtime annotates every fiber
# switch for ASan and TSan (runtime/src/switch.cc).
if(GORT_SANITIZE)
  set(_gort_san_flags "")
  foreach(s IN LISTS GORT_SANITIZE)
    if(NOT s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "gort: GORT_SANITIZE takes address, undefined, thread; got '${s}'")
    endif()
    list(APPEND _gort_san_flags "-fsanitize=${s}")
  endforeach()
  if("address" IN_LIST GORT_SANITIZE AND "thread" IN_LIST GORT_SANITIZE)
    message(FATAL_ERROR "gort: GORT_SANITIZE cannot combine address and thread")
  endif()
  list(APPEND _gort_san_flags -fno-omit-frame-pointer -g)
  if("undefined" IN_LIST GORT_SANITIZE)
    list(APPEND _gort_san_flags -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${_gort_san_flags})
  add_link_options(${_gort_san_flags})
  # Exported with gort::runtime, so that a consumer of an instrumented
  # install links the sanitizer runtime too.
  set(GORT_SANITIZER_LINK_FLAGS ${_gort_san_flags})
  message(STATUS "gort: sanitizers: ${GORT_SANITIZE}")
endif()
