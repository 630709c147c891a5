// Support shared by gort's libFuzzer targets (fuzz/): one runtime for the
// whole fuzzing session, a way to run an input's work in a fiber, and the
// failure report.
//
// libFuzzer calls LLVMFuzzerTestOneInput on a plain thread, many thousand
// times a second. Starting runtime::Run for each input would fuzz Run's
// start-up and shutdown more than the code under test, so StartRuntime
// starts Run once, on a background thread, and its main fiber serves the
// jobs that RunInFiber sends it over a gort::Chan, one at a time. The fuzz
// thread blocks on a reply channel meanwhile (a plain thread using a channel,
// as gort allows). An atexit handler closes the job channel when libFuzzer
// exits normally, so that Run returns and shuts down cleanly before static
// destructors run.
#ifndef GORT_FUZZ_FUZZ_SUPPORT_H_
#define GORT_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

namespace gort_fuzz {

// Starts runtime::Run({.procs = procs}) on a background thread, once; later
// calls do nothing. Call from LLVMFuzzerInitialize.
void StartRuntime(int procs);

// Runs job in the runtime's main fiber and returns when it has returned.
// Call from the fuzz thread, after StartRuntime. The job must not throw.
void RunInFiber(const std::function<void()>& job);

// Waits (yielding, in a fiber; sleeping, on a plain thread) until the only
// fiber left is the main fiber: every helper fiber an input started has
// returned and dropped what it held. No deadline: libFuzzer's -timeout
// reports a hang.
void WaitForOtherFibers();

// Prints "<target>: FAILED: <what>" to stderr and aborts, so that libFuzzer
// reports a crash and saves the input.
[[noreturn]] void Fail(const std::string& what);
void SetTargetName(const char* name);

// errno of the thread running the caller, read afresh. Fuzz code runs in
// fibers that may move to another thread at any park, and glibc declares
// __errno_location const, so a compiler may reuse the address it computed
// on the first thread (gort/runtime.h: no thread_local address across a
// park). Not inlined, so every call reads the current thread's errno.
int Errno();

// The descriptors open in this process (/proc/self/fd, minus the listing's own).
std::set<int> OpenFds();

// A cursor over the fuzz input. Reads past the end give zeros and empty
// strings, so every input decodes to something.
class Reader {
 public:
  Reader(const uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool Empty() const { return p_ == end_; }
  uint8_t Byte() { return p_ < end_ ? *p_++ : 0; }
  // A length byte, then that many bytes (fewer at the end of the input).
  std::string String() {
    std::size_t n = Byte();
    std::size_t left = static_cast<std::size_t>(end_ - p_);
    if (n > left) n = left;
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace gort_fuzz

#endif  // GORT_FUZZ_FUZZ_SUPPORT_H_
