// The summary and labeler views on hand-made cases (the property test covers
// random ones): a late older record leaves a task's bucket alone, a newer one
// moves it; a labeler's second record on a task, in a later batch or after a
// reopen, counts the task once; task views name their labelers by number, and
// a store that named them (format 3) has its views built again at open.

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <functional>

#include "aggregate/codec.h"
#include "aggregate/keys.h"
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

// Opens the RocksDB under a closed store and calls edit(family name, handle) for each family.
void EditRaw(const std::string& path,
             const std::function<void(rocksdb::DB*, std::string_view, rocksdb::ColumnFamilyHandle*)>& edit) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, families, &handles, &raw).ok());
  for (size_t i = 0; i < names.size(); ++i) edit(raw, names[i], handles[i]);
  for (auto* h : handles) raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete raw;
}

TaskAction ByLabeler(uint64_t id, uint64_t task, const std::string& name) {
  TaskAction a = Record(id, task, static_cast<int64_t>(id), TaskStatus::kAtWork, PoolType::kAnnotation);
  a.alice_name = name;
  return a;
}

// A task view is rewritten with every batch that touches its task: its labelers
// are numbers in it (a byte each), so long names cost nothing there.
TEST(StoreSummaryTest, TaskViewsDoNotGrowWithTheirLabelersNames) {
  auto stored_view_size = [](const std::string& prefix) {
    testing::TempDir dir;
    {
      auto store = Open(dir.path());
      EXPECT_TRUE(store);
      if (!store) return size_t{0};
      Apply(*store, {ByLabeler(1, 1, prefix + "1"), ByLabeler(2, 1, prefix + "2"), ByLabeler(3, 1, prefix + "3")});
      auto page = store->Labelers(store->Snapshot(), "r", Page{1, 10});
      EXPECT_TRUE(page && *page && (*page)->total == 3u);
    }
    size_t size = 0;
    EditRaw(dir.path(), [&](rocksdb::DB* raw, std::string_view name, rocksdb::ColumnFamilyHandle* family) {
      if (name != keys::NameOf(keys::Family::kTasks)) return;
      std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), family));
      it->SeekToFirst();
      ASSERT_TRUE(it->Valid());
      size = it->value().size();
      it->Next();
      EXPECT_FALSE(it->Valid());
    });
    return size;
  };
  const size_t short_names = stored_view_size("a");
  const size_t long_names = stored_view_size(std::string(200, 'x'));
  EXPECT_GT(short_names, 0u);
  EXPECT_EQ(long_names, short_names);
}

// Format 3 named a task's labelers in its view, and a labeler's value had no
// number: such a store has its summary views built again from its records at
// open (format 4), after which records of the same labelers on the same tasks
// count each task once.
TEST(StoreSummaryTest, AFormat3StoreHasItsViewsBuiltAgainAtOpen) {
  testing::TempDir dir;
  {
    auto store = Open(dir.path());
    ASSERT_TRUE(store);
    Apply(*store, {ByLabeler(1, 1, "ann"), ByLabeler(2, 1, "bo"), ByLabeler(3, 2, "bo")});
  }
  EditRaw(dir.path(), [&](rocksdb::DB* raw, std::string_view name, rocksdb::ColumnFamilyHandle* family) {
    if (name == keys::NameOf(keys::Family::kMeta)) {
      ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), family, keys::kFormatKey, "3").ok());
    }
    if (name == keys::NameOf(keys::Family::kLabelers) || name == keys::NameOf(keys::Family::kTasks)) {
      std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), family));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        std::string value;
        if (name == keys::NameOf(keys::Family::kLabelers)) {
          // Format 3's value: the stats alone.
          LabelerStats stats;
          uint64_t number = 0;
          ASSERT_TRUE(DecodeLabelerStats(it->value().ToString(), &stats, &number));
          ASSERT_LT(number, 128u);
          EncodeLabelerStats(stats, number, &value);
          value.pop_back();
        } else {
          // A view without labelers reads alike in both formats; those it had are lost.
          TaskView view;
          ASSERT_TRUE(DecodeTaskView(it->value().ToString(), &view));
          EncodeTaskView(view, &value);
        }
        ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), family, it->key(), value).ok());
      }
    }
  });
  auto store = Open(dir.path());
  ASSERT_TRUE(store);
  Apply(*store, {ByLabeler(4, 1, "ann"), ByLabeler(5, 2, "bo"), ByLabeler(6, 2, "cy")});
  auto page = store->Labelers(store->Snapshot(), "r", Page{1, 10});
  ASSERT_TRUE(page && *page) << (page ? "" : page.error().ToString());
  ASSERT_EQ((*page)->total, 3u);
  ASSERT_EQ((*page)->labelers.size(), 3u);
  const std::vector<std::tuple<std::string, uint64_t, uint64_t>> expected = {
      {"ann", 2, 1}, {"bo", 3, 2}, {"cy", 1, 1}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, stats] = (*page)->labelers[i];
    EXPECT_EQ(name, std::get<0>(expected[i]));
    EXPECT_EQ(stats.records, std::get<1>(expected[i])) << name;
    EXPECT_EQ(stats.tasks, std::get<2>(expected[i])) << name;
  }
  EXPECT_EQ(SummaryOf(*store).labelers, 3u);
}

}  // namespace
}  // namespace tally
