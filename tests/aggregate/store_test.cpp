#include "aggregate/store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace tally {
namespace {

using testing::TempDir;

std::unique_ptr<Store> OpenOrDie(const std::string& path) {
  auto store = Store::Open(StoreOptions{path, size_t{32} << 20, false, {}});
  EXPECT_TRUE(store) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

TaskAction Event(uint64_t id, std::string request, uint64_t task, int64_t second) {
  TaskAction a;
  a.id = Id(id);
  a.annotation_request_id = std::move(request);
  a.campaign_id = "camp";
  a.task_id = Id(task);
  a.created_time = Timestamp{1'743'500'000'000 + second * 1000};
  return a;
}

Result<ApplyResult> Apply(Store& store, std::vector<TaskAction> actions, std::vector<Rejection> rejections = {},
                          std::vector<PartitionOffset> offsets = {}) {
  return store.Apply(ApplyBatch{actions, rejections, "task-actions", offsets});
}

TEST(StoreTest, RefusesAFileAsDataDir) {
  TempDir dir;
  std::ofstream(dir / "file") << "x";
  auto store = Store::Open(StoreOptions{dir / "file", size_t{32} << 20, false, {}});
  ASSERT_FALSE(store);
  // A configuration error (exit 2), unlike a store that cannot be opened (exit 1).
  EXPECT_EQ(store.error().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(store.error().message().find(dir / "file"), std::string::npos);
}

TEST(StoreTest, ReportsADamagedStoreAsCorruptionNamingIt) {
  TempDir dir;
  OpenOrDie(dir.path()).reset();
  std::ofstream(dir / "CURRENT", std::ios::trunc) << "MANIFEST-garbage\n";
  auto store = Store::Open(StoreOptions{dir.path(), size_t{32} << 20, false, {}});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), Status::Code::kCorruption) << store.error().ToString();
  EXPECT_NE(store.error().message().find("the store in " + dir.path() + " is damaged"), std::string::npos)
      << store.error().message();
}

TEST(StoreTest, ReportsALockedDataDirAsBusy) {
  TempDir dir;
  auto first = OpenOrDie(dir.path());
  auto second = Store::Open(StoreOptions{dir.path(), size_t{32} << 20, false, {}});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Status::Code::kBusy);
  EXPECT_NE(second.error().message().find(dir.path()), std::string::npos);
}

TEST(StoreTest, RefusesAnotherFormatVersion) {
  TempDir dir;
  OpenOrDie(dir.path()).reset();
  {
    rocksdb::DB* raw;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
    for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), families, &handles, &raw).ok());
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "meta") {
        ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[i], "format", "999").ok());
      }
    }
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    delete raw;
  }
  auto store = Store::Open(StoreOptions{dir.path(), size_t{32} << 20, false, {}});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), Status::Code::kCorruption);
  EXPECT_NE(store.error().message().find("format 999"), std::string::npos);
}

// The consumer checks a stored position against the broker: the cluster id and
// the fingerprint of the last applied message are kept with the offset, in the
// same batch; offsets of stores written before (8 bytes: next alone) still read.
TEST(StoreTest, KeepsTheClusterAndFingerprintWithEachOffset) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_TRUE(Apply(*store, {Event(1, "r1", 10, 0)}, {},
                      {{Partition{0}, Offset{5}, 0xfeedfacecafebeefull, "cluster-a"}, {Partition{1}, Offset{0}, std::nullopt, "cluster-a"}}));
    ASSERT_TRUE(Apply(*store, {}, {}, {{Partition{0}, Offset{6}, 42, "cluster-b"}}));
  }
  {
    auto store = OpenOrDie(dir.path());
    EXPECT_EQ(*store->Offsets("task-actions"),
              (std::vector<PartitionOffset>{{Partition{0}, Offset{6}, 42, "cluster-b"}, {Partition{1}, Offset{0}, std::nullopt, "cluster-a"}}));
  }
  // An offset as written before: both unknown, nothing refused.
  rocksdb::DB* raw;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
  for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), families, &handles, &raw).ok());
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "meta") {
      const std::string key = std::string("offset/task-actions/") + std::string("\x80\0\0\0", 4);
      ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[i], key, std::string("\0\0\0\0\0\0\0\x09", 8)).ok());
    }
  }
  for (auto* h : handles) raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete raw;
  auto store = OpenOrDie(dir.path());
  EXPECT_EQ(*store->Offsets("task-actions"),
            (std::vector<PartitionOffset>{{Partition{0}, Offset{9}, std::nullopt, ""}, {Partition{1}, Offset{0}, std::nullopt, "cluster-a"}}));
}

