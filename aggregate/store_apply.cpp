#include "aggregate/store_apply.h"

#include <algorithm>
#include <cassert>
#include <chrono>

#include "aggregate/bytes.h"
#include "aggregate/keys.h"

// The applier's batches: building one in a slot, handing it to the writer
// thread, and making its effects the cached state once it is written.

namespace tally {

using keys::Family;

size_t Applier::Charge(std::string_view key, const TaskState& task) {
  const TaskView& v = task.view;
  size_t n = key.size() + sizeof(TaskState) + 96 + v.campaign_id.size();
  n += task.labelers.numbers.size();
  if (v.pool_name) n += v.pool_name->value.size();
  if (v.scene_id) n += v.scene_id->value.size();
  for (const InstanceSum& s : v.instance_info) n += sizeof(InstanceSum) + s.key.size();
  return n;
}

size_t Applier::Charge(std::string_view key, const LabelerState& labeler) {
  return key.size() + sizeof(LabelerState) + 64 +
         labeler.stats.records_by_action_type.entries().size() * sizeof(CountMap::Entry);
}

size_t Applier::Charge(std::string_view key, const RequestState& request) {
  size_t n = key.size() + 256;
  if (request.record_ranks) n += request.record_ranks->segments().size() * sizeof(RankIndex::Segment);
  if (request.task_ranks) n += request.task_ranks->segments().size() * sizeof(RankIndex::Segment);
  return n;
}

Result<std::unique_ptr<Applier>> Applier::Create(Store::Impl* store, size_t cache_bytes) {
  std::string value;
  const rocksdb::Status s =
      store->db->Get(rocksdb::ReadOptions(), store->Cf(Family::kMeta), keys::kNextRequestKey, &value);
  uint32_t next = 0;
  if (s.ok()) {
    const std::optional<RequestNo> no = keys::ParseRequestValue(value);
    if (!no) return Status::Corruption("unreadable request counter in " + store->options.path);
    next = static_cast<uint32_t>(*no);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading the request counter");
  }
  return std::unique_ptr<Applier>(new Applier(store, cache_bytes, next));
}

Applier::Applier(Store::Impl* store, size_t cache_bytes, uint32_t next_request_no)
    : store_(store),
      next_request_no_(next_request_no),
      requests_(cache_bytes / 8),
      tasks_(cache_bytes - cache_bytes / 8 - cache_bytes / 16),
      labelers_(cache_bytes / 16),
      summaries_(store->options.summary_views),
      totals_{store->total_records.load(), store->total_tasks.load(), store->total_requests.load()},
      writer_(store) {}

Applier::~Applier() {
  // A write in flight completes; its result has no taker.
  const Result<std::optional<ApplyResult>> ignored = FinishWrite();
  (void)ignored;
}

Status Applier::Fail(Status status) {
  failed_ = status;
  requests_.Clear();
  tasks_.Clear();
  labelers_.Clear();
  rejects_.clear();
  return status;
}

Result<std::optional<ApplyResult>> Applier::FinishWrite() {
  if (!writing_) return std::optional<ApplyResult>();
  BatchWriter::Outcome written = writer_.Wait();
  Slot& slot = *writing_;
  slot.result.seconds += written.seconds;
  writing_ = nullptr;
  if (!written.status.ok()) return Fail(std::move(written.status));
  // Written: the batch's effects are stored, and what it touched may leave the caches.
  written_ = slot.epoch;
  for (auto& [key, request] : slot.touched) {
    std::erase_if(request->unwritten_records, [&](const auto& e) { return e.first <= written_; });
    std::erase_if(request->unwritten_tasks, [&](const auto& e) { return e.first <= written_; });
    requests_.Recharge(key, Charge(key, *request));
  }
  for (auto& [key, task] : slot.dirty_tasks) tasks_.Recharge(key, Charge(key, *task));
  for (auto& [key, labeler] : slot.dirty_labelers) labelers_.Recharge(key, Charge(key, *labeler));
  requests_.Trim([&](const RequestState& r) { return r.touched <= written_; });
  tasks_.Trim([&](const TaskState& t) { return t.touched <= written_; });
  labelers_.Trim([&](const LabelerState& l) { return l.touched <= written_; });
  store_->total_records = slot.totals.records;
  store_->total_tasks = slot.totals.tasks;
  store_->total_requests = slot.totals.requests;
  if (!slot.recent_rejections.empty()) {
    std::lock_guard lock(store_->recent_mutex);
    std::deque<RejectedAt>& recent = store_->recent_rejections;
    recent.insert(recent.end(), slot.recent_rejections.begin(), slot.recent_rejections.end());
    while (recent.size() > kRecentRejections) recent.pop_front();
  }
  slot.result.keys_written = slot.batch.Count();
  slot.result.bytes_written = slot.batch.GetDataSize();
  return std::optional<ApplyResult>(std::move(slot.result));
}

Result<std::optional<ApplyResult>> Applier::Submit(Batch* batch) {
  // The free slot's events were written two batches ago: the caller reuses
  // their memory (refused or not, the batch is taken).
  Slot& slot = FreeSlot();
  std::swap(slot.owned, *batch);
  batch->clear();
  Result<std::optional<ApplyResult>> previous = BuildAndStart(slot.owned.view(), slot);
  if (previous) std::swap(slot.result.source_times, slot.owned.source_times);
  return previous;
}

Result<std::optional<ApplyResult>> Applier::BuildAndStart(const ApplyBatch& batch, Slot& slot) {
  if (!failed_.ok()) return failed_;
  if (store_->health->failed()) return Fail(store_->health->failure());  // in the background
  const auto start = std::chrono::steady_clock::now();
  const Status built = Build(batch, slot);  // overlaps the write in flight
  slot.result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Result<std::optional<ApplyResult>> previous = FinishWrite();
  if (!built.ok()) return Fail(built);
  if (!previous) return previous;
  writing_ = &slot;
  writer_.Start(&slot.batch, &slot.changed);
  return previous;
}

Result<std::optional<ApplyResult>> Applier::Flush() { return FinishWrite(); }

Result<ApplyResult> Applier::Apply(const ApplyBatch& batch) {
  if (writing_) return Status::InvalidArgument("Apply while a submitted batch is in flight; Flush first");
  if (auto r = BuildAndStart(batch, FreeSlot()); !r) return r.error();
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
  slot.changed.clear();
  slot.dirty_tasks.clear();
  slot.dirty_labelers.clear();
  slot.instance_sums.clear();
  slot.scene_writes.clear();
  slot.fresh_ids.clear();
  slot.recent_rejections.clear();
  slot.epoch = ++built_;
  slot.result = ApplyResult{};
  slot.result.rejected = batch.rejections.size();
  slot.result.next_offsets.assign(batch.next_offsets.begin(), batch.next_offsets.end());
  fresh_.clear();
  const uint64_t requests_before = totals_.requests;

  if (Status s = FindExisting(batch, slot); !s.ok()) return s;
  for (uint32_t i : fresh_) {
    if (Status s = ApplyRecord(batch.actions[i], slot); !s.ok()) return s;
  }
  // Views and entries go into the WriteBatch in key order per family: the
  // writer's memtable inserts (hinted by request, store.cpp) then start each
  // search where the previous key of the request went, near the next one. In
  // the order records touch them (task ids are random) each insert searched
  // the skiplist from the top: most of the writer's work with small batches.
  SortByKey(slot.dirty_tasks);
  for (auto& [key, task] : slot.dirty_tasks) {
    value_.clear();
    EncodeTaskView(task->view, &value_, summaries_ ? &task->labelers : nullptr);
    Put(slot, Cf(Family::kTasks), key, value_);
    if (task->scene_dirty) {
      const auto& scene = *task->view.scene_id;
      const std::optional<RequestNo> no = keys::RequestOf(key);
      assert(no && "keys built by keys::RequestItem");
      PutScene(*no, scene.value, task->view.task_id, scene.stamp, slot);
      task->scene_dirty = false;
    }
  }
  WriteScenes(slot);
  WriteSummaries(slot);
  if (Status s = FinishRequests(slot); !s.ok()) return s;

  if (Status s = AddRejections(batch, slot); !s.ok()) return s;
  for (const PartitionOffset& o : batch.next_offsets) {
    value_.clear();
    keys::AppendOffsetValue({o.next, o.cluster, o.fingerprint}, &value_);
    Put(slot, Cf(Family::kMeta), keys::OffsetKey(batch.topic, o.partition), value_);
  }
  // Counters that the next start-up (and the gauges) read.
  totals_.records += fresh_.size();
  slot.totals = totals_;
  value_.clear();
  PutVarint(totals_.records, &value_);
  PutVarint(totals_.tasks, &value_);
  PutVarint(totals_.requests, &value_);
  Put(slot, Cf(Family::kMeta), keys::kTotalsKey, value_);
  if (totals_.requests != requests_before) {
    value_.clear();
    keys::AppendRequestValue(RequestNo{next_request_no_}, &value_);
    Put(slot, Cf(Family::kMeta), keys::kNextRequestKey, value_);
  }
  slot.result.applied = fresh_.size();
  for (uint32_t i : fresh_) slot.fresh_ids.emplace_back(batch.actions[i].id, &batch.actions[i]);
  return Status::OK();
}

}  // namespace tally
