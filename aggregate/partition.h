#pragma once

// Partition and Offset: where in a Kafka topic an event came from (or, for
// `tally replay`, kReplayPartition and the line number). Distinct types, like
// Id and RequestNo, so that a partition and an offset cannot be swapped or mixed
// with other numbers without the compiler noticing: they convert only
// explicitly (Raw, or Partition{n} / Offset{n}) at the edges, that is
// librdkafka's calls, the store's key bytes and text for logs, headers and JSON.
// Plain values.

#include <cstdint>
#include <type_traits>

namespace tally {

// A partition of the topic (Kafka's int32 partition id).
enum class Partition : int32_t {};
// The position of a message in its partition (Kafka's int64 offset), or of a
// line in a replayed file (from 1). The next offset to read is one past the
// last message read; so `next - 1` is the last one.
enum class Offset : int64_t {};

// The partition of the events `tally replay` reads from a file (it is no Kafka
// partition: Kafka's are >= 0).
inline constexpr Partition kReplayPartition{-1};
// Where a partition starts: a partition re-read from the beginning has this
// next offset until its first message is applied.
inline constexpr Offset kFirstOffset{0};

constexpr int32_t Raw(Partition p) { return static_cast<int32_t>(p); }
constexpr int64_t Raw(Offset o) { return static_cast<int64_t>(o); }

// Moving along a partition by a number of messages.
constexpr Offset operator+(Offset o, int64_t n) { return Offset{Raw(o) + n}; }
constexpr Offset operator-(Offset o, int64_t n) { return Offset{Raw(o) - n}; }
// How many messages lie from `b` up to `a` (a lag, a count).
constexpr int64_t operator-(Offset a, Offset b) { return Raw(a) - Raw(b); }

static_assert(!std::is_convertible_v<Partition, Offset> && !std::is_convertible_v<Offset, Partition>,
              "a partition and an offset cannot be swapped");
static_assert(!std::is_convertible_v<int64_t, Offset> && !std::is_convertible_v<int32_t, Partition> &&
                  !std::is_convertible_v<Offset, int64_t> && !std::is_convertible_v<Partition, int32_t>,
              "a bare number is neither a partition nor an offset, and the reverse");

}  // namespace tally
