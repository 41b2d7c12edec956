#include "aggregate/store.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include <sys/statvfs.h>
#include <unistd.h>

#include "aggregate/bytes.h"
#include "aggregate/codec.h"
#include "aggregate/keys.h"
#include "aggregate/store_apply.h"
#include "aggregate/store_impl.h"
#include "aggregate/wal_recovery.h"

namespace tally {
namespace {

// How the memory budget is shared. The block cache also carries the memtables
// (through the write buffer manager), indexes and filters; the rest is the apply
// thread's caches of decoded views and the queries' segment ids.
constexpr double kBlockCacheShare = 0.80;
constexpr double kMemtableShare = 0.25;  // of the budget, charged to the block cache
constexpr double kApplyCacheShare = 0.15;
constexpr double kSegmentCacheShare = 0.03;  // ids of rank index segments, for deep pages

using keys::Access;
using keys::Family;

// Sums the instance counts merged into one key of the instances family, so that
// a record adds its counts without reading them.
class InstanceCountAdd : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* merged, rocksdb::Logger*) const override {
    uint64_t sum = 0, add = 0;
    if (existing && !DecodeInstanceCount(std::string_view(existing->data(), existing->size()), &sum)) return false;
    if (!DecodeInstanceCount(std::string_view(value.data(), value.size()), &add)) return false;
    merged->clear();
    EncodeInstanceCount(sum + add, merged);
    return true;  // false above: RocksDB reports Corruption
  }
  const char* Name() const override { return "tally.InstanceCountAdd"; }
};

// `hinted_inserts`: keys start with the request prefix, and the family is never
// written with DeleteRange (RocksDB keeps one map of insert hints per memtable
// for its point entries and its range tombstones alike, so a hint left by one
// misleads an insert into the other: a corrupt skiplist).
rocksdb::ColumnFamilyOptions FamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache, Access access,
                                           bool hinted_inserts, size_t write_buffer) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Index and filter blocks live in the cache too, so memory stays bounded
  // whatever the data size; the hot ones are pinned at high priority.
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;
  table.block_size = 16 * 1024;
  if (access != Access::kScan) {
    // Point lookups (dedupe, views) mostly miss on new keys: a bloom filter
    // answers those in about a microsecond without touching data blocks.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.optimize_filters_for_memory = true;
  }
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (access == Access::kPrefixedPoint || access == Access::kScan) {
    // Keys start with a 4-byte request number; pages seek within one request.
    cf.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(keys::kRequestPrefixBytes));
  }
  if (hinted_inserts) {
    // The writer's memtable inserts start their skiplist search where the last
    // key of the same request went, not from the top (a batch's keys of one
    // request lie close together): inserting was ~80 % of the writer thread.
    cf.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(keys::kRequestPrefixBytes));
  }
  if (access != Access::kScan) {
    // Most point lookups of the apply path are for keys that do not exist yet
    // (new ids, new tasks): a memtable bloom filter spares the skiplist search.
    cf.memtable_prefix_bloom_size_ratio = 0.05;
    cf.memtable_whole_key_filtering = true;
  }
  cf.write_buffer_size = write_buffer;
  cf.max_write_buffer_number = 4;
  cf.compression = rocksdb::kLZ4Compression;
  cf.bottommost_compression = rocksdb::kZSTD;
  cf.level_compaction_dynamic_level_bytes = true;
  cf.max_bytes_for_level_base = 256 << 20;
  cf.target_file_size_base = 64 << 20;
  return cf;
}

// Families written a few keys per request per batch (the summary views).
bool FewWrites(Family family) {
  return family == Family::kSummaries || family == Family::kSummaryInstances || family == Family::kLabelers ||
         family == Family::kLabelerTasks;
}

// A store that cannot be opened is a runtime failure (exit 1), not a
// configuration error: damaged files stay Corruption, a held lock is Busy.
Status OpenError(const std::string& path, const rocksdb::Status& s) {
  const std::string message = s.ToString();
  if (s.IsIOError() && (message.find("lock") != std::string::npos || message.find("LOCK") != std::string::npos)) {
    return Status::Busy("data dir " + path + " is in use by another process (" + message + ")");
  }
  if (s.IsCorruption()) {
    return Status::Corruption("the store in " + path + " is damaged and was not opened: " + message +
                              " (restore it from a backup, or move it away and rebuild it from the topic)");
  }
  return Status::IOError("cannot open the store in " + path + ": " + message);
}

