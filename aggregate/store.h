#pragma once

// Store keeps tally's materialized views in RocksDB (layout: keys.h) and is the
// only code that touches RocksDB. Apply() folds a batch of decoded events into
// the views in one atomic write together with the next Kafka offsets, so views
// and offsets never disagree (exactly-once effect); the merge rules make the
// views a function of the set of distinct records, whatever their order,
// duplication or batching. Queries read one snapshot each.
//
// Lifecycle: Open() at start-up; destroy after the consumer and the server stop.
// Threads: the write side (Apply, Submit, Flush, WriteRawBatch) from one thread
// at a time: the apply thread (the consumer's, or replay's). Submit writes on a
// thread of the store's own ("tally:write"), which is also where batch_sink is
// called. InstanceId at start-up. Queries, totals(), failure() and recovery()
// from any thread, concurrently with the writes.
//
// Memory: StoreOptions::memory_bytes bounds everything the store keeps in memory
// whatever the data size: RocksDB's block cache (memtables, indexes and filters
// are charged to it) and the apply thread's caches of hot views.

#include <array>
#include <cstdint>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aggregate/decoded_events.h"
#include "aggregate/partition.h"
#include "aggregate/record_fields.h"
#include "aggregate/rejection.h"
#include "aggregate/status.h"
#include "aggregate/summary.h"
#include "aggregate/task_action.h"
#include "aggregate/task_fields.h"
#include "aggregate/task_view.h"

namespace rocksdb {
class Snapshot;
}

namespace tally {

struct StoreOptions {
  std::string path;                       // the data directory; created if missing
  size_t memory_bytes = size_t{512} << 20;
  // fsync the write-ahead log with every batch: survives power loss, not just
  // process crashes, at the price of a disk flush per batch.
  bool sync = false;
  // For the write ceiling benchmark: receives the raw WriteBatch of every
  // batch, on the store's writer thread.
  std::function<void(std::string_view)> batch_sink;
  // RocksDB's flush and compaction threads run at the lowest CPU priority
  // (nice 19), so that HTTP queries and the apply and writer threads go first
  // when the cores are busy: a flush taking a core for a moment otherwise puts
  // that moment into every waiting event's freshness. They run in the gaps;
  // should memtables fill meanwhile, writes wait for a flush, which then has
  // the cores the writes' threads leave (HTTP threads busy with a query flood
  // keep them: ingestion then waits for the flood to ease). Process-wide and
  // one-way: every store of the process shares RocksDB's default Env, whose
  // threads are never raised again.
  bool low_priority_background = true;
  // Nice steps (0..19) by which the store's writer thread ("tally:write")
  // lowers its CPU priority below the process's: above 0, HTTP queries go
  // before batch writes when the cores are busy (`tally serve --ingest-nice`).
  // Only that thread's; RocksDB's keep theirs.
  int writer_nice = 0;
  // Keep the summary and labeler views (GET /statistics/summary and
  // /statistics/labelers). Off only for the replay benchmark, which measures
  // their cost: a store written without them is marked format 2, and opening
  // it with them on builds them from its records first.
  bool summary_views = true;
};

// Where a partition stands, and what identifies that position: the consumer
// checks on assignment that the broker still holds the same message there (a
// replaced cluster or a recreated topic does not), instead of skipping what a
// new topic holds below `next`.
struct PartitionOffset {
  PartitionOffset() = default;
  PartitionOffset(Partition partition, Offset next, std::optional<uint64_t> fingerprint = std::nullopt,
                  std::string cluster = {})
      : partition(partition), next(next), fingerprint(fingerprint), cluster(std::move(cluster)) {}

  Partition partition{};
  Offset next = kFirstOffset;  // the offset of the first message not yet applied
  // A hash of the message at next - 1 (the last applied); nullopt if unknown
  // (stores written before it was kept, or after a reset to the earliest offset).
  std::optional<uint64_t> fingerprint;
  std::string cluster;  // the Kafka cluster id it was read from; empty if unknown
  // The partition was found to hold other data than the store applied (a
  // replaced cluster or recreated topic) and is read again from its start: its
  // rejection mark and kept rejections belong to the old data and are dropped,
  // so the new data's rejections are kept and counted (counts so far stay).
  bool rewound = false;

