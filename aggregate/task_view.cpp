#include "aggregate/task_view.h"

namespace tally {
namespace {

template <class T, class U>
void Later(const Stamp& stamp, const std::optional<U>& value, std::optional<Stamped<T>>* field) {
  if (!value) return;
  if (!*field) {
    field->emplace(Stamped<T>{stamp, T(*value)});
  } else if ((*field)->stamp < stamp) {
    // In place: a string keeps its buffer (a new one per record was most of
    // Fold's allocations).
    (*field)->stamp = stamp;
    (*field)->value = *value;
  }
}

// Adds the record's counts into the sorted sums. Usually every key is there
// already and the sums are updated in place; otherwise the two sorted lists are
// merged in one pass (linear however many keys a record brings).
void AddCounts(const InstanceInfo& counts, TaskView* view) {
  std::vector<InstanceSum>& sums = view->instance_info;
  size_t i = 0;
  bool all_known = true;
  for (const InstanceInfo::Entry e : counts) {
    while (i < sums.size() && sums[i].key < e.key) ++i;
    if (i == sums.size() || sums[i].key != e.key) {
      all_known = false;
      break;
    }
  }
  if (all_known) {
    i = 0;
    for (const InstanceInfo::Entry e : counts) {
      while (sums[i].key != e.key) ++i;
      sums[i].sum += e.count;
      view->instance_num += e.count;
    }
    return;
  }
  std::vector<InstanceSum> merged;
  merged.reserve(sums.size() + counts.size());
  i = 0;
  for (const InstanceInfo::Entry e : counts) {
    while (i < sums.size() && sums[i].key < e.key) merged.push_back(std::move(sums[i++]));
    if (i < sums.size() && sums[i].key == e.key) {
      merged.push_back(std::move(sums[i++]));
      merged.back().sum += e.count;
    } else {
      merged.push_back(InstanceSum{std::string(e.key), e.count});
    }
    view->instance_num += e.count;
  }
  while (i < sums.size()) merged.push_back(std::move(sums[i++]));
  sums = std::move(merged);
}

}  // namespace

void Fold(const TaskAction& r, TaskView* view) {
  const Stamp stamp = StampOf(r);
  if (view->records == 0 || view->latest < stamp) {
    view->task_id = r.task_id;
    view->latest = stamp;
    view->status = r.status;
    view->pool_type = r.pool_type;
    view->action_type = r.action_type;
    view->campaign_id = r.campaign_id;
  }
  Later(stamp, r.project_id, &view->project_id);
  Later(stamp, r.pool_id, &view->pool_id);
  Later(stamp, r.pool_name, &view->pool_name);
  if (!r.scene_id.empty()) Later(stamp, std::optional<std::string_view>(r.scene_id), &view->scene_id);
  AddCounts(r.instance_info, view);
  ++view->records;
}

int HelixStatus(const TaskView& v) {
  const auto status = v.status;
  const auto pool = v.pool_type;
  const auto action = v.action_type;
  const bool waiting = status == TaskStatus::kWaitingForAllocation || status == TaskStatus::kAssigned;
  if ((status == TaskStatus::kError || status == TaskStatus::kInvalid) && pool == PoolType::kDistribution) {
    return 0;  // creation failed
  }
  switch (pool) {
    case PoolType::kDistribution:
    case PoolType::kAlgorithm: return 1;
    case PoolType::kAnnotation:
    case PoolType::kCommon:
      if (waiting) return 2;
      if (status == TaskStatus::kWaitingForSubmission || status == TaskStatus::kAccomplish ||
          action == ActionType::kSubmitAnnotation) {
        return 4;
      }
      return 3;
    case PoolType::kCheck: return waiting ? 5 : 6;
    case PoolType::kSampling:
      if (waiting) return 8;
      if (status == TaskStatus::kAccomplish || action == ActionType::kSampling) return 10;
      return 9;
    case PoolType::kComplete: return 11;
  }
  return 3;  // a pool type outside the table
}

}  // namespace tally
