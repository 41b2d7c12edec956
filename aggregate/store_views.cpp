// The applier's folding of new records into the views: the request, its
// campaigns, the task view, its instance counts and its scene entries.

#include "aggregate/store_apply.h"

#include <algorithm>
#include <cassert>

#include "aggregate/bytes.h"
#include "aggregate/keys.h"

namespace tally {

using keys::Family;

Status Applier::ApplyRecord(const TaskAction& a, Slot& slot) {
  Result<RequestState*> found = Request(a.annotation_request_id, slot);
  if (!found) return found.error();
  RequestState& request = **found;
  if (request.touched != slot.epoch) {
    request.touched = slot.epoch;
    slot.touched.emplace_back(a.annotation_request_id, &request);
  }
  const RequestNo no = request.meta.no;

  key_ = keys::RequestItem(no, a.id);
  value_.clear();
  EncodeRecord(a, &value_);
  Put(slot, Cf(Family::kRecords), key_, value_);
  value_.clear();
  keys::AppendRequestValue(no, &value_);
  Put(slot, Cf(Family::kRecordIds), keys::RecordId(a.id), value_);
  request.new_records.push_back(a.id);

  Result<TaskState*> found_task = Task(request, a.task_id, slot);
  if (!found_task) return found_task.error();
  TaskState& task = **found_task;
  if (task.touched != slot.epoch) {
    task.touched = slot.epoch;
    slot.dirty_tasks.emplace_back(keys::RequestItem(no, a.task_id), &task);
  }
  if (!a.scene_id.empty()) {
    if (Status s = NoteScene(request, task, a, slot); !s.ok()) return s;
  }
  std::optional<TaskBucket> before;
  if (summaries_ && task.view.records > 0) before = BucketOf(task.view);
  Fold(a, &task.view);
  if (task.view.instances_apart || task.view.instance_info.size() > kInlineInstanceKeys) {
    MoveInstancesApart(no, task.view, slot);
  }
  if (summaries_) {
    if (Status s = FoldSummaries(request, task, a, before, slot); !s.ok()) return s;
  }
  return Campaign(request, a.campaign_id, slot);
}

// Moves the counts held in the view into the instances family (keys.h): all of
// them when the view outgrows kInlineInstanceKeys, and then, the view's
// instance_info being empty before each Fold, exactly each record's own counts.
void Applier::MoveInstancesApart(RequestNo no, TaskView& view, Slot& slot) {
  tally::MoveInstancesApart(*store_, keys::InstancePrefix(no, view.task_id), view, slot.batch, &key_, &value_);
}

void MoveInstancesApart(const Store::Impl& store, std::string_view prefix, TaskView& view,
                        rocksdb::WriteBatch& batch, std::string* key, std::string* value) {
  key->assign(prefix);
  for (const InstanceSum& s : view.instance_info) {
    key->resize(prefix.size());
    key->append(s.key);
    value->clear();
    EncodeInstanceCount(s.sum, value);
    // Like Put, Merge refuses only keys or values over 4 GiB.
    const rocksdb::Status st = batch.Merge(store.Cf(Family::kInstances), *key, *value);
    assert(st.ok());
    st.PermitUncheckedError();
  }
  view.instance_info.clear();
  view.instances_apart = true;
}

Result<Applier::RequestState*> Applier::Request(std::string_view id, Slot& slot) {
  if (RequestState* cached = requests_.Find(id)) return cached;
  RequestState state;
  std::string value;
  const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kRequests), id, &value);
  if (s.ok()) {
    if (!DecodeRequestMeta(value, &state.meta)) return Status::Corruption("unreadable request meta");
    if (summaries_) {
      const rocksdb::Status got =
          store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kSummaries), keys::Summary(state.meta.no), &value);
      if (!got.ok()) return FromRocks(got, "reading a request summary");  // every request of format 3 and on has one
      if (!DecodeRequestSummary(value, &state.summary)) return Status::Corruption("unreadable request summary");
    }
  } else if (s.IsNotFound()) {
    state.meta.no = RequestNo{next_request_no_++};
    state.created = slot.epoch;
    ++totals_.requests;
  } else {
    return FromRocks(s, "reading a request");
  }
  return &requests_.Insert(std::string(id), std::move(state), id.size() + 256);
}

