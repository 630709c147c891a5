/* gort/c.h: the C API, for language VMs and programs written in C.
 *
 * Plain C11 (also valid C++), every name prefixed gort_. Nothing of C++
 * crosses it: handles are opaque and reference-counted, and no exception
 * leaves a gort_ function. The semantics are those of the C++ API
 * (<gort/runtime.h>, <gort/chan.h>, <gort/sync.h>, <gort/poll.h>,
 * <gort/syscall.h>), and so Go's.
 *
 * Errors. Functions that can fail return 0 (or a count, an index) on
 * success and a negative errno value on failure; gort_last_error() then
 * holds the message, worded as the C++ API words it ("send on closed
 * channel", "fork/exec /no/such: no such file or directory"). What Go
 * reports with a panic because the caller misused an object (closing a
 * closed channel, unlocking an unlocked mutex) is returned here as an
 * error too, since a panic cannot unwind C frames. The last error is kept
 * per fiber (whatever OS thread the fiber resumes on) or per plain thread,
 * until that fiber's or thread's next failing call.
 *
 * Who may call. Every call works from a fiber and from a plain thread of
 * the host while the runtime runs (gort_run, or gort_start .. gort_stop).
 * In a fiber, blocking calls park the fiber and its OS thread runs other
 * fibers; in a plain thread they block the thread. Channels, mutexes and
 * wait groups may be used by fibers and threads together.
 *
 * Shutdown. gort_stop (and gort_run returning) unwind the fibers still
 * parked, as the C++ runtime does, but C frames cannot be unwound: a fiber
 * started with gort_go that is parked in a gort_ call when the runtime
 * stops is resumed there, the call returns -ECANCELED, and so does every
 * later call that would block; gort_unwinding() returns 1. A fiber whose
 * call had completed (its value taken) but that had not run again since
 * gets -ECANCELED as well: after shutdown began, only gort_unwinding()
 * tells. The fiber's function must then release what it holds (without
 * running the VM or taking locks other fibers may hold) and return. A C++ exception escaping
 * a fiber's function (a C++ callee of a gort_go function) is a panic, as
 * in the C++ API: "panic: <what>" and "goroutine N [running]:" on stderr,
 * then abort.
 *
 * Ordering. As in Go: a send happens-before the matching receive
 * completes, gort_go happens-before the fiber's function starts, a
 * mutex unlock happens-before the next lock returns, and the calls made
 * before gort_waitgroup_done happen-before the gort_waitgroup_wait that it
 * releases returns. */
#ifndef GORT_C_H_
#define GORT_C_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gort/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the runtime ------------------------------------------------------ */

/* runtime::Options. Zero-initialized (or a NULL pointer) means the
 * defaults: procs 0 ($GORT_MAXPROCS, else the CPUs), stack_size 0 (256 KiB),
 * max_threads 0 (10000), process_reapers 0 ($GORT_PROCESS_REAPERS, else one
 * locked waiter thread per running child, Go's algorithm; K in 1..256: K
 * reaper threads fork and wait for every child). Out of range: -EINVAL. */
typedef struct gort_options {
  int procs;
  size_t stack_size;
  int max_threads;
  int process_reapers;
} gort_options;

/* Starts the scheduler in the background and returns: the host keeps its
 * own main thread (runtime::Start). -EINVAL: a bad option; -EBUSY: the
 * runtime already runs, or called from a fiber; -EAGAIN: the system refused
 * a thread or a descriptor. */
int gort_start(const gort_options* o);
/* Shuts the runtime down with the guarantees of gort_run returning
 * (runtime::Stop): fibers still parked are unwound (see "Shutdown" above),
 * running ones are waited for until their next gort_ call, every thread
 * is joined. Plain threads blocked on gort objects are not woken. From a
 * plain thread; -EINVAL: not started by gort_start, or called from a fiber. */
int gort_stop(void);
/* Runs main_fn(arg) as the main fiber and returns 0 once it has returned
 * and the runtime has shut down (runtime::Run). Errors as gort_start. */
int gort_run(void (*main_fn)(void*), void* arg, const gort_options* o);

/* Starts a fiber running fn(arg) (runtime::Go). -EINVAL: the runtime is
 * not running; -ECANCELED: it is shutting down; -ENOMEM: no stack. */
