#pragma once

// RankIndex finds the k-th id (in id order) of a request's records or tasks
// without walking the k before it, so that a deep page costs about as much as
// the first: the ids are cut into segments of a few hundred, each kept as its
// first id and a count. Locate(k) sums counts to the segment holding k and says
// how many ids to skip from that segment's start (at most kMaxSegment). New ids
// only increment counts; a segment that grows past kMaxSegment is split by its
// owner, who reads the ids it holds. A plain value; the store keeps one per
// request and kind, and writes it back with each batch that changes it. Private
// to aggregate/.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/id.h"

namespace tally {

class RankIndex {
 public:
  static constexpr uint32_t kSplitInto = 256;  // ids per segment after a split
  static constexpr uint32_t kMaxSegment = 512;

  struct Segment {
    Id start;  // ids >= start and < the next segment's start
    uint32_t count;

    friend bool operator==(const Segment&, const Segment&) = default;
  };
  struct Position {
    Id start;       // seek here
    uint64_t skip;  // then skip this many ids
  };

  uint64_t total() const { return total_; }
  const std::vector<Segment>& segments() const { return segments_; }

  // Counts new ids (sorted, distinct, none counted before). Returns the indexes,
  // ascending, of the segments that now hold more than kMaxSegment ids.
  std::vector<size_t> Add(std::span<const Id> sorted_new_ids);

  // The first id past segment i, or nullopt if it is the last segment.
  std::optional<Id> End(size_t i) const;

  // Replaces segment i by segments of kSplitInto ids cut from `ids`: exactly the
  // ids segment i holds, sorted. Indexes after i shift, so split from the back.
  void Split(size_t i, std::span<const Id> ids);

  // Where the k-th id (0-based) is; nullopt if k >= total().
  std::optional<Position> Locate(uint64_t k) const;

  void EncodeTo(std::string* out) const;
  // False if `in` is not an encoding (the index is then unchanged).
  bool DecodeFrom(std::string_view in);

  friend bool operator==(const RankIndex&, const RankIndex&) = default;

 private:
  std::vector<Segment> segments_;  // sorted by start; the first starts at Id(0)
  uint64_t total_ = 0;
};

}  // namespace tally
