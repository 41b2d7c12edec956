#include "aggregate/store_apply.h"

#include <algorithm>
#include <cassert>

#include "aggregate/bytes.h"
#include "aggregate/keys.h"

namespace tally {
namespace {

// Approximate bytes a cached object holds, for the caches' budgets.
size_t Charge(std::string_view key, const TaskView& v) {
  size_t n = key.size() + sizeof(TaskView) + 96 + v.campaign_id.size();
  if (v.pool_name) n += v.pool_name->value.size();
  if (v.scene_id) n += v.scene_id->value.size();
  for (const InstanceSum& s : v.instance_info) n += sizeof(InstanceSum) + s.key.size();
  return n;
}

size_t Charge(std::string_view key, const std::optional<RankIndex>& a, const std::optional<RankIndex>& b) {
  size_t n = key.size() + 256;
  if (a) n += a->segments().size() * sizeof(RankIndex::Segment);
  if (b) n += b->segments().size() * sizeof(RankIndex::Segment);
  return n;
}

// The request number at the front of a request_no · id key.
std::optional<RequestNo> RequestOf(std::string_view key) {
  ByteReader r(key);
  uint32_t no;
  if (!r.Fixed32BE(&no)) return std::nullopt;
  return RequestNo{no};
}

std::string RequestEnd(RequestNo no) {
  std::string key = keys::RequestPrefix(no);
  key.push_back('\xff');  // above every id encoding, whose first byte is at most 16
  return key;
}

}  // namespace

Result<std::unique_ptr<Applier>> Applier::Create(Store::Impl* store, size_t cache_bytes) {
  std::string value;
  const rocksdb::Status s = store->db->Get(rocksdb::ReadOptions(), store->meta, keys::kNextRequestKey, &value);
  uint32_t next = 0;
  if (s.ok()) {
    ByteReader r(value);
    if (!r.Fixed32BE(&next)) return Status::Corruption("unreadable request counter in " + store->options.path);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading the request counter");
  }
  return std::unique_ptr<Applier>(new Applier(store, cache_bytes, next));
}

Applier::Applier(Store::Impl* store, size_t cache_bytes, uint32_t next_request_no)
    : store_(store),
      next_request_no_(next_request_no),
      requests_(cache_bytes / 8),
      tasks_(cache_bytes - cache_bytes / 8) {}

void Applier::Put(rocksdb::ColumnFamilyHandle* family, std::string_view key, std::string_view value) {
  // A WriteBatch refuses only keys or values over 4 GiB, which tally never builds.
  const rocksdb::Status s = batch_.Put(family, rocksdb::Slice(key.data(), key.size()),
                                       rocksdb::Slice(value.data(), value.size()));
  assert(s.ok());
  s.PermitUncheckedError();
}

void Applier::Forget() {
  requests_.Clear();
  tasks_.Clear();
}

Result<ApplyResult> Applier::Apply(const ApplyBatch& batch) {
  const uint32_t next_before = next_request_no_;
  Result<ApplyResult> result = Build(batch);
  Status s = result ? Status::OK() : result.error();
  if (s.ok()) {
    if (store_->options.batch_sink) store_->options.batch_sink(batch_.Data());
    rocksdb::WriteOptions write_options;
    write_options.sync = store_->options.sync;
    s = FromRocks(store_->db->Write(write_options, &batch_), "writing a batch");
  }
  if (!s.ok()) {
    // The caches hold what this batch would have made; the store holds what came
    // before. Forget the caches rather than guess.
    next_request_no_ = next_before;
    Forget();
    return s;
  }
  // Written: the cached objects now hold stored state.
  uint64_t new_tasks = 0, new_requests = 0;
  for (auto& [key, r] : touched_) {
    new_tasks += r->new_tasks.size();
    new_requests += r->is_new ? 1 : 0;
    r->new_records.clear();
    r->new_tasks.clear();
    r->is_new = false;
    r->touched = false;
    requests_.Recharge(key, Charge(key, r->record_ranks, r->task_ranks));
  }
  for (auto& [key, task] : dirty_tasks_) {
    task->dirty = false;
    task->scene_dirty = false;
    tasks_.Recharge(key, Charge(key, task->view));
  }
  requests_.Trim();
  tasks_.Trim();
  store_->total_records += result->applied;
  store_->total_tasks += new_tasks;
  store_->total_requests += new_requests;
  result->keys_written = batch_.Count();
  result->bytes_written = batch_.GetDataSize();
  return result;
}

Result<ApplyResult> Applier::Build(const ApplyBatch& batch) {
  batch_.Clear();
  fresh_.clear();
  touched_.clear();
  dirty_tasks_.clear();
  scene_writes_.clear();
  ApplyResult result;
  result.rejected = batch.rejections.size();

  if (Status s = FindExisting(batch, &result); !s.ok()) return s;
  for (uint32_t i : fresh_) {
    if (Status s = ApplyRecord(batch.actions[i]); !s.ok()) return s;
  }
  for (auto& [key, task] : dirty_tasks_) {
    value_.clear();
    EncodeTaskView(task->view, &value_);
    Put(store_->tasks, key, value_);
    if (task->scene_dirty) {
      const auto& scene = *task->view.scene_id;
      const std::optional<RequestNo> no = RequestOf(key);
      PutScene(*no, scene.value, task->view.task_id, scene.stamp);
    }
  }
  if (Status s = FinishRequests(); !s.ok()) return s;

  for (const Rejection& r : batch.rejections) {
    value_.clear();
    EncodeRejection(r, &value_);
    Put(store_->rejected, keys::Rejected(r.origin, r.element), value_);
  }
  for (const PartitionOffset& o : batch.next_offsets) {
    value_.clear();
    PutFixed64BE(static_cast<uint64_t>(o.next), &value_);
    Put(store_->meta, keys::Offset(batch.topic, o.partition), value_);
  }
  // Counters that the next start-up (and the gauges) read.
  uint64_t new_tasks = 0, new_requests = 0;
  for (const auto& [key, r] : touched_) {
    new_tasks += r->new_tasks.size();
    new_requests += r->is_new ? 1 : 0;
  }
  value_.clear();
  PutVarint(store_->total_records + fresh_.size(), &value_);
  PutVarint(store_->total_tasks + new_tasks, &value_);
  PutVarint(store_->total_requests + new_requests, &value_);
  Put(store_->meta, keys::kTotalsKey, value_);
  if (new_requests > 0) {
    value_.clear();
    PutFixed32BE(next_request_no_, &value_);
    Put(store_->meta, keys::kNextRequestKey, value_);
  }
  result.applied = fresh_.size();
  return result;
}

// Sorts the batch's records into fresh ones (fresh_, in arrival order) and
// duplicates. A duplicate is compared with the copy that came first, to count
// conflicts: the stored one if there is one, else the batch's first.
Status Applier::FindExisting(const ApplyBatch& batch, ApplyResult* result) {
  const std::span<const TaskAction> actions = batch.actions;
  // Sorted by (id, arrival): the first of each run of equal ids is the first
  // copy; the rest repeat it. Sorted ids also make the lookups below cheaper.
  by_id_.resize(actions.size());
  for (uint32_t i = 0; i < actions.size(); ++i) by_id_[i] = {actions[i].id, i};
  std::sort(by_id_.begin(), by_id_.end());
  std::vector<uint32_t>& candidates = candidates_;
  std::vector<std::pair<uint32_t, uint32_t>>& repeats = repeats_;  // (index, index of the first copy)
  candidates.clear();
  repeats.clear();
  for (size_t k = 0; k < by_id_.size(); ++k) {
    if (k > 0 && by_id_[k].first == by_id_[k - 1].first) {
      repeats.emplace_back(by_id_[k].second, candidates.back());
    } else {
      candidates.push_back(by_id_[k].second);
    }
  }
  result->duplicates += repeats.size();

  // Batched lookups of every id: new ids cost a bloom filter probe each. Chunks
  // keep RocksDB's per-call buffers small. The PinnableSlices are fresh for
  // every batch: reusing them across MultiGet calls corrupted later reads under
  // RocksDB 7.8 (found by StoreCrashTest).
  id_keys_.resize(candidates.size());
  slices_.resize(candidates.size());
  for (size_t j = 0; j < candidates.size(); ++j) {
    id_keys_[j].clear();
    actions[candidates[j]].id.AppendKey(&id_keys_[j]);
    slices_[j] = id_keys_[j];
  }
  std::vector<rocksdb::PinnableSlice> values(candidates.size());
  statuses_.assign(candidates.size(), rocksdb::Status());
  constexpr size_t kChunk = 1024;
  for (size_t from = 0; from < candidates.size(); from += kChunk) {
    const size_t n = std::min(kChunk, candidates.size() - from);
    store_->db->MultiGet(rocksdb::ReadOptions(), store_->record_ids, n, slices_.data() + from,
                         values.data() + from, statuses_.data() + from);
  }
  const std::vector<rocksdb::Status>& statuses = statuses_;
  std::unordered_map<uint32_t, StoredCopy> stored;  // by index of the batch's first copy
  for (size_t j = 0; j < candidates.size(); ++j) {
    if (statuses[j].IsNotFound()) {
      fresh_.push_back(candidates[j]);
      continue;
    }
    if (!statuses[j].ok()) return FromRocks(statuses[j], "looking up record ids");
    ByteReader value(std::string_view(values[j].data(), values[j].size()));
    uint32_t no;
    if (!value.Fixed32BE(&no)) return Status::Corruption("unreadable record id entry");
    StoredCopy& copy = stored.emplace(candidates[j], StoredCopy{RequestNo{no}, std::nullopt}).first->second;
    ++result->duplicates;
    Result<bool> same = SameAsStored(actions[candidates[j]], &copy);
    if (!same) return same.error();
    if (!*same) ++result->conflicts;
  }
  for (const auto& [i, first_copy] : repeats) {
    bool same;
    if (auto it = stored.find(first_copy); it != stored.end()) {
      Result<bool> r = SameAsStored(actions[i], &it->second);
      if (!r) return r.error();
      same = *r;
    } else {
      same = actions[i] == actions[first_copy];
    }
    if (!same) ++result->conflicts;
  }
  return Status::OK();
}

// Whether `a` has the same decoded values as the stored copy of its id.
Result<bool> Applier::SameAsStored(const TaskAction& a, StoredCopy* copy) {
  std::string value;
  rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->requests, a.annotation_request_id, &value);
  if (s.IsNotFound()) return false;  // stored under another request
  if (!s.ok()) return FromRocks(s, "reading a request");
  RequestMeta request;
  if (!DecodeRequestMeta(value, &request)) return Status::Corruption("unreadable request meta");
  if (request.no != copy->no) return false;
  if (!copy->record) {
    s = store_->db->Get(rocksdb::ReadOptions(), store_->records, keys::RequestItem(copy->no, a.id), &value);
    if (!s.ok()) return FromRocks(s, "reading a stored record");
    if (!DecodeRecord(value, &copy->record.emplace())) return Status::Corruption("unreadable stored record");
    copy->record->id = a.id;
  }
  copy->record->annotation_request_id = a.annotation_request_id;
  return *copy->record == a;
}

