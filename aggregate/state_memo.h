#pragma once

// StateMemo keeps values read or made from the store, each under a string key
// with the number of the store state it holds for (a RocksDB sequence number:
// Store::StateNumber, or a snapshot's). Every write takes a new number, so a
// value kept for state S is the value of every read at S, and a write makes
// every entry miss at once: there is no invalidation to get wrong. A
// direct-mapped table of `Slots` entries (a collision replaces the older
// entry), so memory is bounded whatever is asked, given bounded keys and values.
// Thread-safe (a mutex per slot). Used for request versions (version_memo.h)
// and for the 304s of repeated polls (api/not_modified_memo.h).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace tally {

template <class Value, size_t Slots>
class StateMemo {
 public:
  StateMemo() : slots_(std::make_unique<Slot[]>(Slots)) {}

  // If a value of `key` in the state numbered `state` is kept, calls
  // `use(value)` (the reference is valid during the call only) and returns true.
  template <class Use>
  bool Find(uint64_t state, std::string_view key, Use&& use) const {
    const Slot& slot = SlotOf(key);
    std::lock_guard lock(slot.mutex);
    if (!slot.valid || slot.state != state || slot.key != key) return false;
    use(static_cast<const Value&>(slot.value));
    return true;
  }

  // Keeps the value `assign(Value&)` writes as that of `key` in the state
  // numbered `state`: the caller read exactly that state (a snapshot at it, or
  // the latest state with its number unchanged across the read). A value of an
  // older state (a slower thread's) does not replace a newer one of the same key.
  template <class Assign>
  void Put(uint64_t state, std::string_view key, Assign&& assign) {
    Slot& slot = SlotOf(key);
    std::lock_guard lock(slot.mutex);
    if (slot.valid && slot.state > state && slot.key == key) return;
    slot.valid = true;
    slot.state = state;
    slot.key.assign(key);
    assign(slot.value);
  }

 private:
  struct Slot {
    mutable std::mutex mutex;
    bool valid = false;
    uint64_t state = 0;
    std::string key;
    Value value{};
  };

  Slot& SlotOf(std::string_view key) const { return slots_[std::hash<std::string_view>()(key) % Slots]; }

  std::unique_ptr<Slot[]> slots_;
};

}  // namespace tally
