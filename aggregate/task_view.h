#pragma once

// TaskView is the materialized view of one task of one annotation request
// (docs/views.md): the fields of its latest record, latest = greatest (createdTime,
// id); each optional field from the latest record that carries it; instance
// counts summed per key over all its records. Fold() is the merge rule: it is
// commutative and idempotent per record set only when each record is folded once,
// which the store's dedupe guarantees. A plain value.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "aggregate/task_action.h"

namespace tally {

// A record's place in time: records are ordered by (createdTime, id).
struct Stamp {
  Timestamp time;
  Id id;

  friend constexpr auto operator<=>(const Stamp&, const Stamp&) = default;
};

inline Stamp StampOf(const TaskAction& a) { return {a.created_time, a.id}; }

template <class T>
struct Stamped {
  Stamp stamp;
  T value;

  friend bool operator==(const Stamped&, const Stamped&) = default;
};

struct InstanceSum {
  std::string key;
  uint64_t sum;

  friend bool operator==(const InstanceSum&, const InstanceSum&) = default;
};

struct TaskView {
  Id task_id;
  // From the latest record.
  Stamp latest;
  TaskStatus status = TaskStatus::kWaitingForAllocation;
  PoolType pool_type = PoolType::kDistribution;
  ActionType action_type = ActionType::kInitialization;
  std::string campaign_id;
  // Each from the latest record that carries it.
  std::optional<Stamped<Id>> project_id;
  std::optional<Stamped<Id>> pool_id;
  std::optional<Stamped<std::string>> pool_name;
  std::optional<Stamped<std::string>> scene_id;
  // Summed over every record, sorted by key.
  std::vector<InstanceSum> instance_info;
  // The store keeps the counts of a view with many distinct keys apart from it
  // (keys.h): then instance_info as read from the store is empty, and
  // Store::Instances reads the counts. instance_num is always here.
  bool instances_apart = false;
  uint64_t instance_num = 0;
  uint64_t records = 0;  // records folded in

  friend bool operator==(const TaskView&, const TaskView&) = default;
};

// Folds one record of the task into the view (a view with records == 0 is empty).
void Fold(const TaskAction& record, TaskView* view);

// The Helix status of the task (POST /task/get, docs/http-api.md), from its latest
// record's status, pool type and action type.
int HelixStatus(const TaskView& view);

}  // namespace tally
