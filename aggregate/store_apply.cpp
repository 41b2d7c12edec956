#include "aggregate/store_apply.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
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
RequestNo RequestOf(std::string_view key) {
  ByteReader r(key);
  uint32_t no = 0;
  const bool ok = r.Fixed32BE(&no);
  assert(ok && "keys built by keys::RequestItem");
  (void)ok;
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
      tasks_(cache_bytes - cache_bytes / 8),
      totals_{store->total_records.load(), store->total_tasks.load(), store->total_requests.load()},
      writer_([this] { WriterLoop(); }) {}

Applier::~Applier() {
  // A write in flight completes; its result has no taker.
  const Result<std::optional<ApplyResult>> ignored = FinishWrite();
  (void)ignored;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  writer_.join();
}

void Applier::WriterLoop() {
  pthread_setname_np(pthread_self(), "tally:write");  // for top -H and profilers
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || to_write_ != nullptr; });
    if (!to_write_) return;
    Slot* slot = to_write_;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    if (store_->options.batch_sink) store_->options.batch_sink(slot->batch.Data());
    // After a background error (a failed flush) RocksDB refuses writes
    // anyway; the store's first error is the one to report.
    Status s = store_->health->failure();
    if (s.ok()) {
      rocksdb::WriteOptions write_options;
      write_options.sync = store_->options.sync;
      const rocksdb::Status written = store_->db->Write(write_options, &slot->batch);
      if (!written.ok()) {
        store_->health->Fail(
            Status::IOError("the store in " + store_->options.path + " failed writing a batch: " + written.ToString()));
        s = store_->health->failure();
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    lock.lock();
    to_write_ = nullptr;
    write_done_ = true;
    write_status_ = std::move(s);
    write_seconds_ = seconds;
    changed_.notify_all();
  }
}

void Applier::StartWrite(Slot& slot) {
  std::lock_guard lock(mutex_);
  to_write_ = &slot;
  write_done_ = false;
  writing_ = &slot;
  changed_.notify_all();
}

Status Applier::Fail(Status status) {
  failed_ = status;
  requests_.Clear();
  tasks_.Clear();
  rejects_.clear();
  return status;
}

Result<std::optional<ApplyResult>> Applier::FinishWrite() {
  if (!writing_) return std::optional<ApplyResult>();
  Status s;
  double write_seconds;
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return write_done_; });
    s = write_status_;
    write_seconds = write_seconds_;
  }
  Slot& slot = *writing_;
  slot.result.seconds += write_seconds;
  writing_ = nullptr;
  if (!s.ok()) return Fail(s);
  // Written: the batch's effects are stored, and what it touched may leave the caches.
  written_ = slot.epoch;
  for (auto& [key, request] : slot.touched) {
    std::erase_if(request->unwritten_records, [&](const auto& e) { return e.first <= written_; });
    std::erase_if(request->unwritten_tasks, [&](const auto& e) { return e.first <= written_; });
    requests_.Recharge(key, Charge(key, request->record_ranks, request->task_ranks));
  }
  for (auto& [key, task] : slot.dirty_tasks) tasks_.Recharge(key, Charge(key, task->view));
  requests_.Trim([&](const RequestState& r) { return r.touched <= written_; });
  tasks_.Trim([&](const TaskState& t) { return t.touched <= written_; });
  store_->total_records = slot.totals.records;
  store_->total_tasks = slot.totals.tasks;
  store_->total_requests = slot.totals.requests;
  slot.result.keys_written = slot.batch.Count();
  slot.result.bytes_written = slot.batch.GetDataSize();
  return std::optional<ApplyResult>(slot.result);
}

Result<std::optional<ApplyResult>> Applier::Submit(const ApplyBatch& batch) {
  if (!failed_.ok()) return failed_;
  if (store_->health->failed()) return Fail(store_->health->failure());  // in the background
  Slot& slot = writing_ == &slots_[0] ? slots_[1] : slots_[0];
  const auto start = std::chrono::steady_clock::now();
  const Status built = Build(batch, slot);  // overlaps the write in flight
  slot.result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Result<std::optional<ApplyResult>> previous = FinishWrite();
  if (!built.ok()) return Fail(built);
  if (!previous) return previous;
  StartWrite(slot);
  return previous;
}

