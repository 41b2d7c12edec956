#include "aggregate/store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

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
  EXPECT_EQ(store.error().code(), Status::Code::kIOError);
  EXPECT_NE(store.error().message().find(dir / "file"), std::string::npos);
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

TEST(StoreTest, KeepsOffsetsAndTotalsAcrossReopening) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_TRUE(Apply(*store, {Event(1, "r1", 10, 0), Event(2, "r2", 10, 0)}, {}, {{0, 5}, {3, 9}}));
    ASSERT_TRUE(Apply(*store, {Event(3, "r1", 11, 0)}, {}, {{0, 7}}));
    EXPECT_EQ(store->totals().records, 3u);
  }
  auto store = OpenOrDie(dir.path());
  auto offsets = store->Offsets("task-actions");
  ASSERT_TRUE(offsets);
  EXPECT_EQ(*offsets, (std::vector<PartitionOffset>{{0, 7}, {3, 9}}));
  EXPECT_TRUE(store->Offsets("other-topic")->empty());
  EXPECT_EQ(store->totals().records, 3u);
  EXPECT_EQ(store->totals().tasks, 3u);
  EXPECT_EQ(store->totals().requests, 2u);
  // The request counter survived too: a new request gets a new number.
  ASSERT_TRUE(Apply(*store, {Event(4, "r3", 1, 0)}));
  auto page = store->Tasks(store->Snapshot(), "r3", Page{1, 10});
  ASSERT_TRUE(page && *page);
  EXPECT_EQ((*page)->tasks.size(), 1u);
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
  ASSERT_EQ(page->records.size(), 1u);
  EXPECT_EQ(page->records[0], a);
  EXPECT_TRUE(store->Tasks(store->Snapshot(), "other", Page{1, 1}).value() == std::nullopt);
}

TEST(StoreTest, StoresRejectionsWithOriginAndExcerpt) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  const Rejection whole{Origin{2, 40}, std::nullopt, RejectReason::kInvalidJson, "message", "message: bad", "{x"};
  const Rejection element{Origin{-1, 7}, 3, RejectReason::kWrongType, "taskId", "taskId: bad", "{}"};
  auto r = Apply(*store, {}, {whole, element});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rejected, 2u);
  auto stored = store->Rejections(store->Snapshot(), 10);
  ASSERT_TRUE(stored);
  EXPECT_EQ(*stored, (std::vector<Rejection>{element, whole}));  // partition -1 sorts first
  EXPECT_EQ(store->totals().records, 0u);
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

TEST(StoreTest, PagesPastTheEndAreEmptyWithoutOverflow) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(Apply(*store, {Event(1, "r", 1, 0), Event(2, "r", 2, 0)}));
  const ReadView view = store->Snapshot();
  auto page = store->Tasks(view, "r", Page{UINT64_MAX, 1000});
  ASSERT_TRUE(page && *page);
  EXPECT_EQ((*page)->total, 2u);
  EXPECT_TRUE((*page)->tasks.empty());
  auto records = store->Records(view, std::vector<std::string>{"r"}, Page{3, 1});
  ASSERT_TRUE(records);
  EXPECT_EQ(records->total, 2u);
  EXPECT_TRUE(records->records.empty());
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
  EXPECT_EQ(old->records.size(), 1u);
  EXPECT_EQ(store->Records(store->Snapshot(), std::vector<std::string>{"r"}, Page{1, 10})->total, 3u);
}

}  // namespace
}  // namespace tally
