// Private to gort::syscall.
#ifndef GORT_SYSCALL_SRC_FORKEXEC_H_
#define GORT_SYSCALL_SRC_FORKEXEC_H_

#include <sys/types.h>

#include "absl/time/time.h"

#include <string>

namespace gort::syscall::internal {

// errno as Go prints it: the C library's text with a lowercase first letter
// ("no such file or directory").
std::string ErrnoText(int err);

// Fork times, so that a Waitmsg can report the real time from fork to reaping.
void RecordStart(pid_t pid);
absl::Duration TakeElapsed(pid_t pid);  // zero if unknown; forgets the pid

}  // namespace gort::syscall::internal

#endif  // GORT_SYSCALL_SRC_FORKEXEC_H_
