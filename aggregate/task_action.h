#pragma once

// TaskAction is one decoded TaskAction v1 event (docs/events.md): one immutable
// record of the annotation history. Decoding (ingest/decode.h) guarantees every
// limit of the contract, so code that receives a TaskAction may rely on them. A
// plain value; equality is the contract's "same decoded values", which tells a
// duplicate from a conflict.

#include <cstdint>
#include <optional>
#include <string>

#include "aggregate/enums.h"
#include "aggregate/id.h"
#include "aggregate/instance_info.h"
#include "aggregate/timestamp.h"

namespace tally {

// Limits of the contract, shared by the decoder, the generator and the tests.
inline constexpr size_t kMaxStringBytes = 255;
// An ID given as a JSON string: at most this many characters (digits, leading
// zeros included), at most Id::kMaxDigits of them significant.
inline constexpr size_t kMaxIdStringChars = 64;
inline constexpr size_t kMaxInstanceKeys = 10'000;
inline constexpr int32_t kMaxEnumValue = 1000;
inline constexpr uint32_t kMaxCount = 2'147'483'647;  // 2^31 - 1

struct TaskAction {
  Id id;                              // the record id: the dedupe key
  std::string annotation_request_id;  // 1..255 bytes
  std::string campaign_id;            // 1..255 bytes (a JSON number kept as its digits)
  std::string scene_id;               // 0..255 bytes; empty means absent
  Id task_id;
  std::optional<Id> project_id;
  std::optional<Id> pool_id;
  std::optional<std::string> pool_name;  // 0..255 bytes
  PoolType pool_type = PoolType::kDistribution;
  std::optional<Id> folder_id;
  std::optional<std::string> alice_name;  // 0..255 bytes
  TaskStatus status = TaskStatus::kWaitingForAllocation;
  ActionType action_type = ActionType::kInitialization;
  Timestamp created_time;
  InstanceInfo instance_info;  // keys 0..255 bytes, counts 0..kMaxCount, sorted
  std::optional<uint32_t> modify_instance_num;  // each 0..kMaxCount
  std::optional<uint32_t> modify_attributes_num;
  std::optional<uint32_t> instance_sum;
  std::optional<uint32_t> attributes_sum;

  friend bool operator==(const TaskAction&, const TaskAction&) = default;
};

}  // namespace tally