Status Applier::ApplyRecord(const TaskAction& a) {
  Result<RequestState*> found = Request(a.annotation_request_id);
  if (!found) return found.error();
  RequestState& request = **found;
  if (!request.touched) {
    request.touched = true;
    touched_.emplace_back(a.annotation_request_id, &request);
  }
  const RequestNo no = request.meta.no;

  key_ = keys::RequestItem(no, a.id);
  value_.clear();
  EncodeRecord(a, &value_);
  Put(store_->records, key_, value_);
  value_.clear();
  PutFixed32BE(static_cast<uint32_t>(no), &value_);
  Put(store_->record_ids, keys::RecordId(a.id), value_);
  request.new_records.push_back(a.id);

  Result<TaskState*> task = Task(request, a.task_id);
  if (!task) return task.error();
  if (!a.scene_id.empty()) {
    if (Status s = NoteScene(request, **task, a); !s.ok()) return s;
  }
  Fold(a, &(*task)->view);
  if (!(*task)->dirty) {
    (*task)->dirty = true;
    dirty_tasks_.emplace_back(keys::RequestItem(no, a.task_id), *task);
  }
  return Campaign(request, a.campaign_id);
}

Result<Applier::RequestState*> Applier::Request(std::string_view id) {
  if (RequestState* cached = requests_.Find(id)) return cached;
  RequestState state;
  std::string value;
  const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->requests, id, &value);
  if (s.ok()) {
    if (!DecodeRequestMeta(value, &state.meta)) return Status::Corruption("unreadable request meta");
  } else if (s.IsNotFound()) {
    state.meta.no = RequestNo{next_request_no_++};
    state.is_new = true;
  } else {
    return FromRocks(s, "reading a request");
  }
  return &requests_.Insert(std::string(id), std::move(state), id.size() + 256);
}

