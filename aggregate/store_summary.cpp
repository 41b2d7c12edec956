// The applier's upkeep of the summary and labeler views (summary.h, keys.h):
// a request's summary lives in its RequestState and is written with the
// request's meta; labelers are cached like task views and written once per
// batch; the instance sums are merged, one merge per key per batch; which
// labelers have a record on a task is kept in the task view's value (codec.h
// TaskLabelers), or past kInlineLabelers as markers in labeler_tasks, by their
// numbers: a new labeler's is the request's count of labelers before it.

#include <algorithm>
#include <cassert>

#include "aggregate/codec.h"
#include "aggregate/keys.h"
#include "aggregate/store_apply.h"

namespace tally {

using keys::Family;

Status Applier::FoldSummaries(RequestState& request, TaskState& task, const TaskAction& a,
                              const std::optional<TaskBucket>& before, Slot& slot) {
  RequestSummary& summary = request.summary;
  const RequestNo no = request.meta.no;
  // The view's latest record decides its bucket: a record older than the
  // latest leaves it where it is, a newer one may move it.
  MoveTask(before, BucketOf(task.view), &summary);
  FoldSummaryRecord(a, &summary);
  if (!a.instance_info.empty()) {
    // One key buffer for all: the request's prefix, then each instance key.
    summary_key_ = keys::SummaryInstance(no, "");
    for (const InstanceInfo::Entry e : a.instance_info) {
      if (e.count == 0) continue;  // the summary shows non-zero sums only
      summary.instance_num += e.count;
      summary_key_.resize(keys::kRequestPrefixBytes);
      summary_key_.append(e.key);
      if (auto it = slot.instance_sums.find(summary_key_); it != slot.instance_sums.end()) {
        it->second += e.count;
      } else {
        slot.instance_sums.emplace(summary_key_, e.count);
      }
    }
  }

  const std::string* name = LabelerOf(a);
  if (name == nullptr) return Status::OK();
  Result<LabelerState*> labeler = Labeler(request, *name, slot);
  if (!labeler) return labeler.error();
  const uint64_t number = (*labeler)->number;
  TaskLabelers& labelers = task.labelers;
  bool new_task = !labelers.Has(number);
  if (new_task) {
    labelers.Add(number);
    if (labelers.apart) {
      // Only some are in memory: a marker (written with the task's view) decides.
      const std::string key = keys::LabelerTask(no, a.task_id, number);
      std::string value;
      const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kLabelerTasks), key, &value);
      if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a labeler's task");
      new_task = s.IsNotFound();
      if (new_task) Put(slot, Cf(Family::kLabelerTasks), key, "");
    } else if (labelers.count > kInlineLabelers) {
      // Too many to keep in the view: every one becomes a marker.
      labelers.ForEach([&](uint64_t n) { Put(slot, Cf(Family::kLabelerTasks), keys::LabelerTask(no, a.task_id, n), ""); });
      labelers.apart = true;
    }
  }
  FoldLabeler(a, new_task, &(*labeler)->stats);
  return Status::OK();
}

Result<Applier::LabelerState*> Applier::Labeler(RequestState& request, std::string_view name, Slot& slot) {
  // Most records find their labeler among the few the batch has touched in
  // their request; their names are the batch's records' (alive while it is
  // built), their states stay cached until it is written.
  std::vector<std::pair<std::string_view, LabelerState*>>& recent = request.batch_labelers;
  if (request.batch_labelers_epoch != slot.epoch) {
    request.batch_labelers_epoch = slot.epoch;
    recent.clear();
  }
  for (const auto& [known, state] : recent) {
    if (known == name) return state;
  }
  summary_key_ = keys::Labeler(request.meta.no, name);
  LabelerState* labeler = labelers_.Find(summary_key_);
  if (labeler == nullptr) {
    LabelerState state;
    bool stored = false;
    if (!IsNew(request)) {  // a request not yet written has no stored labelers
      std::string value;
      const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kLabelers), summary_key_, &value);
      if (s.ok()) {
        if (!DecodeLabelerStats(value, &state.stats, &state.number)) {
          return Status::Corruption("unreadable labeler stats");
        }
        stored = true;
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "reading a labeler");
      }
    }
    if (!stored) state.number = request.summary.labelers++;
    const size_t charge = Charge(summary_key_, state);
    labeler = &labelers_.Insert(summary_key_, std::move(state), charge);
  }
  if (labeler->touched != slot.epoch) {
    labeler->touched = slot.epoch;
    slot.dirty_labelers.emplace_back(summary_key_, labeler);
  }
  // A request with many labelers looks them up in the cache alone: the scan stays short.
  if (recent.size() < kBatchLabelers) recent.emplace_back(name, labeler);
  return labeler;
}

void Applier::WriteSummaries(Slot& slot) {
  // In key order, as the task views (Build).
  SortByKey(slot.dirty_labelers);
  for (const auto& [key, labeler] : slot.dirty_labelers) {
    value_.clear();
    EncodeLabelerStats(labeler->stats, labeler->number, &value_);
    Put(slot, Cf(Family::kLabelers), key, value_);
  }
  InKeyOrder(slot.instance_sums, &sum_order_);
  for (const auto* entry : sum_order_) {
    const std::string& key = entry->first;
    value_.clear();
    EncodeInstanceCount(entry->second, &value_);
    // Like Put, Merge refuses only keys or values over 4 GiB.
    const rocksdb::Status s = slot.batch.Merge(Cf(Family::kSummaryInstances), key, value_);
    assert(s.ok());
    s.PermitUncheckedError();
  }
}

}  // namespace tally
