// The fiber switch: Boost.Context's fcontext (only switch.cc includes Boost),
// the sanitizer annotations every switch needs, and the per-thread C++
// exception state that must travel with a fiber.
#ifndef GORT_RUNTIME_SRC_SWITCH_H_
#define GORT_RUNTIME_SRC_SWITCH_H_

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif

#if GORT_ASAN
extern "C" void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom,
                                               size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                                size_t* size_old);
#endif
#if GORT_TSAN
extern "C" void* __tsan_get_current_fiber(void);
extern "C" void* __tsan_create_fiber(unsigned flags);
extern "C" void __tsan_destroy_fiber(void* fiber);
extern "C" void __tsan_switch_to_fiber(void* fiber, unsigned flags);
#endif

namespace gort::runtime::internal {

struct Transfer {
  void* from;  // the context that switched to us, to be resumed later
  void* data;
};
using Context = void*;

// A new context on [sp - size, sp) that will run entry(Transfer) when first
// switched to. entry must never return.
Context MakeContext(void* sp, std::size_t size, void (*entry)(Transfer));

// The C++ runtime keeps the "exceptions being handled" chain and the uncaught
// count per thread. A fiber that parks inside a catch block and resumes on
// another thread must take them along, so every switch saves the leaving
// fiber's pair and installs the arriving one's.
struct EhState {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};
// The calling thread's exception globals; an M caches it (its thread never
// changes) so that a switch costs no dynamic-TLS lookup.
void* ThreadEhGlobals();
void SaveEh(void* thread_globals, EhState* into);  // and clears the thread's
void RestoreEh(void* thread_globals, const EhState& from);

// Where a switch goes: its context, and for the sanitizers the stack it
// runs on and its TSan fiber.
struct SwitchTarget {
  Context ctx;
  const void* stack_lo;
  std::size_t stack_size;
  void* tsan_fiber;
};

// The one switch sequence; every switch of the runtime goes through it:
//   1. the leaving fiber's C++ exception state is saved into *eh and the
//      thread's cleared (eh null: the leaving side is g0, which has none, or
//      a fiber that is dying);
//   2. ASan learns the stack we go to and where to keep the leaving side's
//      fake stack (fake_slot null: the leaving fiber is dying, and ASan
//      frees its fake stack);
//   3. TSan learns the fiber we go to;
//   4. the jump, handing `data` to the other side;
//   5. on return (something switched back to us, maybe on another thread),
//      ASan's switch back is completed with the same slot.
// Restoring the exception state is the resumed side's own step (RestoreEh),
// since it needs the globals of the thread it resumed on. Returns what the
// switcher handed over.
Transfer SwitchTo(const SwitchTarget& to, void* data, void** fake_slot, void* eh_globals = nullptr,
                  EhState* eh = nullptr);
// The first step of a new context: completes ASan's switch into it.
void BeginFiber();

// Sanitizer annotations (no-ops in plain builds).
inline void AsanStart(void** fake_save, const void* bottom, std::size_t size) {
#if GORT_ASAN
  __sanitizer_start_switch_fiber(fake_save, bottom, size);
#else
  (void)fake_save, (void)bottom, (void)size;
#endif
}
inline void AsanFinish(void* fake_save) {
#if GORT_ASAN
  __sanitizer_finish_switch_fiber(fake_save, nullptr, nullptr);
#else
  (void)fake_save;
#endif
}
inline void* TsanCurrentFiber() {
#if GORT_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}
inline void* TsanCreateFiber() {
#if GORT_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
inline void TsanDestroyFiber(void* f) {
#if GORT_TSAN
  if (f != nullptr) __tsan_destroy_fiber(f);
#else
  (void)f;
#endif
}
inline void TsanSwitchTo(void* f) {
#if GORT_TSAN
  __tsan_switch_to_fiber(f, 0);
#else
  (void)f;
#endif
}

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_SWITCH_H_
