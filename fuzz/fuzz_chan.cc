// fuzz_chan: random sequences of channel and select operations, checked
// against a reference model.
//
// Each input works on four channels: unbuffered, capacity 1, capacity 3 and
// the nil channel. The unbuffered and capacity-3 channels carry an 80-byte
// element (so Select stores their values out of line), the others a
// std::unique_ptr, and every value owns heap memory: a value lost inside a
// channel is a leak LeakSanitizer reports, one destroyed twice a double
// free AddressSanitizer reports. Values are sequence numbers, unique within
// the input, so loss, duplication and reordering show up as a mismatch with
// the model: per channel, a deque of the buffered values and a closed flag.
//
// Operations: TrySend, TryRecv, Close, Len/Cap, Select over 1-4 cases with
// OnDefault (sometimes two: "select: multiple defaults"), Reopen (a fresh
// channel; the old one is destroyed with its buffered values), the
// blocking Send, Recv and Select without a default, and bursts. A blocking operation
// that the model says would block is paired with a helper, a fiber or a
// plain thread, that does the complementary operation on one of its
// channels (receive, send, or close), plainly or inside a Select; the
// outcome is the same whichever of the two gets to the channel first, so
// the model still predicts it exactly. Panics are expected exactly where Go
// panics (send on a closed channel, close of a closed or nil channel,
// multiple defaults), with Go's words, and nowhere else. A burst runs up to
// four helpers at once, all sending or all receiving (up to two values
// each), against this side doing the opposite or closing the channel; the
// check is what must hold whichever helper wins: the buffered values come
// first, each helper's values stay in its order, every value arrives
// exactly once. At the end every channel is drained and its closed flag
// read through a Select.
//
// The operations run either on the fuzz thread itself (a plain thread) or
// in the runtime's main fiber (the input's first byte chooses): both sides
// of gort's blocking (futex and park) are fuzzed.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fuzz_support.h"
#include "gort/chan.h"
#include "gort/runtime.h"

namespace {

using gort_fuzz::Fail;

// ---------------------------------------------------------------------------
// Element types. Both own heap memory; Big is over Case's 64-byte inline
// buffer, and repeats its number so that a torn or mixed-up move shows.

using Small = std::unique_ptr<uint64_t>;

struct Big {
  std::unique_ptr<uint64_t> p;
  uint64_t copies[9];
};
static_assert(sizeof(Big) > 64);

template <class T>
T Make(uint64_t seq);
template <>
Small Make<Small>(uint64_t seq) {
  return std::make_unique<uint64_t>(seq);
}
template <>
Big Make<Big>(uint64_t seq) {
  Big b{std::make_unique<uint64_t>(seq), {}};
  for (uint64_t& c : b.copies) c = seq;
  return b;
}

uint64_t SeqOf(const Small& v) {
  if (v == nullptr) Fail("received a moved-from value");
  return *v;
}
uint64_t SeqOf(const Big& v) {
  if (v.p == nullptr) Fail("received a moved-from value");
  for (uint64_t c : v.copies) {
    if (c != *v.p) {
      Fail("received a corrupted value: " + std::to_string(*v.p) + " / " + std::to_string(c));
    }
  }
  return *v.p;
}

// ---------------------------------------------------------------------------
// The channels behind one interface, so that an operation's code does not
// depend on the element type. Values cross it as sequence numbers.

class Slot {  // where an OnRecv case puts its value
 public:
  virtual ~Slot() = default;
  virtual std::optional<uint64_t> Take() = 0;
};

class AnyChan {
 public:
  virtual ~AnyChan() = default;
  virtual void Send(uint64_t v) const = 0;
  virtual std::optional<uint64_t> Recv() const = 0;
  virtual bool TrySend(uint64_t v) const = 0;
  virtual std::optional<uint64_t> TryRecv() const = 0;
  virtual void Close() const = 0;
  virtual size_t Len() const = 0;
  virtual size_t Cap() const = 0;
  virtual gort::Case OnSend(uint64_t v) const = 0;
  // slot null: OnRecv(ch, nullptr), the value discarded.
  virtual gort::Case OnRecv(std::unique_ptr<Slot>* slot) const = 0;
  virtual std::unique_ptr<AnyChan> Fresh() const = 0;  // a new channel like this one
};

template <class T>
class TypedChan final : public AnyChan {
 public:
  TypedChan(bool nil, size_t cap) : nil_(nil), cap_(cap) {
    if (!nil) ch_ = gort::Chan<T>(cap);
  }
  void Send(uint64_t v) const override { ch_.Send(Make<T>(v)); }
  std::optional<uint64_t> Recv() const override { return Seq(ch_.Recv()); }
  bool TrySend(uint64_t v) const override { return ch_.TrySend(Make<T>(v)); }
  std::optional<uint64_t> TryRecv() const override { return Seq(ch_.TryRecv()); }
  void Close() const override { ch_.Close(); }
  size_t Len() const override { return ch_.Len(); }
  size_t Cap() const override { return ch_.Cap(); }
  gort::Case OnSend(uint64_t v) const override { return gort::OnSend(ch_, Make<T>(v)); }
  gort::Case OnRecv(std::unique_ptr<Slot>* slot) const override {
    if (slot == nullptr) return gort::OnRecv(ch_, nullptr);
    auto s = std::make_unique<TypedSlot>();
    std::optional<T>* out = &s->v;
    *slot = std::move(s);
    return gort::OnRecv(ch_, out);
  }
  std::unique_ptr<AnyChan> Fresh() const override {
    return std::make_unique<TypedChan>(nil_, cap_);
  }

