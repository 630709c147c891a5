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

namespace bctx = boost::context::detail;

namespace gort::runtime::internal {
namespace {

struct EhGlobalsLayout {  // the layout of __cxa_eh_globals in the Itanium C++ ABI
  void* caughtExceptions;
  unsigned int uncaughtExceptions;
};

void Trampoline(bctx::transfer_t t) { GMain(Transfer{t.fctx, t.data}); }

}  // namespace

Context MakeContext(void* sp, std::size_t size) { return bctx::make_fcontext(sp, size, &Trampoline); }

Transfer Jump(Context to, void* data) {
  bctx::transfer_t t = bctx::jump_fcontext(static_cast<bctx::fcontext_t>(to), data);
  return Transfer{t.fctx, t.data};
}

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