int gort_go(void (*fn)(void*), void* arg);
/* Yields the processor; the fiber stays runnable (sched_yield outside one). */
void gort_yield(void);
/* Parks the fiber (or sleeps the thread) for ns nanoseconds; ns <= 0
 * returns at once. Returns early only when the fiber is being unwound. */
void gort_sleep_ns(int64_t ns);
/* runtime::LockOSThread / UnlockOSThread: a counter, as Go >= 1.10. */
void gort_lock_os_thread(void);
void gort_unlock_os_thread(void);
/* Calling a foreign function that blocks its OS thread (a C library's
 * blocking call, read(2) on a terminal, a VM's io.read) from a fiber:
 * bracket it, so that the fiber's processor runs other fibers meanwhile
 * (runtime::EnterSyscall / EnterSyscallBlock / ExitSyscall). Between the two
 * the fiber may make only that call: no gort_ call that may park or yield.
 * A VM releases its own lock before entering and takes it after exiting.
 * gort_syscall_exit returns errno as the call left it, and sets errno to it
 * on the thread the fiber resumes on; read it from the return value: the C
 * compiler may keep the address of the old thread's errno across the call.
 *
 *   gort_syscall_enter_block();
 *   ssize_t n = read(fd, buf, len);
 *   int err = gort_syscall_exit();          // errno of the read
 *
 * Outside a fiber these do nothing (and gort_syscall_exit returns errno). */
void gort_syscall_enter(void);       /* may block: sysmon may retake the P after ~20 us */
void gort_syscall_enter_block(void); /* known to block: the P is handed off at once */
int gort_syscall_exit(void);

/* Cooperative preemption for an interpreter loop (runtime::CheckPreempt):
 * a fiber that has held its processor for 10 ms without parking is asked
 * to yield. gort_preempt_pending() returns 1 when gort_check_preempt() would
 * yield now; a VM that holds its own lock while it runs asks first, releases
 * the lock, calls gort_check_preempt() and takes the lock again, so that
 * other fibers can run the VM meanwhile. Cheap (a thread-local read and a
 * load); 0 and a no-op outside a fiber. */
int gort_preempt_pending(void);
void gort_check_preempt(void);

/* The calling fiber's id (0 outside a fiber); fibers that exist now. */
uint64_t gort_goid(void);
int gort_num_goroutine(void);
/* 1 while the calling fiber is being unwound by shutdown, else 0
 * (runtime::Unwinding). */
int gort_unwinding(void);

/* The calling fiber's (or plain thread's) last error message; "" if none.
 * Valid until that fiber's or thread's next failing gort_ call. */
const char* gort_last_error(void);
/* "MAJOR.MINOR.PATCH" of the library actually loaded (GORT_VERSION_STRING
 * of the headers it was built with). */
const char* gort_version(void);

/* ---- channels of void* ------------------------------------------------ */

/* A channel handle. gort_chan_new returns one reference; gort_chan_retain
 * adds one and gort_chan_release drops one (the last one frees the channel
 * and its notify descriptor). Each call holds a reference of its own while
 * it runs, so a handle may be released by one thread while another's call
 * on it is still returning (a receiver that drops the channel once it has
 * its value). The values are the caller's pointers: gort
 * never dereferences or frees them. Values still buffered when the last
 * reference goes are dropped. A NULL gort_chan* is an error (-EINVAL) for
 * the calls below, and a case that is never ready in gort_select (Go's nil
 * channel). */
typedef struct gort_chan gort_chan;

/* capacity 0: unbuffered. NULL only when out of memory. */
gort_chan* gort_chan_new(size_t capacity);
gort_chan* gort_chan_retain(gort_chan* c); /* returns c */
void gort_chan_release(gort_chan* c);      /* NULL: no-op */
/* 0: sent; -EPIPE: the channel is closed ("send on closed channel"). */
int gort_chan_send(gort_chan* c, void* v);
/* 1: *v holds a value; 0: closed and drained (*v = NULL). */
int gort_chan_recv(gort_chan* c, void** v);
/* Non-blocking forms: -EAGAIN where the blocking form would block. */
int gort_chan_try_send(gort_chan* c, void* v);
int gort_chan_try_recv(gort_chan* c, void** v);
/* 0; -EPIPE: already closed ("close of closed channel"). */
int gort_chan_close(gort_chan* c);
size_t gort_chan_len(gort_chan* c);
size_t gort_chan_cap(gort_chan* c);