 private:
  struct TypedSlot final : Slot {
    std::optional<T> v;
    std::optional<uint64_t> Take() override { return Seq(std::move(v)); }
  };
  static std::optional<uint64_t> Seq(std::optional<T> v) {
    if (!v.has_value()) return std::nullopt;
    return SeqOf(*v);
  }
  bool nil_;
  size_t cap_;
  gort::Chan<T> ch_;  // default: the nil channel
};

// ---------------------------------------------------------------------------
// Plain threads for the helpers, kept for the whole session (helper i of
// an operation runs on worker i). A thread per helper would cost more than
// the operations under test, and ASan's thread registry grows with every
// thread ever created (some 200 bytes each; it gives up at 2^22 threads),
// which a long run would reach. The workers wait on a std::condition_variable,
// not on anything of gort's: to the runtime they are plain threads that use
// channels.
class Workers {
 public:
  static constexpr int kCount = 4;
  static Workers& Get() {
    static auto* w = new Workers;  // never destroyed: the threads outlive main
    return *w;
  }
  // Runs job on worker i once that worker is free.
  void Run(int i, std::function<void()> job) {
    Worker& w = w_[i];
    std::unique_lock<std::mutex> l(w.mu);
    w.cv.wait(l, [&] { return !w.busy; });
    w.job = std::move(job);
    w.busy = true;
    w.cv.notify_all();
  }
  // Returns once every worker has finished its job (and destroyed it).
  void WaitIdle() {
    for (Worker& w : w_) {
      std::unique_lock<std::mutex> l(w.mu);
      w.cv.wait(l, [&] { return !w.busy; });
    }
  }

 private:
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    std::function<void()> job;  // set while busy
    bool busy = false;
  };
  Workers() {
    for (Worker& w : w_) std::thread([&w] { Loop(w); }).detach();
  }
  static void Loop(Worker& w) {
    std::unique_lock<std::mutex> l(w.mu);
    for (;;) {
      w.cv.wait(l, [&] { return w.busy; });
      std::function<void()> job = std::move(w.job);
      l.unlock();
      job();
      job = nullptr;  // its captures go before the worker reports free
      l.lock();
      w.busy = false;
      w.cv.notify_all();
    }
  }
  Worker w_[kCount];
};

// ---------------------------------------------------------------------------
// The model.

struct Model {
  bool nil = false;
  size_t cap = 0;
  bool closed = false;
  std::deque<uint64_t> buf;

  bool RecvReady() const { return !nil && (!buf.empty() || closed); }
  bool SendReady() const { return !nil && !closed && buf.size() < cap; }
  bool SendPanics() const { return !nil && closed; }
};

constexpr int kChans = 4;

std::string Opt(std::optional<uint64_t> v) { return v ? std::to_string(*v) : "nullopt"; }

// One Select case as decoded.
struct CaseSpec {
  int ch = 0;
  bool send = false;
  bool discard = false;        // recv: OnRecv(ch, nullptr)
  uint64_t value = 0;          // send
  std::unique_ptr<Slot> slot;  // recv, unless discard
};

