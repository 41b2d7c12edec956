#pragma once

// Positions (docs/http-api.md "Positions"): the X-Tally-Position token of an
// answer names the topic and, per partition, the next offset the snapshot that
// answered had applied; X-Tally-Min-Position sends one back, and the answer
// must come from a snapshot at least that far along in every partition it
// names. The token names the topic only, so every replica reading the topic
// accepts every other's. Plain values and pure functions; any thread.
//
// Token format, version 1 (frozen: clients keep tokens across upgrades):
//   "p1." base64url-without-padding( varint(topic bytes) topic varint(n)
//                                    n × (partition step, varint(next offset)) )
// varints are LEB128 (7 bits a byte, least significant first, minimal length);
// the first partition is zigzag-encoded, each later one as (its distance from
// the one before − 1), so partitions are strictly ascending and 0..n run in one
// byte each. At most kMaxPositionBytes characters: a topic with more
// partitions than fit (hundreds, with offsets in the billions) gets a token
// naming the lowest ones only — it then claims nothing about the others, never
// more than the answer reflects.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/partition.h"
#include "aggregate/status.h"
#include "aggregate/store.h"

namespace tally {

inline constexpr size_t kMaxPositionBytes = 2048;
inline constexpr std::string_view kPositionHeader = "X-Tally-Position";
inline constexpr std::string_view kMinPositionHeader = "X-Tally-Min-Position";

// Where one partition stands: the next offset to apply (all before it are).
struct PartitionNext {
  Partition partition{};
  Offset next = kFirstOffset;

  friend bool operator==(const PartitionNext&, const PartitionNext&) = default;
};

// A request found behind its X-Tally-Min-Position: the minimum it asked for,
// and the position of the snapshot that was behind it.
struct PositionWait {
  std::vector<PartitionNext> min;
  std::vector<PartitionNext> seen;
};

// The applied position of `offsets` (any order; one entry per partition) as
// partitions in ascending order.
std::vector<PartitionNext> PositionOf(std::span<const PartitionOffset> offsets);

// The token of `position` (ascending partitions, as PositionOf gives) for
// `topic`: at most kMaxPositionBytes of [A-Za-z0-9._~-], naming as many of
// the lowest partitions as fit (all, unless there are hundreds).
std::string EncodePosition(std::string_view topic, std::span<const PartitionNext> position);

// The position a token names, which must be one of `topic`. InvalidArgument
// naming X-Tally-Min-Position if it is malformed (not a version-1 token,
// characters outside the alphabet, too long, truncated, trailing bytes,
// partitions not ascending, numbers out of range) or names another topic.
Result<std::vector<PartitionNext>> ParsePosition(std::string_view token, std::string_view topic);

// True when `applied` has reached `min` in every partition `min` names; a
// partition `applied` does not name counts as offset 0 applied. Both ascending.
bool Reaches(std::span<const PartitionNext> applied, std::span<const PartitionNext> min);

}  // namespace tally
