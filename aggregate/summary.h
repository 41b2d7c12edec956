#pragma once

// The two per-request views of GET /statistics/summary and GET
// /statistics/labelers (docs/views.md): RequestSummary (tasks per status and
// per Helix status, records per action type, the instance total, first and last
// record time, the number of labelers) and LabelerStats (one per request and
// aliceName). Both are folded record by record as events are applied; every
// part is a sum, a min or a max, so the result is a function of the set of
// records folded whatever their order, as long as each record is folded once
// (the store's dedupe) and a task's bucket is moved with MoveTask whenever its
// view's latest record changes. Plain values.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aggregate/task_action.h"
#include "aggregate/task_view.h"
#include "aggregate/timestamp.h"

namespace tally {

// Counts by an integer key (a status, a Helix status, an action type), in
// ascending key order, zero counts left out.
class CountMap {
 public:
  using Entry = std::pair<int32_t, uint64_t>;

  // Adds `delta` (negative: removes) to the count of `key`; a count that
  // reaches zero leaves the map. A count never goes below zero.
  void Add(int32_t key, int64_t delta) {
    // The maps hold a few statuses or action types: a scan from the front
    // beats a binary search there (this runs several times per record).
    auto it = entries_.begin();
    if (entries_.size() <= kScanned) {
      while (it != entries_.end() && it->first < key) ++it;
    } else {
      it = std::lower_bound(it, entries_.end(), key, [](const Entry& e, int32_t k) { return e.first < k; });
    }
    if (it == entries_.end() || it->first != key) {
      if (delta <= 0) return;
      entries_.insert(it, Entry{key, static_cast<uint64_t>(delta)});
      return;
    }
    const int64_t sum = static_cast<int64_t>(it->second) + delta;
    if (sum <= 0) {
      entries_.erase(it);
    } else {
      it->second = static_cast<uint64_t>(sum);
    }
  }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& mutable_entries() { return entries_; }  // for decoding: keep them sorted

  friend bool operator==(const CountMap&, const CountMap&) = default;

 private:
  static constexpr size_t kScanned = 16;
  std::vector<Entry> entries_;
};

// The least and greatest createdTime of a set of records; empty before the first.
struct TimeRange {
  std::optional<Timestamp> first, last;

  void Add(Timestamp t) {
    if (!first || t < *first) first = t;
    if (!last || *last < t) last = t;
  }
  friend bool operator==(const TimeRange&, const TimeRange&) = default;
};

struct RequestSummary {
  CountMap tasks_by_status;        // the task views' status
  CountMap tasks_by_helix_status;  // HelixStatus of the task views
  CountMap records_by_action_type;
  uint64_t instance_num = 0;  // the sum of the task views' instance_num
  uint64_t labelers = 0;      // distinct aliceNames
  TimeRange times;

  friend bool operator==(const RequestSummary&, const RequestSummary&) = default;
};

struct LabelerStats {
  uint64_t records = 0;
  uint64_t tasks = 0;  // distinct tasks with a record of this labeler
  CountMap records_by_action_type;
  uint64_t modify_instance_num = 0;  // absent counts as 0
  uint64_t modify_attributes_num = 0;
  TimeRange times;

  friend bool operator==(const LabelerStats&, const LabelerStats&) = default;
};

// Whose record it is for the labeler view: the record's aliceName, or nullptr
// when it has none (absent, null or empty): such records are not counted.
inline const std::string* LabelerOf(const TaskAction& record) {
  return record.alice_name && !record.alice_name->empty() ? &*record.alice_name : nullptr;
}

// Counts a record into its labeler's stats; `new_task` when it is the
// labeler's first record on the record's task.
inline void FoldLabeler(const TaskAction& r, bool new_task, LabelerStats* s) {
  ++s->records;
  if (new_task) ++s->tasks;
  s->records_by_action_type.Add(static_cast<int32_t>(r.action_type), 1);
  s->modify_instance_num += r.modify_instance_num.value_or(0);
  s->modify_attributes_num += r.modify_attributes_num.value_or(0);
  s->times.Add(r.created_time);
}

// The record-level part of the summary: its action type, its time. The
// instance counts and the task buckets are the store's (they follow the task
// views).
inline void FoldSummaryRecord(const TaskAction& r, RequestSummary* s) {
  s->records_by_action_type.Add(static_cast<int32_t>(r.action_type), 1);
  s->times.Add(r.created_time);
}

// A task's place in the summary's buckets: its view's status and Helix status.
struct TaskBucket {
  int32_t status = 0;
  int32_t helix = 0;
  friend bool operator==(const TaskBucket&, const TaskBucket&) = default;
};

// The bucket of a task view: the status /statistics shows and /task/get's S.
inline TaskBucket BucketOf(const TaskView& view) { return {static_cast<int32_t>(view.status), HelixStatus(view)}; }

// Moves a task from bucket `before` (nullopt: a new task) to `after`.
inline void MoveTask(const std::optional<TaskBucket>& before, const TaskBucket& after, RequestSummary* s) {
  if (before && *before == after) return;
  if (before) {
    s->tasks_by_status.Add(before->status, -1);
    s->tasks_by_helix_status.Add(before->helix, -1);
  }
  s->tasks_by_status.Add(after.status, 1);
  s->tasks_by_helix_status.Add(after.helix, 1);
}

}  // namespace tally
