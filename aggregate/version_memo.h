#pragma once

// VersionMemo keeps the versions of annotation requests (Store::Versions) as
// last read, each with the RocksDB sequence number of the state it was read
// from (a StateMemo, state_memo.h): polls between two batches (most of them)
// skip the read, and a write makes every entry miss at once. Thread-safe.
// Private to aggregate/.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "aggregate/state_memo.h"

namespace tally {

class VersionMemo {
 public:
  static constexpr size_t kSlots = 1024;

  // The version of `request` in the state at `sequence`, if remembered.
  std::optional<uint64_t> Find(uint64_t sequence, std::string_view request) const {
    std::optional<uint64_t> found;
    memo_.Find(sequence, request, [&](uint64_t version) { found = version; });
    return found;
  }

  // Remembers `version` as that of `request` in the state at `sequence`: the
  // caller read exactly that state (a snapshot at it, or the latest state with
  // the latest sequence unchanged across the read).
  void Put(uint64_t sequence, std::string_view request, uint64_t version) {
    memo_.Put(sequence, request, [version](uint64_t& kept) { kept = version; });
  }

 private:
  StateMemo<uint64_t, kSlots> memo_;
};

}  // namespace tally
