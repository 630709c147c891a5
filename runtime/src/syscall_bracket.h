// The system-call bracket (runtime::EnterSyscall / ExitSyscall): the P is
// left in kSyscall for the M to take back on exit, or for sysmon to retake
// and hand off if the call blocks; EnterSyscallBlock hands it off at once.
// Go: entersyscall, entersyscallblock, exitsyscall, exitsyscall0.
#ifndef GORT_RUNTIME_SRC_SYSCALL_BRACKET_H_
#define GORT_RUNTIME_SRC_SYSCALL_BRACKET_H_

#include "proc.h"

namespace gort::runtime::internal {

// ExitSyscall's slow path, on g0 once g is saved: g found no P, so it is
// queued, unless an idle P appeared, which m takes to run g next (returns g;
// else null and the M stops).
G* ExitSyscall0(M* m, G* g);

// Takes p, which an M in a system call left in kSyscall, and hands it off
// (to an M for its work, else to the idle list). False if someone else took
// it first (the M leaving its call, or sysmon). Go: retake's CAS + handoffp.
bool RetakeSyscallP(P* p);
// The same for the P that m itself left attached at EnterSyscall (none
// after EnterSyscallBlock): m gives it away while still in its call.
void GiveUpSyscallP(M* m);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_SYSCALL_BRACKET_H_
