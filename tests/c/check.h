/* A few macros for the C tests of the C API (no test framework: these are
 * plain C11 programs, as an embedder's would be). A failed CHECK prints
 * where and why and exits 1; RUN runs one test function and names it. */
#ifndef GORT_TESTS_C_CHECK_H_
#define GORT_TESTS_C_CHECK_H_

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gort/c.h"

#define CHECK(cond)                                                                              \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s (gort_last_error: \"%s\")\n", __FILE__, __LINE__, \
              #cond, gort_last_error());                                                         \
      exit(1);                                                                                   \
    }                                                                                            \
  } while (0)

#define CHECK_EQ(a, b)                                                  \
  do {                                                                  \
    long long va_ = (long long)(a), vb_ = (long long)(b);               \
    if (va_ != vb_) {                                                   \
      fprintf(stderr,                                                   \
              "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld; "        \
              "gort_last_error: \"%s\")\n",                             \
              __FILE__, __LINE__, #a, #b, va_, vb_, gort_last_error()); \
      exit(1);                                                          \
    }                                                                   \
  } while (0)

#define CHECK_STREQ(a, b)                                                                       \
  do {                                                                                          \
    const char *sa_ = (a), *sb_ = (b);                                                          \
    if (strcmp(sa_, sb_) != 0) {                                                                \
      fprintf(stderr, "%s:%d: CHECK_STREQ failed: \"%s\" vs \"%s\"\n", __FILE__, __LINE__, sa_, \
              sb_);                                                                             \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

#define RUN(test)                            \
  do {                                       \
    fprintf(stderr, "[ RUN  ] %s\n", #test); \
    test();                                  \
    fprintf(stderr, "[  OK  ] %s\n", #test); \
  } while (0)

#endif /* GORT_TESTS_C_CHECK_H_ */