// Submit takes the caller's batch (which comes back empty, to fill again) and
// pipelines it: each result says, by its offsets, which batch was written, and
// the next batch's duplicates of the one in flight are found.
TEST(StoreTest, SubmitTakesTheBatchAndEachResultNamesItsOffsets) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  Batch batch;
  batch.topic = "task-actions";
  batch.events.NewAction() = Event(1, "req", 10, 1);
  batch.events.NewAction() = Event(2, "req", 10, 2);
  batch.next_offsets.push_back({Partition{0}, Offset{2}});
  auto first = store->Submit(&batch);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE(*first) << "nothing was in flight";
  EXPECT_TRUE(batch.empty()) << "Submit takes the events and offsets";
  EXPECT_TRUE(batch.topic.empty());

  batch.topic = "task-actions";
  batch.events.NewAction() = Event(2, "req", 10, 2);  // a duplicate of the batch in flight
  batch.events.NewAction() = Event(3, "req", 11, 3);
  batch.next_offsets.push_back({Partition{0}, Offset{4}});
  auto second = store->Submit(&batch);
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->applied, 2u);
  ASSERT_EQ((*second)->next_offsets.size(), 1u);
  EXPECT_EQ((*second)->next_offsets[0].next, Offset{2});
  EXPECT_TRUE(batch.empty());

  auto last = store->Flush();
  ASSERT_TRUE(last && *last);
  EXPECT_EQ((*last)->applied, 1u);
  EXPECT_EQ((*last)->duplicates, 1u);
  ASSERT_EQ((*last)->next_offsets.size(), 1u);
  EXPECT_EQ((*last)->next_offsets[0].next, Offset{4});
  auto none = store->Flush();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  EXPECT_EQ(store->totals().records, 3u);
  auto offsets = store->Offsets("task-actions");
  ASSERT_TRUE(offsets);
  ASSERT_EQ(offsets->size(), 1u);
  EXPECT_EQ((*offsets)[0].next, Offset{4});
}

// A snapshot's offsets are read once per state and shared: each snapshot and
// the latest state still see their own offsets, whatever was read before, and
// the topic asked for.
TEST(StoreTest, OffsetsOfASnapshotAreItsOwnAfterLaterBatches) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  const std::vector<PartitionOffset> first = {{Partition{0}, Offset{5}}};
  const std::vector<PartitionOffset> second = {{Partition{0}, Offset{8}}};
  ASSERT_TRUE(Apply(*store, {Event(1, "r", 10, 0)}, {}, first));
  const ReadView before = store->Snapshot();
  EXPECT_EQ(*store->Offsets(before, "task-actions"), first);
  EXPECT_TRUE(store->Offsets(before, "other-topic")->empty());
  EXPECT_EQ(*store->LatestOffsets("task-actions", true), first);
  ASSERT_TRUE(Apply(*store, {Event(2, "r", 10, 1)}, {}, second));
  EXPECT_EQ(*store->LatestOffsets("task-actions", false), second);
  EXPECT_EQ(*store->Offsets(store->Snapshot(), "task-actions"), second);
  EXPECT_EQ(*store->Offsets(before, "task-actions"), first);
  EXPECT_EQ(*store->LatestOffsets("task-actions", true), second);
  // A batch that writes no offsets is a new state all the same.
  ASSERT_TRUE(Apply(*store, {Event(3, "r", 11, 2)}));
  EXPECT_EQ(*store->Offsets(store->Snapshot(), "task-actions"), second);
  // Versions and a page read through one view agree with the view, not the latest state.
  const ReadView view = store->Snapshot();
  std::vector<uint64_t> versions;
  ASSERT_TRUE(store->Versions(VersionRead{&view, false}, std::vector<std::string>{"r"}, &versions).ok());
  EXPECT_EQ(versions, std::vector<uint64_t>{3});
  ASSERT_TRUE(Apply(*store, {Event(4, "r", 12, 3)}));
  auto page = store->Tasks(view, "r", Page{1, 10});
  ASSERT_TRUE(page && *page);
  EXPECT_EQ((*page)->total, 2u);
  ASSERT_TRUE(store->Versions(VersionRead{&view, false}, std::vector<std::string>{"r"}, &versions).ok());
  EXPECT_EQ(versions, std::vector<uint64_t>{3});
  ASSERT_TRUE(store->Versions(VersionRead{}, std::vector<std::string>{"r"}, &versions).ok());
  EXPECT_EQ(versions, std::vector<uint64_t>{4});
  EXPECT_EQ((*store->Tasks(store->Snapshot(), "r", Page{1, 10}))->total, 3u);
}