// Format 1 -> 2: views holding more than kInlineInstanceKeys counts move them to
// the instances family, so that no answer has to read a huge view whole. One
// WriteBatch per view keeps each move atomic, and a move interrupted by a crash
// is redone at the next open (the format is still 1 then; moved views are skipped).
Status MoveLargeInstanceMapsApart(Store::Impl& store) {
  std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(rocksdb::ReadOptions(), store.Cf(Family::kTasks)));
  TaskView view;
  std::string key, value;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!DecodeTaskView(std::string_view(it->value().data(), it->value().size()), &view)) {
      return Status::Corruption("unreadable task view in " + store.options.path);
    }
    if (view.instance_info.size() <= kInlineInstanceKeys) continue;
    rocksdb::WriteBatch batch;
    // A task key is request_no · task id, the prefix of its instance keys. A
    // view not yet moved has no instance entries: merges add to nothing.
    MoveInstancesApart(store, std::string_view(it->key().data(), it->key().size()), view, batch, &key, &value);
    value.clear();
    EncodeTaskView(view, &value);
    batch.Put(store.Cf(Family::kTasks), it->key(), value).PermitUncheckedError();
    if (Status s = FromRocks(store.db->Write(rocksdb::WriteOptions(), &batch), "migrating a task view"); !s.ok()) {
      return s;
    }
  }
  return FromRocks(it->status(), "migrating task views");
}

}  // namespace

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::OK();
  std::string message(what);
  message += ": ";
  message += s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(message));
  if (s.IsNotFound()) return Status::NotFound(std::move(message));
  if (s.IsBusy() || s.IsTryAgain()) return Status::Busy(std::move(message));
  return Status::IOError(std::move(message));
}

rocksdb::ReadOptions ReadOptionsOf(const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  return ro;
}

