// The summary and labeler views on hand-made cases (the property test covers
// random ones): a late older record leaves a task's bucket alone, a newer one
// moves it; a labeler's second record on a task, in a later batch or after a
// reopen, counts the task once.

#include <gtest/gtest.h>

#include "aggregate/store.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

TaskAction Record(uint64_t id, uint64_t task, int64_t second, TaskStatus status, PoolType pool) {
  TaskAction a;
  a.id = Id(id);
  a.annotation_request_id = "r";
  a.campaign_id = "c";
  a.task_id = Id(task);
  a.created_time = Timestamp{1'743'494'400'000 + second * 1000};
  a.status = status;
  a.pool_type = pool;
  return a;
}

std::unique_ptr<Store> Open(const std::string& path) {
  auto store = Store::Open(StoreOptions{path, size_t{16} << 20, false, {}});
  EXPECT_TRUE(store) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

void Apply(Store& store, std::vector<TaskAction> records) {
  auto r = store.Apply(ApplyBatch{records, {}, {}, {}});
  ASSERT_TRUE(r) << r.error().ToString();
}

RequestSummary SummaryOf(const Store& store) {
  auto s = store.Summary(store.Snapshot(), "r");
  EXPECT_TRUE(s && *s);
  return s && *s ? (*s)->summary : RequestSummary{};
}

TEST(StoreSummaryTest, OnlyATasksLatestRecordDecidesItsBucket) {
  testing::TempDir dir;
  auto store = Open(dir.path());
  ASSERT_TRUE(store);
  Apply(*store, {Record(2, 1, 20, TaskStatus::kAccomplish, PoolType::kComplete)});
  Apply(*store, {Record(1, 1, 10, TaskStatus::kWaitingForAllocation, PoolType::kAnnotation)});  // older, late
  RequestSummary s = SummaryOf(*store);
  EXPECT_EQ(s.tasks_by_status.entries(), (std::vector<CountMap::Entry>{{9, 1}}));
  EXPECT_EQ(s.tasks_by_helix_status.entries(), (std::vector<CountMap::Entry>{{11, 1}}));
  EXPECT_EQ(s.times.first, Timestamp{1'743'494'400'000 + 10'000});
  Apply(*store, {Record(3, 1, 30, TaskStatus::kAtWork, PoolType::kCheck)});  // newer: moves it
  s = SummaryOf(*store);
  EXPECT_EQ(s.tasks_by_status.entries(), (std::vector<CountMap::Entry>{{3, 1}}));
  EXPECT_EQ(s.tasks_by_helix_status.entries(), (std::vector<CountMap::Entry>{{6, 1}}));
  EXPECT_EQ(s.records_by_action_type.entries(), (std::vector<CountMap::Entry>{{0, 3}}));
}

TEST(StoreSummaryTest, ALabelersTaskCountsOnceAcrossBatchesAndReopening) {
  testing::TempDir dir;
  auto named = [](uint64_t id, uint64_t task, const char* name) {
    TaskAction a = Record(id, task, static_cast<int64_t>(id), TaskStatus::kAtWork, PoolType::kAnnotation);
    a.alice_name = name;
    a.modify_instance_num = 2;
    return a;
  };
  {
    auto store = Open(dir.path());
    ASSERT_TRUE(store);
    Apply(*store, {named(1, 1, "ann"), named(2, 1, "ann"), named(3, 2, "bo")});
    Apply(*store, {named(4, 1, "ann"), named(5, 1, "bo")});
  }
  auto store = Open(dir.path());  // nothing cached: the markers decide
  ASSERT_TRUE(store);
  Apply(*store, {named(6, 1, "ann"), named(7, 2, "ann"), named(7, 2, "ann")});
  auto page = store->Labelers(store->Snapshot(), "r", Page{1, 10});
  ASSERT_TRUE(page && *page);
  ASSERT_EQ((*page)->total, 2u);
  ASSERT_EQ((*page)->labelers.size(), 2u);
  const auto& [ann, ann_stats] = (*page)->labelers[0];
  EXPECT_EQ(ann, "ann");
  EXPECT_EQ(ann_stats.records, 5u);
  EXPECT_EQ(ann_stats.tasks, 2u);
  EXPECT_EQ(ann_stats.modify_instance_num, 10u);
  const auto& [bo, bo_stats] = (*page)->labelers[1];
  EXPECT_EQ(bo, "bo");
  EXPECT_EQ(bo_stats.records, 2u);
  EXPECT_EQ(bo_stats.tasks, 2u);
  EXPECT_EQ(SummaryOf(*store).labelers, 2u);
}

}  // namespace
}  // namespace tally