TEST(StoreTest, KeepsOffsetsAndTotalsAcrossReopening) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_TRUE(Apply(*store, {Event(1, "r1", 10, 0), Event(2, "r2", 10, 0)}, {}, {{Partition{0}, Offset{5}}, {Partition{3}, Offset{9}}}));
    ASSERT_TRUE(Apply(*store, {Event(3, "r1", 11, 0)}, {}, {{Partition{0}, Offset{7}}}));
    EXPECT_EQ(store->totals().records, 3u);
  }
  auto store = OpenOrDie(dir.path());
  auto offsets = store->Offsets("task-actions");
  ASSERT_TRUE(offsets);
  EXPECT_EQ(*offsets, (std::vector<PartitionOffset>{{Partition{0}, Offset{7}}, {Partition{3}, Offset{9}}}));
  EXPECT_TRUE(store->Offsets("other-topic")->empty());
  EXPECT_EQ(store->totals().records, 3u);
  EXPECT_EQ(store->totals().tasks, 3u);
  EXPECT_EQ(store->totals().requests, 2u);
  // The request counter survived too: a new request gets a new number.
  ASSERT_TRUE(Apply(*store, {Event(4, "r3", 1, 0)}));
  auto page = store->Tasks(store->Snapshot(), "r3", Page{1, 10});
  ASSERT_TRUE(page && *page);
  EXPECT_EQ((*page)->size(), 1u);
  EXPECT_EQ(store->Tasks(store->Snapshot(), "r1", Page{1, 10}).value()->total, 2u);
}

TEST(StoreTest, CountsDuplicatesAndConflictsAndKeepsTheFirst) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  TaskAction a = Event(1, "r", 1, 0);
  a.status = TaskStatus::kAtWork;
  TaskAction changed = a;
  changed.status = TaskStatus::kPause;
  auto r = Apply(*store, {a, a});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->applied, 1u);
  EXPECT_EQ(r->duplicates, 1u);
  EXPECT_EQ(r->conflicts, 0u);
  r = Apply(*store, {a, changed, changed});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->applied, 0u);
  EXPECT_EQ(r->duplicates, 3u);
  EXPECT_EQ(r->conflicts, 2u);  // each changed copy differs from the stored first
  TaskAction elsewhere = a;
  elsewhere.annotation_request_id = "other";
  r = Apply(*store, {elsewhere});
  EXPECT_EQ(r->conflicts, 1u);
  auto page = store->Records(store->Snapshot(), std::vector<std::string>{"r"}, Page{1, 10});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->read.size(), 1u);
  TaskAction got;
  ASSERT_TRUE(page->Decode(0, std::vector<std::string>{"r"}, &got).ok());
  EXPECT_EQ(got, a);
  EXPECT_TRUE(store->Tasks(store->Snapshot(), "other", Page{1, 1}).value() == std::nullopt);
}