// What a helper does, and what it saw.
struct Helper {
  enum Action { kRecv, kSend, kClose } action = kRecv;
  int ch = 0;
  uint64_t value = 0;       // kSend
  bool thread = false;      // a plain thread, else a fiber
  bool via_select = false;  // Select(OnRecv/OnSend [, a nil-channel case]) instead of Recv/Send
  bool with_nil_case = false;
  std::optional<uint64_t> got;  // kRecv
  std::string panic;            // it must not panic
};

class Sequence {
 public:
  explicit Sequence(gort_fuzz::Reader* r) : r_(r) {
    chans_[0] = std::make_unique<TypedChan<Big>>(false, 0);
    chans_[1] = std::make_unique<TypedChan<Small>>(false, 1);
    chans_[2] = std::make_unique<TypedChan<Big>>(false, 3);
    chans_[3] = std::make_unique<TypedChan<Small>>(true, 0);
    for (int i = 0; i < kChans; i++) {
      model_[i].nil = i == 3;
      model_[i].cap = chans_[i]->Cap();
    }
  }

  void Go() {
    for (op_ = 0; op_ < 256 && !r_->Empty(); op_++) Step();
    Drain();
    // Helpers drop what they hold before the input ends.
    gort_fuzz::WaitForOtherFibers();
    Workers::Get().WaitIdle();
  }

 private:
  [[noreturn]] void Bad(const std::string& what) {
    Fail("op " + std::to_string(op_) + ": " + what);
  }

  void ExpectPanic(const std::string& what, const std::string& got, const std::string& want) {
    if (got != want) {
      Bad(what + ": panic " + (got.empty() ? "none" : '"' + got + '"') + ", expected " +
          (want.empty() ? "none" : '"' + want + '"'));
    }
  }

  void Step() {
    // Two bytes an operation: which, and its argument (a channel index in
    // its low two bits; for a Select, the header described there).
    uint8_t op = r_->Byte() % 10;
    uint8_t arg = r_->Byte();
    int c = arg % kChans;
    Model& m = model_[c];
    const AnyChan& ch = *chans_[c];
    switch (op) {
      case 0: {  // TrySend
        uint64_t v = ++seq_;
        std::string p;
        bool ok = false;
        try {
          ok = ch.TrySend(v);
        } catch (const gort::Panic& e) {
          p = e.what();
        }
        ExpectPanic("TrySend on channel " + std::to_string(c), p,
                    m.SendPanics() ? "send on closed channel" : "");
        if (!p.empty()) return;
        if (ok != m.SendReady()) {
          Bad("TrySend on channel " + std::to_string(c) + " returned " + std::to_string(ok));
        }
        if (ok) m.buf.push_back(v);
        return;
      }
      case 1: {  // TryRecv
        std::optional<uint64_t> got = ch.TryRecv();
        std::optional<uint64_t> want;
        if (!m.buf.empty()) {
          want = m.buf.front();
          m.buf.pop_front();
        }
        if (got != want) {
          Bad("TryRecv on channel " + std::to_string(c) + ": " + Opt(got) + ", expected " +
              Opt(want));
        }
        return;
      }
      case 2: {  // Close
        std::string p;
        try {
          ch.Close();
        } catch (const gort::Panic& e) {
          p = e.what();
        }
        ExpectPanic("Close of channel " + std::to_string(c), p,
                    m.nil      ? "close of nil channel"
                    : m.closed ? "close of closed channel"
                               : "");
        m.closed = !m.nil;
        return;
      }
      case 3:  // Len and Cap
        if (ch.Len() != m.buf.size() || ch.Cap() != m.cap) {
          Bad("channel " + std::to_string(c) + ": Len " + std::to_string(ch.Len()) + " Cap " +
              std::to_string(ch.Cap()) + ", expected " + std::to_string(m.buf.size()) + " " +
              std::to_string(m.cap));
        }
        return;
      case 4:  // Reopen
        chans_[c] = ch.Fresh();
        m.closed = false;
        m.buf.clear();
        return;
      case 5:
        SelectWithDefault(arg);
        return;
      case 6:
        Blocking(kSelect, arg);
        return;
      case 7:
        Blocking(kSend, arg);
        return;
      case 8:
        Blocking(kRecv, arg);
        return;
      default:
        Burst(arg);
        return;
    }
  }

