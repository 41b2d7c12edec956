// Order independence, as a property: for random event sets (duplicates,
// conflicts, equal createdTimes, ids past 64 bits, shared scenes), delivered in a
// random permutation with random repeats and split into random batches, every
// answer of the store equals the reference model's.

#include <gtest/gtest.h>

#include <random>

#include "aggregate/keys.h"
#include "aggregate/store.h"
#include "tests/aggregate/model_check.h"
#include "tests/aggregate/reference_model.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

// A random event set of one case.
std::vector<TaskAction> RandomEvents(std::mt19937_64& rng, size_t n) {
  auto pick = [&](uint64_t k) { return rng() % k; };
  const uint64_t requests = 1 + pick(4), tasks = 1 + pick(6), times = 1 + pick(5);
  const std::vector<std::string> labels = {"car", "person", "lane", "select-[e000f]"};
  std::vector<TaskAction> events;
  for (size_t i = 0; i < n; ++i) {
    TaskAction a;
    // Ids: small, near 2^64, and past 64 bits (38 digits at most).
    switch (pick(3)) {
      case 0: a.id = Id(1 + pick(1000)); break;
      case 1: a.id = Id(UINT64_MAX - pick(1000)); break;
      default: a.id = Id::FromRep((Id::Rep{1} << 100) + pick(1000)); break;
    }
    a.annotation_request_id = "req-" + std::to_string(pick(requests));
    a.campaign_id = "camp-" + std::to_string(pick(2));
    a.task_id = pick(2) ? Id(pick(tasks)) : Id::FromRep((Id::Rep{1} << 70) + pick(tasks));
    if (pick(4)) a.scene_id = "scene-" + std::to_string(pick(tasks + 1));  // scenes may move between tasks
    if (pick(2)) a.project_id = Id(100 + pick(3));
    if (pick(2)) a.pool_id = Id(200 + pick(3));
    if (pick(2)) a.pool_name = pick(2) ? "pool-" + std::to_string(pick(3)) : "";
    if (pick(2)) a.folder_id = Id(pick(5));
    // Labelers: some records without one (absent or empty), names that sort
    // bytewise apart from their numbers.
    switch (pick(6)) {
      case 0: break;
      case 1: a.alice_name = pick(4) ? "" : "\xff\xfe"; break;
      default: a.alice_name = (pick(2) ? "alice-" : "Bob-") + std::to_string(pick(12)); break;
    }
    a.pool_type = static_cast<PoolType>(pick(8));
    a.status = static_cast<TaskStatus>(1 + pick(10));
    a.action_type = static_cast<ActionType>(pick(18));
    a.created_time = Timestamp{1'743'500'000'000 + static_cast<int64_t>(pick(times)) * 1000};  // many ties
    for (const auto& label : labels) {
      if (pick(3) == 0) a.instance_info.Add(label, static_cast<uint32_t>(pick(50)));
    }
    if (pick(8) == 0) {
      // Many keys, partly shared with other events of the task, so views cross
      // kInlineInstanceKeys (and move their counts apart) at random points.
      const uint64_t first = pick(40), n = 1 + pick(2 * kInlineInstanceKeys);
      for (uint64_t k = first; k < first + n; ++k) {
        a.instance_info.Add("k" + std::to_string(k), static_cast<uint32_t>(pick(5)));
      }
    }
    a.instance_info.Sort();
    if (pick(2)) a.modify_instance_num = static_cast<uint32_t>(pick(100));
    if (pick(2)) a.instance_sum = static_cast<uint32_t>(pick(1000));
    if (pick(2)) a.modify_attributes_num = static_cast<uint32_t>(pick(100));
    events.push_back(std::move(a));
  }
  return events;
}