// The gauges of /metrics that the disk alert and the dashboard's store size read.
TEST(StoreTest, TellsItsSizeOnDiskAndTheRoomLeft) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    EXPECT_EQ(store->disk().table_bytes, 0u) << "a new store has no table file yet";
    ASSERT_TRUE(Apply(*store, {Event(1, "r1", 10, 0), Event(2, "r2", 10, 0)}, {}, {{Partition{0}, Offset{5}}}));
  }
  // Reopening replays the write-ahead log into a table file.
  auto store = OpenOrDie(dir.path());
  const StoreDisk disk = store->disk();
  uint64_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".sst") files += entry.file_size();
  }
  EXPECT_GT(disk.table_bytes, 0u);
  EXPECT_EQ(disk.table_bytes, files) << "the bytes of the store's .sst files";
  const std::filesystem::space_info space = std::filesystem::space(dir.path());
  EXPECT_EQ(disk.filesystem_size_bytes, space.capacity);
  EXPECT_GT(disk.filesystem_available_bytes, 0u);
  EXPECT_LE(disk.filesystem_available_bytes, disk.filesystem_size_bytes);
}

TEST(StoreTest, StoresRejectionsWithOriginAndExcerpt) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  const Rejection whole{Origin{Partition{2}, Offset{40}}, std::nullopt, RejectReason::kInvalidJson, "message", "message: bad", "{x"};
  const Rejection element{Origin{kReplayPartition, Offset{7}}, 3, RejectReason::kWrongType, "taskId", "taskId: bad", "{}"};
  auto r = Apply(*store, {}, {whole, element});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rejected, 2u);
  auto stored = store->Rejections(store->Snapshot(), 10);
  ASSERT_TRUE(stored);
  EXPECT_EQ(*stored, (std::vector<Rejection>{element, whole}));  // partition -1 sorts first
  EXPECT_EQ(store->totals().records, 0u);
}

Rejection Rejected(int32_t partition, int64_t offset, std::optional<uint32_t> element, RejectReason reason) {
  return Rejection{Origin{Partition{partition}, Offset{offset}}, element, reason, "event", "event: bad",
                   "[" + std::to_string(offset) + "]"};
}

uint64_t CountOf(const std::vector<PartitionRejections>& counts, int32_t partition, RejectReason reason) {
  for (const PartitionRejections& p : counts) {
    if (p.partition == Partition{partition}) return p.by_reason[static_cast<size_t>(reason)];
  }
  return 0;
}

// A flood of rejections keeps the latest kKeptRejections of each partition on
// disk and exact counts by reason.
TEST(StoreTest, KeepsTheLatestRejectionsOfEachPartitionAndExactCounts) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  const auto reason = [](int64_t offset) { return offset % 3 == 0 ? RejectReason::kWrongType : RejectReason::kMissingField; };
  int64_t offset = 0;
  for (const int64_t batch : {1500, 700, 400}) {  // one batch alone holds more than are kept
    std::vector<Rejection> rejections;
    for (int64_t end = offset + batch; offset < end; ++offset) rejections.push_back(Rejected(3, offset, std::nullopt, reason(offset)));
    rejections.push_back(Rejected(5, offset, 0, RejectReason::kTooLong));
    std::vector<PartitionOffset> offsets = {{Partition{3}, Offset{offset}}, {Partition{5}, Offset{offset + 1}}};
    auto r = Apply(*store, {}, rejections, offsets);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->rejections_counted, rejections.size());
  }
  store.reset();
  store = OpenOrDie(dir.path());  // and across restarts
  {
    std::vector<Rejection> more;
    for (int64_t end = offset + 300; offset < end; ++offset) more.push_back(Rejected(3, offset, std::nullopt, reason(offset)));
    ASSERT_TRUE(Apply(*store, {}, more, {{Partition{3}, Offset{offset}}}));
  }
  auto stored = store->Rejections(store->Snapshot(), 100000);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), kKeptRejections + 3);
  for (size_t i = 0; i < kKeptRejections; ++i) {
    EXPECT_EQ((*stored)[i].origin, (Origin{Partition{3}, Offset{offset - static_cast<int64_t>(kKeptRejections) + static_cast<int64_t>(i)}}));
  }
  EXPECT_EQ(stored->back().origin.partition, Partition{5});
  auto counts = store->RejectionCounts(store->Snapshot());
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 2u);
  uint64_t wrong_type = 0;
  for (int64_t o = 0; o < offset; ++o) wrong_type += reason(o) == RejectReason::kWrongType;
  EXPECT_EQ(CountOf(*counts, 3, RejectReason::kWrongType), wrong_type);
  EXPECT_EQ(CountOf(*counts, 3, RejectReason::kMissingField), static_cast<uint64_t>(offset) - wrong_type);
  EXPECT_EQ(CountOf(*counts, 5, RejectReason::kTooLong), 3u);
}

