#pragma once

// RecordFields is a stored record read in place: its strings and instance counts
// are views into the bytes it was decoded from (RecordPage::Fields), or into a
// TaskAction (Of). Writing a page of records from them copies nothing per field.
// Valid only while those bytes (or that action) live and do not change. Part of
// the store's public surface; no RocksDB type.

#include <cstdint>
#include <optional>
#include <string_view>

#include "aggregate/enums.h"
#include "aggregate/id.h"
#include "aggregate/instance_info.h"
#include "aggregate/task_action.h"
#include "aggregate/timestamp.h"

namespace tally {

// A record's instance counts, in key order: an action's InstanceInfo, or the
// entries of a stored record, decoded as they are visited.
class RecordInstances {
 public:
  using Entry = InstanceInfo::Entry;

  RecordInstances() = default;
  explicit RecordInstances(const InstanceInfo& info) : info_(&info), size_(info.size()) {}
  // `size` entries in the store's encoding (codec.cpp), already checked by DecodeRecord.
  static RecordInstances Stored(std::string_view bytes, size_t size) {
    RecordInstances r;
    r.bytes_ = bytes;
    r.size_ = size;
    return r;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Calls f(Entry) for each entry, in key order.
  template <class F>
  void ForEach(F&& f) const {
    if (info_) {
      for (const Entry e : *info_) f(e);
      return;
    }
    std::string_view rest = bytes_;
    for (size_t i = 0; i < size_; ++i) f(NextStored(&rest));
  }

 private:
  // The stored entry at the front of *rest, which it advances past (codec.cpp).
  static Entry NextStored(std::string_view* rest);

  const InstanceInfo* info_ = nullptr;
  std::string_view bytes_;
  size_t size_ = 0;
};

// Every field of a TaskAction but `id` and `annotation_request_id` (a record's
// key holds those).
struct RecordFields {
  std::string_view campaign_id;
  std::string_view scene_id;
  Id task_id;
  std::optional<Id> project_id;
  std::optional<Id> pool_id;
  std::optional<std::string_view> pool_name;
  PoolType pool_type = PoolType::kDistribution;
  std::optional<Id> folder_id;
  std::optional<std::string_view> alice_name;
  TaskStatus status = TaskStatus::kWaitingForAllocation;
  ActionType action_type = ActionType::kInitialization;
  Timestamp created_time;
  RecordInstances instance_info;
  std::optional<uint32_t> modify_instance_num;
  std::optional<uint32_t> modify_attributes_num;
  std::optional<uint32_t> instance_sum;
  std::optional<uint32_t> attributes_sum;

  // Views into `a`, which must outlive them.
  static RecordFields Of(const TaskAction& a) {
    RecordFields f;
    f.campaign_id = a.campaign_id;
    f.scene_id = a.scene_id;
    f.task_id = a.task_id;
    f.project_id = a.project_id;
    f.pool_id = a.pool_id;
    if (a.pool_name) f.pool_name = std::string_view(*a.pool_name);
    f.pool_type = a.pool_type;
    f.folder_id = a.folder_id;
    if (a.alice_name) f.alice_name = std::string_view(*a.alice_name);
    f.status = a.status;
    f.action_type = a.action_type;
    f.created_time = a.created_time;
    f.instance_info = RecordInstances(a.instance_info);
    f.modify_instance_num = a.modify_instance_num;
    f.modify_attributes_num = a.modify_attributes_num;
    f.instance_sum = a.instance_sum;
    f.attributes_sum = a.attributes_sum;
    return f;
  }
};

}  // namespace tally
