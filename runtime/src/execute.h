// Running a G, and the switches between a G, its M's scheduler context (g0)
// and the next G. A G that yields, parks or exits asks its M for the step
// that must wait until its stack is no longer in use (a SwitchRequest); it
// is carried out on g0 after the switch (Execute), or by the next G when
// the G switched straight to it (no g0 in between). Go: execute, mcall,
// gosched_m, park_m, goexit0, gopark.
#ifndef GORT_RUNTIME_SRC_EXECUTE_H_
#define GORT_RUNTIME_SRC_EXECUTE_H_

#include "proc.h"
#include "switch.h"

namespace gort::runtime::internal {

// What a G asks its M's g0 to do after switching away (Go: mcall's fn).
// kPreempt: a yield asked for by sysmon; the G goes to the global queue.
enum class SwitchKind { kGosched, kPreempt, kPark, kExit, kExitSyscall };
struct SwitchRequest {
  SwitchKind kind;
  bool (*unlock)(void* arg) = nullptr;  // kPark: runs once the G is saved (on g0, or
  void* arg = nullptr;                  // on the next G); false: do not park after all
};

// What is handed to a G when it is switched to: the M it now runs on, and,
// when the previous G switched straight to it (no g0 in between), that G and
// its request, which the resumed side carries out once the switch has saved
// the previous G's context.
struct ResumeInfo {
  M* m;
  G* prev = nullptr;
  SwitchRequest* req = nullptr;
};

// Runs g on m (which holds a P) until g switches back; returns a G to run
// next on this M without going through the scheduler, or null.
G* Execute(M* m, G* g);
// The bottom frame of every fiber (the entry NewG gives MakeContext).
[[noreturn]] void GMain(Transfer t);

// The running G only. Mcall switches to g0 with req and returns when the G
// is resumed (maybe on another M), throwing the shutdown unwind if it is
// being unwound. McallNoUnwind never throws it (ExitSyscall, which runs in
// destructors): the fiber is unwound at its next park point instead.
void Mcall(G* g, SwitchRequest* req);
void McallNoUnwind(G* g, SwitchRequest* req);
// The owner of p is about to run a G: count it (sysmon watches the count to
// find a G that runs long) and drop a preemption request meant for the G
// that ran before. Owner P only.
inline void NextSchedTick(P* p) {
  p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (p->preempt.load(std::memory_order_relaxed))
    p->preempt.store(false, std::memory_order_relaxed);
}
// Yields: straight to the next local G if there is one, else through g0.
// The running G only. Go: gosched_m.
void Yield(G* g);
// A preempted G's yield: through g0, to the tail of the global queue, so
// that whatever waits there (fibers readied by sysmon's timers or by plain
// threads) runs before it again. The running G only. Go: gopreempt_m.
void YieldPreempted(G* g);
// Parks g, the running G; unlock(arg) runs once g is saved (on g0 or the
// next G) and returns false to resume g at once. Go: gopark.
void ParkG(G* g, bool (*unlock)(void*), void* arg);

// A fiber being unwound at shutdown tried to block (it runs on the Run
// thread, and nothing will ever ready it): outside a destructor, throws
// ForcedUnwind so that the unwinding goes on from there; inside one (an
// exception is in flight), a fatal error naming the fiber. Never a hang.
[[noreturn]] void BlockedWhileUnwinding(G* g);
// Resumes a parked or runnable G on the Run thread (pseudo-M m0) so that it
// unwinds; a G that never started just destroys its callable. Shutdown.
void UnwindG(M* m0, G* g);
// errno of the thread running the caller, whatever thread that is now.
void SetErrno(int e);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_EXECUTE_H_
