// Tasks with huge instance maps (issue 9, item 9): the counts of a view with many
// distinct keys are kept apart from it, one entry per key, so that an event
// costs in proportion to its own keys; they are read back a piece at a time.

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <map>

#include "aggregate/codec.h"
#include "aggregate/keys.h"
#include "aggregate/store.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

using testing::TempDir;

std::unique_ptr<Store> OpenOrDie(const std::string& path, bool summary_views = true) {
  StoreOptions options{path, size_t{64} << 20, false, {}};
  options.summary_views = summary_views;
  auto store = Store::Open(options);
  EXPECT_TRUE(store) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

// Event `n` of task 7 of request "r", with `keys` instance keys of its own
// ("e<n>-<k>") plus "shared" (so that counts add up across events).
TaskAction ManyKeyEvent(uint64_t n, uint32_t keys) {
  TaskAction a;
  a.id = Id(1000 + n);
  a.annotation_request_id = "r";
  a.campaign_id = "camp";
  a.task_id = Id(7);
  a.created_time = Timestamp{1'743'500'000'000 + static_cast<int64_t>(n) * 1000};
  for (uint32_t k = 0; k < keys; ++k) a.instance_info.Add("e" + std::to_string(n) + "-" + std::to_string(k), k % 7);
  a.instance_info.Add("shared", 2);
  EXPECT_TRUE(a.instance_info.Sort());
  return a;
}

TEST(StoreInstancesTest, BytesWrittenPerEventFollowTheEventsOwnKeysNotTheViews) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  constexpr uint32_t kEvents = 30, kKeys = 10'000;
  std::vector<uint64_t> bytes;
  std::map<std::string, uint64_t> want;
  uint64_t want_num = 0;
  for (uint32_t n = 0; n < kEvents; ++n) {
    const TaskAction a = ManyKeyEvent(n, kKeys);
    for (const auto e : a.instance_info) {
      want[std::string(e.key)] += e.count;
      want_num += e.count;
    }
    const std::vector<TaskAction> batch = {a};
    auto r = store->Apply(ApplyBatch{batch, {}, "t", {}});
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_EQ(r->applied, 1u);
    bytes.push_back(r->bytes_written);
  }
  // The 30th event writes about what the 1st did (its record and its own keys),
  // not the 300,000 keys the view has by then.
  EXPECT_LT(bytes.back(), bytes.front() * 3 / 2) << "1st event " << bytes.front() << " bytes, 30th " << bytes.back();

  const ReadView view = store->Snapshot();
  auto page = store->Tasks(view, "r", Page{1, 10});
  ASSERT_TRUE(page && *page);
  ASSERT_EQ((*page)->size(), 1u);
  TaskView task;
  ASSERT_TRUE((*page)->Decode(0, &task).ok());
  EXPECT_TRUE(task.instances_apart);
  EXPECT_TRUE(task.instance_info.empty());  // a page of views stays small
  EXPECT_EQ(task.instance_num, want_num);
  ASSERT_TRUE(store->ReadInstances(view, "r", &task).ok());
  ASSERT_EQ(task.instance_info.size(), want.size());
  ASSERT_EQ(task.instance_info.size(), size_t{kEvents} * kKeys + 1);
  size_t i = 0;
  for (const auto& [key, sum] : want) {
    ASSERT_EQ(task.instance_info[i].key, key) << i;
    ASSERT_EQ(task.instance_info[i].sum, sum) << key;
    ++i;
  }
  EXPECT_EQ(want["shared"], 2u * kEvents);
  auto cursor = store->Instances(view, "r", Id(8));  // another task: nothing
  ASSERT_TRUE(cursor);
  EXPECT_FALSE(cursor->Valid());
  EXPECT_TRUE(cursor->status().ok());
}

TEST(StoreInstancesTest, OrdinaryViewsKeepTheirCountsInside) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  std::vector<TaskAction> batch;
  for (uint64_t n = 0; n < 3; ++n) batch.push_back(ManyKeyEvent(n, kInlineInstanceKeys / 4));
  ASSERT_TRUE(store->Apply(ApplyBatch{batch, {}, "t", {}}));
  auto page = store->Tasks(store->Snapshot(), "r", Page{1, 10});
  ASSERT_TRUE(page && *page);
  ASSERT_EQ((*page)->size(), 1u);
  TaskView task;
  ASSERT_TRUE((*page)->Decode(0, &task).ok());
  EXPECT_FALSE(task.instances_apart);
  EXPECT_EQ(task.instance_info.size(), 3 * (kInlineInstanceKeys / 4) + 1);
}