  // Decodes n cases (one byte each: bits 0-1 the channel, bit 2 send, bit 3
  // discard the received value) and builds them, send values numbered.
  std::vector<CaseSpec> DecodeCases(int n) {
    std::vector<CaseSpec> specs(static_cast<size_t>(n));
    for (CaseSpec& s : specs) {
      uint8_t b = r_->Byte();
      s.ch = b & 3;
      s.send = b & 4;
      s.discard = !s.send && (b & 8);
      if (s.send) s.value = ++seq_;
    }
    return specs;
  }

  // The cases in order, with an OnDefault() at position dpos if dpos >= 0
  // (Case is move-only and not assignable: built in place, in order).
  void BuildCases(std::vector<CaseSpec>& specs, std::vector<gort::Case>* cases, int dpos = -1) {
    for (size_t i = 0; i <= specs.size(); i++) {
      if (static_cast<int>(i) == dpos) cases->push_back(gort::OnDefault());
      if (i == specs.size()) break;
      CaseSpec& s = specs[i];
      const AnyChan& ch = *chans_[s.ch];
      cases->push_back(s.send ? ch.OnSend(s.value) : ch.OnRecv(s.discard ? nullptr : &s.slot));
    }
  }

  // The cases the model says are ready, and whether a send on a closed
  // channel is among them (Select panics if it reaches that case first).
  std::vector<int> Ready(const std::vector<CaseSpec>& specs, bool* panics) const {
    std::vector<int> ready;
    *panics = false;
    for (size_t i = 0; i < specs.size(); i++) {
      const Model& m = model_[specs[i].ch];
      if (specs[i].send ? m.SendReady() : m.RecvReady()) ready.push_back(static_cast<int>(i));
      if (specs[i].send && m.SendPanics()) *panics = true;
    }
    return ready;
  }

  static std::string Spec(const std::vector<CaseSpec>& specs) {
    std::string s;
    for (const CaseSpec& c : specs) {
      s += std::string(s.empty() ? "" : ", ") + (c.send ? "send " : "recv ") + std::to_string(c.ch);
    }
    return s;
  }

  // Checks the slots after a Select fired case `fired` (-1: none, it
  // panicked or took the default): no other case received anything.
  // Returns what the fired case received.
  std::optional<uint64_t> TakeSlots(std::vector<CaseSpec>& specs, int fired) {
    std::optional<uint64_t> got;
    for (size_t i = 0; i < specs.size(); i++) {
      if (!specs[i].slot) continue;
      std::optional<uint64_t> v = specs[i].slot->Take();
      if (static_cast<int>(i) == fired) {
        got = v;
      } else if (v.has_value()) {
        Bad("select [" + Spec(specs) + "]: case " + std::to_string(i) + " received " +
            std::to_string(*v) + " but case " + std::to_string(fired) + " fired");
      }
    }
    return got;
  }

  // A ready case ran: update the model and check a received value.
  void Apply(const CaseSpec& s, std::optional<uint64_t> got, const std::string& where) {
    Model& m = model_[s.ch];
    if (s.send) {
      m.buf.push_back(s.value);  // the model runs only non-blocking sends here
      return;
    }
    std::optional<uint64_t> want;
    if (!m.buf.empty()) {
      want = m.buf.front();
      m.buf.pop_front();
    }
    if (!s.discard && got != want) {
      Bad(where + ": received " + Opt(got) + ", expected " + Opt(want));
    }
  }