Store::Impl::~Impl() {
  applier.reset();
  if (db) {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db->Close().PermitUncheckedError();
  }
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  const std::string& path = options.path;
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path)) {
    return Status::InvalidArgument("cannot use " + path + " as the data dir: " +
                                   (ec ? ec.message() : std::string("not a directory")));
  }
  if (::access(path.c_str(), R_OK | W_OK | X_OK) != 0) {
    return Status::InvalidArgument("cannot use " + path + " as the data dir: " + std::strerror(errno));
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const auto budget = static_cast<double>(options.memory_bytes);
  rocksdb::LRUCacheOptions cache_options;
  cache_options.capacity = static_cast<size_t>(budget * kBlockCacheShare);
  cache_options.high_pri_pool_ratio = 0.2;
  cache_options.num_shard_bits = 4;
  impl->block_cache = rocksdb::NewLRUCache(cache_options);
  impl->segments = std::make_unique<SegmentCache>(static_cast<size_t>(budget * kSegmentCacheShare));
  impl->write_buffers = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(budget * kMemtableShare), impl->block_cache);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.write_buffer_manager = impl->write_buffers;
  db_options.max_background_jobs = 2;  // the machines have two cores
  if (options.low_priority_background) {
    // Applied by each flush (HIGH) and compaction (LOW) thread when it next takes a job.
    db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::HIGH, rocksdb::CpuPriority::kLow).PermitUncheckedError();
    db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::LOW, rocksdb::CpuPriority::kLow).PermitUncheckedError();
  }
  db_options.bytes_per_sync = 1 << 20;
  // A family written rarely (meta) would otherwise keep every write-ahead log
  // alive until its memtable fills: a flood of writes to the others (rejections
  // that are soon deleted) would grow the logs without bound. Past this size the
  // families holding the oldest log are flushed.
  db_options.max_total_wal_size = static_cast<uint64_t>(budget * kMemtableShare);
  // RocksDB's log on stderr, not in a file of the data dir (store_events.h:
  // with the disk full, its next line after a failed write aborted tally).
  db_options.info_log = std::make_shared<StderrLogger>(impl->health);
  db_options.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  db_options.listeners.push_back(std::make_shared<StoreListener>(impl->health, path));
  // A damaged WAL record ends replay there: the store is as it was after the
  // batch before it, offsets included, and Kafka re-reads the rest (README,
  // "WAL recovery"). The watch measures what was left out, to say so.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  auto wal_watch = std::make_unique<WalRecoveryWatch>(path);
  db_options.wal_filter = wal_watch.get();
  impl->wal_watch = std::move(wal_watch);  // RocksDB keeps the pointer in its options

  // Memtables flush when their share of the budget fills up; per family a
  // quarter of it keeps any one family from holding it all.
  const auto write_buffer = static_cast<size_t>(budget * kMemtableShare / 4);
  // A family that gains a few keys per request and batch would hold memory it
  // never fills: a memtable takes its arena block and bloom filter (an eighth
  // and a twentieth of its size) when created, and the write buffer manager
  // counts them, so the big families would flush sooner.
  const auto small_write_buffer = static_cast<size_t>(budget * kMemtableShare / 64);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                           FamilyOptions(impl->block_cache, Access::kPoint, false, write_buffer));
  for (const keys::FamilyInfo& family : keys::kFamilies) {
    const bool prefixed = family.access == Access::kPrefixedPoint || family.access == Access::kScan;
    const bool hinted = prefixed && family.family != Family::kRejected;  // its old rejections go by DeleteRange
    descriptors.emplace_back(std::string(family.name),
                             FamilyOptions(impl->block_cache, family.access, hinted,
                                           FewWrites(family.family) ? small_write_buffer : write_buffer));
    if (family.sums_counts) descriptors.back().options.merge_operator = std::make_shared<InstanceCountAdd>();
  }
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &impl->handles, &db);
  if (!s.ok()) return OpenError(path, s);
  impl->db.reset(db);
  impl->recovery = impl->wal_watch->Dropped(std::string(keys::NameOf(Family::kRecords)));

  // The format version: written by a new store, checked by an existing one.
  // Format 1 is migrated in place: its views all keep their instance counts
  // inside, which format 2 reads as is (the instances family it lacks was
  // created empty by the open above); only views past kInlineInstanceKeys are
  // rewritten, their counts moved apart.
  // Format 2 lacks the summary views: they are built from the records (a store
  // opened without them, for the benchmark, is marked 2, so that they are
  // built when it is next opened with them). Format 3 named a task's labelers
  // in its view: its summary views are built again the same way.
  std::string format;
  s = db->Get(rocksdb::ReadOptions(), impl->Cf(Family::kMeta), keys::kFormatKey, &format);
  if (!s.ok() && !s.IsNotFound()) return OpenError(path, s);
  const std::string current = std::to_string(kFormatVersion);
  const std::string without = std::to_string(kFormatWithoutSummaries);
  const std::string named = std::to_string(kFormatLabelerNames);
  const std::string wanted = options.summary_views ? current : without;
  if (s.ok() && format != "1" && format != without && format != named && format != current) {
    return Status::Corruption("the store in " + path + " has format " + format + "; this tally reads format " +
                              current + ": rebuild it by re-reading the topic (stop tally, delete " + path +
                              ", start it again)");
  }
  if (s.ok() && format == "1") {
    if (Status moved = MoveLargeInstanceMapsApart(*impl); !moved.ok()) return moved;
  }
  if (s.ok() && format != current && options.summary_views) {
    if (Status built = BuildSummaries(*impl); !built.ok()) return built;
  }
  if (s.IsNotFound() || format != wanted) {
    rocksdb::WriteOptions sync_write;
    sync_write.sync = true;
    s = db->Put(sync_write, impl->Cf(Family::kMeta), keys::kFormatKey, wanted);
    if (!s.ok()) return OpenError(path, s);
  }

  std::string totals;
  s = db->Get(rocksdb::ReadOptions(), impl->Cf(Family::kMeta), keys::kTotalsKey, &totals);
  if (s.ok()) {
    ByteReader r(totals);
    uint64_t records, tasks, requests;
    if (!r.Varint(&records) || !r.Varint(&tasks) || !r.Varint(&requests)) {
      return Status::Corruption("the store in " + path + " has unreadable totals");
    }
    impl->total_records = records;
    impl->total_tasks = tasks;
    impl->total_requests = requests;
  } else if (!s.IsNotFound()) {
    return OpenError(path, s);
  }

  auto applier = Applier::Create(impl.get(), static_cast<size_t>(budget * kApplyCacheShare));
  if (!applier) return applier.error();
  impl->applier = std::move(*applier);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<ApplyResult> Store::Apply(const ApplyBatch& batch) { return impl_->applier->Apply(batch); }
Result<std::optional<ApplyResult>> Store::Submit(Batch* batch) { return impl_->applier->Submit(batch); }
Result<std::optional<ApplyResult>> Store::Flush() { return impl_->applier->Flush(); }
bool Store::WriterFree() const { return impl_->applier->WriterFree(); }

ReadView::ReadView(const Store* store, const rocksdb::Snapshot* snapshot)
    : store_(store), snapshot_(snapshot) {}

ReadView::ReadView(ReadView&& other) noexcept
    : store_(other.store_), snapshot_(other.snapshot_) {
  other.snapshot_ = nullptr;
}

ReadView::~ReadView() {
  if (snapshot_) store_->impl_->db->ReleaseSnapshot(snapshot_);
}

ReadView Store::Snapshot() const { return ReadView(this, impl_->db->GetSnapshot()); }

