#pragma once

// VersionMemo keeps the versions of annotation requests (Store::Versions) as
// last read, each with the RocksDB sequence number of the state it was read
// from. Every write takes a new sequence number, so a version read at sequence
// S is the version of every read at S: polls between two batches (most of them)
// skip the read, and a write makes every entry miss at once, with no
// invalidation to get wrong. A direct-mapped table of kSlots entries (a
// collision replaces the older entry), so memory is bounded whatever is asked.
// Thread-safe (a mutex per slot). Private to aggregate/.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

class VersionMemo {
 public:
  static constexpr size_t kSlots = 1024;

  VersionMemo() : slots_(std::make_unique<Slot[]>(kSlots)) {}

  // The version of `request` in the state at `sequence`, if remembered.
  std::optional<uint64_t> Find(uint64_t sequence, std::string_view request) const {
    const Slot& slot = SlotOf(request);
    std::lock_guard lock(slot.mutex);
    if (!slot.valid || slot.sequence != sequence || slot.request != request) return std::nullopt;
    return slot.version;
  }

  // Remembers `version` as that of `request` in the state at `sequence`: the
  // caller read exactly that state (a snapshot at it, or the latest state with
  // the latest sequence unchanged across the read).
  void Put(uint64_t sequence, std::string_view request, uint64_t version) {
    Slot& slot = SlotOf(request);
    std::lock_guard lock(slot.mutex);
    // An older state's read (a snapshot's) does not replace a newer one.
    if (slot.valid && slot.sequence > sequence && slot.request == request) return;
    slot.valid = true;
    slot.sequence = sequence;
    slot.request.assign(request);
    slot.version = version;
  }

 private:
  struct Slot {
    mutable std::mutex mutex;
    bool valid = false;
    uint64_t sequence = 0;
    std::string request;
    uint64_t version = 0;
  };

  Slot& SlotOf(std::string_view request) const { return slots_[std::hash<std::string_view>()(request) % kSlots]; }

  std::unique_ptr<Slot[]> slots_;
};

}  // namespace tally