  // Header h: bits 0-1 + 1 cases, the default at position (bits 2-4) %
  // (n + 1); 0xF0 and above: a second default at the end.
  void SelectWithDefault(uint8_t h) {
    int n = 1 + (h & 3);
    int dpos = ((h >> 2) & 7) % (n + 1);
    bool two_defaults = h >= 0xF0;
    std::vector<CaseSpec> specs = DecodeCases(n);
    bool panics;
    std::vector<int> ready = Ready(specs, &panics);
    std::vector<gort::Case> cases;
    cases.reserve(static_cast<size_t>(n + 2));
    BuildCases(specs, &cases, dpos);
    if (two_defaults) cases.push_back(gort::OnDefault());
    std::string p;
    size_t idx = 0;
    try {
      idx = gort::SelectCases(cases.data(), cases.size());
    } catch (const gort::Panic& e) {
      p = e.what();
    }
    const std::string where = "select with default [" + Spec(specs) + "]";
    if (two_defaults) {
      ExpectPanic(where + " and a second default", p, "select: multiple defaults");
      TakeSlots(specs, -1);
      return;
    }
    if (!p.empty()) {
      if (!panics) Bad(where + ": panic \"" + p + "\"");
      ExpectPanic(where, p, "send on closed channel");
      TakeSlots(specs, -1);
      return;
    }
    if (static_cast<int>(idx) == dpos) {
      if (!ready.empty() || panics) Bad(where + ": took the default with a case ready");
      TakeSlots(specs, -1);
      return;
    }
    int fired = static_cast<int>(idx) - (static_cast<int>(idx) > dpos ? 1 : 0);
    if (std::find(ready.begin(), ready.end(), fired) == ready.end()) {
      Bad(where + ": case " + std::to_string(fired) + " fired, not ready");
    }
    Apply(specs[static_cast<size_t>(fired)], TakeSlots(specs, fired), where);
  }

  enum Kind { kSelect, kSend, kRecv };

  // Send or Recv on channel arg % 4, or a Select without a default over
  // (arg & 3) + 1 cases. Then a helper byte, used if the operation blocks:
  // bits 0-1 which case the helper serves, bit 2 it closes the channel
  // instead, bit 3 a thread instead of a fiber, bit 4 through a Select, bit
  // 5 with a nil-channel case beside.
  void Blocking(Kind kind, uint8_t arg) {
    const int c = arg % kChans;
    std::vector<CaseSpec> specs;
    if (kind == kSelect) {
      specs = DecodeCases(1 + (arg & 3));
    } else {
      specs.resize(1);
      specs[0].ch = c;
      specs[0].send = kind == kSend;
      if (specs[0].send) specs[0].value = ++seq_;
    }
    const uint8_t hb = r_->Byte();
    bool panics;
    std::vector<int> ready = Ready(specs, &panics);
    const bool blocks = ready.empty() && !panics;
    int target = -1;
    if (blocks) {
      // The helper serves a case on a non-nil channel; none: it would block
      // for ever, skip the operation.
      for (size_t k = 0; k < specs.size() && target < 0; k++) {
        size_t i = (hb & 3) % specs.size();
        i = (i + k) % specs.size();
        if (!model_[specs[i].ch].nil) target = static_cast<int>(i);
      }
      if (target < 0) return;
    }
    Helper h;
    if (blocks) {
      const CaseSpec& t = specs[static_cast<size_t>(target)];
      h.ch = t.ch;
      h.action = (hb & 4) ? Helper::kClose : t.send ? Helper::kRecv : Helper::kSend;
      if (h.action == Helper::kSend) h.value = ++seq_;
      h.thread = hb & 8;
      h.via_select = hb & 16;
      h.with_nil_case = hb & 32;
    }
    static const char* const kKinds[] = {"select", "Send", "Recv"};
    static const char* const kActions[] = {"receiving from", "sending to", "closing"};
    std::string where = std::string(kKinds[kind]) + " [" + Spec(specs) + "]";
    if (blocks) {
      where += std::string(" with a helper ") + kActions[h.action] + " " + std::to_string(h.ch);
    }

    // Run it.
    std::vector<gort::Case> cases;
    if (kind == kSelect) BuildCases(specs, &cases);
    gort::Chan<int> done(1);
    if (blocks) StartHelper(&h, done);
    std::string p;
    int fired = -1;
    std::optional<uint64_t> got;
    try {
      switch (kind) {
        case kSelect:
          fired = static_cast<int>(gort::SelectCases(cases.data(), cases.size()));
          break;
        case kSend:
          chans_[c]->Send(specs[0].value), fired = 0;
          break;
        case kRecv:
          got = chans_[c]->Recv(), fired = 0;
          break;
      }
    } catch (const gort::Panic& e) {
      p = e.what();
      fired = -1;
    }
    if (blocks) {
      done.Recv();
      if (!h.panic.empty()) Bad(where + ": the helper panicked: " + h.panic);
    }
    if (kind == kSelect) got = TakeSlots(specs, fired);

    if (!blocks) {
      // Nothing to wait for: exactly like a select with a default.
      if (!p.empty()) {
        if (!panics) Bad(where + ": panic \"" + p + "\"");
        ExpectPanic(where, p, "send on closed channel");
        return;
      }
      if (std::find(ready.begin(), ready.end(), fired) == ready.end()) {
        Bad(where + ": case " + std::to_string(fired) + " ran, not ready");
      }
      Apply(specs[static_cast<size_t>(fired)], got, where);
      return;
    }

    // The helper's action decides. Only cases on its channel can have run.
    Model& m = model_[h.ch];
    if (fired >= 0 && specs[static_cast<size_t>(fired)].ch != h.ch) {
      Bad(where + ": case " + std::to_string(fired) + " ran, on another channel");
    }
    const CaseSpec* fs = fired >= 0 ? &specs[static_cast<size_t>(fired)] : nullptr;
    switch (h.action) {
      case Helper::kClose: {
        bool has_send = false;
        for (const CaseSpec& s : specs) has_send |= s.ch == h.ch && s.send;
        m.closed = true;
        if (!p.empty()) {
          if (!has_send) Bad(where + ": panic \"" + p + "\"");
          ExpectPanic(where, p, "send on closed channel");
          return;
        }
        if (fs->send) {
          Bad(where + ": send case " + std::to_string(fired) + " completed on a closed channel");
        }
        if (!fs->discard && got.has_value()) {
          Bad(where + ": received " + Opt(got) + " from a closed, empty channel");
        }
        return;
      }
      case Helper::kRecv: {
        if (!p.empty()) Bad(where + ": panic \"" + p + "\"");
        if (!fs->send) {
          Bad(where + ": receive case " + std::to_string(fired) + " ran, the helper receives");
        }
        uint64_t want = fs->value;
        if (m.cap > 0) {  // full: the helper takes the head, our value goes to the tail
          want = m.buf.front();
          m.buf.pop_front();
          m.buf.push_back(fs->value);
        }
        if (h.got != want) {
          Bad(where + ": the helper received " + Opt(h.got) + ", expected " + std::to_string(want));
        }
        return;
      }
      case Helper::kSend: {
        if (!p.empty()) Bad(where + ": panic \"" + p + "\"");
        if (fs->send) {
          Bad(where + ": send case " + std::to_string(fired) + " ran, the helper sends");
        }
        if (!fs->discard && got != h.value) {
          Bad(where + ": received " + Opt(got) + ", the helper sent " + std::to_string(h.value));
        }
        return;  // the buffer was empty and stays so
      }
    }
  }

