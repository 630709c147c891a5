// Fatal signals: a fiber that overflows its stack (SIGSEGV on the guard
// page, handled on the M's alternate signal stack) dies with Go's message
// instead of a bare crash; an exception escaping a fiber aborts naming it.
#ifndef GORT_RUNTIME_SRC_SIGNALS_H_
#define GORT_RUNTIME_SRC_SIGNALS_H_

#include "proc.h"

namespace gort::runtime::internal {

void SignalsInstall();        // Run, at start
void SignalsUninstall();      // Run, at the end (the previous handlers return)
void MSignalStackInit(M* m);  // on m's thread
void MSignalStackFree(M* m);  // on m's thread, as it ends
[[noreturn]] void FatalStackOverflow(G* g);
[[noreturn]] void PanicAbort(G* g, const char* what);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_SIGNALS_H_