namespace {

Result<std::vector<PartitionOffset>> ReadOffsets(const Store::Impl& impl, const rocksdb::ReadOptions& options,
                                                 std::string_view topic) {
  const std::string prefix = keys::OffsetPrefix(topic);
  std::vector<PartitionOffset> offsets;
  std::unique_ptr<rocksdb::Iterator> it(impl.db->NewIterator(options, impl.Cf(Family::kMeta)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::optional<Partition> partition =
        keys::OffsetPartitionOf(std::string_view(it->key().data(), it->key().size()), prefix);
    keys::OffsetValue value;
    if (!partition || !keys::ParseOffsetValue(std::string_view(it->value().data(), it->value().size()), &value)) {
      return Status::Corruption("unreadable stored offset of topic " + std::string(topic));
    }
    offsets.emplace_back(*partition, value.next, value.fingerprint, std::string(value.cluster));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading offsets");
  return offsets;
}

}  // namespace

Result<std::vector<PartitionOffset>> Store::Offsets(std::string_view topic) const {
  return ReadOffsets(*impl_, rocksdb::ReadOptions(), topic);
}

Result<std::vector<PartitionOffset>> Store::LatestOffsets(std::string_view topic, bool memory_only) const {
  {
    // Nothing written since a query read them (Offsets(view, topic)): the same state.
    const rocksdb::SequenceNumber latest = impl_->db->GetLatestSequenceNumber();
    std::lock_guard lock(impl_->offsets_memo_mutex);
    const auto& memo = impl_->offsets_memo;
    if (memo && memo->sequence == latest && memo->topic == topic) return memo->offsets;
  }
  rocksdb::ReadOptions options;
  if (memory_only) options.read_tier = rocksdb::kBlockCacheTier;
  auto offsets = ReadOffsets(*impl_, options, topic);
  if (!offsets && memory_only) return Status::Unavailable("offsets of topic " + std::string(topic) + " not in memory");
  return offsets;
}

Result<std::vector<PartitionOffset>> Store::Offsets(const ReadView& view, std::string_view topic) const {
  // Every write, offsets' or not, takes a new sequence number, so the offsets
  // at a snapshot's sequence never change: queries between two batches (most
  // of them, under polling) share one read.
  const rocksdb::SequenceNumber sequence = view.snapshot_->GetSequenceNumber();
  {
    std::lock_guard lock(impl_->offsets_memo_mutex);
    const auto& memo = impl_->offsets_memo;
    if (memo && memo->sequence == sequence && memo->topic == topic) return memo->offsets;
  }
  rocksdb::ReadOptions options;
  options.snapshot = view.snapshot_;
  auto offsets = ReadOffsets(*impl_, options, topic);
  if (offsets) {
    auto memo = std::make_shared<const Impl::OffsetsMemo>(Impl::OffsetsMemo{sequence, std::string(topic), *offsets});
    std::lock_guard lock(impl_->offsets_memo_mutex);
    if (!impl_->offsets_memo || impl_->offsets_memo->sequence <= sequence) impl_->offsets_memo = std::move(memo);
  }
  return offsets;
}

Result<std::string> Store::InstanceId() {
  std::string id;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->Cf(Family::kMeta), keys::kInstanceKey, &id);
  if (s.ok()) return id;
  if (!s.IsNotFound()) return FromRocks(s, "reading the instance id");
  std::random_device random;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%08x%08x", random(), random());
  id = hex;
  rocksdb::WriteOptions write_options;
  write_options.sync = true;  // written once; a restart must find the same id
  s = impl_->db->Put(write_options, impl_->Cf(Family::kMeta), keys::kInstanceKey, id);
  if (!s.ok()) return FromRocks(s, "writing the instance id");
  return id;
}

Status Store::WriteRawBatch(std::string_view data) {
  rocksdb::WriteBatch batch{std::string(data)};
  rocksdb::WriteOptions write_options;
  write_options.sync = impl_->options.sync;
  std::lock_guard gate(impl_->write_gate);
  return FromRocks(impl_->db->Write(write_options, &batch), "writing a raw batch");
}

Status Store::failure() const { return impl_->health->failure(); }

const WalRecovery& Store::recovery() const { return impl_->recovery; }

std::vector<RejectedAt> Store::RecentRejections() const {
  std::lock_guard lock(impl_->recent_mutex);
  return {impl_->recent_rejections.begin(), impl_->recent_rejections.end()};
}

StoreTotals Store::totals() const {
  return {impl_->total_records.load(std::memory_order_relaxed),
          impl_->total_tasks.load(std::memory_order_relaxed),
          impl_->total_requests.load(std::memory_order_relaxed)};
}

StoreDisk Store::disk() const {
  StoreDisk disk;
  uint64_t bytes = 0;
  if (impl_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &bytes)) {
    disk.table_bytes = bytes;
  }
  struct statvfs fs {};
  if (::statvfs(impl_->options.path.c_str(), &fs) == 0) {
    disk.filesystem_size_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
    disk.filesystem_available_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  }
  return disk;
}

}  // namespace tally
