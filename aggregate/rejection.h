#pragma once

// Rejection is an event that broke a rule of docs/events.md: why (a reason slug for
// metrics and a message that names the field), where it came from, and the first
// 4 KiB of its JSON text. A rejected event never changes a view; it is stored and
// counted instead. A plain value.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aggregate/partition.h"

namespace tally {

// DO NOT RENUMBER: stored with each rejection. Add new reasons at the end.
enum class RejectReason : uint8_t {
  kInvalidJson = 0,     // not RFC 8259 JSON in UTF-8 (the whole message)
  kMissingField = 1,    // a required field is absent
  kWrongType = 2,       // a field has the wrong JSON type, or the event is not an object
  kOutOfRange = 3,      // a number or ID outside its range, an empty required string
  kTooLong = 4,         // a string over its byte limit
  kTooLarge = 5,        // a message over 8 MiB (the whole message)
  kDuplicateField = 6,  // a known field, or an instanceInfo key, given twice
  kInvalidTime = 7,     // createdTime in neither accepted form, or not a real time
  kTooManyKeys = 8,     // instanceInfo with more than 10,000 keys
};
inline constexpr size_t kRejectReasonCount = 9;

// The snake_case slug used as the `reason` label: "invalid_json", "missing_field"…
std::string_view Slug(RejectReason reason);

// The excerpt kept of a rejected event.
inline constexpr size_t kRejectionExcerptBytes = 4096;

// Rejected events the store keeps per partition, the latest ones (with their
// excerpts): older ones are deleted as new ones come. Their counts by reason are
// kept whole (Store::RejectionCounts).
inline constexpr size_t kKeptRejections = 1000;

// Where an event came from: a Kafka partition and offset, or (for `tally replay`)
// kReplayPartition and the line number.
struct Origin {
  Partition partition = kReplayPartition;
  Offset offset = kFirstOffset;

  friend bool operator==(const Origin&, const Origin&) = default;
};

struct Rejection {
  Origin origin;
  // Index of the event in an array message; nullopt when the message as a whole
  // was judged (not JSON, too large, or a single object).
  std::optional<uint32_t> element;
  RejectReason reason = RejectReason::kInvalidJson;
  std::string field;    // "taskId", "instanceInfo", "event" (the event itself), "message"
  std::string message;  // begins with the field: `taskId: expected an ID, got "abc"`
  std::string excerpt;  // the first kRejectionExcerptBytes of the event's JSON text

  friend bool operator==(const Rejection&, const Rejection&) = default;
};

}  // namespace tally