// The status page's latest rejections: the last kRecentRejections counted, in
// the order counted, reason and position only; one read again is not listed again.
TEST(StoreTest, ListsTheLatestCountedRejectionsInMemory) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  EXPECT_TRUE(store->RecentRejections().empty());
  std::vector<Rejection> first;
  for (int64_t o = 0; o < 8; ++o) first.push_back(Rejected(2, o, std::nullopt, RejectReason::kWrongType));
  ASSERT_TRUE(Apply(*store, {}, first, {{Partition{2}, Offset{8}}}));
  std::vector<Rejection> second = {Rejected(2, 8, 1, RejectReason::kTooLong), Rejected(7, 40, std::nullopt, RejectReason::kInvalidJson),
                                   Rejected(7, 41, std::nullopt, RejectReason::kMissingField)};
  ASSERT_TRUE(Apply(*store, {}, second, {{Partition{2}, Offset{9}}, {Partition{7}, Offset{42}}}));
  // The second batch read again (a restart of the consumer): counted before, not listed again.
  ASSERT_TRUE(Apply(*store, {}, second, {{Partition{2}, Offset{9}}, {Partition{7}, Offset{42}}}));
  const std::vector<RejectedAt> recent = store->RecentRejections();
  ASSERT_EQ(recent.size(), kRecentRejections);
  // 11 counted: the oldest one left.
  EXPECT_EQ(recent.front(), (RejectedAt{Origin{Partition{2}, Offset{1}}, std::nullopt, RejectReason::kWrongType}));
  EXPECT_EQ(recent[7], (RejectedAt{Origin{Partition{2}, Offset{8}}, 1, RejectReason::kTooLong}));
  EXPECT_EQ(recent.back(), (RejectedAt{Origin{Partition{7}, Offset{41}}, std::nullopt, RejectReason::kMissingField}));
}

// A partition reset to its earliest offset (its data replaced) starts a new
// mark: the new data's rejections are counted and kept although their offsets
// are below the old ones, and the old data's kept rejections are dropped.
TEST(StoreTest, ARewoundPartitionCountsAndKeepsTheNewDatasRejections) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  std::vector<Rejection> old_data;
  for (int64_t o = 100; o < 150; ++o) old_data.push_back(Rejected(4, o, std::nullopt, RejectReason::kWrongType));
  old_data.push_back(Rejected(6, 7, std::nullopt, RejectReason::kTooLong));
  ASSERT_TRUE(Apply(*store, {}, old_data, {{Partition{4}, Offset{150}}, {Partition{6}, Offset{8}}}));
  std::vector<Rejection> new_data;
  for (int64_t o = 0; o < 20; ++o) new_data.push_back(Rejected(4, o, std::nullopt, RejectReason::kInvalidJson));
  PartitionOffset rewound{Partition{4}, Offset{20}};
  rewound.rewound = true;
  auto r = Apply(*store, {}, new_data, {rewound});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->rejections_counted, 20u);
  // Read again after a crash, the same batch counts nothing twice.
  store.reset();
  store = OpenOrDie(dir.path());
  auto again = Apply(*store, {}, new_data, {{Partition{4}, Offset{20}}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->rejections_counted, 0u);

  auto stored = store->Rejections(store->Snapshot(), 1000);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 21u);  // partition 4's new 20, and partition 6's one untouched
  for (int64_t o = 0; o < 20; ++o) EXPECT_EQ((*stored)[o].origin, (Origin{Partition{4}, Offset{o}}));
  EXPECT_EQ(stored->back().origin, (Origin{Partition{6}, Offset{7}}));
  auto counts = store->RejectionCounts(store->Snapshot());
  ASSERT_TRUE(counts);
  EXPECT_EQ(CountOf(*counts, 4, RejectReason::kWrongType), 50u);  // counted before the reset, kept
  EXPECT_EQ(CountOf(*counts, 4, RejectReason::kInvalidJson), 20u);
  EXPECT_EQ(CountOf(*counts, 6, RejectReason::kTooLong), 1u);
}

