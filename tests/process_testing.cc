#include "process_testing.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>

#include "forkexec.h"  // syscall's private header: the fork-time records
#include "gort/chan.h"
#include "gort/runtime.h"
#include "gort/syscall.h"

namespace gort::testing {

bool ReapersFromEnv() {
  const char* e = getenv("GORT_PROCESS_REAPERS");
  return e != nullptr && atoi(e) > 0;
}

void ProcessTest::TearDown() {
  EXPECT_EQ(syscall::PendingProcesses(), 0) << "wait-map entries left";
  EXPECT_EQ(ZombieChildren(), 0) << "zombies left";
  EXPECT_EQ(syscall::internal::ForkTimesPending(), 0) << "fork-time records left";
  ProcsTest::TearDown();
}

// The fiber parks and is readied by a worker fiber that is running on
// another thread than `tid` at that moment, and so resumes on that worker's P
// (and thread); repeated until it is not on `tid`.
void MigrateFrom(pid_t tid) {
  struct Shared {
    std::atomic<bool> stop{false};
    Chan<int> req{1}, reply{1};
  };
  auto sh = std::make_shared<Shared>();
  int procs = runtime::GOMAXPROCS(0);
  for (int i = 0; i < 2 * procs; i++) {
    runtime::Go([sh, tid] {
      while (!sh->stop.load()) {
        std::optional<int> v;
        if (runtime::ThreadID() != tid && Select(OnRecv(sh->req, &v), OnDefault()) == 0) {
          sh->reply.Send(1);
        }
        runtime::Gosched();
      }
    });
  }
  for (int i = 0; runtime::ThreadID() == tid; i++) {
    sh->req.Send(1);
    sh->reply.Recv();
    if (i > 1000000) {
      ADD_FAILURE() << "no migration";
      break;
    }
  }
  // Return at once: any yield from here on could take us back to `tid`.
  // The workers stop by themselves.
  sh->stop = true;
}

std::string ReadToEndAndClose(int fd) {
  std::string got;
  char buf[4096];
  ssize_t n;
  {
    runtime::BlockingSyscall bs;
    while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return got;
}

std::string ExpectedChildFds() {
  std::string out = "0\n1\n2\n";
  for (int fd : OpenFds()) {
    if (fd > 2 && fd < 64 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0)
      out += std::to_string(fd) + "\n";
  }
  return out;
}

}  // namespace gort::testing