Result<std::optional<ApplyResult>> Applier::Flush() { return FinishWrite(); }

Result<ApplyResult> Applier::Apply(const ApplyBatch& batch) {
  if (writing_) return Status::InvalidArgument("Apply while a submitted batch is in flight; Flush first");
  if (auto r = Submit(batch); !r) return r.error();
  Result<std::optional<ApplyResult>> done = Flush();
  if (!done) return done.error();
  return **done;
}

void Applier::Put(Slot& slot, rocksdb::ColumnFamilyHandle* family, std::string_view key, std::string_view value) {
  // A WriteBatch refuses only keys or values over 4 GiB, which tally never builds.
  const rocksdb::Status s = slot.batch.Put(family, rocksdb::Slice(key.data(), key.size()),
                                           rocksdb::Slice(value.data(), value.size()));
  assert(s.ok());
  s.PermitUncheckedError();
}

Status Applier::Build(const ApplyBatch& batch, Slot& slot) {
  slot.batch.Clear();
  slot.touched.clear();
  slot.dirty_tasks.clear();
  slot.scene_writes.clear();
  slot.fresh_ids.clear();
  slot.epoch = ++built_;
  slot.result = ApplyResult{};
  slot.result.rejected = batch.rejections.size();
  fresh_.clear();
  const uint64_t requests_before = totals_.requests;

  if (Status s = FindExisting(batch, slot); !s.ok()) return s;
  for (uint32_t i : fresh_) {
    if (Status s = ApplyRecord(batch.actions[i], slot); !s.ok()) return s;
  }
  for (auto& [key, task] : slot.dirty_tasks) {
    value_.clear();
    EncodeTaskView(task->view, &value_);
    Put(slot, store_->tasks, key, value_);
    if (task->scene_dirty) {
      const auto& scene = *task->view.scene_id;
      PutScene(RequestOf(key), scene.value, task->view.task_id, scene.stamp, slot);
      task->scene_dirty = false;
    }
  }
  if (Status s = FinishRequests(slot); !s.ok()) return s;

  if (Status s = AddRejections(batch, slot); !s.ok()) return s;
  for (const PartitionOffset& o : batch.next_offsets) {
    value_.clear();
    PutFixed64BE(static_cast<uint64_t>(o.next), &value_);
    PutString(o.cluster, &value_);
    if (o.fingerprint) PutFixed64BE(*o.fingerprint, &value_);
    Put(slot, store_->meta, keys::Offset(batch.topic, o.partition), value_);
  }
  // Counters that the next start-up (and the gauges) read.
  totals_.records += fresh_.size();
  slot.totals = totals_;
  value_.clear();
  PutVarint(totals_.records, &value_);
  PutVarint(totals_.tasks, &value_);
  PutVarint(totals_.requests, &value_);
  Put(slot, store_->meta, keys::kTotalsKey, value_);
  if (totals_.requests != requests_before) {
    value_.clear();
    PutFixed32BE(next_request_no_, &value_);
    Put(slot, store_->meta, keys::kNextRequestKey, value_);
  }
  slot.result.applied = fresh_.size();
  for (uint32_t i : fresh_) slot.fresh_ids.emplace_back(batch.actions[i].id, &batch.actions[i]);
  return Status::OK();
}

