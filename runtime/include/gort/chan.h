// gort/chan.h: Go's channels and select, for fibers and plain OS threads.
//
// Chan<T> is a handle: copies refer to the same channel, which lives until the
// last handle goes. A default-constructed Chan is Go's nil channel. The typed
// shell here only moves T values in and out; the channel itself (its lock,
// buffer and wait queues) is a type-erased core in the runtime.
//
// Semantics are Go's:
//  * An unbuffered send completes when a receiver takes the value; a buffered
//    send when the value is in the buffer. A send happens-before the
//    corresponding receive completes; the k-th receive on a channel of
//    capacity C happens-before the (k+C)-th send completes; closing a channel
//    happens-before a receive that returns because it is closed.
//  * A value is handed from a sender to a parked receiver directly (no buffer
//    copy), and waiters are served in FIFO order.
//  * Receive on a closed channel drains the buffer, then reports closed
//    (std::nullopt). Send on a closed channel, closing a closed channel and
//    closing a nil channel throw gort::Panic with Go's words. Send and receive
//    on a nil channel block forever.
//  * A fiber that blocks parks (its OS thread runs other fibers); a plain
//    thread that blocks sleeps on a futex. Either may wake the other.
//
// Select runs one ready case, chosen uniformly at random among the ready ones,
// or OnDefault() if none is ready; without a default it blocks until one is.
// It locks the channels involved in address order. A nil channel's case is
// never ready; the same channel may appear in several cases.
//
// Element types must move and destroy without throwing (noexcept), checked at
// compile time: values are moved while a channel's lock is held.
#ifndef GORT_CHAN_H_
#define GORT_CHAN_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "gort/panic.h"

namespace gort {

namespace chan_internal {
// How the core moves and destroys elements it does not know the type of.
struct ElemOps {
  std::size_t size;
  std::size_t align;
  void (*move)(void* dst, void* src);  // move-construct *dst from *src
  void (*destroy)(void* p);
};

// The core moves elements while it holds the channel's lock (into and out of
// the buffer, from a sender straight to a parked receiver): a move that threw
// there would leave the lock held and the queues half-updated. So elements
// must move and destroy without throwing, checked at compile time.
template <class T>
inline constexpr bool kElementOk = std::is_move_constructible_v<T>&&
    std::is_nothrow_move_constructible_v<T>&& std::is_nothrow_destructible_v<T>;

template <class T>
const ElemOps* OpsFor() {
  static_assert(kElementOk<T>,
                "gort::Chan<T> needs a T whose move constructor and destructor are noexcept: "
                "the channel moves values while holding its lock");
  static constexpr ElemOps ops{
      sizeof(T), alignof(T),
      [](void* dst, void* src) { ::new (dst) T(std::move(*static_cast<T*>(src))); },
      [](void* p) { static_cast<T*>(p)->~T(); }};
  return &ops;
}

struct Core;  // defined in the runtime (runtime/src/chan.cc)
Core* NewCore(const ElemOps* ops, std::size_t capacity);
void Ref(Core* c);
void Unref(Core* c);
// A null core is the nil channel. `v` and `out` point to a T (out: raw storage
// that receives a move-constructed T when the call reports a value).
void Send(Core* c, void* v);
bool Recv(Core* c, void* out);  // false: closed and drained
bool TrySend(Core* c, void* v);
int TryRecv(Core* c, void* out);  // 1: a value; 0: would block; -1: closed and drained
void Close(Core* c);
std::size_t Len(const Core* c);
std::size_t Cap(const Core* c);

template <class T>
std::optional<T> TakeFrom(void* storage) {
  T* t = std::launder(static_cast<T*>(storage));
  std::optional<T> r(std::move(*t));
  t->~T();
  return r;
}
}  // namespace chan_internal

// What a non-blocking receive found. Go: the `v, ok := <-c` of a select with
// a default case, where the default is kEmpty and `!ok` is kClosed.
enum class RecvStatus {
  kValue,   // a value was received
  kEmpty,   // nothing to receive now: the receive would block (or the channel is nil)
  kClosed,  // the channel is closed and its buffer drained
};

template <class T>
class Chan;
class Case;
template <class T>
Case OnRecv(const Chan<T>& ch, std::type_identity_t<std::optional<T>>* out);
template <class T>
Case OnSend(const Chan<T>& ch, std::type_identity_t<T> value);

template <class T>
class Chan {
  static_assert(chan_internal::kElementOk<T>,
                "gort::Chan<T> needs a T whose move constructor and destructor are noexcept: "
                "the channel moves values while holding its lock");