Result<Applier::TaskState*> Applier::Task(RequestState& request, Id task_id) {
  key_ = keys::RequestItem(request.meta.no, task_id);
  if (TaskState* cached = tasks_.Find(key_)) return cached;
  TaskState state;
  bool stored = false;
  if (!request.is_new) {  // a new request has no stored tasks
    std::string value;
    const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->tasks, key_, &value);
    if (s.ok()) {
      if (!DecodeTaskView(value, &state.view)) return Status::Corruption("unreadable task view");
      stored = true;
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "reading a task");
    }
  }
  if (!stored) request.new_tasks.push_back(task_id);
  const size_t charge = Charge(key_, state.view);
  return &tasks_.Insert(key_, std::move(state), charge);
}

// Keeps the scene entries (keys.h) of the record's task right, before the record
// is folded into the view. A scene entry holds the stamp of the task's latest
// record carrying that scene. The entry of the view's latest scene always equals
// the view's scene stamp, so in the usual case (a task keeps its scene) it is
// written from the view with the batch and costs no lookup.
Status Applier::NoteScene(const RequestState& request, TaskState& task, const TaskAction& a) {
  const Stamp stamp = StampOf(a);
  const std::optional<Stamped<std::string>>& latest = task.view.scene_id;
  const RequestNo no = request.meta.no;
  if (!latest || latest->stamp < stamp) {
    // The record becomes the latest carrying a scene. If the view moves to
    // another scene, the old scene's pending entry is written now.
    if (latest && task.scene_dirty && latest->value != a.scene_id) {
      PutScene(no, latest->value, a.task_id, latest->stamp);
    }
    task.scene_dirty = true;
    return Status::OK();
  }
  if (latest->value == a.scene_id) return Status::OK();  // an older record of the latest scene
  // An older record of another scene of the task: its entry is the greatest stamp.
  const std::string key = keys::Scene(no, a.scene_id, a.task_id);
  std::optional<Stamp> stored;
  if (auto it = scene_writes_.find(key); it != scene_writes_.end()) {
    stored = it->second;
  } else {
    std::string value;
    const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->scenes, key, &value);
    if (s.ok()) {
      if (!DecodeStamp(value, &stored.emplace())) return Status::Corruption("unreadable scene entry");
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "reading a scene");
    }
  }
  if (!stored || *stored < stamp) PutScene(no, a.scene_id, a.task_id, stamp);
  return Status::OK();
}