// A batch read again after a crash (the store restarted) counts nothing twice:
// neither a batch applied whole, nor a message split over batches whose first
// part was applied.
TEST(StoreTest, RejectionsReadAgainAfterACrashAreNotCountedTwice) {
  TempDir dir;
  std::vector<Rejection> batch;
  for (int64_t o = 0; o < 1200; ++o) batch.push_back(Rejected(1, o, std::nullopt, RejectReason::kInvalidJson));
  // Message 60 of partition 2, an array of 3000 rejected elements: its first
  // 2000 are applied with the partition's offset still at 60.
  std::vector<Rejection> message;
  for (uint32_t e = 0; e < 3000; ++e) message.push_back(Rejected(2, 60, e, RejectReason::kWrongType));
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_TRUE(Apply(*store, {}, batch, {{Partition{1}, Offset{1200}}}));
    ASSERT_TRUE(Apply(*store, {}, {message.begin(), message.begin() + 2000}, {{Partition{2}, Offset{60}}}));
  }
  auto store = OpenOrDie(dir.path());
  auto again = Apply(*store, {}, batch, {{Partition{1}, Offset{1200}}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->rejections_counted, 0u);
  auto rest = Apply(*store, {}, message, {{Partition{2}, Offset{61}}});  // the whole message, from its start
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->rejections_counted, 1000u);
  auto counts = store->RejectionCounts(store->Snapshot());
  ASSERT_TRUE(counts);
  EXPECT_EQ(CountOf(*counts, 1, RejectReason::kInvalidJson), 1200u);
  EXPECT_EQ(CountOf(*counts, 2, RejectReason::kWrongType), 3000u);
  auto stored = store->Rejections(store->Snapshot(), 100000);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 2 * kKeptRejections);
  EXPECT_EQ(stored->front().origin, (Origin{Partition{1}, Offset{200}}));
  EXPECT_EQ(stored->back().element, std::optional<uint32_t>(2999));
  EXPECT_EQ((*stored)[kKeptRejections].element, std::optional<uint32_t>(2000));
}

TEST(StoreTest, SceneBelongsToTheTaskOfItsLatestRecord) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  TaskAction a = Event(1, "r", 100, 10), b = Event(2, "r", 200, 20), c = Event(3, "r", 100, 5);
  a.scene_id = b.scene_id = c.scene_id = "s";
  ASSERT_TRUE(Apply(*store, {a}));
  ASSERT_TRUE(Apply(*store, {b, c}));
  auto found = store->FindTask(store->Snapshot(), "camp", "r", "s");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->missing, TaskLookup::Missing::kNone);
  EXPECT_EQ(found->task.task_id, Id(200));
}