Result<Applier::TaskState*> Applier::Task(RequestState& request, Id task_id, Slot&) {
  key_ = keys::RequestItem(request.meta.no, task_id);
  if (TaskState* cached = tasks_.Find(key_)) return cached;
  TaskState state;
  bool stored = false;
  if (!IsNew(request)) {  // a request not yet written has no stored tasks
    std::string value;
    const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kTasks), key_, &value);
    if (s.ok()) {
      if (!DecodeTaskView(value, &state.view, &state.labelers)) return Status::Corruption("unreadable task view");
      stored = true;
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "reading a task");
    }
  }
  if (!stored) {
    request.new_tasks.push_back(task_id);
    ++totals_.tasks;
  }
  const size_t charge = Charge(key_, state);
  return &tasks_.Insert(key_, std::move(state), charge);
}

// Keeps the scene entries (keys.h) of the record's task right, before the record
// is folded into the view. A scene entry holds the stamp of the task's latest
// record carrying that scene. The entry of the view's latest scene always equals
// the view's scene stamp, so in the usual case (a task keeps its scene) it is
// written from the view with the batch and costs no lookup.
Status Applier::NoteScene(const RequestState& request, TaskState& task, const TaskAction& a, Slot& slot) {
  const Stamp stamp = StampOf(a);
  const std::optional<Stamped<std::string>>& latest = task.view.scene_id;
  const RequestNo no = request.meta.no;
  if (!latest || latest->stamp < stamp) {
    // The record becomes the latest carrying a scene. If the view moves to
    // another scene, the old scene's pending entry is written now.
    if (latest && task.scene_dirty && latest->value != a.scene_id) {
      PutScene(no, latest->value, a.task_id, latest->stamp, slot);
    }
    task.scene_dirty = true;
    return Status::OK();
  }
  if (latest->value == a.scene_id) return Status::OK();  // an older record of the latest scene
  // An older record of another scene of the task: its entry is the greatest stamp
  // of this batch's, the one being written, or the stored one.
  const std::string key = keys::Scene(no, a.scene_id, a.task_id);
  std::optional<Stamp> stored;
  if (auto it = slot.scene_writes.find(key); it != slot.scene_writes.end()) {
    stored = it->second;
  } else if (auto w = writing_ ? writing_->scene_writes.find(key) : slot.scene_writes.end();
             writing_ && w != writing_->scene_writes.end()) {
    stored = w->second;
  } else {
    std::string value;
    const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kScenes), key, &value);
    if (s.ok()) {
      if (!DecodeStamp(value, &stored.emplace())) return Status::Corruption("unreadable scene entry");
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "reading a scene");
    }
  }
  if (!stored || *stored < stamp) PutScene(no, a.scene_id, a.task_id, stamp, slot);
  return Status::OK();
}

void Applier::PutScene(RequestNo no, std::string_view scene_id, Id task_id, const Stamp& stamp, Slot& slot) {
  // Written by WriteScenes once the batch's records are folded: a key put
  // twice keeps its last stamp, as the second Put would have.
  slot.scene_writes[keys::Scene(no, scene_id, task_id)] = stamp;
}

void Applier::WriteScenes(Slot& slot) {
  InKeyOrder(slot.scene_writes, &scene_order_);
  for (const auto* entry : scene_order_) {
    value_.clear();
    EncodeStamp(entry->second, &value_);
    Put(slot, Cf(Family::kScenes), entry->first, value_);
  }
}

Status Applier::Campaign(RequestState& request, std::string_view campaign_id, Slot& slot) {
  for (const std::string& known : request.campaigns) {
    if (known == campaign_id) return Status::OK();
  }
  const std::string key = keys::Campaign(campaign_id, request.meta.no);
  bool stored = false;
  if (!IsNew(request)) {  // memberships added by batches not yet written are in `campaigns`
    std::string value;
    const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kCampaigns), key, &value);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a campaign");
    stored = s.ok();
  }
  if (!stored) Put(slot, Cf(Family::kCampaigns), key, "");
  request.campaigns.emplace_back(campaign_id);
  return Status::OK();
}

}  // namespace tally