// Delivers `delivery` in random batches, with Apply or (pipelined) Submit, and
// returns the summed results.
ApplyResult Deliver(Store& store, const std::vector<TaskAction>& delivery, std::mt19937_64& rng,
                    bool pipelined, size_t max_batch) {
  ApplyResult sum;
  auto add = [&](const ApplyResult& r) {
    sum.applied += r.applied;
    sum.duplicates += r.duplicates;
    sum.conflicts += r.conflicts;
  };
  for (size_t from = 0; from < delivery.size();) {
    const size_t n = std::min<size_t>(delivery.size() - from, 1 + rng() % max_batch);
    const ApplyBatch batch{std::span(delivery).subspan(from, n), {}, {}, {}};
    if (pipelined) {
      Batch owned;  // Submit takes it
      for (const TaskAction& a : batch.actions) owned.events.NewAction() = a;
      auto r = store.Submit(&owned);
      EXPECT_EQ(owned.events.size(), 0u) << "Submit takes the batch's events";
      EXPECT_TRUE(r) << r.error().ToString();
      if (r && *r) add(**r);
    } else {
      auto r = store.Apply(batch);
      EXPECT_TRUE(r) << r.error().ToString();
      if (r) add(*r);
    }
    from += n;
  }
  if (pipelined) {
    auto r = store.Flush();
    EXPECT_TRUE(r);
    if (r && *r) add(**r);
  }
  return sum;
}

// Exact repeats, and conflicts (an id again with other content), shuffled in.
std::vector<TaskAction> WithRepeats(const std::vector<TaskAction>& events, std::mt19937_64& rng, size_t repeats,
                                    size_t conflicts) {
  std::vector<TaskAction> delivery = events;
  for (size_t k = repeats; k > 0; --k) delivery.push_back(events[rng() % events.size()]);
  for (size_t k = conflicts; k > 0; --k) {
    TaskAction conflict = events[rng() % events.size()];
    conflict.status = static_cast<TaskStatus>(static_cast<int>(conflict.status) % 10 + 1);
    delivery.push_back(conflict);
  }
  std::shuffle(delivery.begin(), delivery.end(), rng);
  return delivery;
}

void CheckCase(const std::vector<TaskAction>& delivery, std::mt19937_64& rng, bool pipelined, size_t max_batch,
               const std::vector<uint32_t>& page_sizes) {
  testing::ReferenceModel model;
  for (const TaskAction& a : delivery) model.Deliver(a);
  testing::TempDir dir;
  auto store = Store::Open(StoreOptions{dir.path(), size_t{16} << 20, false, {}});
  ASSERT_TRUE(store) << store.error().ToString();
  const ApplyResult sum = Deliver(**store, delivery, rng, pipelined, max_batch);
  EXPECT_EQ(sum.applied, model.distinct());
  EXPECT_EQ(sum.duplicates, model.duplicates());
  EXPECT_EQ(sum.conflicts, model.conflicts());
  ASSERT_EQ(testing::CheckStoreMatches(**store, model, page_sizes), "");
}

TEST(StorePropertyTest, AnswersEqualTheModelWhateverTheOrderDuplicationAndBatching) {
  constexpr int kCases = 220;
  std::mt19937_64 rng(20261123);
  for (int c = 0; c < kCases; ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    const std::vector<TaskAction> events = RandomEvents(rng, 1 + rng() % 60);
    const std::vector<TaskAction> delivery = WithRepeats(events, rng, rng() % 10, rng() % 4);
    // Every other case pipelines its batches (Submit/Flush), the rest apply them.
    CheckCase(delivery, rng, /*pipelined=*/c % 2 == 1, 12, {1, 2, 3, 1000});
  }
}

// Caches so small that task views and labelers leave them between batches: the
// summary views then rest on what the store holds (labeler markers, stored stats).
TEST(StorePropertyTest, SummariesEqualTheModelWhenViewsLeaveTheCaches) {
  std::mt19937_64 rng(1313);
  for (int c = 0; c < 6; ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    std::vector<TaskAction> events = RandomEvents(rng, 600);
    for (TaskAction& a : events) a.task_id = Id(rng() % 300);
    const std::vector<TaskAction> delivery = WithRepeats(events, rng, 50, 5);
    testing::ReferenceModel model;
    for (const TaskAction& a : delivery) model.Deliver(a);
    testing::TempDir dir;
    auto store = Store::Open(StoreOptions{dir.path(), size_t{256} << 10, false, {}});
    ASSERT_TRUE(store) << store.error().ToString();
    Deliver(**store, delivery, rng, /*pipelined=*/c % 2 == 1, 20);
    ASSERT_EQ(testing::CheckStoreMatches(**store, model, {1, 7, 1000}), "");
  }
}