  friend bool operator==(const PartitionOffset&, const PartitionOffset&) = default;
};

// A batch for Apply, which reads it only during the call.
struct ApplyBatch {
  std::span<const TaskAction> actions;
  std::span<const Rejection> rejections;
  std::string_view topic;                   // the topic of next_offsets
  std::span<const PartitionOffset> next_offsets;
};

// When some of a batch's events were produced (their Kafka message's
// timestamp) and how many they are: the store hands them back with the batch's
// result, once it is durable, for the caller to measure freshness.
struct SourceTime {
  int64_t unix_ms = 0;
  uint32_t events = 0;

  friend bool operator==(const SourceTime&, const SourceTime&) = default;
};

// A batch for Submit, which takes its contents: the caller fills one Batch
// again and again, and each Submit leaves it empty, holding the memory of an
// earlier batch (so a steady stream does not allocate).
struct Batch {
  DecodedEvents events;
  std::string topic;  // the topic of next_offsets
  std::vector<PartitionOffset> next_offsets;
  std::vector<SourceTime> source_times;  // optional; returned in the result

  bool empty() const { return events.size() == 0 && next_offsets.empty(); }
  void clear() {
    events.clear();
    topic.clear();
    next_offsets.clear();
    source_times.clear();
  }
  ApplyBatch view() const { return {events.actions(), events.rejections(), topic, next_offsets}; }
};

struct ApplyResult {
  uint64_t applied = 0;     // records new to the store
  uint64_t duplicates = 0;  // records applied before (earlier, or earlier in this batch)
  uint64_t conflicts = 0;   // duplicates whose content differs from the applied copy
  uint64_t rejected = 0;           // rejections in the batch
  uint64_t rejections_counted = 0;  // of them, not counted by an earlier batch
  uint64_t keys_written = 0;
  uint64_t bytes_written = 0;  // of the WriteBatch
  double seconds = 0;          // building it plus writing it (not time spent waiting)
  // The batch's next_offsets: durable now, with everything before them.
  std::vector<PartitionOffset> next_offsets;
  std::vector<SourceTime> source_times;  // the submitted batch's (Submit only)
};

// A page: number >= 1, size >= 1 (the API clamps and validates).
struct Page {
  uint64_t number = 1;
  uint32_t size = 10;
};

// A page of task views, ordered by task id, kept as stored in one buffer: a
// reader decodes each when it needs it, into a TaskView it reuses, so a page
// costs no allocation per view and per field (a tenth of a page query did).
// See TaskView::instances_apart.
struct TaskPage {
  uint64_t total = 0;      // tasks of the request
  std::string bytes;       // the views' encodings, one after another
  std::vector<size_t> ends;  // where each view's encoding ends in bytes

  size_t size() const { return ends.size(); }
  bool empty() const { return ends.empty(); }
  // Decodes view i (< size()) into *view; Corruption if it is unreadable.
  Status Decode(size_t i, TaskView* view) const;
  // The fields of view i (< size()) that answers show, as views into `bytes`
  // (task_fields.h); Corruption if it is unreadable.
  Status Fields(size_t i, TaskFields* fields) const;
  // Every view decoded, for callers that want them all.
  Result<std::vector<TaskView>> DecodeAll() const;

 private:
  std::string_view Encoded(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(bytes).substr(begin, ends[i] - begin);
  }
};

// A record of a page that Records() left unread (past its byte budget): read it
// with Store::Record.
struct RecordRef {
  uint32_t request = 0;  // index into the listed requests
  uint32_t store_no = 0;  // the store's number of that request
  Id id;
};

// A page of /statistics/record as the store holds it. The records read within the
// byte budget are kept as their stored bytes, back to back, and decoded one at a
// time by Decode: one TaskAction can decode a whole page, its strings' memory
// reused, so writing a page allocates next to nothing per record. A plain value.
struct RecordPage {
  struct Stored {
    RecordRef ref;
    uint32_t offset = 0;  // of its bytes in `stored`
    uint32_t size = 0;
  };

  uint64_t total = 0;                 // distinct records over the listed requests
  std::string stored;                 // the read records' bytes
  std::vector<Stored> read;           // ordered by id
  std::vector<RecordRef> later;       // the rest of the page, after `read`, in id order
  std::vector<std::string> unknown;   // listed requests the store does not know

