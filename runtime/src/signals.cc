// Fatal reports that need a signal handler or must not allocate: stack
// overflow (SIGSEGV/SIGBUS on a fiber's guard page, handled on the M's
// alternate signal stack) and panics escaping a fiber.
#include "signals.h"

#include <signal.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "fatal.h"
#include "proc.h"

namespace gort::runtime::internal {
namespace {

struct sigaction old_segv, old_bus;
bool installed = false;
constexpr std::size_t kAltStackSize = 64 * 1024;

bool InGuard(G* g, const void* addr) {
  if (g == nullptr) return false;
  auto a = reinterpret_cast<uintptr_t>(addr);
  auto lo = reinterpret_cast<uintptr_t>(g->stack.map);
  auto hi = reinterpret_cast<uintptr_t>(g->stack.lo) + PageSize();  // guard + the canary page
  return a >= lo && a < hi;
}

void Chain(int sig, siginfo_t* info, void* uctx, const struct sigaction& old) {
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction != nullptr) {
      old.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting instruction re-runs
  // and the kernel delivers the signal with the default disposition.
  signal(sig, SIG_DFL);
}

void OnFault(int sig, siginfo_t* info, void* uctx) {
  M* m = GetM();
  G* g = m != nullptr ? m->curg : nullptr;
  if (InGuard(g, info->si_addr)) FatalStackOverflow(g);
  Chain(sig, info, uctx, sig == SIGSEGV ? old_segv : old_bus);
}

}  // namespace

void FatalStackOverflow(G* g) {
  BeginFatal();
  WriteErr("runtime: goroutine stack exceeds ");
  WriteErrNum(g->stack.size());
  WriteErr("-byte limit\nfatal error: stack overflow\n");
  WriteGoroutineHeader(g->id, "running");
  WriteScheduleSeed();
  abort();
}

void PanicAbort(G* g, const char* what) {
  BeginFatal();
  WriteErr("panic: ");
  WriteErr(what);
  WriteErr("\n");
  WriteGoroutineHeader(g->id, "running");
  WriteScheduleSeed();
  abort();
}

void SignalsInstall() {
  if (installed) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = &OnFault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
  installed = true;
}

void SignalsUninstall() {
  if (!installed) return;
  sigaction(SIGSEGV, &old_segv, nullptr);
  sigaction(SIGBUS, &old_bus, nullptr);
  installed = false;
}

void MSignalStackInit(M* m) {
  void* p =
      mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  stack_t ss;
  ss.ss_sp = p;
  ss.ss_size = kAltStackSize;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(p, kAltStackSize);
    return;
  }
  m->altstack = p;
  m->altstack_size = kAltStackSize;
}

void MSignalStackFree(M* m) {
  if (m->altstack == nullptr) return;
  stack_t ss;
  memset(&ss, 0, sizeof(ss));
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(m->altstack, m->altstack_size);
  m->altstack = nullptr;
}

}  // namespace gort::runtime::internal