  void StartHelper(Helper* h, gort::Chan<int> done) {
    const AnyChan* ch = chans_[h->ch].get();
    const AnyChan* nil = chans_[3].get();
    auto body = [h, ch, nil, done] {
      try {
        switch (h->action) {
          case Helper::kClose:
            ch->Close();
            break;
          case Helper::kSend:
            if (!h->via_select) {
              ch->Send(h->value);
            } else if (h->with_nil_case) {
              if (gort::Select(ch->OnSend(h->value), nil->OnRecv(nullptr)) != 0) {
                h->panic = "(the nil case ran)";
              }
            } else {
              gort::Select(ch->OnSend(h->value));
            }
            break;
          case Helper::kRecv:
            if (!h->via_select) {
              h->got = ch->Recv();
            } else {
              std::unique_ptr<Slot> slot;
              if (h->with_nil_case) {
                if (gort::Select(nil->OnSend(0), ch->OnRecv(&slot)) != 1) {
                  h->panic = "(the nil case ran)";
                }
              } else {
                gort::Select(ch->OnRecv(&slot));
              }
              h->got = slot->Take();
            }
            break;
        }
      } catch (const gort::Panic& e) {
        h->panic = e.what();
      }
      done.Send(1);
    };
    if (h->thread) {
      Workers::Get().Run(0, body);
    } else {
      gort::runtime::Go(body);
    }
  }