// A batch writes its scene entries once each, after its records are folded
// (Applier::WriteScenes, in key order for the writer's memtable inserts). Task
// 100 leaves scene "a" for "b" and comes back: "a"'s entry is noted twice in the
// batch, first with the old stamp (second 1) and then with the latest (second
// 5); the last must be the one stored, or task 200 (second 3) would win "a".
TEST(StoreTest, ASceneEntryNotedTwiceInABatchKeepsItsLatestStamp) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  TaskAction first = Event(1, "r", 100, 1), away = Event(2, "r", 100, 2), back = Event(3, "r", 100, 5),
             other = Event(4, "r", 200, 3);
  first.scene_id = back.scene_id = other.scene_id = "a";
  away.scene_id = "b";
  ASSERT_TRUE(Apply(*store, {other, back, away, first}));
  auto found = store->FindTask(store->Snapshot(), "camp", "r", "a");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->missing, TaskLookup::Missing::kNone);
  EXPECT_EQ(found->task.task_id, Id(100));
  found = store->FindTask(store->Snapshot(), "camp", "r", "b");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->missing, TaskLookup::Missing::kNone);
  EXPECT_EQ(found->task.task_id, Id(100));
  // Reopened: the same, from what was written.
  store.reset();
  store = OpenOrDie(dir.path());
  found = store->FindTask(store->Snapshot(), "camp", "r", "a");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->task.task_id, Id(100));
}

// Dedupe looks the batch's ids up in one MultiGet that is told they are sorted
// (their key encoding keeps numeric order across lengths): ids of every length,
// new and stored, in no order, each counted right, before and after a reopen
// (the stored ones then come from table files, where the order matters).
TEST(StoreTest, DedupeFindsStoredIdsOfEveryLengthInAnyOrder) {
  TempDir dir;
  const std::vector<uint64_t> stored = {70'000, 1, UINT64_MAX, 300, uint64_t{1} << 40, 255, 256};
  const std::vector<uint64_t> fresh[2] = {{2, 65'536, uint64_t{1} << 56, 299, UINT64_MAX - 1},
                                          {3, 65'537, (uint64_t{1} << 56) + 1, 298, UINT64_MAX - 2}};
  {
    auto store = OpenOrDie(dir.path());
    std::vector<TaskAction> batch;
    for (uint64_t id : stored) batch.push_back(Event(id, "r", id % 7, 0));
    auto r = Apply(*store, batch);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->applied, stored.size());
  }
  for (int reopened = 0; reopened < 2; ++reopened) {
    auto store = OpenOrDie(dir.path());
    std::vector<TaskAction> batch;
    const std::vector<uint64_t>& news = fresh[reopened];
    for (size_t i = 0; i < stored.size() || i < news.size(); ++i) {
      if (i < news.size()) batch.push_back(Event(news[i], "r", news[i] % 7, 0));
      const size_t back = stored.size() - 1 - i;
      if (i < stored.size()) batch.push_back(Event(stored[back], "r", stored[back] % 7, 0));
    }
    auto r = Apply(*store, batch);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->applied, news.size()) << reopened;
    EXPECT_EQ(r->duplicates, stored.size()) << reopened;
    EXPECT_EQ(r->conflicts, 0u) << reopened;
  }
}

TEST(StoreTest, FindTaskChecksCampaignThenRequestThenScene) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  TaskAction a = Event(1, "r", 1, 0);
  a.scene_id = "s";
  TaskAction other = Event(2, "r2", 1, 0);
  other.campaign_id = "camp2";
  ASSERT_TRUE(Apply(*store, {a, other}));
  const ReadView view = store->Snapshot();
  using M = TaskLookup::Missing;
  EXPECT_EQ(store->FindTask(view, "nope", "nope", "nope")->missing, M::kCampaign);
  EXPECT_EQ(store->FindTask(view, "camp", "nope", "s")->missing, M::kRequest);
  EXPECT_EQ(store->FindTask(view, "camp2", "r", "s")->missing, M::kRequest);  // not in that campaign
  EXPECT_EQ(store->FindTask(view, "camp", "r", "nope")->missing, M::kScene);
  EXPECT_EQ(store->FindTask(view, "camp", "r", "s")->missing, M::kNone);
  // A campaign whose id is a prefix of another's is still a different campaign.
  EXPECT_EQ(store->FindTask(view, "cam", "r", "s")->missing, M::kCampaign);
}

// CompactAll (the HTTP benchmarks' settled store) changes no answer, before
// and after a reopen.
TEST(StoreTest, CompactAllKeepsEveryAnswer) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  TaskAction a = Event(1, "r", 1, 0), b = Event(2, "r", 2, 1), c = Event(3, "r2", 3, 2);
  a.scene_id = "s";
  ASSERT_TRUE(Apply(*store, {a}));
  ASSERT_TRUE(Apply(*store, {b, c}));
  ASSERT_TRUE(store->CompactAll().ok());
  for (int reopened = 0; reopened < 2; ++reopened) {
    {
      const ReadView view = store->Snapshot();
      auto found = store->FindTask(view, "camp", "r", "s");
      ASSERT_TRUE(found);
      EXPECT_EQ(found->missing, TaskLookup::Missing::kNone);
      EXPECT_EQ(found->task.task_id, Id(1));
      auto page = store->Tasks(view, "r", Page{1, 10});
      ASSERT_TRUE(page && *page);
      EXPECT_EQ((*page)->total, 2u);
      auto records = store->Records(view, std::vector<std::string>{"r", "r2"}, Page{1, 10});
      ASSERT_TRUE(records);
      EXPECT_EQ(records->total, 3u);
      EXPECT_EQ(store->totals().records, 3u);
    }
    store.reset();
    store = OpenOrDie(dir.path());
  }
}

