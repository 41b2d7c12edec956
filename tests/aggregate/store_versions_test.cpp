// Store::Versions (per request: distinct records applied, kept with them) and
// the change listener that wakes long polls.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "aggregate/request_memo.h"
#include "aggregate/store.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

using testing::TempDir;

std::unique_ptr<Store> Open(const std::string& path) {
  auto store = Store::Open(StoreOptions{path, size_t{32} << 20, false, {}});
  EXPECT_TRUE(store) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

TaskAction Event(uint64_t id, std::string request, uint64_t task) {
  TaskAction a;
  a.id = Id(id);
  a.annotation_request_id = std::move(request);
  a.campaign_id = "camp";
  a.task_id = Id(task);
  a.created_time = Timestamp{1'743'494'400'000 + static_cast<int64_t>(id)};
  return a;
}

void Apply(Store& store, std::vector<TaskAction> actions) {
  ASSERT_TRUE(store.Apply(ApplyBatch{actions, {}, "t", {}}));
}

std::vector<uint64_t> VersionsOf(const Store& store, std::vector<std::string> requests, bool memory_only = false) {
  std::vector<uint64_t> out;
  const Status s = store.Versions(VersionRead{nullptr, memory_only}, requests, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(StoreVersionsTest, CountDistinctRecordsPerRequest) {
  TempDir dir;
  auto store = Open(dir.path());
  EXPECT_EQ(VersionsOf(*store, {"a", "b"}), (std::vector<uint64_t>{0, 0}));
  Apply(*store, {Event(1, "a", 1), Event(2, "a", 2), Event(3, "b", 1), Event(1, "a", 1)});
  EXPECT_EQ(VersionsOf(*store, {"a", "b", "c"}), (std::vector<uint64_t>{2, 1, 0}));
  // Duplicates, in a later batch, change nothing; a new record adds one.
  Apply(*store, {Event(2, "a", 2), Event(3, "b", 1)});
  EXPECT_EQ(VersionsOf(*store, {"a", "b"}), (std::vector<uint64_t>{2, 1}));
  Apply(*store, {Event(4, "b", 1)});
  EXPECT_EQ(VersionsOf(*store, {"b", "a"}), (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(VersionsOf(*store, {"a"}, /*memory_only=*/true), (std::vector<uint64_t>{2}));
}

TEST(StoreVersionsTest, ASnapshotKeepsItsVersions) {
  TempDir dir;
  auto store = Open(dir.path());
  Apply(*store, {Event(1, "a", 1)});
  ReadView view = store->Snapshot();
  Apply(*store, {Event(2, "a", 1)});
  std::vector<uint64_t> then;
  const std::vector<std::string> a = {"a"};
  ASSERT_TRUE(store->Versions(VersionRead{&view, false}, a, &then).ok());
  EXPECT_EQ(then, std::vector<uint64_t>{1});
  EXPECT_EQ(VersionsOf(*store, {"a"}), std::vector<uint64_t>{2});
}

// Versions are remembered by the state they were read at (version_memo.h):
// every write, applied or pipelined, must show at once, for one request and
// for several, and a snapshot taken before keeps its own.
TEST(StoreVersionsTest, RememberedVersionsNeverOutliveAWrite) {
  TempDir dir;
  auto store = Open(dir.path());
  Apply(*store, {Event(1, "a", 1), Event(2, "b", 1)});
  ReadView before = store->Snapshot();
  for (int i = 0; i < 3; ++i) {  // read again and again: the memo answers the later reads
    EXPECT_EQ(VersionsOf(*store, {"a"}), std::vector<uint64_t>{1});
    EXPECT_EQ(VersionsOf(*store, {"a", "b"}, /*memory_only=*/true), (std::vector<uint64_t>{1, 1}));
  }
  Apply(*store, {Event(3, "a", 2)});
  EXPECT_EQ(VersionsOf(*store, {"a"}), std::vector<uint64_t>{2});
  EXPECT_EQ(VersionsOf(*store, {"a", "b"}, /*memory_only=*/true), (std::vector<uint64_t>{2, 1}));
  // A snapshot's read does not stand for the latest state, nor the reverse.
  ReadView after = store->Snapshot();
  const std::vector<std::string> a = {"a"};
  std::vector<uint64_t> then;
  ASSERT_TRUE(store->Versions(VersionRead{&before, false}, a, &then).ok());
  EXPECT_EQ(then, std::vector<uint64_t>{1});
  EXPECT_EQ(VersionsOf(*store, {"a"}), std::vector<uint64_t>{2});
  Apply(*store, {Event(4, "a", 3)});
  ASSERT_TRUE(store->Versions(VersionRead{&after, false}, a, &then).ok());
  EXPECT_EQ(then, std::vector<uint64_t>{2});
  EXPECT_EQ(VersionsOf(*store, {"a"}), std::vector<uint64_t>{3});
  // A request unknown until now, remembered as unknown, then written.
  EXPECT_EQ(VersionsOf(*store, {"c", "a"}), (std::vector<uint64_t>{0, 3}));
  Batch batch;
  batch.events.NewAction() = Event(5, "c", 1);
  ASSERT_TRUE(store->Submit(&batch));
  ASSERT_TRUE(store->Flush());
  EXPECT_EQ(VersionsOf(*store, {"c", "a"}), (std::vector<uint64_t>{1, 3}));
  // A write that is no batch (the instance id) leaves every version as it is.
  ASSERT_TRUE(store->InstanceId());
  EXPECT_EQ(VersionsOf(*store, {"a", "b", "c"}), (std::vector<uint64_t>{3, 1, 1}));
}

// Readers polling while batches are applied: a version never goes back, and
// once Apply has returned every reader sees its records.
TEST(StoreVersionsTest, PollersNeverSeeAVersionGoBackOrLag) {
  TempDir dir;
  auto store = Open(dir.path());
  constexpr uint64_t kBatches = 200;
  std::atomic<uint64_t> applied{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pollers;
  for (int t = 0; t < 2; ++t) {
    pollers.emplace_back([&, t] {
      const std::vector<std::string> requests = t == 0 ? std::vector<std::string>{"a"}
                                                       : std::vector<std::string>{"a", "b"};
      uint64_t last = 0;
      std::vector<uint64_t> out;
      while (!failed.load()) {
        const uint64_t floor = applied.load();
        if (!store->Versions(VersionRead{}, requests, &out).ok() || out[0] < floor || out[0] < last) {
          failed.store(true);
          ADD_FAILURE() << "version of a: " << out[0] << " after " << floor << " applied (last seen " << last << ")";
        }
        last = out[0];
        if (floor == kBatches) break;
      }
    });
  }
  for (uint64_t i = 1; i <= kBatches && !failed.load(); ++i) {
    Apply(*store, {Event(i, "a", i)});
    applied.store(i);
  }
  if (failed.load()) applied.store(kBatches);
  for (auto& t : pollers) t.join();
}

MetaRead Known(uint64_t records) {
  MetaRead read;
  read.found = true;
  read.meta.records = records;
  return read;
}

std::optional<uint64_t> VersionIn(const RequestMemo& memo, uint64_t sequence, std::string_view request) {
  const std::optional<MetaRead> read = memo.FindMeta(sequence, request);
  return read ? std::optional<uint64_t>(read->version()) : std::nullopt;
}

TEST(RequestMemoTest, AnswersOnlyForTheStateItWasToldOf) {
  RequestMemo memo;
  EXPECT_FALSE(memo.FindMeta(0, "a"));
  memo.PutMeta(7, "a", Known(3));
  EXPECT_EQ(VersionIn(memo, 7, "a"), std::optional<uint64_t>(3));
  EXPECT_FALSE(memo.FindMeta(8, "a"));  // another state: read again
  EXPECT_FALSE(memo.FindMeta(6, "a"));
  EXPECT_FALSE(memo.FindMeta(7, "b"));
  memo.PutMeta(7, "b", MetaRead{});  // an unknown request is remembered as such
  EXPECT_EQ(VersionIn(memo, 7, "b"), std::optional<uint64_t>(0));
  memo.PutMeta(9, "a", Known(4));
  memo.PutMeta(8, "a", Known(3));  // an older state's read keeps the newer one
  EXPECT_EQ(VersionIn(memo, 9, "a"), std::optional<uint64_t>(4));
  EXPECT_FALSE(memo.FindMeta(8, "a"));
  // Bounded: however many requests, a fixed number of slots; the latest put is found.
  for (int i = 0; i < 5000; ++i) memo.PutMeta(10, "r" + std::to_string(i), Known(i));
  EXPECT_EQ(VersionIn(memo, 10, "r4999"), std::optional<uint64_t>(4999));
}

TEST(RequestMemoTest, KeepsSmallRankIndexesForTheirStateOnly) {
  RequestMemo memo;
  auto small = std::make_shared<RankIndex>();
  std::vector<Id> ids;
  for (uint64_t i = 1; i <= 1000; ++i) ids.push_back(Id(i));
  small->Add(ids);
  memo.PutRanks(5, "k", small);
  EXPECT_EQ(memo.FindRanks(5, "k"), small);
  EXPECT_EQ(memo.FindRanks(6, "k"), nullptr);
  EXPECT_EQ(memo.FindRanks(5, "other"), nullptr);
  // An index of more segments than kMaxRankSegments is read each time, not kept.
  auto large = std::make_shared<RankIndex>();
  ids.clear();
  for (uint64_t i = 1; i <= (RequestMemo::kMaxRankSegments + 1) * RankIndex::kSplitInto; ++i) ids.push_back(Id(i));
  ASSERT_EQ(large->Add(ids), std::vector<size_t>{0});  // one segment: split it as the applier would
  large->Split(0, ids);
  ASSERT_GT(large->segments().size(), RequestMemo::kMaxRankSegments);
  memo.PutRanks(7, "big", large);
  EXPECT_EQ(memo.FindRanks(7, "big"), nullptr);
}

// Pages read through the request memo: each snapshot sees its own state, a
// write is seen by the next snapshot at once, and an older snapshot, read after
// newer ones filled the memo, still sees what it saw.
TEST(RequestMemoTest, QueriesSeeEachSnapshotsOwnStateAcrossWrites) {
  TempDir dir;
  auto store = Open(dir.path());
  auto task_ids = [&](const ReadView& view) {
    std::vector<uint64_t> ids;
    auto page = store->Tasks(view, "a", Page{1, 100});
    EXPECT_TRUE(page && *page);
    if (!page || !*page) return ids;
    auto views = (*page)->DecodeAll();
    EXPECT_TRUE(views);
    if (!views) return ids;
    for (const TaskView& t : *views) ids.push_back(static_cast<uint64_t>(t.task_id.value()));
    return ids;
  };
  Apply(*store, {Event(1, "a", 1), Event(2, "a", 2)});
  const ReadView before = store->Snapshot();
  EXPECT_EQ(task_ids(before), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(task_ids(before), (std::vector<uint64_t>{1, 2}));  // from the memo
  Apply(*store, {Event(3, "a", 3), Event(4, "a", 0)});
  const ReadView after = store->Snapshot();
  EXPECT_EQ(task_ids(after), (std::vector<uint64_t>{0, 1, 2, 3}));
  std::vector<uint64_t> versions;
  ASSERT_TRUE(store->Versions(VersionRead{&after, false}, std::vector<std::string>{"a"}, &versions).ok());
  EXPECT_EQ(versions, std::vector<uint64_t>{4});
  EXPECT_EQ(task_ids(before), (std::vector<uint64_t>{1, 2}));
  ASSERT_TRUE(store->Versions(VersionRead{&before, false}, std::vector<std::string>{"a"}, &versions).ok());
  EXPECT_EQ(versions, std::vector<uint64_t>{2});
  // A request that appears after a snapshot stays unknown to it.
  Apply(*store, {Event(5, "b", 1)});
  ASSERT_TRUE(store->Versions(VersionRead{&after, false}, std::vector<std::string>{"b"}, &versions).ok());
  EXPECT_EQ(versions, std::vector<uint64_t>{0});
  EXPECT_EQ(VersionsOf(*store, {"b"}), std::vector<uint64_t>{1});
}

TEST(StoreVersionsTest, SurviveARestartAndAgreeAcrossStores) {
  TempDir one, two;
  const std::vector<TaskAction> events = {Event(1, "a", 1), Event(2, "b", 1), Event(3, "a", 2), Event(4, "a", 1)};
  {
    auto store = Open(one.path());
    Apply(*store, events);
  }
  auto reopened = Open(one.path());
  EXPECT_EQ(VersionsOf(*reopened, {"a", "b"}), (std::vector<uint64_t>{3, 1}));
  // Another order, one record per batch, each twice: the same versions.
  auto other = Open(two.path());
  for (auto it = events.rbegin(); it != events.rend(); ++it) Apply(*other, {*it, *it});
  EXPECT_EQ(VersionsOf(*other, {"a", "b"}), VersionsOf(*reopened, {"a", "b"}));
}

TEST(StoreVersionsTest, TheListenerHearsTheRequestsThatGainedRecords) {
  TempDir dir;
  auto store = Open(dir.path());
  std::mutex mutex;
  std::vector<std::set<std::string>> told;
  store->SetChangeListener([&](std::span<const std::string> requests) {
    std::lock_guard lock(mutex);
    told.emplace_back(requests.begin(), requests.end());
  });
  Apply(*store, {Event(1, "a", 1), Event(2, "b", 1)});
  Apply(*store, {Event(1, "a", 1)});  // only a duplicate: nothing changed
  Apply(*store, {Event(1, "a", 1), Event(3, "b", 2)});
  // Pipelined batches tell too, once written.
  Batch batch;
  batch.events.NewAction() = Event(4, "c", 1);
  ASSERT_TRUE(store->Submit(&batch));
  ASSERT_TRUE(store->Flush());
  store->SetChangeListener(nullptr);
  Apply(*store, {Event(5, "a", 1)});
  std::lock_guard lock(mutex);
  EXPECT_EQ(told, (std::vector<std::set<std::string>>{{"a", "b"}, {"b"}, {"c"}}));
}

}  // namespace
}  // namespace tally