 public:
  // The nil channel: Send and Recv block forever, the Try forms never
  // succeed, Len and Cap are 0, Close panics.
  Chan() = default;
  // A new channel buffering up to `capacity` values (0: unbuffered). Panics
  // with "makechan: size out of range" past 2^40 bytes of buffer.
  explicit Chan(std::size_t capacity)
      : core_(chan_internal::NewCore(chan_internal::OpsFor<T>(), capacity)) {}
  // Copies refer to the same channel; it lives until the last handle (or
  // Case) referring to it goes, and values still buffered then are destroyed.
  Chan(const Chan& o) : core_(o.core_) {
    if (core_ != nullptr) chan_internal::Ref(core_);
  }
  // Leaves `o` the nil channel.
  Chan(Chan&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  // Makes this handle refer to o's channel (and drops its old one).
  Chan& operator=(Chan o) noexcept {
    std::swap(core_, o.core_);
    return *this;
  }
  ~Chan() {
    if (core_ != nullptr) chan_internal::Unref(core_);
  }

  // Operations act on the channel, not the handle: they are const.

  // Sends `value`, blocking (parking a fiber, sleeping a plain thread) until
  // a receiver takes it (unbuffered) or it is in the buffer. Panics with
  // "send on closed channel" if the channel is closed, or is closed while
  // this waits. On the nil channel, blocks forever.
  void Send(T value) const { chan_internal::Send(core_, &value); }
  // Receives the next value, blocking until there is one; std::nullopt once
  // the channel is closed and its buffer drained. On the nil channel, blocks
  // forever.
  std::optional<T> Recv() const {
    alignas(T) unsigned char buf[sizeof(T)];
    if (!chan_internal::Recv(core_, buf)) return std::nullopt;
    return chan_internal::TakeFrom<T>(buf);
  }
  // Sends `value` if that needs no waiting (a receiver is parked or the
  // buffer has room) and returns true; else returns false and `value` is
  // destroyed. Panics like Send on a closed channel; false on the nil one.
  bool TrySend(T value) const { return chan_internal::TrySend(core_, &value); }
  // Receives a value if one is ready now; std::nullopt both when it would
  // block (or the channel is nil) and when it is closed and drained. Use
  // TryRecvStatus to tell those apart.
  std::optional<T> TryRecv() const {
    alignas(T) unsigned char buf[sizeof(T)];
    if (chan_internal::TryRecv(core_, buf) != 1) return std::nullopt;
    return chan_internal::TakeFrom<T>(buf);
  }
  // Go's `v, ok := <-c` in a select with a default. kValue: a value was
  // received into *out; kEmpty: the receive would block (always on the nil
  // channel); kClosed: closed and drained. *out is reset unless kValue; out
  // may be null to discard the value. Never blocks, never panics.
  RecvStatus TryRecvStatus(std::optional<T>* out) const {
    alignas(T) unsigned char buf[sizeof(T)];
    int r = chan_internal::TryRecv(core_, buf);
    if (r != 1) {
      if (out != nullptr) out->reset();
      return r == 0 ? RecvStatus::kEmpty : RecvStatus::kClosed;
    }
    T* t = std::launder(reinterpret_cast<T*>(buf));
    if (out != nullptr) out->emplace(std::move(*t));
    t->~T();
    return RecvStatus::kValue;
  }
  // Closes the channel: blocked receivers get std::nullopt, blocked senders
  // panic, later receives drain the buffer first. Panics with "close of
  // closed channel" or "close of nil channel".
  void Close() const { chan_internal::Close(core_); }
  // The number of values in the buffer now (0 for the nil channel).
  std::size_t Len() const { return chan_internal::Len(core_); }
  // The buffer's capacity (0 for unbuffered and nil channels).
  std::size_t Cap() const { return chan_internal::Cap(core_); }
  // False for the nil channel.
  explicit operator bool() const { return core_ != nullptr; }
  // True if both handles refer to the same channel (or both are nil).
  friend bool operator==(const Chan& a, const Chan& b) { return a.core_ == b.core_; }

 private:
  template <class U>
  friend Case OnRecv(const Chan<U>& ch, std::type_identity_t<std::optional<U>>* out);
  template <class U>
  friend Case OnSend(const Chan<U>& ch, std::type_identity_t<U> value);
  chan_internal::Core* core_ = nullptr;
};

// One case of a Select. Built by OnRecv, OnSend and OnDefault; move-only.
// It holds a reference on its channel and, for OnSend, the value to send.
class Case {
 public:
  // Takes o's channel reference and value; o is left empty.
  Case(Case&& o) noexcept;
  Case& operator=(Case&&) = delete;
  Case(const Case&) = delete;
  // Destroys a value that was never sent (or received and not delivered)
  // and drops the channel reference.
  ~Case();

