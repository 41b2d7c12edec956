#pragma once

// RequestMemo keeps what queries read of annotation requests, each with the
// RocksDB sequence number of the state it was read from (a StateMemo,
// state_memo.h): a request's meta (whether it is known, its number, its
// version and totals) and its rank indexes. The queries between two batches
// (most of them) skip those reads, and a write makes every entry miss at once.
// Rank indexes of more than kMaxRankSegments segments are not kept, so memory
// stays bounded (about kSlots × 4 KiB at most). Thread-safe. Private to aggregate/.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "aggregate/codec.h"
#include "aggregate/rank_index.h"
#include "aggregate/state_memo.h"

namespace tally {

// A request's meta as read: found false for a request the store does not know.
struct MetaRead {
  bool found = false;
  RequestMeta meta;

  // Store::Versions' version: RequestMeta::records, 0 for an unknown request.
  uint64_t version() const { return found ? meta.records : 0; }
};

class RequestMemo {
 public:
  static constexpr size_t kSlots = 1024;
  static constexpr size_t kMaxRankSegments = 128;

  // The meta of `request` in the state at `sequence`, if remembered.
  std::optional<MetaRead> FindMeta(uint64_t sequence, std::string_view request) const {
    std::optional<MetaRead> found;
    metas_.Find(sequence, request, [&](const MetaRead& read) { found = read; });
    return found;
  }
  // Remembers `read` as the meta of `request` in the state at `sequence`: the
  // caller read exactly that state (a snapshot at it, or the latest state with
  // the latest sequence unchanged across the read).
  void PutMeta(uint64_t sequence, std::string_view request, const MetaRead& read) {
    metas_.Put(sequence, request, [&](MetaRead& kept) { kept = read; });
  }

  using Ranks = std::shared_ptr<const RankIndex>;
  // The rank index under `key` (keys::Rank) in the state at `sequence`, if remembered; else null.
  Ranks FindRanks(uint64_t sequence, std::string_view key) const {
    Ranks found;
    ranks_.Find(sequence, key, [&](const Ranks& index) { found = index; });
    return found;
  }
  // As PutMeta; an index of more than kMaxRankSegments segments is not kept.
  void PutRanks(uint64_t sequence, std::string_view key, const Ranks& index) {
    if (index->segments().size() > kMaxRankSegments) return;
    ranks_.Put(sequence, key, [&](Ranks& kept) { kept = index; });
  }

 private:
  StateMemo<MetaRead, kSlots> metas_;
  StateMemo<Ranks, kSlots> ranks_;
};

}  // namespace tally
