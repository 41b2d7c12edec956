#pragma once

// Applier is the write side of the store: it turns a batch of decoded events
// into one RocksDB WriteBatch (records, views, indexes, counters, rejections,
// offsets) and writes it atomically. Within a batch every view is read at most
// once and written once; between batches the hot views stay decoded in bounded
// caches, so a task touched again soon costs no read at all.
//
// Batches can be pipelined: Submit() builds batch N+1 on the caller's thread
// while the writer thread (BatchWriter) writes batch N. The state batch N+1 is
// built from therefore includes N's effects before they are in RocksDB: N's
// record ids count as stored for dedupe, nothing N touched leaves the caches
// before N is written (epochs), and N's new ids and scene entries are kept
// until then. A submitted batch's events stay in its slot until the slot is
// reused, two batches later, so the next batch can compare duplicates with them.
//
// The work is split by job: store_apply.cpp (batches, slots and the hand-off
// to the writer), store_dedupe.cpp (which records are new), store_views.cpp
// (folding records into requests, tasks, scenes and campaigns), store_ranks.cpp
// (rank indexes and request metadata), store_rejections.cpp (rejections and
// their counts), store_summary.cpp (the summary and labeler views).
//
// Threads: Submit/Flush/Apply from one thread at a time (the apply thread);
// the writer thread only writes finished WriteBatches. Private to aggregate/
// (the store's sources).

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "aggregate/codec.h"
#include "aggregate/lru_cache.h"
#include "aggregate/rank_index.h"
#include "aggregate/store_impl.h"
#include "aggregate/store_writer.h"

namespace tally {

class Applier {
 public:
  // Loads the request counter; `cache_bytes` bounds the decoded-view caches.
  static Result<std::unique_ptr<Applier>> Create(Store::Impl* store, size_t cache_bytes);
  ~Applier();

  // Builds and writes a batch; returns when it is written. Nothing may be in
  // flight (call Flush after Submit).
  Result<ApplyResult> Apply(const ApplyBatch& batch);
  // Takes the contents of *batch (leaving it empty), builds it and starts
  // writing it. Returns the result of the batch submitted before (now
  // written), or nullopt if there was none.
  Result<std::optional<ApplyResult>> Submit(Batch* batch);
  // Waits for the batch in flight; returns its result, or nullopt if none.
  Result<std::optional<ApplyResult>> Flush();
  // No batch in flight, or its write is done.
  bool WriterFree() const { return !writing_ || writer_.Done(); }

 private:
  using Epoch = uint64_t;  // the number of a batch; 0 before the first
  // The most labelers a request remembers per batch (RequestState::batch_labelers).
  static constexpr size_t kBatchLabelers = 16;

  // A labeler of a request (summary.h), as the apply thread holds it.
  struct LabelerState {
    LabelerStats stats;
    uint64_t number = 0;  // in its request (codec.h TaskLabelers)
    Epoch touched = 0;  // the last batch that changed it
  };
  // A request as the apply thread holds it.
  struct RequestState {
    RequestMeta meta;
    Epoch created = 0;  // the batch that created it, until that batch is written
    // Rank indexes, loaded on first need.
    std::optional<RankIndex> record_ranks;
    std::optional<RankIndex> task_ranks;
    // Ids the batch being built adds, and those of batches not yet written
    // (by epoch), which splitting a rank segment must count.
    std::vector<Id> new_records, new_tasks;
    std::vector<std::pair<Epoch, std::vector<Id>>> unwritten_records, unwritten_tasks;
    Epoch touched = 0;  // the last batch that changed it
    // Campaigns the store knows this request is in (usually one).
    std::vector<std::string> campaigns;
    // Its summary (when the store keeps summaries), written with every batch
    // that touches the request.
    RequestSummary summary;
    // Up to kBatchLabelers labelers the batch being built has touched, by
    // aliceName (store_summary.cpp); cleared when another batch starts.
    Epoch batch_labelers_epoch = 0;
    std::vector<std::pair<std::string_view, LabelerState*>> batch_labelers;
  };
  struct TaskState {
    TaskView view;
    Epoch touched = 0;  // the last batch that changed it
    // The entry of the view's latest scene must be written with that batch.
    bool scene_dirty = false;
    // Its labelers (codec.h): all of them while not apart; once apart, those
    // seen so far (markers in labeler_tasks decide for the others).
    TaskLabelers labelers;
  };

