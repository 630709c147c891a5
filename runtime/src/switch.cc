// The one file that includes Boost.Context. We use its raw fcontext layer
// (make_fcontext / jump_fcontext): it is the fastest switch Boost offers and it
// leaves stacks, unwinding and sanitizer annotations to us, which a migrating
// runtime has to control anyway. (Rejected: boost::context::fiber, whose
// continuation objects and forced_unwind would sit between us and the switch
// and which annotates sanitizers only in its slow ucontext backend.)
#include "switch.h"

// <cxxabi.h> declares __cxa_get_globals, the calling thread's
// exception-handling globals (libstdc++/libsupc++). Declaring it here instead
// clashes with that declaration under clang, where <cxxabi.h> comes in
// through other headers anyway.
#include <cxxabi.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstddef>

namespace bctx = boost::context::detail;

namespace gort::runtime::internal {
namespace {

struct EhGlobalsLayout {  // the layout of __cxa_eh_globals in the Itanium C++ ABI
  void* caughtExceptions;
  unsigned int uncaughtExceptions;
};

// make_fcontext's entry is called from assembly with a transfer_t in the
// registers a two-pointer struct is passed in; Transfer is that struct, so
// the scheduler's entry can be handed over as it is.
static_assert(sizeof(Transfer) == sizeof(bctx::transfer_t) &&
              alignof(Transfer) == alignof(bctx::transfer_t) &&
              offsetof(Transfer, from) == offsetof(bctx::transfer_t, fctx) &&
              offsetof(Transfer, data) == offsetof(bctx::transfer_t, data));

}  // namespace

Context MakeContext(void* sp, std::size_t size, void (*entry)(Transfer)) {
  // Through void (*)(), the generic function pointer type, which compilers
  // accept as a cast between function types.
  return bctx::make_fcontext(
      sp, size, reinterpret_cast<void (*)(bctx::transfer_t)>(reinterpret_cast<void (*)()>(entry)));
}

Transfer SwitchTo(const SwitchTarget& to, void* data, void** fake_slot, void* eh_globals,
                  EhState* eh) {
  if (eh != nullptr) SaveEh(eh_globals, eh);
  AsanStart(fake_slot, to.stack_lo, to.stack_size);
  TsanSwitchTo(to.tsan_fiber);
  bctx::transfer_t t = bctx::jump_fcontext(static_cast<bctx::fcontext_t>(to.ctx), data);
  AsanFinish(fake_slot != nullptr ? *fake_slot : nullptr);
  return Transfer{t.fctx, t.data};
}

void BeginFiber() { AsanFinish(nullptr); }

void* ThreadEhGlobals() { return abi::__cxa_get_globals(); }

void SaveEh(void* thread_globals, EhState* into) {
  auto* g = static_cast<EhGlobalsLayout*>(thread_globals);
  into->caught = g->caughtExceptions;
  into->uncaught = g->uncaughtExceptions;
  if (into->caught == nullptr && into->uncaught == 0) return;
  g->caughtExceptions = nullptr;
  g->uncaughtExceptions = 0;
}

void RestoreEh(void* thread_globals, const EhState& from) {
  // g0 never has exceptions in flight and SaveEh cleared the thread's state,
  // so there is nothing to write for a fiber that had none.
  if (from.caught == nullptr && from.uncaught == 0) return;
  auto* g = static_cast<EhGlobalsLayout*>(thread_globals);
  g->caughtExceptions = from.caught;
  g->uncaughtExceptions = from.uncaught;
}

}  // namespace gort::runtime::internal