/* A channel (capacity 1) that receives one NULL value once ns nanoseconds
 * have passed: time::After for selects with a timeout. A fiber of its own
 * sleeps meanwhile. The caller owns the returned reference. NULL when the
 * runtime is not running (see gort_last_error). */
gort_chan* gort_after_ns(int64_t ns);

/* One case of gort_select. A send case sends send_value; a receive case
 * fills recv_value and recv_ok (1: a value, 0: closed and drained) if it is
 * the one that runs. A NULL chan is never ready. */
typedef struct gort_case {
  gort_chan* chan;
  int is_send;
  void* send_value;
  void* recv_value;
  int recv_ok;
} gort_case;

/* Runs one ready case, chosen uniformly at random among the ready ones, and
 * returns its index; with nonblocking != 0, returns -EAGAIN when none is
 * ready (Go's default case), else blocks until one is. n == 0 (or only NULL
 * channels) blocking blocks forever, as Go's select {}. -EPIPE: the case
 * chosen sends on a closed channel. */
int gort_select(gort_case* cases, size_t n, int nonblocking);

/* A descriptor for host event loops (poll, epoll, libuv, a GUI loop): an
 * eventfd that is readable while the channel has a value to receive (a
 * buffered value or a blocked sender) or is closed, and not readable once
 * it is drained. Readiness is a hint: after it, receive with
 * gort_chan_try_recv or a nonblocking gort_select, which may still return
 * -EAGAIN (another receiver was first); never read the descriptor
 * yourself. The channel owns it (closed when its last reference goes); the
 * same descriptor is returned on every call. Tracks the operations made
 * through this API. Negative errno on failure. */
int gort_chan_notify_fd(gort_chan* c);

/* ---- sync --------------------------------------------------------------- */

/* sync::Mutex and sync::WaitGroup behind reference-counted handles
 * (retain / release as channels). A lock or wait parks a fiber, never its
 * OS thread. */
typedef struct gort_mutex gort_mutex;
gort_mutex* gort_mutex_new(void);
gort_mutex* gort_mutex_retain(gort_mutex* m);
void gort_mutex_release(gort_mutex* m);
int gort_mutex_lock(gort_mutex* m);    /* 0 */
int gort_mutex_trylock(gort_mutex* m); /* 1: locked; 0: held by someone */
int gort_mutex_unlock(gort_mutex* m);  /* -EPERM: not locked ("sync: unlock of unlocked mutex") */

typedef struct gort_waitgroup gort_waitgroup;
gort_waitgroup* gort_waitgroup_new(void);
gort_waitgroup* gort_waitgroup_retain(gort_waitgroup* wg);
void gort_waitgroup_release(gort_waitgroup* wg);
int gort_waitgroup_add(gort_waitgroup* wg, int delta); /* -EINVAL: negative counter */
int gort_waitgroup_done(gort_waitgroup* wg);
int gort_waitgroup_wait(gort_waitgroup* wg);

/* ---- descriptors ------------------------------------------------------ */

#define GORT_POLL_READABLE 1
#define GORT_POLL_WRITABLE 2
/* Parks the fiber (or sleeps the thread) until fd is ready for events
 * (GORT_POLL_READABLE, GORT_POLL_WRITABLE or both) or timeout_ns passes
 * (timeout_ns < 0: no limit); poll::Wait. The fd stays the caller's and is
 * made non-blocking. 0: ready; -ETIMEDOUT ("i/o timeout"); -EBADF: not open,
 * or closed through gort meanwhile ("use of closed file"); -EINVAL: bad
 * events. */
int gort_poll_wait(int fd, int events, int64_t timeout_ns);

/* Closes fd through gort (poll::Close): its waiters wake with -EBADF ("use
 * of closed file"), its registration with the poller goes, then close(2).
 * Close a descriptor that was waited on this way, not with close(2): its
 * number may come back for another file. */
int gort_poll_close(int fd);

/* ---- processes (Go's fix for the fork-exec/wait race) ------------------ */

/* Starts path (no PATH search) with argv (NULL-terminated; argv[0] is the
 * name the child sees), environment envp ("KEY=VALUE", NULL-terminated;
 * NULL: this process's environment) and working directory dir (NULL: this
 * process's) through syscall::StartProcess: a fiber locked to its OS thread
 * forks there and will wait there. Stores the pid in *pid. Errors name the
 * cause as Go does: "fork/exec /no/such: no such file or directory" is
 * -ENOENT. */
int gort_process_start(const char* path, const char* const* argv, const char* const* envp,
                       const char* dir, pid_t* pid);
