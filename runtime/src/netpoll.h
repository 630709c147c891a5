// The poller: descriptors whose waiters park, as Go's netpoller. One epoll
// instance per Run; a descriptor is registered once (edge-triggered, made
// non-blocking) and has a PollDesc for as long as it is open through gort.
// A fiber that finds its descriptor not ready parks on the PollDesc (a plain
// thread sleeps there); whoever sees the edge readies it:
//   - an M looking for work polls without blocking (FindRunnable);
//   - the one idle M that sleeps until the next timer sleeps in epoll_wait
//     (StopM with the poll sleeper's role), woken through an eventfd when it
//     is handed a P or an earlier timer arrives (NetpollBreak);
//   - sysmon, when nobody has polled for 10 ms (every P busy).
// Deadlines ride on the timers: a waiter with a deadline adds a TimerNode
// that wakes it with kTimeout. Closing through gort (PollEvict) wakes every
// waiter with kClosing. Go: runtime/netpoll.go, netpoll_epoll.go.
//
// Lock order: a PollDesc's lock, then a P's timers_lock, then sched.lock
// (a waiter adds its timer under the PollDesc's lock); the table lock, then
// a PollDesc's lock. No lock is held while a waiter is woken.
#ifndef GORT_RUNTIME_SRC_NETPOLL_H_
#define GORT_RUNTIME_SRC_NETPOLL_H_

#include <atomic>
#include <cstdint>

#include "gort/internal/runtime_support.h"
#include "proc.h"

namespace gort::runtime::internal {

// Run: creates the epoll instance and its wake-up eventfd. Throws
// gort::Panic (naming the call) if the kernel refuses.
void NetpollInit();
// Shutdown, once no M is left and every fiber was unwound: wakes the plain
// threads still waiting (they fall back to poll(2)), forgets every
// registration and closes both descriptors.
void NetpollShutdown();

// Polls once and readies every waiter whose wait ended (fibers go to the
// caller's P, or to the global queue from an M without one; threads are
// woken). timeout_ns < 0 blocks until an event or NetpollBreak, 0 does not
// block. Returns how many waiters it woke. Any M or sysmon. Go: netpoll.
int Netpoll(int64_t timeout_ns);
// Makes a blocked Netpoll return (now, or at once when it next blocks).
// Any thread. Go: netpollBreak.
void NetpollBreak();
// Waiters parked or sleeping on descriptors: possible wake-ups for
// deadlock detection, and worth a poll when an M looks for work.
int NetpollWaiters();
// Whether the poll sleeper is blocked in epoll_wait now (it will see the
// events itself). Go: sched.lastpoll == 0.
bool NetpollBlocked();
// When a Netpoll last ran (Nanotime).
int64_t NetpollLastPoll();
// sysmon: polls without blocking if fibers wait on descriptors, no M sleeps
// in the poller and nobody has polled for 10 ms (every P busy). Go:
// sysmon's netpoll.
void SysmonNetpoll(int64_t now);

// Wakes the idle M m (its note, and the poller if m sleeps in it). Any
// thread. Go has no counterpart: its netpoll sleeper is not on the idle list.
void WakeM(M* m);
// StopM's sleep for the poll sleeper: blocks in epoll_wait for at most
// timeout_ns (< 0: no limit) unless m's note is set, handling what arrives.
// Returns whether m's note was set (handed a P, or shutdown).
bool NetpollSleep(M* m, int64_t timeout_ns);

}  // namespace gort::runtime::internal

#endif  // GORT_RUNTIME_SRC_NETPOLL_H_
