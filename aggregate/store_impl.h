#pragma once

// Private to aggregate/ (the store's sources, store*.cpp):
// the RocksDB handles, and the conversions every one of them needs.

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <atomic>
#include <memory>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/keys.h"
#include "aggregate/segment_cache.h"
#include "aggregate/store.h"
#include "aggregate/store_events.h"
#include "aggregate/request_memo.h"

namespace tally {

class Applier;
class WalRecoveryWatch;

// RocksDB's status as ours; `what` says what was being done ("reading tasks").
Status FromRocks(const rocksdb::Status& s, std::string_view what);

struct Store::Impl {
  StoreOptions options;
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
  // The first write error; shared with RocksDB's listener and logger.
  std::shared_ptr<StoreHealth> health = std::make_shared<StoreHealth>();
  WalRecovery recovery;
  std::unique_ptr<WalRecoveryWatch> wal_watch;  // outlives db, which points at it
  std::unique_ptr<rocksdb::DB> db;
  // Owned: destroyed before db. RocksDB's default family, then keys::kFamilies in order.
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* Cf(keys::Family family) const { return handles[1 + static_cast<size_t>(family)]; }

  // Written by the apply thread after each batch, read by anyone.
  std::atomic<uint64_t> total_records{0};
  std::atomic<uint64_t> total_tasks{0};
  std::atomic<uint64_t> total_requests{0};
  // The latest rejections counted (Store::RecentRejections), oldest first, at
  // most kRecentRejections; appended by the apply thread after each written batch.
  mutable std::mutex recent_mutex;
  std::deque<RejectedAt> recent_rejections;  // guarded by recent_mutex

  std::unique_ptr<Applier> applier;

  // Held around every batch write (BatchWriter, WriteRawBatch); a backup holds
  // it while RocksDB lists the live files, so that the offsets it reads then
  // are exactly those of the backup (store_backup.h).
  std::mutex write_gate;

  // Tells the change listener, if any (Store::SetChangeListener); the writer thread.
  void NotifyChanged(std::span<const std::string> requests) const;
  mutable std::mutex listener_mutex;
  std::shared_ptr<const ChangeListener> listener;  // guarded by listener_mutex

  // The offsets of the latest snapshot a query read them from (Store::Offsets).
  struct OffsetsMemo {
    uint64_t sequence;  // the snapshot's RocksDB sequence number
    std::string topic;
    std::vector<PartitionOffset> offsets;
  };
  mutable std::mutex offsets_memo_mutex;
  mutable std::shared_ptr<const OffsetsMemo> offsets_memo;  // guarded by offsets_memo_mutex

  // Metas and rank indexes of requests by the sequence number they were read at
  // (Store::Versions and the queries).
  mutable RequestMemo request_memo;

  // The ids of rank index segments that queries skipped over (segment_cache.h).
  std::unique_ptr<SegmentCache> segments;

  ~Impl();
};

// Adds the counts held in `view` to the instances family as one merge per key,
// under `prefix` (keys::InstancePrefix of the view's request and task), and
// marks the view as keeping its counts apart (its instance_info emptied).
// `key` and `value` are scratch buffers, reused by the caller across calls.
void MoveInstancesApart(const Store::Impl& store, std::string_view prefix, TaskView& view,
                        rocksdb::WriteBatch& batch, std::string* key, std::string* value);

// Builds the summary and labeler views of a store that lacks them (format 2)
// from its task views and records (store_backfill.cpp). At open, before the
// applier exists; logs on stderr what it did.
Status BuildSummaries(Store::Impl& store);

// Reads `request`'s meta from the state `options` read (its snapshot's, or the
// latest), through the store's memo when `sequence` is that state's number
// (nullopt: the latest state, not remembered). Unavailable if options only read
// memory and the meta is not there.
Result<MetaRead> ReadMeta(const Store::Impl& store, const rocksdb::ReadOptions& options,
                          std::optional<uint64_t> sequence, std::string_view request);
// A request's meta from what RocksDB answered for it (a Get's or MultiGet's status and value).
Result<MetaRead> MetaReadOf(const rocksdb::Status& s, std::string_view value);

// ReadOptions on a view's snapshot.
rocksdb::ReadOptions ReadOptionsOf(const rocksdb::Snapshot* snapshot);

}  // namespace tally