  // A partition's rejections as the apply thread holds them: its tally (what
  // the batches built so far make of it) and the keys of its stored rejections,
  // oldest first, at most kKeptRejections. Loaded on first need, never evicted
  // (a few KiB per partition).
  struct RejectState {
    RejectTally tally;
    std::deque<std::string> kept;
    bool excess = false;  // stored rejections older than `kept` remain: delete them
    // This batch: how many it counts, and how many of those were met so far.
    bool listed = false;
    size_t counted = 0;
    size_t seen = 0;
  };

  // A copy of a record that a duplicate in the batch is compared with: stored,
  // or in the batch being written.
  struct FirstCopy {
    RequestNo no{};
    std::optional<TaskAction> record;  // for a stored copy: read when first needed
    const TaskAction* writing = nullptr;
  };

  // What one batch needs from its build until it is written.
  struct Slot {
    Batch owned;  // a submitted batch's events and offsets (Apply's stay the caller's)
    rocksdb::WriteBatch batch;
    Epoch epoch = 0;
    ApplyResult result;
    StoreTotals totals;  // after this batch
    std::vector<std::pair<std::string, RequestState*>> touched;  // by annotationRequestId
    std::vector<std::pair<std::string, TaskState*>> dirty_tasks;
    std::vector<std::pair<std::string, LabelerState*>> dirty_labelers;
    // The batch's additions to the requests' instance sums, by summary_instances
    // key: one merge per key per batch.
    std::unordered_map<std::string, uint64_t> instance_sums;
    std::unordered_map<std::string, Stamp> scene_writes;
    // The batch's fresh records by id: duplicates of them in the next batch.
    std::vector<std::pair<Id, const TaskAction*>> fresh_ids;
    // The annotationRequestIds that gain records: their versions change (Store::Versions).
    std::vector<std::string> changed;
    // The batch's latest counted rejections (at most kRecentRejections), for Store::RecentRejections.
    std::vector<RejectedAt> recent_rejections;
  };

  Applier(Store::Impl* store, size_t cache_bytes, uint32_t next_request_no);

  Status Build(const ApplyBatch& batch, Slot& slot);
  Status FindExisting(const ApplyBatch& batch, Slot& slot);
  Result<bool> SameAsFirst(const TaskAction& a, FirstCopy* copy);
  Status ApplyRecord(const TaskAction& record, Slot& slot);
  Status FinishRequests(Slot& slot);
  Status AddRejections(const ApplyBatch& batch, Slot& slot);
  Result<RejectState*> Rejects(Partition partition);
  Status UpdateRanks(RequestState& request, bool tasks, Slot& slot);
  Status ReadIds(rocksdb::ColumnFamilyHandle* family, RequestNo no, Id from, std::optional<Id> to,
                 std::vector<Id>* ids);