  enum class Kind : std::uint8_t { kRecv, kSend, kDefault };

 private:
  template <class T>
  friend Case OnRecv(const Chan<T>& ch, std::type_identity_t<std::optional<T>>* out);
  template <class T>
  friend Case OnSend(const Chan<T>& ch, std::type_identity_t<T> value);
  friend Case OnDefault();
  friend std::size_t SelectCases(Case* cases, std::size_t n);

  Case() = default;
  void* Elem() { return heap_ != nullptr ? heap_ : static_cast<void*>(inline_); }
  void AllocElem();

  chan_internal::Core* core_ = nullptr;  // a reference is held
  const chan_internal::ElemOps* ops_ = nullptr;
  Kind kind_ = Kind::kDefault;
  bool has_elem_ = false;                        // Elem() holds a live T
  void* out_ = nullptr;                          // kRecv: the std::optional<T>* to fill
  void (*deliver_)(Case* c, bool ok) = nullptr;  // kRecv: Elem() -> *out_
  void* heap_ = nullptr;
  alignas(std::max_align_t) unsigned char inline_[64];
};

// A receive case: when it runs, *out holds the value received, or
// std::nullopt if the channel is closed and drained. out may be null to
// discard the value. Never ready on the nil channel.
template <class T>
Case OnRecv(const Chan<T>& ch, std::type_identity_t<std::optional<T>>* out) {
  Case c;
  c.kind_ = Case::Kind::kRecv;
  c.core_ = ch.core_;
  if (c.core_ != nullptr) chan_internal::Ref(c.core_);
  c.ops_ = chan_internal::OpsFor<T>();
  c.out_ = out;
  c.deliver_ = [](Case* self, bool ok) {
    auto* o = static_cast<std::optional<T>*>(self->out_);
    if (!ok) {
      if (o != nullptr) o->reset();
      return;
    }
    T* t = std::launder(static_cast<T*>(self->Elem()));
    if (o != nullptr) o->emplace(std::move(*t));
    t->~T();
    self->has_elem_ = false;
  };
  c.AllocElem();
  return c;
}

// A send case; `value` is moved into the case now, and destroyed with it
// if another case runs. Selecting it on a closed channel panics with "send
// on closed channel". Never ready on the nil channel.
template <class T>
Case OnSend(const Chan<T>& ch, std::type_identity_t<T> value) {
  Case c;
  c.kind_ = Case::Kind::kSend;
  c.core_ = ch.core_;
  if (c.core_ != nullptr) chan_internal::Ref(c.core_);
  c.ops_ = chan_internal::OpsFor<T>();
  c.AllocElem();
  ::new (c.Elem()) T(std::move(value));
  c.has_elem_ = true;
  return c;
}

// The default case: runs if no other case is ready. At most one per select
// (a second panics with "select: multiple defaults").
Case OnDefault();

// Select over an array of n cases known only at run time (Go's
// reflect.Select): runs one, as Select does, and returns its index in
// `cases`. The usual holder is a std::vector<Case> (Case is move-only;
// push_back(OnRecv(...)) builds it), rebuilt for each call since a Case's
// send value is consumed by the select:
//
//   std::vector<Case> cs;
//   for (auto& c : inputs) cs.push_back(OnRecv(c, &vals[cs.size()]));
//   std::size_t i = SelectCases(cs.data(), cs.size());
//
// n == 0 (cases may then be null) blocks the caller forever, Go's
// `select {}`: a fiber parks (a deadlock report names it "select (no
// cases)", as Go does), a plain thread sleeps; shutdown unwinds a fiber
// parked there. Only nil-channel cases and no default also block forever
// (reported as "select"). May panic as the cases' operations do.
std::size_t SelectCases(Case* cases, std::size_t n);

// Runs one case and returns its index (the position among the arguments):
// a ready case chosen uniformly at random, else the default if given, else
// blocks until one is ready. May panic as the cases' operations do.
template <class... Cases>
requires(std::is_same_v<std::remove_cvref_t<Cases>, Case>&&...) std::size_t
    Select(Cases&&... cases) {
  Case arr[] = {std::move(cases)...};
  return SelectCases(arr, sizeof...(Cases));
}

}  // namespace gort

#endif  // GORT_CHAN_H_