// Sorts the batch's records into fresh ones (fresh_, in id order) and
// duplicates. A duplicate is compared with the copy that came first, to count
// conflicts: one stored, or in the batch being written, or else the batch's own.
Status Applier::FindExisting(const ApplyBatch& batch, Slot& slot) {
  const std::span<const TaskAction> actions = batch.actions;
  ApplyResult& result = slot.result;
  // Sorted by (id, arrival): the first of each run of equal ids is the first
  // copy; the rest repeat it. Sorted ids also make the lookups below cheaper.
  by_id_.resize(actions.size());
  for (uint32_t i = 0; i < actions.size(); ++i) by_id_[i] = {actions[i].id, i};
  std::sort(by_id_.begin(), by_id_.end());
  candidates_.clear();
  repeats_.clear();
  for (size_t k = 0; k < by_id_.size(); ++k) {
    if (k > 0 && by_id_[k].first == by_id_[k - 1].first) {
      repeats_.emplace_back(by_id_[k].second, candidates_.back());
    } else {
      candidates_.push_back(by_id_[k].second);
    }
  }
  result.duplicates += repeats_.size();

  // First copies of the candidates elsewhere, by index of the candidate.
  std::unordered_map<uint32_t, FirstCopy> first;
  // The batch being written is not in RocksDB yet: its ids are matched here
  // (both lists are sorted by id).
  std::vector<uint32_t> lookups;
  lookups.reserve(candidates_.size());
  {
    static const std::vector<std::pair<Id, const TaskAction*>> kNone;
    const auto& writing = writing_ ? writing_->fresh_ids : kNone;
    size_t w = 0;
    for (uint32_t c : candidates_) {
      const Id id = actions[c].id;
      while (w < writing.size() && writing[w].first < id) ++w;
      if (w < writing.size() && writing[w].first == id) {
        first.emplace(c, FirstCopy{RequestNo{}, std::nullopt, writing[w].second});
      } else {
        lookups.push_back(c);
      }
    }
  }

  // Batched lookups of the rest: new ids cost a bloom filter probe each. Chunks
  // keep RocksDB's per-call buffers small. The PinnableSlices are fresh for
  // every batch: reusing them across MultiGet calls corrupted later reads under
  // RocksDB 7.8 (found by StoreCrashTest).
  id_keys_.resize(lookups.size());
  slices_.resize(lookups.size());
  for (size_t j = 0; j < lookups.size(); ++j) {
    id_keys_[j].clear();
    actions[lookups[j]].id.AppendKey(&id_keys_[j]);
    slices_[j] = id_keys_[j];
  }
  std::vector<rocksdb::PinnableSlice> values(lookups.size());
  statuses_.assign(lookups.size(), rocksdb::Status());
  constexpr size_t kChunk = 1024;
  for (size_t from = 0; from < lookups.size(); from += kChunk) {
    const size_t n = std::min(kChunk, lookups.size() - from);
    store_->db->MultiGet(rocksdb::ReadOptions(), store_->record_ids, n, slices_.data() + from,
                         values.data() + from, statuses_.data() + from);
  }
  for (size_t j = 0; j < lookups.size(); ++j) {
    if (statuses_[j].IsNotFound()) {
      fresh_.push_back(lookups[j]);
      continue;
    }
    if (!statuses_[j].ok()) return FromRocks(statuses_[j], "looking up record ids");
    ByteReader value(std::string_view(values[j].data(), values[j].size()));
    uint32_t no;
    if (!value.Fixed32BE(&no)) return Status::Corruption("unreadable record id entry");
    first.emplace(lookups[j], FirstCopy{RequestNo{no}, std::nullopt, nullptr});
  }
  // fresh_ must be in id order (the next batch merges with it): lookups was.
  for (auto& [c, copy] : first) {
    ++result.duplicates;
    Result<bool> same = SameAsFirst(actions[c], &copy);
    if (!same) return same.error();
    if (!*same) ++result.conflicts;
  }
  for (const auto& [i, first_copy] : repeats_) {
    bool same;
    if (auto it = first.find(first_copy); it != first.end()) {
      Result<bool> r = SameAsFirst(actions[i], &it->second);
      if (!r) return r.error();
      same = *r;
    } else {
      same = actions[i] == actions[first_copy];
    }
    if (!same) ++result.conflicts;
  }
  return Status::OK();
}

// Whether `a` has the same decoded values as the first copy of its id.
Result<bool> Applier::SameAsFirst(const TaskAction& a, FirstCopy* copy) {
  if (copy->writing) return *copy->writing == a;
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
  Put(slot, store_->records, key_, value_);
  value_.clear();
  PutFixed32BE(static_cast<uint32_t>(no), &value_);
  Put(slot, store_->record_ids, keys::RecordId(a.id), value_);
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
  Fold(a, &task.view);
  if (task.view.instances_apart || task.view.instance_info.size() > kInlineInstanceKeys) {
    MoveInstancesApart(no, task.view, slot);
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
    const rocksdb::Status st = batch.Merge(store.instances, *key, *value);
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
  const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->requests, id, &value);
  if (s.ok()) {
    if (!DecodeRequestMeta(value, &state.meta)) return Status::Corruption("unreadable request meta");
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
    const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->tasks, key_, &value);
    if (s.ok()) {
      if (!DecodeTaskView(value, &state.view)) return Status::Corruption("unreadable task view");
      stored = true;
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "reading a task");
    }
  }
  if (!stored) {
    request.new_tasks.push_back(task_id);
    ++totals_.tasks;
  }
  const size_t charge = Charge(key_, state.view);
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
    const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->scenes, key, &value);
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
  std::string key = keys::Scene(no, scene_id, task_id);
  value_.clear();
  EncodeStamp(stamp, &value_);
  Put(slot, store_->scenes, key, value_);
  slot.scene_writes[std::move(key)] = stamp;
}

