#pragma once

// WaiterRegistry knows the long polls being held (docs/http-api.md "Polling"),
// by the annotation requests whose change ends them, so that a batch applied to
// a request wakes exactly its waiters. It holds no thread and no timer: a
// waiter is a connection parked on its own timer; the registry only finds it.
// At most `cap` waiters at once (`tally serve --max-waiters`); past that a poll
// is answered at once.
//
// Ordering, so that no change is missed between a poll's check of the ETag and
// its registration: Changed() bumps sequence() before the waiters are looked
// up, and a waiter reads sequence() before its check and again after Add(); if
// it moved, the waiter checks once more (it is registered by then).
// Threads: any; one mutex. Waiter::Wake and EndNow are called outside it.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace tally {

class Waiter {
 public:
  virtual ~Waiter() = default;
  // A record was applied to one of its requests: check the ETag again. Must
  // hand the work to the waiter's own thread (post), not do it. Any thread.
  virtual void Wake() = 0;
  // The server stops: answer now (304). Any thread, same rule.
  virtual void EndNow() = 0;
};

class WaiterRegistry {
 public:
  using Ticket = uint64_t;

  explicit WaiterRegistry(size_t cap) : cap_(cap) {}

  // Holds `waiter` under each of `requests`; nullopt at the cap or once EndAll
  // has run (the caller answers at once).
  std::optional<Ticket> Add(std::span<const std::string> requests, std::weak_ptr<Waiter> waiter);
  // Lets a waiter go (answered, timed out, disconnected). Idempotent.
  void Remove(Ticket ticket, std::span<const std::string> requests);

  // Records were applied to `requests`: bump the sequence. Returns whether any
  // waiter is held (then Wake them, off the caller's thread if it must not wait).
  bool Changed();
  // Wakes the waiters of `requests`.
  void Wake(std::span<const std::string> requests);
  uint64_t sequence() const { return sequence_.load(); }

  // Refuses new waiters and tells every held one to answer now.
  void EndAll();

  size_t size() const { return size_.load(); }
  size_t cap() const { return cap_; }

 private:
  const size_t cap_;
  std::atomic<uint64_t> sequence_{0};
  std::atomic<size_t> size_{0};
  std::mutex mutex_;
  Ticket next_ticket_ = 1;  // guarded by mutex_
  bool ended_ = false;      // guarded by mutex_
  // By annotationRequestId, the waiters held under it; guarded by mutex_.
  std::unordered_map<std::string, std::unordered_map<Ticket, std::weak_ptr<Waiter>>> by_request_;
};

}  // namespace tally