/* Waits for a child started by gort_process_start and stores its raw wait
 * status (WIFEXITED, WEXITSTATUS, ...) in *wait_status (which may be NULL).
 * Once per child: -ECHILD for a pid not started here or already waited
 * for ("wait: process not found"). */
int gort_process_wait(pid_t pid, int* wait_status);
/* Sends sig to pid: through its pidfd while it is a child started by
 * gort_process_start and not yet waited for (so a recycled pid is never
 * signalled), else kill(2). -ESRCH: "kill: no such process". */
int gort_process_kill(pid_t pid, int sig);

/* The pre-fix algorithm (os::legacy), kept so that the fork-exec/wait race
 * can be shown: the child is forked on whatever OS thread the calling fiber
 * is on, and gort_legacy_process_wait loops on wait4(-1, __WNOTHREAD) on
 * whatever thread the fiber is on then, dropping other children's statuses.
 * A fiber that migrated between the two gets -ECHILD ("wait: no child
 * processes"), or reaps other children, whose statuses are lost (counted in
 * *dropped, which may be NULL). Arguments and errors as above. A pid started
 * here is killed by gort_process_kill through its pidfd until it is waited
 * for. For demonstrations and tests only. */
int gort_legacy_process_start(const char* path, const char* const* argv, const char* const* envp,
                              const char* dir, pid_t* pid);
int gort_legacy_process_wait(pid_t pid, int* wait_status, int* dropped);
/* Forgets a legacy child that will not be waited for (its pidfd is closed;
 * the child, once it exits, stays a zombie until some wait on its forking
 * thread or the process's exit). -ECHILD: not a legacy pid, or waited for. */
int gort_legacy_process_release(pid_t pid);

/* ---- exec (Go's os/exec) ---------------------------------------------- */

/* Frees what a gort_ call returned through a char** (free(3)). NULL: no-op. */
void gort_free(void* p);

/* Searches $PATH for an executable named file, as exec.LookPath (a name
 * with '/' is tried as it is) and stores a malloc'd copy of the path in
 * *path (free with gort_free). -ENOENT: `exec: "NAME": executable file not
 * found in $PATH`; other errors as exec.LookPath words them. */
int gort_look_path(const char* file, char** path);

/* The error of gort_exec_output for a child that ran and failed: it exited
 * non-zero ("exit status 3") or was killed by a signal ("signal: killed"),
 * as Go's *exec.ExitError. Outside the errno range. */
#define GORT_EEXIT 4096
/* Flags of gort_exec_output. */
#define GORT_EXEC_COMBINED 1 /* stdout and stderr through one pipe (CombinedOutput) */

/* Runs argv[0] (looked up in $PATH as gort_look_path does, when it has no
 * '/') with argv, environment envp (NULL: ours), stdin_len bytes of
 * stdin_data on its stdin (stdin_data NULL: /dev/null), waits for it, and
 * returns its output: exec.Command(...).Output(), or CombinedOutput() with
 * GORT_EXEC_COMBINED. A fiber parks meanwhile (the child's pipes are read
 * through the poller), a plain thread blocks.
 *
 * *out (may be NULL) receives what the child wrote to stdout (both streams
 * with GORT_EXEC_COMBINED), malloc'd and NUL-terminated, its length in
 * *out_len (may be NULL); also when the child failed. *err_out (may be NULL)
 * receives, when the child failed, its stderr as Go's ExitError.Stderr keeps
 * it (the first and last 32 KiB), else "" (with GORT_EXEC_COMBINED always
 * ""). Free both with gort_free, whatever the result (on -ENOMEM they are
 * NULL). *wait_status (may be NULL) receives the raw wait status, -1 when
 * the child did not run.
 *
 * 0: the child exited with status 0. -GORT_EEXIT: it ran and failed;
 * gort_last_error() is "exit status 3" or "signal: killed". Otherwise the
 * child did not start (*out and *err_out are "", still to be freed, and
 * *wait_status is -1): -ENOENT for `exec: "nosuch": executable file not
 * found in $PATH`, -EACCES for "fork/exec /x: permission denied", -EINVAL
 * for a NULL or empty argv ("exec: no command"). */
int gort_exec_output(const char* const* argv, const char* const* envp, const char* stdin_data,
                     size_t stdin_len, int flags, char** out, size_t* out_len, char** err_out,
                     size_t* err_len, int* wait_status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GORT_C_H_ */