  // Several helpers at once on channel arg % 4, all sending or all
  // receiving, while this side does the opposite (or closes the channel,
  // where that makes the outcome certain). Which helper gets which value is
  // up to the scheduler; what is checked is what holds whatever it does.
  // Byte 1: bits 0-1 helpers - 1, bit 2 two values each (else one), bit 3
  // helpers send (else receive), bits 4-5 this side: 1 through a Select
  // beside a nil-channel case, 2 closes, else plain Send/Recv. Byte 2: bits
  // 0-3 which helpers are threads (else fibers), bits 4-7 which use a Select.
  void Burst(uint8_t arg) {
    const int c = arg % kChans;
    const uint8_t b1 = r_->Byte(), b2 = r_->Byte();
    Model& m = model_[c];
    if (m.nil || m.closed) return;  // for ever blocked / not deterministic
    const int n = 1 + (b1 & 3), per = (b1 & 4) ? 2 : 1;
    const bool helpers_send = b1 & 8;
    const int how = (b1 >> 4) & 3;
    // Closing is certain to fail every helper only if none can complete
    // first: receivers on an empty channel, senders on a full one.
    const bool close = how == 2 && (helpers_send ? m.buf.size() == m.cap : m.buf.empty());
    const bool via_select = how == 1;
    const AnyChan* ch = chans_[c].get();
    const AnyChan* nil = chans_[3].get();
    const std::string where = "burst of " + std::to_string(n) + " helpers " +
                              (helpers_send ? "sending " : "receiving ") + std::to_string(per) +
                              " on channel " + std::to_string(c) + (close ? ", closed" : "");

    struct BurstHelper {
      bool thread = false, via_select = false;
      std::vector<uint64_t> values;              // to send
      std::vector<std::optional<uint64_t>> got;  // received
      std::string panic;
    };
    std::vector<BurstHelper> hs(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) {
      hs[i].thread = (b2 >> i) & 1;
      hs[i].via_select = (b2 >> (4 + i)) & 1;
      if (helpers_send) {
        for (int k = 0; k < per; k++) hs[i].values.push_back(++seq_);
      }
    }
    gort::Chan<int> done(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) {
      BurstHelper& h = hs[static_cast<size_t>(i)];
      auto body = [&h, ch, nil, per, helpers_send, done] {
        try {
          for (int k = 0; k < per; k++) {
            if (helpers_send) {
              if (!h.via_select) {
                ch->Send(h.values[static_cast<size_t>(k)]);
              } else if (gort::Select(nil->OnRecv(nullptr),
                                      ch->OnSend(h.values[static_cast<size_t>(k)])) != 1) {
                h.panic = "(the nil case ran)";
              }
            } else if (!h.via_select) {
              h.got.push_back(ch->Recv());
            } else {
              std::unique_ptr<Slot> slot;
              if (gort::Select(ch->OnRecv(&slot), nil->OnSend(0)) != 0) {
                h.panic = "(the nil case ran)";
              }
              h.got.push_back(slot->Take());
            }
          }
        } catch (const gort::Panic& e) {
          h.panic = e.what();
        }
        done.Send(1);
      };
      if (h.thread) {
        Workers::Get().Run(i, body);
      } else {
        gort::runtime::Go(body);
      }
    }

    // This side.
    std::vector<uint64_t> old(m.buf.begin(), m.buf.end());
    std::vector<uint64_t> moved;  // received here, or sent from here
    const size_t total = static_cast<size_t>(n * per);
    std::string p;
    try {
      if (close) {
        ch->Close();
      } else if (helpers_send) {
        for (size_t k = 0; k < old.size() + total; k++) {
          std::optional<uint64_t> v;
          if (!via_select) {
            v = ch->Recv();
          } else {
            std::unique_ptr<Slot> slot;
            if (gort::Select(nil->OnSend(0), ch->OnRecv(&slot)) != 1) {
              Bad(where + ": the nil case ran");
            }
            v = slot->Take();
          }
          if (!v) Bad(where + ": received nothing from an open channel");
          moved.push_back(*v);
        }
      } else {
        for (size_t k = old.size(); k < total; k++) {
          uint64_t v = ++seq_;
          moved.push_back(v);
          if (!via_select) {
            ch->Send(v);
          } else if (gort::Select(ch->OnSend(v), nil->OnRecv(nullptr)) != 0) {
            Bad(where + ": the nil case ran");
          }
        }
      }
    } catch (const gort::Panic& e) {
      p = e.what();
    }
    for (int i = 0; i < n; i++) done.Recv();
    if (!p.empty()) Bad(where + ": panic \"" + p + "\" here");

    if (close) {
      m.closed = true;
      for (const BurstHelper& h : hs) {
        if (helpers_send) {
          if (h.panic != "send on closed channel") {
            Bad(where + ": a sender's panic: \"" + h.panic + "\"");
          }
        } else {
          if (!h.panic.empty()) Bad(where + ": a receiver panicked: " + h.panic);
          for (const auto& v : h.got) {
            if (v) {
              Bad(where + ": a receiver got " + std::to_string(*v) +
                  " from a closed, empty channel");
            }
          }
        }
      }
      return;
    }
    for (const BurstHelper& h : hs) {
      if (!h.panic.empty()) Bad(where + ": a helper panicked: " + h.panic);
    }
    if (helpers_send) {
      // The buffer's old values first, then every helper's, each helper's
      // in its own order.
      for (size_t k = 0; k < old.size(); k++) {
        if (moved[k] != old[k]) {
          Bad(where + ": got " + std::to_string(moved[k]) + ", expected buffered " +
              std::to_string(old[k]));
        }
      }
      std::vector<size_t> next(hs.size(), 0);
      for (size_t k = old.size(); k < moved.size(); k++) {
        bool found = false;
        for (size_t i = 0; i < hs.size() && !found; i++) {
          if (next[i] < hs[i].values.size() && hs[i].values[next[i]] == moved[k]) {
            next[i]++;
            found = true;
          }
        }
        if (!found) {
          Bad(where + ": received " + std::to_string(moved[k]) +
              " out of order, twice, or never sent");
        }
      }
      m.buf.clear();
      return;
    }
    // Helpers received: the channel's order is its old buffer, then what
    // was sent here. Each helper got an increasing run of it; together, its
    // first n * per values, each once.
    std::vector<uint64_t> order = old;
    order.insert(order.end(), moved.begin(), moved.end());
    std::vector<int> seen(order.size(), 0);
    for (const BurstHelper& h : hs) {
      long last = -1;
      for (const auto& v : h.got) {
        auto it = v ? std::find(order.begin(), order.end(), *v) : order.end();
        if (it == order.end()) Bad(where + ": a receiver got " + Opt(v) + ", never sent");
        long pos = it - order.begin();
        if (pos <= last) Bad(where + ": a receiver got " + std::to_string(*v) + " out of order");
        last = pos;
        seen[static_cast<size_t>(pos)]++;
      }
    }
    for (size_t k = 0; k < order.size(); k++) {
      if (seen[k] != (k < total ? 1 : 0)) {
        Bad(where + ": value " + std::to_string(order[k]) + " was received " +
            std::to_string(seen[k]) + " times");
      }
    }
    m.buf.assign(order.begin() + static_cast<long>(std::min(total, order.size())), order.end());
  }