Status Applier::Campaign(RequestState& request, std::string_view campaign_id, Slot& slot) {
  for (const std::string& known : request.campaigns) {
    if (known == campaign_id) return Status::OK();
  }
  const std::string key = keys::Campaign(campaign_id, request.meta.no);
  bool stored = false;
  if (!IsNew(request)) {  // memberships added by batches not yet written are in `campaigns`
    std::string value;
    const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->campaigns, key, &value);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a campaign");
    stored = s.ok();
  }
  if (!stored) Put(slot, store_->campaigns, key, "");
  request.campaigns.emplace_back(campaign_id);
  return Status::OK();
}

Status Applier::FinishRequests(Slot& slot) {
  for (auto& [id, request] : slot.touched) {
    if (!request->new_records.empty()) {
      if (Status s = UpdateRanks(*request, /*tasks=*/false, slot); !s.ok()) return s;
      request->meta.records += request->new_records.size();
      request->unwritten_records.emplace_back(slot.epoch, std::move(request->new_records));
      request->new_records.clear();
    }
    if (!request->new_tasks.empty()) {
      if (Status s = UpdateRanks(*request, /*tasks=*/true, slot); !s.ok()) return s;
      request->meta.tasks += request->new_tasks.size();
      request->unwritten_tasks.emplace_back(slot.epoch, std::move(request->new_tasks));
      request->new_tasks.clear();
    }
    value_.clear();
    EncodeRequestMeta(request->meta, &value_);
    Put(slot, store_->requests, id, value_);
  }
  return Status::OK();
}

