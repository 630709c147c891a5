// gort/gort.h: everything gort offers, in one include.
#ifndef GORT_GORT_H_
#define GORT_GORT_H_

#include "gort/chan.h"
#include "gort/context.h"
#include "gort/errgroup.h"
#include "gort/exec.h"
#include "gort/os.h"
#include "gort/panic.h"
#include "gort/poll.h"
#include "gort/runtime.h"
#include "gort/sync.h"
#include "gort/syscall.h"
#include "gort/time.h"

#endif  // GORT_GORT_H_
