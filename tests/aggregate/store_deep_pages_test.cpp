// Deep pages: requests with hundreds of thousands of records, delivered in random
// order and batches, answer pages at the start, middle and end exactly as the
// sorted reference does, alone and merged with other requests.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "aggregate/store.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

TaskAction Record(Id id, const std::string& request, uint64_t task) {
  TaskAction a;
  a.id = id;
  a.annotation_request_id = request;
  a.campaign_id = "c";
  a.task_id = Id(task);
  a.created_time = Timestamp{static_cast<int64_t>(static_cast<uint64_t>(id.value() % 1'000'000'000))};
  return a;
}

class DeepPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(StoreOptions{dir_.path(), size_t{64} << 20, false, {}});
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
  }

  // Applies the records in a random order, in random batches.
  void Load(std::vector<TaskAction> records) {
    std::shuffle(records.begin(), records.end(), rng_);
    for (size_t from = 0; from < records.size();) {
      const size_t n = std::min<size_t>(records.size() - from, 1000 + rng_() % 9000);
      auto r = store_->Apply(ApplyBatch{std::span(records).subspan(from, n), {}, {}, {}});
      ASSERT_TRUE(r) << r.error().ToString();
      from += n;
    }
  }

  void ExpectPage(const std::vector<std::string>& requests, const std::vector<Id>& sorted, uint64_t page,
                  uint32_t size) {
    auto got = store_->Records(store_->Snapshot(), requests, Page{page, size});
    ASSERT_TRUE(got) << got.error().ToString();
    ASSERT_EQ(got->total, sorted.size());
    const size_t from = std::min<size_t>((page - 1) * size, sorted.size());
    const size_t to = std::min<size_t>(from + size, sorted.size());
    ASSERT_EQ(got->read.size(), to - from) << "page " << page << " of " << size;
    for (size_t i = from; i < to; ++i) {
      ASSERT_EQ(got->read[i - from].ref.id, sorted[i]) << "page " << page << " of " << size << ", item " << i;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::mt19937_64 rng_{77};
};

TEST_F(DeepPagesTest, OneRequestWith200000RecordsAtStartMiddleAndEnd) {
  std::set<Id> ids;
  while (ids.size() < 200'000) {
    ids.insert(rng_() % 4 == 0 ? Id::FromRep((Id::Rep{1} << 90) + rng_() % 1'000'000) : Id(rng_()));
  }
  std::vector<TaskAction> records;
  for (Id id : ids) records.push_back(Record(id, "big", records.size() % 50));
  Load(records);
  const std::vector<Id> sorted(ids.begin(), ids.end());
  for (uint64_t page : {1, 2, 100, 101, 199, 200, 201}) ExpectPage({"big"}, sorted, page, 1000);
  for (uint64_t page : {1, 10'000, 19'999, 20'000, 20'001}) ExpectPage({"big"}, sorted, page, 10);
  for (int k = 0; k < 50; ++k) ExpectPage({"big"}, sorted, 1 + rng_() % 28'600, 7);
  // Whole records come back, not just their ids.
  auto last = store_->Records(store_->Snapshot(), std::vector<std::string>{"big"}, Page{200'000, 1});
  ASSERT_TRUE(last);
  ASSERT_EQ(last->read.size(), 1u);
  const auto expected = std::find_if(records.begin(), records.end(),
                                     [&](const TaskAction& r) { return r.id == sorted.back(); });
  TaskAction got;
  ASSERT_TRUE(last->Decode(0, std::vector<std::string>{"big"}, &got).ok());
  EXPECT_EQ(got, *expected);
}

TEST_F(DeepPagesTest, MergedRequestsWithInterleavedIds) {
  // Three requests whose ids interleave (as concurrent requests' ids do), with
  // very different sizes.
  std::vector<TaskAction> records;
  std::vector<Id> all;
  const std::vector<std::pair<std::string, size_t>> sizes = {{"a", 60'000}, {"b", 25'000}, {"c", 700}};
  std::set<Id> used;
  for (const auto& [request, n] : sizes) {
    for (size_t i = 0; i < n; ++i) {
      Id id;
      do id = Id(rng_() % 10'000'000); while (!used.insert(id).second);
      records.push_back(Record(id, request, i % 20));
      all.push_back(id);
    }
  }
  Load(records);
  std::sort(all.begin(), all.end());
  const std::vector<std::string> requests = {"a", "b", "c"};
  const uint64_t last = all.size() / 1000 + 1;
  for (uint64_t page : {uint64_t{1}, uint64_t{2}, last / 2, last - 1, last, last + 1}) {
    ExpectPage(requests, all, page, 1000);
  }
  for (int k = 0; k < 40; ++k) ExpectPage(requests, all, 1 + rng_() % (all.size() / 13 + 1), 13);
  // Two of them, in the other order.
  std::vector<Id> bc;
  for (const TaskAction& r : records) {
    if (r.annotation_request_id != "a") bc.push_back(r.id);
  }
  std::sort(bc.begin(), bc.end());
  for (uint64_t page : {1, 100, 257, 258}) ExpectPage({"c", "b"}, bc, page, 100);
}

TEST_F(DeepPagesTest, TasksOfARequestWithThousandsOfTasks) {
  std::vector<TaskAction> records;
  std::set<Id> tasks;
  for (uint64_t i = 0; i < 30'000; ++i) {
    const uint64_t task = rng_() % 5'000'000;
    tasks.insert(Id(task));
    records.push_back(Record(Id(i + 1), "many", task));
  }
  Load(records);
  const std::vector<Id> sorted(tasks.begin(), tasks.end());
  for (uint64_t page : {uint64_t{1}, uint64_t{13}, sorted.size() / 1000, sorted.size() / 1000 + 1}) {
    auto got = store_->Tasks(store_->Snapshot(), "many", Page{page, 1000});
    ASSERT_TRUE(got && *got);
    ASSERT_EQ((*got)->total, sorted.size());
    const size_t from = std::min<size_t>((page - 1) * 1000, sorted.size());
    const size_t to = std::min<size_t>(from + 1000, sorted.size());
    auto views = (*got)->DecodeAll();
    ASSERT_TRUE(views);
    ASSERT_EQ(views->size(), to - from);
    for (size_t i = from; i < to; ++i) ASSERT_EQ((*views)[i - from].task_id, sorted[i]);
  }
}

// Pages skip in memory over the ids of the rank index's segments, which the
// store keeps between queries (SegmentCache). Segments grow and split as records
// come: a page read after that sees the new ids, and a snapshot taken before
// still sees its own.
TEST_F(DeepPagesTest, SkippedSegmentIdsFollowNewRecordsAndOldSnapshots) {
  const std::vector<std::string> requests = {"x", "y", "z"};
  std::set<Id> used;
  std::vector<TaskAction> all;
  auto add = [&](size_t n) {
    std::vector<TaskAction> batch;
    for (size_t i = 0; i < n; ++i) {
      Id id;
      do id = Id(rng_() % 1'000'000); while (!used.insert(id).second);
      // Staggered and interleaved: each request's ids lean to its own range.
      const size_t r = (id.value() / 300'000 + rng_() % 2) % requests.size();
      batch.push_back(Record(id, requests[r], i % 40));
    }
    all.insert(all.end(), batch.begin(), batch.end());
    Load(batch);
  };
  auto sorted_of = [&](const std::vector<std::string>& listed) {
    std::vector<Id> ids;
    for (const TaskAction& r : all) {
      if (std::find(listed.begin(), listed.end(), r.annotation_request_id) != listed.end()) ids.push_back(r.id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  auto expect_all_pages = [&](const std::vector<std::string>& listed, uint32_t size) {
    const std::vector<Id> sorted = sorted_of(listed);
    for (uint64_t page = 1; page <= sorted.size() / size + 1; ++page) ExpectPage(listed, sorted, page, size);
  };
  add(4000);
  expect_all_pages(requests, 100);
  expect_all_pages({"y"}, 37);
  const ReadView before = store_->Snapshot();
  const std::vector<Id> sorted_before = sorted_of(requests);
  add(3000);  // into every segment: they grow and split
  expect_all_pages(requests, 100);
  expect_all_pages({"z", "x"}, 51);
  expect_all_pages({"y"}, 37);
  // The snapshot taken before the new records answers as it did.
  for (uint64_t page : {1, 5, 17, 33, 40, 41}) {
    auto got = store_->Records(before, requests, Page{page, 100});
    ASSERT_TRUE(got) << got.error().ToString();
    ASSERT_EQ(got->total, sorted_before.size());
    const size_t from = std::min<size_t>((page - 1) * 100, sorted_before.size());
    const size_t to = std::min<size_t>(from + 100, sorted_before.size());
    ASSERT_EQ(got->read.size(), to - from) << "page " << page;
    for (size_t i = from; i < to; ++i) ASSERT_EQ(got->read[i - from].ref.id, sorted_before[i]) << "page " << page;
  }
}

// The same for the pages of tasks (/statistics), whose rank index segments are
// skipped over the same way.
TEST_F(DeepPagesTest, SkippedTaskSegmentsFollowNewTasks) {
  std::set<Id> tasks;
  uint64_t next_record = 1;
  auto add = [&](size_t n) {
    std::vector<TaskAction> batch;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t task = rng_() % 1'000'000;
      tasks.insert(Id(task));
      batch.push_back(Record(Id(next_record++), "t", task));
    }
    Load(batch);
  };
  auto expect_all_pages = [&](uint32_t size) {
    const std::vector<Id> sorted(tasks.begin(), tasks.end());
    for (uint64_t page = 1; page <= sorted.size() / size + 1; ++page) {
      auto got = store_->Tasks(store_->Snapshot(), "t", Page{page, size});
      ASSERT_TRUE(got && *got);
      ASSERT_EQ((*got)->total, sorted.size());
      const size_t from = std::min<size_t>((page - 1) * size, sorted.size());
      const size_t to = std::min<size_t>(from + size, sorted.size());
      auto views = (*got)->DecodeAll();
      ASSERT_TRUE(views);
      ASSERT_EQ(views->size(), to - from) << "page " << page;
      for (size_t i = from; i < to; ++i) ASSERT_EQ((*views)[i - from].task_id, sorted[i]) << "page " << page;
    }
  };
  add(3000);
  expect_all_pages(29);
  add(2000);
  expect_all_pages(29);
}

}  // namespace
}  // namespace tally