void Applier::PutScene(RequestNo no, std::string_view scene_id, Id task_id, const Stamp& stamp) {
  std::string key = keys::Scene(no, scene_id, task_id);
  value_.clear();
  EncodeStamp(stamp, &value_);
  Put(store_->scenes, key, value_);
  scene_writes_[std::move(key)] = stamp;
}

Status Applier::Campaign(RequestState& request, std::string_view campaign_id) {
  for (const std::string& known : request.campaigns) {
    if (known == campaign_id) return Status::OK();
  }
  const std::string key = keys::Campaign(campaign_id, request.meta.no);
  bool stored = false;
  if (!request.is_new) {
    std::string value;
    const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->campaigns, key, &value);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a campaign");
    stored = s.ok();
  }
  if (!stored) Put(store_->campaigns, key, "");
  request.campaigns.emplace_back(campaign_id);
  return Status::OK();
}

Status Applier::FinishRequests() {
  for (auto& [id, request] : touched_) {
    if (!request->new_records.empty()) {
      if (Status s = UpdateRanks(*request, /*tasks=*/false); !s.ok()) return s;
      request->meta.records += request->new_records.size();
    }
    if (!request->new_tasks.empty()) {
      if (Status s = UpdateRanks(*request, /*tasks=*/true); !s.ok()) return s;
      request->meta.tasks += request->new_tasks.size();
    }
    value_.clear();
    EncodeRequestMeta(request->meta, &value_);
    Put(store_->requests, id, value_);
  }
  return Status::OK();
}

