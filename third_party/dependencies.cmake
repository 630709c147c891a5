# Finds gort's dependencies from the system (Debian packages). Nothing is
# downloaded or vendored: a missing dependency stops the configure step and
# names the Debian package that provides it (third_party/install-deps.sh
# installs them all).

function(gort_require_package pkg debian)
  find_package(${pkg} ${ARGN} QUIET)
  if(NOT ${pkg}_FOUND)
    message(FATAL_ERROR
      "gort: ${pkg} not found. Install the Debian package '${debian}' "
      "(or run third_party/install-deps.sh).")
  endif()
endfunction()

gort_require_package(Threads libc6-dev)
gort_require_package(Boost libboost-context-dev CONFIG COMPONENTS context)
gort_require_package(absl libabsl-dev CONFIG)

if(GORT_BUILD_TESTS)
  gort_require_package(GTest libgtest-dev CONFIG)
endif()
if(GORT_BUILD_BENCH)
  gort_require_package(benchmark libbenchmark-dev CONFIG)
endif()
