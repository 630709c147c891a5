# Runs GORT_LUA SCRIPT and checks how it ended: exit status RC and each of
# the ;-separated strings WANT on stderr (the uncaught-error contract: the
# message and a stack traceback naming the functions); stdout must not say
# "not reached".
execute_process(COMMAND ${GORT_LUA} ${SCRIPT} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "exit ${rc}; stderr:\n${err}")
if(NOT rc EQUAL RC)
  message(FATAL_ERROR "want exit status ${RC}, got ${rc}")
endif()
foreach(want IN LISTS WANT)
  string(FIND "${err}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "stderr lacks '${want}'")
  endif()
endforeach()
if(out MATCHES "not reached")
  message(FATAL_ERROR "the script went on")
endif()
