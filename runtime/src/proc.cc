// The scheduler's global state and what every part of it shares: the
// current M, status names and checks, the per-M random numbers. The parts
// themselves are listed in proc.h. Function comments there and in the parts
// say who may call them and end with the Go counterpart.
#include "proc.h"

#include "fatal.h"

namespace gort::runtime::internal {

Sched sched;

namespace {
thread_local M* tls_m = nullptr;
}  // namespace

// The only reader of tls_m. noinline plus the asm barrier keep the compiler
// from treating it as pure and reusing a thread_local address computed before
// a switch (the fiber may be on another thread after it). Go: getg.
__attribute__((noinline)) M* GetM() {
  asm volatile("" ::: "memory");
  return tls_m;
}
__attribute__((noinline)) void SetM(M* m) {
  asm volatile("" ::: "memory");
  tls_m = m;
}
G* GetG() {
  M* m = GetM();
  return m != nullptr ? m->curg : nullptr;
}

const char* GStatusName(GStatus s) {
  switch (s) {
    case GStatus::kIdle:
      return "idle";
    case GStatus::kRunnable:
      return "runnable";
    case GStatus::kRunning:
      return "running";
    case GStatus::kSyscall:
      return "syscall";
    case GStatus::kWaiting:
      return "waiting";
    case GStatus::kDead:
      return "dead";
  }
  return "?";
}

const char* PStatusName(PStatus s) {
  switch (s) {
    case PStatus::kIdle:
      return "idle";
    case PStatus::kRunning:
      return "running";
    case PStatus::kSyscall:
      return "syscall";
    case PStatus::kDead:
      return "dead";
  }
  return "?";
}

namespace {
// "runtime: <who> <id> is <cur>, wanted <from> -> <to>", then the fatal error.
[[noreturn]] void BadStatus(const char* who, uint64_t id, const char* cur, const char* from,
                            const char* to, const char* fatal) {
  BeginFatal();
  WriteErr("runtime: ");
  WriteErr(who);
  WriteErrNum(id);
  WriteErr(" is ");
  WriteErr(cur);
  WriteErr(", wanted ");
  WriteErr(from);
  WriteErr(" -> ");
  WriteErr(to);
  WriteErr("\n");
  Throw(fatal);
}
}  // namespace

void BadPStatus(P* p, PStatus cur, PStatus from, PStatus to) {
  BadStatus("P ", static_cast<uint64_t>(p->id), PStatusName(cur), PStatusName(from),
            PStatusName(to), "bad P status");
}

void BadGStatus(G* g, GStatus cur, GStatus from, GStatus to) {
  BadStatus("casgstatus: goroutine ", g->id, GStatusName(cur), GStatusName(from), GStatusName(to),
            "casgstatus: bad incoming values");
}

uint32_t FastRand(M* m) {
  // xorshift64*; m->rand is seeded per M.
  uint64_t x = m->rand;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  m->rand = x;
  return static_cast<uint32_t>((x * 0x2545F4914F6CDD1DULL) >> 32);
}

}  // namespace gort::runtime::internal