  // Decodes read[i] into *out (annotation_request_id from `requests`, as given to
  // Records). Corruption if its bytes are unreadable.
  Status Decode(size_t i, std::span<const std::string> requests, TaskAction* out) const;
  // Reads read[i] in place (its id is read[i].ref.id): *out points into `stored`,
  // so it is valid until `stored` changes. Corruption if its bytes are unreadable.
  Status Fields(size_t i, RecordFields* out) const;
};

// The instance counts of one task that the store keeps apart from its view
// (TaskView::instances_apart), in key order, read from a snapshot a piece at a
// time: a task may have hundreds of thousands of keys. Must not outlive the
// ReadView it reads; one thread at a time.
class InstanceCursor {
 public:
  InstanceCursor(InstanceCursor&&) noexcept;
  InstanceCursor& operator=(InstanceCursor&&) noexcept;
  ~InstanceCursor();

  // False at the end, or after an error (then status() says which).
  bool Valid() const;
  std::string_view key() const;  // valid until Next
  uint64_t count() const;
  void Next();
  Status status() const;

  struct Impl;

 private:
  friend class Store;
  explicit InstanceCursor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// GET /statistics/summary's view of one request (its instance sums are read
// with Store::SummaryInstances).
struct SummaryView {
  uint64_t tasks = 0;
  uint64_t records = 0;
  RequestSummary summary;
};

// A page of a request's labelers, by aliceName bytewise.
struct LabelerPage {
  uint64_t total = 0;  // labelers of the request
  std::vector<std::pair<std::string, LabelerStats>> labelers;
};

struct TaskLookup {
  enum class Missing { kNone, kCampaign, kRequest, kScene };
  Missing missing = Missing::kNone;
  TaskView task;  // when missing == kNone
};

// Rejected events the store has counted for one partition (kReplayPartition: `tally replay`),
// by reason (index: RejectReason). Each position (partition, offset, element) is
// counted once, however often it is read again.
struct PartitionRejections {
  Partition partition{};
  std::array<uint64_t, kRejectReasonCount> by_reason{};

  friend bool operator==(const PartitionRejections&, const PartitionRejections&) = default;
};

// What opening the store left out of its write-ahead log: normally nothing.
// Recovery stops at the first damaged record (a flipped byte, a torn write) so
// that the store is exactly as it was after one batch, Kafka offsets included;
// Kafka ingestion then re-reads what was dropped from those offsets, but for
// `replay` and the embedded broker it is gone unless given again.
struct WalRecovery {
  uint64_t dropped_bytes = 0;
  uint64_t dropped_batches = 0;  // complete, intact batches past the damage
  uint64_t dropped_records = 0;  // records new to the store in those batches
  // A record failed its checksum (or intact batches follow the point where
  // replay stopped); if false, what was dropped is only an incomplete last
  // write, which was never reported as written.
  bool damaged = false;
  std::string wal;         // the WAL file where dropping began
  uint64_t from_byte = 0;  // and where in it
  // One sentence for the log; empty when nothing was dropped.
  std::string ToString() const;
};

struct StoreTotals {
  uint64_t records = 0;
  uint64_t tasks = 0;
  uint64_t requests = 0;
};

// The store's footprint on disk, for gauges: a full disk stops ingestion (the
// process exits 1), so operators watch the room left before it comes to that.
struct StoreDisk {
  // RocksDB's table (SST) files, obsolete ones not yet deleted included; the
  // write-ahead logs (under a quarter of the memory budget) come on top.
  uint64_t table_bytes = 0;
  // The filesystem holding the data directory (statvfs): its size, and the
  // bytes an unprivileged writer may still use. Both 0 when statvfs failed.
  uint64_t filesystem_size_bytes = 0;
  uint64_t filesystem_available_bytes = 0;
};

// Where a rejected event was and why, without its content: what the status
// page lists of the latest rejections (Store::RecentRejections).
struct RejectedAt {
  Origin origin;
  std::optional<uint32_t> element;  // as in Rejection
  RejectReason reason = RejectReason::kInvalidJson;