  // Every channel's buffer against the model, then its closed flag.
  void Drain() {
    op_ = -1;
    for (int c = 0; c < kChans; c++) {
      const AnyChan& ch = *chans_[c];
      Model& m = model_[c];
      if (ch.Len() != m.buf.size()) {
        Bad("drain: channel " + std::to_string(c) + " holds " + std::to_string(ch.Len()) +
            ", expected " + std::to_string(m.buf.size()));
      }
      while (!m.buf.empty()) {
        std::optional<uint64_t> got = ch.TryRecv();
        if (got != m.buf.front()) {
          Bad("drain: channel " + std::to_string(c) + " gave " + Opt(got) + ", expected " +
              std::to_string(m.buf.front()));
        }
        m.buf.pop_front();
      }
      std::unique_ptr<Slot> slot;
      size_t i = gort::Select(ch.OnRecv(&slot), gort::OnDefault());
      std::optional<uint64_t> got = slot->Take();
      if (got.has_value()) {
        Bad("drain: channel " + std::to_string(c) + " gave " + std::to_string(*got) +
            " after the model's values");
      }
      if ((i == 0) != m.closed) {
        Bad("drain: channel " + std::to_string(c) + (m.closed ? " is not closed" : " is closed"));
      }
    }
  }

  gort_fuzz::Reader* r_;
  std::unique_ptr<AnyChan> chans_[kChans];
  Model model_[kChans];
  uint64_t seq_ = 0;
  int op_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gort_fuzz::SetTargetName("fuzz_chan");
  gort_fuzz::StartRuntime(2);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gort_fuzz::Reader r(data, size);
  const bool in_fiber = r.Byte() & 1;
  Sequence seq(&r);
  if (in_fiber) {
    gort_fuzz::RunInFiber([&] { seq.Go(); });
  } else {
    seq.Go();
  }
  return 0;
}