// A store written without the summary views (format 2: older tallies, or the
// benchmark's option) gets them built from its records when opened with them,
// and keeps them from there on, whatever part of the records came before.
TEST(StorePropertyTest, SummariesBuiltAtOpenEqualTheModel) {
  std::mt19937_64 rng(4242);
  for (int c = 0; c < 24; ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    const std::vector<TaskAction> events = RandomEvents(rng, 1 + rng() % 80);
    const std::vector<TaskAction> delivery = WithRepeats(events, rng, rng() % 10, rng() % 3);
    testing::ReferenceModel model;
    for (const TaskAction& a : delivery) model.Deliver(a);
    testing::TempDir dir;
    const size_t split = rng() % (delivery.size() + 1);
    const std::vector<TaskAction> before(delivery.begin(), delivery.begin() + split);
    const std::vector<TaskAction> after(delivery.begin() + split, delivery.end());
    StoreOptions options{dir.path(), size_t{16} << 20, false, {}};
    if (c % 3 == 2) {  // some records with the views, then some without: format 4, 2, 4
      auto store = Store::Open(options);
      ASSERT_TRUE(store) << store.error().ToString();
      Deliver(**store, std::vector<TaskAction>(before.begin(), before.begin() + before.size() / 2), rng, false, 12);
    }
    {
      options.summary_views = false;
      auto store = Store::Open(options);
      ASSERT_TRUE(store) << store.error().ToString();
      Deliver(**store, std::vector<TaskAction>(before.begin() + (c % 3 == 2 ? before.size() / 2 : 0), before.end()),
              rng, c % 2 == 1, 12);
      EXPECT_FALSE(store.value()->Summary(store.value()->Snapshot(), "req-0")) << "no summaries without the views";
    }
    options.summary_views = true;
    auto store = Store::Open(options);
    ASSERT_TRUE(store) << store.error().ToString();
    Deliver(**store, after, rng, c % 2 == 0, 12);
    ASSERT_EQ(testing::CheckStoreMatches(**store, model, {1, 2, 1000}), "");
  }
}

// Tasks worked on by more people than their views keep inline (kInlineLabelers):
// their labelers move to markers at random points, also in a store whose views
// are built at open, and with caches too small to keep them.
TEST(StorePropertyTest, TasksOfManyLabelersCountEachTaskOncePerLabeler) {
  std::mt19937_64 rng(777);
  for (int c = 0; c < 8; ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    std::vector<TaskAction> events = RandomEvents(rng, 400);
    for (TaskAction& a : events) {
      a.task_id = Id(rng() % 3);
      a.annotation_request_id = "req-" + std::to_string(rng() % 2);
      if (rng() % 8) a.alice_name = "p" + std::to_string(rng() % (3 * kInlineLabelers));
    }
    const std::vector<TaskAction> delivery = WithRepeats(events, rng, 40, 3);
    testing::ReferenceModel model;
    for (const TaskAction& a : delivery) model.Deliver(a);
    testing::TempDir dir;
    StoreOptions options{dir.path(), c % 2 ? size_t{256} << 10 : size_t{16} << 20, false, {}};
    const size_t split = rng() % delivery.size();
    options.summary_views = c % 4 >= 2;  // half the cases: the first part without, then built at open
    {
      auto store = Store::Open(options);
      ASSERT_TRUE(store) << store.error().ToString();
      Deliver(**store, std::vector<TaskAction>(delivery.begin(), delivery.begin() + split), rng, c % 2 == 0, 30);
    }
    options.summary_views = true;
    auto store = Store::Open(options);  // reopened: nothing cached
    ASSERT_TRUE(store) << store.error().ToString();
    Deliver(**store, std::vector<TaskAction>(delivery.begin() + split, delivery.end()), rng, c % 2 == 1, 30);
    ASSERT_EQ(testing::CheckStoreMatches(**store, model, {1, 7, 1000}), "");
  }
}

TEST(StorePropertyTest, LargeRequestsSplitRankSegmentsWhileBatchesAreInFlight) {
  std::mt19937_64 rng(99);
  for (int c = 0; c < 8; ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    // Few requests, many records each: rank segments split, often with ids of
    // the batch still being written.
    std::vector<TaskAction> events = RandomEvents(rng, 2500);
    for (size_t i = 0; i < events.size(); ++i) {
      events[i].id = Id(i * 7 + rng() % 7);
      events[i].task_id = Id(rng() % 900);
      events[i].annotation_request_id = "req-" + std::to_string(rng() % 3);
    }
    const std::vector<TaskAction> delivery = WithRepeats(events, rng, 200, 20);
    CheckCase(delivery, rng, /*pipelined=*/c % 4 != 0, 400, {7, 1000});
  }
}

}  // namespace
}  // namespace tally
