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
inline constexpr bool kElementOk =
    std::is_move_constructible_v<T> && std::is_nothrow_move_constructible_v<T> &&
    std::is_nothrow_destructible_v<T>;

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
bool Recv(Core* c, void* out);        // false: closed and drained
bool TrySend(Core* c, void* v);
int TryRecv(Core* c, void* out);      // 1: a value; 0: would block; -1: closed and drained
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
  Chan() = default;  // the nil channel
  explicit Chan(std::size_t capacity)
      : core_(chan_internal::NewCore(chan_internal::OpsFor<T>(), capacity)) {}
  Chan(const Chan& o) : core_(o.core_) {
    if (core_ != nullptr) chan_internal::Ref(core_);
  }
  Chan(Chan&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  Chan& operator=(Chan o) noexcept {
    std::swap(core_, o.core_);
    return *this;
  }
  ~Chan() {
    if (core_ != nullptr) chan_internal::Unref(core_);
  }

  // Operations act on the channel, not the handle: they are const.
  void Send(T value) const { chan_internal::Send(core_, &value); }
  std::optional<T> Recv() const {
    alignas(T) unsigned char buf[sizeof(T)];
    if (!chan_internal::Recv(core_, buf)) return std::nullopt;
    return chan_internal::TakeFrom<T>(buf);
  }
  bool TrySend(T value) const { return chan_internal::TrySend(core_, &value); }
  std::optional<T> TryRecv() const {
    alignas(T) unsigned char buf[sizeof(T)];
    if (chan_internal::TryRecv(core_, buf) != 1) return std::nullopt;
    return chan_internal::TakeFrom<T>(buf);
  }
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
  void Close() const { chan_internal::Close(core_); }
  std::size_t Len() const { return chan_internal::Len(core_); }
  std::size_t Cap() const { return chan_internal::Cap(core_); }
  explicit operator bool() const { return core_ != nullptr; }
  friend bool operator==(const Chan& a, const Chan& b) { return a.core_ == b.core_; }

 private:
  template <class U>
  friend Case OnRecv(const Chan<U>& ch, std::type_identity_t<std::optional<U>>* out);
  template <class U>
  friend Case OnSend(const Chan<U>& ch, std::type_identity_t<U> value);
  chan_internal::Core* core_ = nullptr;
};

// One case of a Select. Built by OnRecv, OnSend and OnDefault; move-only.
class Case {
 public:
  Case(Case&& o) noexcept;
  Case& operator=(Case&&) = delete;
  Case(const Case&) = delete;
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
  bool has_elem_ = false;  // Elem() holds a live T
  void* out_ = nullptr;    // kRecv: the std::optional<T>* to fill
  void (*deliver_)(Case* c, bool ok) = nullptr;  // kRecv: Elem() -> *out_
  void* heap_ = nullptr;
  alignas(std::max_align_t) unsigned char inline_[64];
};

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

Case OnDefault();

std::size_t SelectCases(Case* cases, std::size_t n);

// Runs one case and returns its index (the position among the arguments).
template <class... Cases>
  requires(std::is_same_v<std::remove_cvref_t<Cases>, Case> && ...)
std::size_t Select(Cases&&... cases) {
  Case arr[] = {std::move(cases)...};
  return SelectCases(arr, sizeof...(Cases));
}

}  // namespace gort

#endif  // GORT_CHAN_H_