// A found task is read with point reads and one seek, its scene's: the
// campaign's prefix seek (through every level-0 file of campaigns, which has no
// prefix filter) is only for telling the misses apart. Counted with RocksDB's
// perf context (this thread's): each iterator seek reaches the memtable once.
TEST(StoreTest, FindTaskSeeksOnlyTheSceneWhenTheTaskIsFound) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  TaskAction a = Event(1, "r", 1, 0);
  a.scene_id = "s";
  ASSERT_TRUE(Apply(*store, {a}));
  const ReadView view = store->Snapshot();
  auto seeks = [&](std::string_view campaign, std::string_view request, std::string_view scene) {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
    rocksdb::get_perf_context()->Reset();
    auto found = store->FindTask(view, campaign, request, scene);
    const uint64_t n = rocksdb::get_perf_context()->seek_on_memtable_count;
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    EXPECT_TRUE(found);
    return n;
  };
  EXPECT_EQ(seeks("camp", "r", "s"), 1u);
  // The misses still tell the campaign from the request.
  EXPECT_EQ(seeks("nope", "r", "s"), 1u);
  EXPECT_EQ(store->FindTask(view, "nope", "r", "s")->missing, TaskLookup::Missing::kCampaign);
  EXPECT_EQ(store->FindTask(view, "camp", "nope", "s")->missing, TaskLookup::Missing::kRequest);
}

TEST(StoreTest, PagesPastTheEndAreEmptyWithoutOverflow) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(Apply(*store, {Event(1, "r", 1, 0), Event(2, "r", 2, 0)}));
  const ReadView view = store->Snapshot();
  auto page = store->Tasks(view, "r", Page{UINT64_MAX, 1000});
  ASSERT_TRUE(page && *page);
  EXPECT_EQ((*page)->total, 2u);
  EXPECT_TRUE((*page)->empty());
  auto records = store->Records(view, std::vector<std::string>{"r"}, Page{3, 1});
  ASSERT_TRUE(records);
  EXPECT_EQ(records->total, 2u);
  EXPECT_TRUE(records->read.empty());
}

TEST(StoreTest, ASnapshotDoesNotSeeLaterBatches) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(Apply(*store, {Event(1, "r", 1, 0)}));
  const ReadView before = store->Snapshot();
  ASSERT_TRUE(Apply(*store, {Event(2, "r", 2, 0), Event(3, "r", 3, 0)}));
  auto old = store->Records(before, std::vector<std::string>{"r"}, Page{1, 10});
  ASSERT_TRUE(old);
  EXPECT_EQ(old->total, 1u);
  EXPECT_EQ(old->read.size(), 1u);
  EXPECT_EQ(store->Records(store->Snapshot(), std::vector<std::string>{"r"}, Page{1, 10})->total, 3u);
}

}  // namespace
}  // namespace tally
