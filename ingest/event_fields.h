#pragma once

// The fields of TaskAction v1 and their lookup by raw key. Private to ingest/.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ingest/json_token.h"

namespace tally {

// Every known field, in the order producers usually write them (the lookup tries
// the field after the previous one first).
enum class Field : uint8_t {
  kId,
  kAnnotationRequestId,
  kCampaignId,
  kSceneId,
  kTaskId,
  kProjectId,
  kPoolId,
  kPoolName,
  kPoolType,
  kFolderId,
  kAliceName,
  kStatus,
  kActionType,
  kCreatedTime,
  kInstanceInfo,
  kModifyInstanceNum,
  kModifyAttributesNum,
  kInstanceSum,
  kAttributesSum,
  kCount,
};

inline constexpr std::array<std::string_view, static_cast<size_t>(Field::kCount)> kFieldNames = {
    "id",         "annotationRequestId", "campaignId",   "sceneId",
    "taskId",     "projectId",           "poolId",       "poolName",
    "poolType",   "folderId",            "aliceName",    "status",
    "actionType", "createdTime",         "instanceInfo", "modifyInstanceNum",
    "modifyAttributesNum", "instanceSum", "attributesSum",
};

constexpr uint32_t Bit(Field f) { return uint32_t{1} << static_cast<unsigned>(f); }

inline constexpr uint32_t kRequiredFields =
    Bit(Field::kId) | Bit(Field::kAnnotationRequestId) | Bit(Field::kCampaignId) |
    Bit(Field::kTaskId) | Bit(Field::kPoolType) | Bit(Field::kStatus) |
    Bit(Field::kActionType) | Bit(Field::kCreatedTime);

inline std::string_view NameOf(Field f) { return kFieldNames[static_cast<size_t>(f)]; }

// Finds a field by its raw key bytes. Built at compile time; immutable.
class FieldTable {
 public:
  constexpr FieldTable() {
    for (auto& candidates : by_length_) candidates.fill(-1);
    for (size_t i = 0; i < kFieldNames.size(); ++i) {
      const std::string_view name = kFieldNames[i];
      for (size_t k = 0; k < name.size(); ++k) names_[i].bytes[k] = name[k];
      names_[i].length = static_cast<int>(name.size());
      auto& candidates = by_length_[name.size()];
      size_t free = 0;
      while (candidates[free] >= 0) ++free;
      candidates[free] = static_cast<int8_t>(i);
    }
  }

  // The field named by the `length` bytes at `raw`, trying `hint` first (kCount:
  // no hint); kCount for an unknown name.
  Field Find(const char* raw, int length, Field hint) const {
    if (hint != Field::kCount && json::SameKey(raw, length, names_[static_cast<size_t>(hint)])) {
      return hint;
    }
    if (length <= 0 || length >= static_cast<int>(by_length_.size())) return Field::kCount;
    for (int8_t i : by_length_[static_cast<size_t>(length)]) {
      if (i < 0) break;
      if (json::SameKey(raw, length, names_[static_cast<size_t>(i)])) return static_cast<Field>(i);
    }
    return Field::kCount;
  }

  // Find for a raw key that starts at `raw`, just after its opening quote, in
  // simdjson's padded buffer. Sets *length to -1 (and returns kCount) if the key
  // has escapes or is 32 bytes or longer: the caller must unescape it.
  Field FindRaw(const char* raw, Field hint, int* length) const {
    *length = json::SimpleKeyLength(raw);
    return *length < 0 ? Field::kCount : Find(raw, *length, hint);
  }

 private:
  std::array<json::PaddedName, static_cast<size_t>(Field::kCount)> names_{};
  std::array<std::array<int8_t, 4>, 20> by_length_{};  // field indexes by name length
};

inline constexpr FieldTable kFieldTable;

}  // namespace tally