  friend bool operator==(const RejectedAt&, const RejectedAt&) = default;
};

// How many of the latest counted rejections the store keeps in memory.
inline constexpr size_t kRecentRejections = 10;

class ReadView;

// How Store::Versions reads: from a snapshot, or the latest written state; and
// whether it may wait for the disk.
struct VersionRead {
  const ReadView* view = nullptr;  // null: the latest state
  // Only what RocksDB holds in memory (memtables, block cache): never waits for
  // the disk. Unavailable when a version is not in memory (an I/O thread then
  // hands the request to a query thread).
  bool memory_only = false;
};

// Told the annotationRequestIds that gained records in a batch, once that
// batch is written and readable; on the store's writer thread, which it must
// not hold up (hand the work to another thread). Nothing is told of a batch
// that failed.
using ChangeListener = std::function<void(std::span<const std::string> requests)>;

class Store;

// A consistent snapshot: every query given the same ReadView sees the same data.
// Cheap; take one per HTTP request. Must not outlive its Store.
class ReadView {
 public:
  ReadView(ReadView&&) noexcept;
  ReadView& operator=(ReadView&&) = delete;
  ~ReadView();

 private:
  friend class Store;
  ReadView(const Store* store, const rocksdb::Snapshot* snapshot);
  const Store* store_;
  const rocksdb::Snapshot* snapshot_;
};

class Store {
 public:
  // Opens or creates the store at options.path. Errors name the path: not a
  // directory or not writable (InvalidArgument: the configuration is wrong),
  // locked by another process (Busy), damaged or written by another format
  // version (Corruption), or the disk failed (IOError).
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();

  // Applies a batch atomically with its offsets; returns when it is written.
  // Returns IOError if RocksDB fails to write (a full disk, say) or has failed
  // in the background; the store then refuses further batches and the caller
  // should stop. Not while a submitted batch is in flight (Flush first).
  Result<ApplyResult> Apply(const ApplyBatch& batch);

  // Apply, pipelined for throughput: Submit takes the contents of *batch
  // (leaving it empty, see Batch), builds its WriteBatch on the caller's thread
  // and writes it on the store's writer thread while the caller fills the
  // next. It returns the result of the batch submitted before (now written),
  // or nullopt if there was none; Flush waits for the batch in flight and
  // returns its result (nullopt if none). A result's next_offsets say which
  // batch it was. Errors are as Apply's.
  Result<std::optional<ApplyResult>> Submit(Batch* batch);
  Result<std::optional<ApplyResult>> Flush();
  // True when no submitted batch is still being written, so a batch submitted
  // now starts writing at once: the moment to close a batch (group commit:
  // batches grow while the writer is busy, and are one event when idle).
  // Apply thread.
  bool WriterFree() const;

  ReadView Snapshot() const;

  // A page of the tasks of a request, by task id; nullopt if the request is unknown.
  // Views whose counts are kept apart come without them (TaskView::instances_apart).
  Result<std::optional<TaskPage>> Tasks(const ReadView& view, std::string_view request,
                                        Page page) const;
  // The counts of a task of `request` kept apart from its view (empty if none),
  // from the first key >= `from` on. A cursor pins RocksDB's memory while it
  // lives: a reader that pauses (a slow client) drops it and starts a new one
  // after the last key it had (that key + '\0').
  Result<InstanceCursor> Instances(const ReadView& view, std::string_view request, Id task_id,
                                   std::string_view from = {}) const;
  // Fills in the counts of a view that keeps them apart, all at once: for tests
  // and small tasks; answers stream them with Instances().
  Status ReadInstances(const ReadView& view, std::string_view request, TaskView* task) const;
  // The request's summary; nullopt if the request is unknown. Reads two
  // values, whatever the request's size.
  Result<std::optional<SummaryView>> Summary(const ReadView& view, std::string_view request) const;
  // The request's instance sums (the sums of its task views' instance_info),
  // by key bytewise, non-zero ones only, from the first key >= `from` on; empty
  // if the request is unknown. Like Instances: a reader that pauses drops the
  // cursor and starts a new one after the last key it had.
  Result<InstanceCursor> SummaryInstances(const ReadView& view, std::string_view request,
                                          std::string_view from = {}) const;
  // A page of the request's labelers; nullopt if the request is unknown. Reads
  // the labelers before the page's (their keys and values), never a record.
  Result<std::optional<LabelerPage>> Labelers(const ReadView& view, std::string_view request, Page page) const;
  // A page of the records of 1..100 distinct requests, merged by id. If any is
  // unknown, `unknown` lists them (in the order given) and the page is empty.
  // Records are decoded while their stored bytes stay within `max_bytes`; the
  // rest of the page comes as `later` references, to read one by one.
  Result<RecordPage> Records(const ReadView& view, std::span<const std::string> requests,
                             Page page, size_t max_bytes = SIZE_MAX) const;
  // One record of a page's `later` part; `requests` as given to Records.
  Result<TaskAction> Record(const ReadView& view, std::span<const std::string> requests,
                            const RecordRef& ref) const;
  // The task of the latest record carrying `scene` in `request` (its counts, if
  // kept apart, not read), checking in
  // order that the campaign exists, that the request exists and is in it, and
  // that the scene exists in the request.
  Result<TaskLookup> FindTask(const ReadView& view, std::string_view campaign,
                              std::string_view request, std::string_view scene) const;
  // The stored position of every partition of `topic` that has one, in
  // partition order: the latest, or as of `view` (the offsets written in the
  // same batch as the views that snapshot shows, so an answer read from it
  // reflects exactly these offsets).
  Result<std::vector<PartitionOffset>> Offsets(std::string_view topic) const;
  Result<std::vector<PartitionOffset>> Offsets(const ReadView& view, std::string_view topic) const;
  // Offsets(topic), for an HTTP I/O thread when `memory_only`: only what RocksDB
  // holds in memory, never waiting for the disk (Unavailable when some is not).
  Result<std::vector<PartitionOffset>> LatestOffsets(std::string_view topic, bool memory_only) const;
  // This store's own id: random, made on the first call and kept, so the same
  // data dir always answers the same (the consumer's static group membership).
  // Start-up, one thread.
  Result<std::string> InstanceId();
  // Stored rejections in (partition, offset) order, at most `limit`: the latest
  // kKeptRejections of each partition.
  Result<std::vector<Rejection>> Rejections(const ReadView& view, size_t limit) const;
  // Every rejection the store has counted, by partition (in order) and reason.
  Result<std::vector<PartitionRejections>> RejectionCounts(const ReadView& view) const;