TEST(StoreInstancesTest, RecordPagesPastTheByteBudgetComeAsReferences) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  std::vector<TaskAction> batch;
  for (uint64_t n = 0; n < 20; ++n) batch.push_back(ManyKeyEvent(n, 500));
  ASSERT_TRUE(store->Apply(ApplyBatch{batch, {}, "t", {}}));
  const ReadView view = store->Snapshot();
  const std::vector<std::string> requests = {"r"};
  auto whole = store->Records(view, requests, Page{1, 1000});
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->read.size(), 20u);
  EXPECT_TRUE(whole->later.empty());
  std::vector<TaskAction> expected(20);
  for (size_t i = 0; i < 20; ++i) ASSERT_TRUE(whole->Decode(i, requests, &expected[i]).ok());
  auto budget = store->Records(view, requests, Page{1, 1000}, 20'000);  // a few records' worth
  ASSERT_TRUE(budget);
  EXPECT_EQ(budget->total, 20u);
  ASSERT_GT(budget->later.size(), 0u);
  ASSERT_LT(budget->read.size(), 10u);
  ASSERT_LE(budget->stored.size(), 20'000u);
  ASSERT_EQ(budget->read.size() + budget->later.size(), 20u);
  TaskAction got;
  for (size_t i = 0; i < budget->read.size(); ++i) {
    ASSERT_TRUE(budget->Decode(i, requests, &got).ok());
    EXPECT_EQ(got, expected[i]);
  }
  for (size_t i = 0; i < budget->later.size(); ++i) {
    auto record = store->Record(view, requests, budget->later[i]);
    ASSERT_TRUE(record) << record.error().ToString();
    EXPECT_EQ(*record, expected[budget->read.size() + i]);
  }
}

// A format 1 store (counts always inside the views, no instances family) opens
// as format 2: views with many keys have their counts moved apart, the others
// are read as they are, and move apart when records make them outgrow the limit.
TEST(StoreInstancesTest, MigratesAFormat1StoreInPlace) {
  TempDir dir;
  {
    // Without the summary views, whose merges the raw open below could not replay.
    auto store = OpenOrDie(dir.path(), /*summary_views=*/false);
    const std::vector<TaskAction> batch = {ManyKeyEvent(0, 10)};
    ASSERT_TRUE(store->Apply(ApplyBatch{batch, {}, "t", {}}));
  }
  {  // Make it what format 1 wrote.
    rocksdb::DB* raw;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
    for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), families, &handles, &raw).ok());
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == keys::NameOf(keys::Family::kMeta)) {
        ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[i], "format", "1").ok());
      }
      if (names[i] == keys::NameOf(keys::Family::kTasks)) {
        // Format 1 kept any number of counts inside the view: give it 300 more.
        std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), handles[i]));
        it->SeekToFirst();
        ASSERT_TRUE(it->Valid());
        const std::string key = it->key().ToString();
        TaskView view;
        ASSERT_TRUE(DecodeTaskView(it->value().ToString(), &view));
        it.reset();
        for (int k = 0; k < 300; ++k) view.instance_info.push_back({"old-" + std::to_string(1000 + k), 1});
        std::sort(view.instance_info.begin(), view.instance_info.end(),
                  [](const InstanceSum& a, const InstanceSum& b) { return a.key < b.key; });
        view.instance_num += 300;
        std::string value;
        EncodeTaskView(view, &value);
        ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), handles[i], key, value).ok());
      }
      // Format 1 had neither the instances family nor the summary views' (format 3).
      for (keys::Family family : {keys::Family::kInstances, keys::Family::kSummaries, keys::Family::kSummaryInstances,
                                  keys::Family::kLabelers, keys::Family::kLabelerTasks}) {
        if (names[i] == keys::NameOf(family)) {
          ASSERT_TRUE(raw->DropColumnFamily(handles[i]).ok());
        }
      }
    }
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    delete raw;
  }
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(store);
  {  // The large view's counts were moved apart at open.
    const ReadView view = store->Snapshot();
    auto page = store->Tasks(view, "r", Page{1, 10});
    ASSERT_TRUE(page && *page);
    ASSERT_EQ((*page)->size(), 1u);
    TaskView task;
    ASSERT_TRUE((*page)->Decode(0, &task).ok());
    EXPECT_TRUE(task.instances_apart);
    EXPECT_TRUE(task.instance_info.empty());
    ASSERT_TRUE(store->ReadInstances(view, "r", &task).ok());
    EXPECT_EQ(task.instance_info.size(), 311u);
    EXPECT_EQ(task.instance_info.front(), (InstanceSum{"e0-0", 0}));
    EXPECT_EQ(task.instance_info.back(), (InstanceSum{"shared", 2}));
  }
  const std::vector<TaskAction> batch = {ManyKeyEvent(1, 2 * kInlineInstanceKeys)};
  ASSERT_TRUE(store->Apply(ApplyBatch{batch, {}, "t", {}}));
  {
    const ReadView view = store->Snapshot();
    auto page = store->Tasks(view, "r", Page{1, 10});
    ASSERT_TRUE(page && *page);
    ASSERT_EQ((*page)->size(), 1u);
    TaskView task;
    ASSERT_TRUE((*page)->Decode(0, &task).ok());
    EXPECT_TRUE(task.instances_apart);
    ASSERT_TRUE(store->ReadInstances(view, "r", &task).ok());
    EXPECT_EQ(task.instance_info.size(), 311u + 2 * kInlineInstanceKeys);
    EXPECT_EQ(task.instance_info.back(), (InstanceSum{"shared", 4}));
  }
  store.reset();
  // Reopened, it is a format 4 store, its summary built from the records.
  auto reopened = OpenOrDie(dir.path());
  ASSERT_TRUE(reopened);
  const ReadView view = reopened->Snapshot();
  auto summary = reopened->Summary(view, "r");
  ASSERT_TRUE(summary && *summary);
  EXPECT_EQ((*summary)->records, 2u);
  EXPECT_EQ((*summary)->summary.records_by_action_type.entries().size(), 1u);
}

}  // namespace
}  // namespace tally
