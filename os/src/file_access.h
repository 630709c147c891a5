// Private to gort::os: the door to a File's state for exec, which hands
// Files to children.
#ifndef GORT_OS_SRC_FILE_ACCESS_H_
#define GORT_OS_SRC_FILE_ACCESS_H_

#include "gort/os.h"

namespace gort::os::internal {

struct FileAccess {
  // Puts f in blocking mode for good (a child must not get a non-blocking
  // descriptor: the mode belongs to the open file, which the child shares)
  // and returns its descriptor; -1 if f is nil or closed. The parent's
  // reads and writes of f then block in a system-call bracket. Go: File.Fd.
  static int ForChild(const File& f);
};

}  // namespace gort::os::internal

#endif  // GORT_OS_SRC_FILE_ACCESS_H_
