#pragma once

// TaskFields is a stored task view read in place for the answers that show it
// (GET /statistics): its ids, enums and counts decoded, its instance counts left
// as views into the bytes it was decoded from (TaskPage::Fields), so writing a
// page of tasks allocates nothing per task or per count. Only the fields an
// answer shows; the applier's fields (stamps, campaign, labelers) are checked
// and skipped. Valid only while those bytes live and do not change. Part of the
// store's public surface; no RocksDB type.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "aggregate/enums.h"
#include "aggregate/id.h"

namespace tally {

// A view's instance counts (summed per key), in key order, as stored: decoded
// as they are visited.
class InstanceSums {
 public:
  InstanceSums() = default;
  // `size` entries in the store's encoding (codec.cpp), already checked by DecodeTaskFields.
  static InstanceSums Stored(std::string_view bytes, size_t size) {
    InstanceSums s;
    s.bytes_ = bytes;
    s.size_ = size;
    return s;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // At least the bytes of all keys together: room for writing them.
  size_t key_bytes_bound() const { return bytes_.size(); }

  // Calls f(std::string_view key, uint64_t sum) for each entry, in key order.
  template <class F>
  void ForEach(F&& f) const {
    std::string_view rest = bytes_;
    for (size_t i = 0; i < size_; ++i) {
      std::string_view key;
      const uint64_t sum = NextStored(&rest, &key);
      f(key, sum);
    }
  }

 private:
  // The stored entry at the front of *rest, which it advances past (codec.cpp).
  static uint64_t NextStored(std::string_view* rest, std::string_view* key);

  std::string_view bytes_;
  size_t size_ = 0;
};

struct TaskFields {
  Id task_id;
  TaskStatus status = TaskStatus::kWaitingForAllocation;
  PoolType pool_type = PoolType::kDistribution;
  std::optional<Id> project_id;
  std::optional<Id> pool_id;
  // The counts are kept apart from the view (TaskView::instances_apart):
  // instance_info is then empty, and Store::Instances reads them.
  bool instances_apart = false;
  InstanceSums instance_info;
  uint64_t instance_num = 0;
};

}  // namespace tally