// Counts the request's new record (or task) ids into its rank index, splitting
// segments that grow too big, and writes the index.
Status Applier::UpdateRanks(RequestState& request, bool tasks) {
  std::optional<RankIndex>& index = tasks ? request.task_ranks : request.record_ranks;
  std::vector<Id>& ids = tasks ? request.new_tasks : request.new_records;
  const RequestNo no = request.meta.no;
  const std::string key = keys::Rank(no, tasks ? keys::RankKind::kTasks : keys::RankKind::kRecords);
  if (!index) {
    index.emplace();
    if (!request.is_new) {
      std::string value;
      const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->ranks, key, &value);
      if (s.ok() && !index->DecodeFrom(value)) return Status::Corruption("unreadable rank index");
      if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a rank index");
    }
  }
  std::sort(ids.begin(), ids.end());
  const std::vector<size_t> oversized = index->Add(ids);
  for (auto it = oversized.rbegin(); it != oversized.rend(); ++it) {
    const size_t i = *it;
    const Id start = index->segments()[i].start;
    const std::optional<Id> end = index->End(i);
    std::vector<Id> held;  // the segment's stored ids, then this batch's
    if (Status s = ReadIds(tasks ? store_->tasks : store_->records, no, start, end, &held); !s.ok()) return s;
    const auto from = std::lower_bound(ids.begin(), ids.end(), start);
    const auto to = end ? std::lower_bound(ids.begin(), ids.end(), *end) : ids.end();
    const size_t stored = held.size();
    held.insert(held.end(), from, to);
    std::inplace_merge(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(stored), held.end());
    if (held.size() != index->segments()[i].count) {
      return Status::Corruption("the rank index of a request disagrees with its data");
    }
    index->Split(i, held);
  }
  value_.clear();
  index->EncodeTo(&value_);
  Put(store_->ranks, key, value_);
  return Status::OK();
}

Status Applier::ReadIds(rocksdb::ColumnFamilyHandle* family, RequestNo no, Id from, std::optional<Id> to,
                        std::vector<Id>* ids) {
  const std::string upper = to ? keys::RequestItem(no, *to) : RequestEnd(no);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(store_->db->NewIterator(ro, family));
  for (it->Seek(keys::RequestItem(no, from)); it->Valid(); it->Next()) {
    const std::optional<Id> id = keys::ItemOf(std::string_view(it->key().data(), it->key().size()));
    if (!id) return Status::Corruption("unreadable item key");
    ids->push_back(*id);
  }
  return FromRocks(it->status(), "reading a segment of a rank index");
}

}  // namespace tally
