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
 *   testchild echo A B ...    print the arguments, space-separated, and a newline
 *   testchild cat             copy stdin to stdout
 *   testchild write N         write N bytes ('x') to stdout
 *   testchild stderr N CODE   write N bytes ('e') to stderr, then exit CODE
 *   testchild mixed           "out1" to stdout, "err1" to stderr, "out2" to stdout
 *   testchild flags           for fds 0-2 "FD blocking|nonblocking", then
 *                             "sigpipe default|ignored|caught blocked|unblocked"
 *   testchild orphan MS       fork a grandchild that holds stdout for MS ms,
 *                             print its pid, and exit 0 at once
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static int write_all(int fd, const void* p, size_t n) {
  const char* c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) return 1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static int write_n(int fd, char ch, long n) {
  char buf[65536];
  memset(buf, ch, sizeof buf);
  while (n > 0) {
    size_t k = n < (long)sizeof buf ? (size_t)n : sizeof buf;
    if (write_all(fd, buf, k) != 0) return 1;
    n -= (long)k;
  }
  return 0;
}

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
  if (strcmp(mode, "echo") == 0) {
    for (int i = 2; i < argc; i++) printf("%s%s", i > 2 ? " " : "", argv[i]);
    printf("\n");
    return 0;
  }
  if (strcmp(mode, "cat") == 0) {
    char buf[65536];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
      if (write_all(1, buf, (size_t)n) != 0) return 1;
    }
    return n < 0 ? 1 : 0;
  }
  if (strcmp(mode, "write") == 0 && argc > 2) {
    return write_n(1, 'x', atol(argv[2]));
  }
  if (strcmp(mode, "stderr") == 0 && argc > 3) {
    if (write_n(2, 'e', atol(argv[2])) != 0) return 100;
    return atoi(argv[3]);
  }
  if (strcmp(mode, "mixed") == 0) {
    return write_all(1, "out1\n", 5) | write_all(2, "err1\n", 5) | write_all(1, "out2\n", 5);
  }
  if (strcmp(mode, "flags") == 0) {
    for (int fd = 0; fd < 3; fd++) {
      int fl = fcntl(fd, F_GETFL);
      printf("%d %s\n", fd, fl < 0 ? "closed" : (fl & O_NONBLOCK) ? "nonblocking" : "blocking");
    }
    struct sigaction sa;
    sigaction(SIGPIPE, NULL, &sa);
    sigset_t mask;
    sigprocmask(SIG_SETMASK, NULL, &mask);
    printf("sigpipe %s %s\n",
           sa.sa_handler == SIG_DFL   ? "default"
           : sa.sa_handler == SIG_IGN ? "ignored"
                                      : "caught",
           sigismember(&mask, SIGPIPE) ? "blocked" : "unblocked");
    return 0;
  }
  if (strcmp(mode, "orphan") == 0 && argc > 2) {
    long ms = atol(argv[2]);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
      while (nanosleep(&ts, &ts) != 0) {
      }
      _exit(0);
    }
    printf("%d\n", (int)pid);
    return 0;
  }
  return 2;
}
