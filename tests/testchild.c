/* A tiny static child for the process tests and benchmarks (the exec floor).
 *   testchild                 exit 0 at once
 *   testchild exit N          exit with status N
 *   testchild sleep MS        sleep, then exit 0
 *   testchild stdin           read stdin to EOF, then exit 0
 *   testchild fds             print the open descriptors below 64, one a line
 *   testchild fdstat          the same as "fd dev inode", naming what each one is
 *   testchild pwd             print the working directory
 *   testchild env             print the environment, one a line
 *   testchild ppid-wait MS    sleep; exit 0 (used to watch PDEATHSIG)
 *   testchild ids             print "pid pgid sid"
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) return 0;
  const char* mode = argv[1];
  if (strcmp(mode, "exit") == 0 && argc > 2) return atoi(argv[2]);
  if ((strcmp(mode, "sleep") == 0 || strcmp(mode, "ppid-wait") == 0) && argc > 2) {
    long ms = atol(argv[2]);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
    return 0;
  }
  if (strcmp(mode, "stdin") == 0) {
    char buf[256];
    while (read(0, buf, sizeof buf) > 0) {
    }
    return 0;
  }
  if (strcmp(mode, "fds") == 0) {
    for (int fd = 0; fd < 64; fd++) {
      if (fcntl(fd, F_GETFD) != -1) printf("%d\n", fd);
    }
    return 0;
  }
  if (strcmp(mode, "fdstat") == 0) {
    for (int fd = 0; fd < 64; fd++) {
      struct stat st;
      if (fstat(fd, &st) == 0) {
        printf("%d %lu %lu\n", fd, (unsigned long)st.st_dev, (unsigned long)st.st_ino);
      }
    }
    return 0;
  }
  if (strcmp(mode, "pwd") == 0) {
    char buf[4096];
    if (getcwd(buf, sizeof buf) == NULL) return 1;
    printf("%s\n", buf);
    return 0;
  }
  if (strcmp(mode, "ids") == 0) {
    printf("%d %d %d\n", (int)getpid(), (int)getpgid(0), (int)getsid(0));
    return 0;
  }
  if (strcmp(mode, "env") == 0) {
    for (char** e = environ; *e != NULL; e++) printf("%s\n", *e);
    return 0;
  }
  return 2;
}
