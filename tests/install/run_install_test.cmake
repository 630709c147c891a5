# Installs gort from the build tree into a scratch prefix, then configures,
# builds and runs a tiny consumer that uses find_package(gort CONFIG REQUIRED).
# The consumer is configured with the outer build's generator and compilers:
# a fresh machine has only what third_party/install-deps.sh installed (Ninja,
# not make), and CMake's default generator would need make.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${GORT_BINARY_DIR} --prefix ${WORK_DIR}/prefix
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${GORT_SOURCE_DIR}/tests/install/consumer
    -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
    -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer failed")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "consumer printed: ${out}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer ok: sum 285")
  message(FATAL_ERROR "the consumer failed (rc=${rc})")
endif()
