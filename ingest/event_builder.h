#pragma once

// EventBuilder fills one TaskAction slot from its fields' raw JSON tokens. It
// takes only the common, valid shapes (plain strings without escapes, plain
// non-negative integers, the plain createdTime forms, null for an optional
// field) and says no to anything else, storing nothing; the caller then takes the
// general path, which judges the value. EventReader tries it first for every
// field. Private to ingest/.
//
// The slot may hold an earlier event's values (DecodedEvents reuses slots to
// keep their memory): Start() and Finish() make sure none of them survives.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aggregate/task_action.h"
#include "ingest/event_fields.h"
#include "ingest/json_token.h"

namespace tally {

class EventBuilder {
 public:
  // Starts an event in `action`. Resets what is cheap to reset; the optional
  // strings are assigned in place (keeping their memory) and reset by Finish()
  // only if this event lacks them.
  void Start(TaskAction* action) {
    action_ = action;
    stored_ = 0;
    TaskAction& a = *action;
    a.scene_id.clear();
    a.project_id.reset();
    a.pool_id.reset();
    a.folder_id.reset();
    a.instance_info.clear();
    a.modify_instance_num.reset();
    a.modify_attributes_num.reset();
    a.instance_sum.reset();
    a.attributes_sum.reset();
  }

  TaskAction& action() { return *action_; }

  // Stores field f from its raw token as simdjson gives it (trailing whitespace
  // allowed) if the value has a common shape and obeys the contract; otherwise
  // stores nothing and returns false. instanceInfo is never taken here.
  bool TryStore(Field f, std::string_view raw_token) {
    const std::string_view token = json::TrimRight(raw_token);
    if (token.empty()) return false;
    if (token[0] == '"') {
      std::string_view s;
      return json::RawString(token, &s) && TryStoreString(f, s);
    }
    if (token == "null") return TryStoreNull(f);
    return TryStoreNumber(f, token);
  }

  // The value is a string; `s` is its content, which has no escapes.
  bool TryStoreString(Field f, std::string_view s) {
    if (s.size() > kMaxStringBytes) return false;
    TaskAction& a = *action_;
    switch (f) {
      case Field::kAnnotationRequestId:
        if (s.empty()) return false;
        json::Assign(&a.annotation_request_id, s);
        return true;
      case Field::kCampaignId:
        if (s.empty()) return false;
        json::Assign(&a.campaign_id, s);
        return true;
      case Field::kSceneId: json::Assign(&a.scene_id, s); return true;  // "" is absent
      case Field::kPoolName:
      case Field::kAliceName: StoreOptionalString(f, s); return true;
      case Field::kCreatedTime: {
        Result<Timestamp> t = ParseTimestamp(s);
        if (!t) return false;
        a.created_time = *t;
        return true;
      }
      default: return false;
    }
  }

  // The value is null: the absence of an optional field, which Start() cleared.
  bool TryStoreNull(Field f) { return !(kRequiredFields & Bit(f)); }

  // The value is a number token, exact (no whitespace around it).
  bool TryStoreNumber(Field f, std::string_view token) {
    TaskAction& a = *action_;
    Id* id = nullptr;
    std::optional<Id>* optional_id = nullptr;
    switch (f) {
      case Field::kId: id = &a.id; break;
      case Field::kTaskId: id = &a.task_id; break;
      case Field::kProjectId: optional_id = &a.project_id; break;
      case Field::kPoolId: optional_id = &a.pool_id; break;
      case Field::kFolderId: optional_id = &a.folder_id; break;
      default: break;
    }
    if (id || optional_id) {
      Id value;
      if (!json::FastId(token, &value)) return false;
      if (id) {
        *id = value;
      } else {
        *optional_id = value;
      }
      return true;
    }
    uint64_t x;
    if (!json::FastUnsigned(token, &x)) return false;
    switch (f) {
      case Field::kPoolType: return StoreEnum(x, &a.pool_type);
      case Field::kStatus: return StoreEnum(x, &a.status);
      case Field::kActionType: return StoreEnum(x, &a.action_type);
      case Field::kModifyInstanceNum: return StoreCount(x, &a.modify_instance_num);
      case Field::kModifyAttributesNum: return StoreCount(x, &a.modify_attributes_num);
      case Field::kInstanceSum: return StoreCount(x, &a.instance_sum);
      case Field::kAttributesSum: return StoreCount(x, &a.attributes_sum);
      default: return false;
    }
  }

  // Stores an optional string field (poolName, aliceName) into its slot's
  // existing string, so that a reused slot does not allocate.
  void StoreOptionalString(Field f, std::string_view s) {
    std::optional<std::string>& target = f == Field::kPoolName ? action_->pool_name : action_->alice_name;
    if (target) {
      json::Assign(&*target, s);
    } else {
      target.emplace(s);
    }
    stored_ |= Bit(f);
  }

  // Ends the event: an optional string it did not set must not keep an earlier
  // event's value.
  void Finish() {
    if (!(stored_ & Bit(Field::kPoolName))) action_->pool_name.reset();
    if (!(stored_ & Bit(Field::kAliceName))) action_->alice_name.reset();
  }

 private:
  template <class Enum>
  static bool StoreEnum(uint64_t x, Enum* out) {
    if (x > static_cast<uint64_t>(kMaxEnumValue)) return false;
    *out = static_cast<Enum>(x);
    return true;
  }
  static bool StoreCount(uint64_t x, std::optional<uint32_t>* out) {
    if (x > kMaxCount) return false;
    *out = static_cast<uint32_t>(x);
    return true;
  }

  TaskAction* action_ = nullptr;
  uint32_t stored_ = 0;  // bits of the optional strings given a value
};

}  // namespace tally