  // The version of each of `requests` into (*out)[i]: the number of distinct
  // records applied to it, 0 if the store does not know it. A version grows by
  // one with each record new to the store, in the same atomic write as the
  // record (a duplicate leaves it), so it survives restarts and every store
  // that applied the same records agrees. Unavailable: memory_only and one is
  // not in memory; else the store's read errors. Any thread. Versions read at
  // a state (a RocksDB sequence number) are remembered for that state, so polls
  // between two writes read nothing (version_memo.h).
  Status Versions(VersionRead how, std::span<const std::string> requests, std::vector<uint64_t>* out) const;

  // A number that changes with every write to the store (the latest RocksDB
  // sequence number): what was read from the latest state between two equal
  // numbers is what any read at that number sees, so an answer computed so may
  // be reused while the number stays. Any thread; an atomic load.
  uint64_t StateNumber() const;

  // Replaces the listener told of changed requests (none: an empty function).
  // Any thread; a batch being written may still tell the one before.
  void SetChangeListener(ChangeListener listener);

  // Totals as of the last applied batch (for gauges); any thread, no I/O.
  StoreTotals totals() const;

  // The store's size on disk and its filesystem's room (StoreDisk): RocksDB's
  // property, read from memory, and one statvfs call. Any thread.
  StoreDisk disk() const;
  // The latest rejections counted since this store was opened, oldest first, at
  // most kRecentRejections (a rejection read again is not counted again, so not
  // listed again); as of the last written batch. Any thread, no I/O (a short
  // lock).
  std::vector<RejectedAt> RecentRejections() const;

  // OK, or the first write error of this store: a batch that failed to write,
  // or a failed flush or compaction in the background (the caller should stop,
  // even while no batch comes). Any thread, no I/O.
  Status failure() const;

  // What Open dropped from the write-ahead log (see WalRecovery).
  const WalRecovery& recovery() const;

  // For benchmarks that measure reads on a settled store (http_bench_server
  // load): flushes every family and compacts it down to its last level, as
  // RocksDB's background compactions would in time, waiting on the calling
  // thread. Not while batches are applied.
  Status CompactAll();

  // For the write ceiling benchmark: writes a batch captured by batch_sink as it
  // is, with no reads and none of Apply's work. Apply thread, nothing submitted.
  Status WriteRawBatch(std::string_view batch);

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  friend class ReadView;
  friend class StoreBackups;  // store_backup.h: holds the writer while a backup lists the live files
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
