// gort/gort.h: everything gort offers, in one include.
#ifndef GORT_GORT_H_
#define GORT_GORT_H_

#include "gort/panic.h"
#include "gort/runtime.h"

#endif  // GORT_GORT_H_