// Counts the request's new record (or task) ids into its rank index, splitting
// segments that grow too big, and writes the index.
Status Applier::UpdateRanks(RequestState& request, bool tasks, Slot& slot) {
  std::optional<RankIndex>& index = tasks ? request.task_ranks : request.record_ranks;
  std::vector<Id>& ids = tasks ? request.new_tasks : request.new_records;
  const auto& unwritten = tasks ? request.unwritten_tasks : request.unwritten_records;
  const RequestNo no = request.meta.no;
  const std::string key = keys::Rank(no, tasks ? keys::RankKind::kTasks : keys::RankKind::kRecords);
  if (!index) {
    index.emplace();
    if (!IsNew(request)) {
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
    auto in_segment = [&](Id id) { return id >= start && (!end || id < *end); };
    // The segment's ids: stored, in batches not yet written (which RocksDB may
    // or may not hold already while they are being written), and this batch's.
    std::vector<Id> held;
    if (Status s = ReadIds(tasks ? store_->tasks : store_->records, no, start, end, &held); !s.ok()) return s;
    for (const auto& [epoch, batch_ids] : unwritten) {
      for (Id id : batch_ids) {
        if (in_segment(id)) held.push_back(id);
      }
    }
    for (Id id : ids) {
      if (in_segment(id)) held.push_back(id);
    }
    std::sort(held.begin(), held.end());
    held.erase(std::unique(held.begin(), held.end()), held.end());
    if (held.size() != index->segments()[i].count) {
      return Status::Corruption("the rank index of a request disagrees with its data");
    }
    index->Split(i, held);
  }
  value_.clear();
  index->EncodeTo(&value_);
  Put(slot, store_->ranks, key, value_);
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

// Rejections are counted once per position: one at or before its partition's
// mark was counted by an earlier batch (a message read again after a crash, or
// split over batches and read again from its start) and is skipped. Of the new
// ones, only the latest kKeptRejections of each partition are written, and
// older stored ones are deleted with one range deletion per partition: a flood
// costs the disk a bounded amount whatever its size.
Status Applier::AddRejections(const ApplyBatch& batch, Slot& slot) {
  counted_.clear();
  reject_partitions_.clear();
  for (const PartitionOffset& o : batch.next_offsets) {
    if (!o.rewound) continue;
    Result<RejectState*> found = Rejects(o.partition);
    if (!found) return found.error();
    RejectState* s = *found;
    s->tally.mark.clear();
    s->kept.clear();
    s->excess = false;
    const rocksdb::Status d = slot.batch.DeleteRange(store_->rejected, keys::RejectedPartition(o.partition),
                                                     keys::RejectedPartitionEnd(o.partition));
    assert(d.ok());
    d.PermitUncheckedError();
    if (!s->listed) {
      reject_partitions_.emplace_back(o.partition, s);
      s->listed = true;
    }
  }
  RejectState* state = nullptr;
  int32_t partition = 0;
  for (uint32_t i = 0; i < batch.rejections.size(); ++i) {
    const Rejection& r = batch.rejections[i];
    if (!state || r.origin.partition != partition) {
      partition = r.origin.partition;
      Result<RejectState*> found = Rejects(partition);
      if (!found) return found.error();
      state = *found;
      if (!state->listed) {
        reject_partitions_.emplace_back(partition, state);
        state->listed = true;
      }
    }
    key_.clear();
    keys::AppendRejected(r.origin, r.element, &key_);
    if (!state->tally.mark.empty() && key_ <= state->tally.mark) continue;
    state->tally.mark = key_;
    ++state->tally.counts[static_cast<size_t>(r.reason)];
    ++state->counted;
    counted_.emplace_back(i, state);
  }
  slot.result.rejections_counted = counted_.size();
  for (const auto& [i, s] : counted_) {
    if (s->counted - s->seen++ > kKeptRejections) continue;  // not among the latest
    const Rejection& r = batch.rejections[i];
    key_.clear();
    keys::AppendRejected(r.origin, r.element, &key_);
    value_.clear();
    EncodeRejection(r, &value_);
    Put(slot, store_->rejected, key_, value_);
    s->kept.push_back(key_);
    if (s->kept.size() > kKeptRejections) {
      s->kept.pop_front();
      s->excess = true;
    }
  }
  for (auto& [p, s] : reject_partitions_) {
    if (s->excess) {
      // Every stored key of the partition below the oldest kept one. A
      // WriteBatch refuses only keys over 4 GiB.
      const std::string begin = keys::RejectedPartition(p);
      const rocksdb::Status d = slot.batch.DeleteRange(store_->rejected, begin, s->kept.front());
      assert(d.ok());
      d.PermitUncheckedError();
      s->excess = false;
    }
    value_.clear();
    EncodeRejectTally(s->tally, &value_);
    Put(slot, store_->meta, keys::Rejects(p), value_);
    s->counted = 0;
    s->seen = 0;
    s->listed = false;
  }
  return Status::OK();
}

// A partition's state, read from the store the first time it is needed. No
// batch in flight has touched a partition that is not in rejects_ yet.
Result<Applier::RejectState*> Applier::Rejects(int32_t partition) {
  if (auto it = rejects_.find(partition); it != rejects_.end()) return &it->second;
  RejectState state;
  std::string value;
  const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), store_->meta, keys::Rejects(partition), &value);
  if (s.ok()) {
    if (!DecodeRejectTally(value, &state.tally)) return Status::Corruption("unreadable rejection counts");
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading rejection counts");
  }
  // The newest stored keys, from the end of the partition.
  const std::string lower = keys::RejectedPartition(partition);
  const std::string upper = keys::RejectedPartitionEnd(partition);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(store_->db->NewIterator(ro, store_->rejected));
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    if (state.kept.size() == kKeptRejections) {
      state.excess = true;
      break;
    }
    state.kept.emplace_front(it->key().data(), it->key().size());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading stored rejections");
  // A store from before counts were kept: what it holds counts as seen.
  if (state.tally.mark.empty() && !state.kept.empty()) state.tally.mark = state.kept.back();
  return &rejects_.emplace(partition, std::move(state)).first->second;
}

}  // namespace tally
