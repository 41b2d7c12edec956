#pragma once

// Applier is the write side of the store: it turns a batch of decoded events
// into one RocksDB WriteBatch (records, views, indexes, counters, rejections,
// offsets) and writes it atomically. Within a batch every view is read at most
// once and written once; between batches the hot views stay decoded in bounded
// caches, so a task touched again soon costs no read at all.
//
// Threads: the apply thread only. Private to the store's sources.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "aggregate/codec.h"
#include "aggregate/lru_cache.h"
#include "aggregate/rank_index.h"
#include "aggregate/store_impl.h"

namespace tally {

class Applier {
 public:
  // Loads the request counter; `cache_bytes` bounds the decoded-view caches.
  static Result<std::unique_ptr<Applier>> Create(Store::Impl* store, size_t cache_bytes);

  Result<ApplyResult> Apply(const ApplyBatch& batch);

 private:
  // A request as the apply thread holds it.
  struct RequestState {
    RequestMeta meta;
    bool is_new = false;  // created by the batch in flight
    // Rank indexes, loaded on first need.
    std::optional<RankIndex> record_ranks;
    std::optional<RankIndex> task_ranks;
    // Ids this batch adds (cleared after each batch).
    std::vector<Id> new_records;
    std::vector<Id> new_tasks;
    bool touched = false;
    // Campaigns the store knows this request is in (usually one).
    std::vector<std::string> campaigns;
  };
  struct TaskState {
    TaskView view;
    bool dirty = false;
    // The entry of the view's latest scene must be written with the batch.
    bool scene_dirty = false;
  };

  // A stored record that a duplicate in the batch is compared with.
  struct StoredCopy {
    RequestNo no;
    std::optional<TaskAction> record;  // read when first needed
  };

  Applier(Store::Impl* store, size_t cache_bytes, uint32_t next_request_no);

  Result<ApplyResult> Build(const ApplyBatch& batch);
  Status FindExisting(const ApplyBatch& batch, ApplyResult* result);
  Result<bool> SameAsStored(const TaskAction& a, StoredCopy* copy);
  Status ApplyRecord(const TaskAction& record);
  Status FinishRequests();
  Status UpdateRanks(RequestState& request, bool tasks);
  Status ReadIds(rocksdb::ColumnFamilyHandle* family, RequestNo no, Id from, std::optional<Id> to,
                 std::vector<Id>* ids);

  Result<RequestState*> Request(std::string_view annotation_request_id);
  Result<TaskState*> Task(RequestState& request, Id task_id);
  Status NoteScene(const RequestState& request, TaskState& task, const TaskAction& record);
  void PutScene(RequestNo no, std::string_view scene_id, Id task_id, const Stamp& stamp);
  Status Campaign(RequestState& request, std::string_view campaign_id);

  void Put(rocksdb::ColumnFamilyHandle* family, std::string_view key, std::string_view value);
  void Forget();  // drops every cache after a failed batch

  Store::Impl* store_;
  uint32_t next_request_no_;
  LruCache<RequestState> requests_;
  LruCache<TaskState> tasks_;

  // Per batch, reused.
  rocksdb::WriteBatch batch_;
  std::vector<uint32_t> fresh_;  // indexes of the batch's records new to the store
  std::vector<std::pair<std::string, RequestState*>> touched_;  // by annotationRequestId
  std::vector<std::pair<std::string, TaskState*>> dirty_tasks_;
  std::unordered_map<std::string, Stamp> scene_writes_;  // scene entries written by this batch
  std::string key_;
  std::string value_;
  std::vector<std::pair<Id, uint32_t>> by_id_;  // FindExisting's work
  std::vector<uint32_t> candidates_;
  std::vector<std::pair<uint32_t, uint32_t>> repeats_;
  std::vector<std::string> id_keys_;
  std::vector<rocksdb::Slice> slices_;
  std::vector<rocksdb::Status> statuses_;
};

}  // namespace tally