  Result<RequestState*> Request(std::string_view annotation_request_id, Slot& slot);
  Result<TaskState*> Task(RequestState& request, Id task_id, Slot& slot);
  Status NoteScene(const RequestState& request, TaskState& task, const TaskAction& record, Slot& slot);
  // Notes the scene entry for the batch; WriteScenes puts the batch's entries
  // into its WriteBatch, in key order.
  void PutScene(RequestNo no, std::string_view scene_id, Id task_id, const Stamp& stamp, Slot& slot);
  void WriteScenes(Slot& slot);
  // Orders a batch's (key, state) list by key: the order its Puts go into the
  // WriteBatch (Build).
  template <class T>
  static void SortByKey(std::vector<std::pair<std::string, T*>>& entries) {
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  // The entries of a batch's hash map (scene writes, instance sums) in key
  // order, as pointers into it, in `*order` (reused).
  template <class Map>
  static void InKeyOrder(const Map& map, std::vector<const typename Map::value_type*>* order) {
    order->clear();
    for (const auto& entry : map) order->push_back(&entry);
    std::sort(order->begin(), order->end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  }
  Status Campaign(RequestState& request, std::string_view campaign_id, Slot& slot);
  void MoveInstancesApart(RequestNo no, TaskView& view, Slot& slot);
  // The summary and labeler views (store_summary.cpp): folds a record whose
  // task was in bucket `before` (nullopt: new) before it was folded.
  Status FoldSummaries(RequestState& request, TaskState& task, const TaskAction& record,
                       const std::optional<TaskBucket>& before, Slot& slot);
  Result<LabelerState*> Labeler(RequestState& request, std::string_view alice_name, Slot& slot);
  // The labelers and instance sums the batch changed, into its WriteBatch.
  void WriteSummaries(Slot& slot);
  bool IsNew(const RequestState& request) const { return request.created > written_; }

  // Builds `batch` in the free slot and hands it to the writer thread;
  // returns the result of the batch written before.
  Result<std::optional<ApplyResult>> BuildAndStart(const ApplyBatch& batch, Slot& slot);
  Slot& FreeSlot() { return writing_ == &slots_[0] ? slots_[1] : slots_[0]; }
  // Waits for the write in flight, if any, and makes its effects the cached
  // state; returns its result.
  Result<std::optional<ApplyResult>> FinishWrite();
  // After a failure nothing cached can be trusted, and no later batch may be
  // built on it: the applier refuses further batches.
  Status Fail(Status status);

  void Put(Slot& slot, rocksdb::ColumnFamilyHandle* family, std::string_view key, std::string_view value);
  rocksdb::ColumnFamilyHandle* Cf(keys::Family family) const { return store_->Cf(family); }

  // Approximate bytes a cached object holds, for the caches' budgets.
  static size_t Charge(std::string_view key, const TaskState& task);
  static size_t Charge(std::string_view key, const LabelerState& labeler);
  static size_t Charge(std::string_view key, const RequestState& request);

  Store::Impl* store_;
  uint32_t next_request_no_;
  LruCache<RequestState> requests_;
  LruCache<TaskState> tasks_;
  LruCache<LabelerState> labelers_;
  const bool summaries_;  // StoreOptions::summary_views
  Slot slots_[2];
  Slot* writing_ = nullptr;  // the slot being written, if any
  Epoch built_ = 0;          // epochs of the last batch built and written
  Epoch written_ = 0;
  StoreTotals totals_;       // after the last batch built
  std::map<Partition, RejectState> rejects_;  // by partition
  Status failed_;            // sticky

  // Scratch, reused between batches.
  std::vector<uint32_t> fresh_;  // indexes of the batch's records new to the store
  std::vector<std::pair<uint32_t, RejectState*>> counted_;  // the batch's rejections to count
  std::vector<std::pair<Partition, RejectState*>> reject_partitions_;
  std::string key_;
  std::string value_;
  std::string summary_key_;
  std::vector<const std::pair<const std::string, Stamp>*> scene_order_;
  std::vector<const std::pair<const std::string, uint64_t>*> sum_order_;
  std::vector<std::pair<Id, uint32_t>> by_id_;
  std::vector<uint32_t> candidates_;
  std::vector<std::pair<uint32_t, uint32_t>> repeats_;
  std::vector<std::string> id_keys_;
  std::vector<rocksdb::Slice> slices_;
  std::vector<rocksdb::Status> statuses_;

  BatchWriter writer_;  // last: destroyed first, after the write in flight
};

}  // namespace tally
