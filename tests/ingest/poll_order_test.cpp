#include "ingest/poll_order.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace tally {
namespace {

struct Message {
  int32_t partition;
  int64_t offset;
  int64_t time;  // negative: no timestamp
};

void Order(std::vector<Message>& poll, PollOrderScratch& scratch) {
  OrderByTime(std::span(poll), [](const Message& m) { return m.partition; }, [](const Message& m) { return m.time; },
              scratch);
}

std::vector<int64_t> Offsets(const std::vector<Message>& poll) {
  std::vector<int64_t> out;
  for (const Message& m : poll) out.push_back(m.offset);
  return out;
}

// A backlog arrives a fetch of each partition in turn; the poll is put back in
// produced order.
TEST(PollOrderTest, InterleavesPartitionsFetchedInTurnByTime) {
  std::vector<Message> poll = {{0, 0, 10}, {0, 1, 20}, {0, 2, 30}, {1, 100, 15}, {1, 101, 25}, {2, 7, 5}};
  PollOrderScratch scratch;
  Order(poll, scratch);
  EXPECT_EQ(Offsets(poll), (std::vector<int64_t>{7, 0, 100, 1, 101, 2}));
}

// Offsets are stored per partition: a message never goes before an earlier one
// of its partition, whatever its timestamp says (clock steps, producer-set
// times, none at all).
TEST(PollOrderTest, NeverReordersAPartitionEvenWhenItsTimesGoBack) {
  std::vector<Message> poll = {{0, 0, 50}, {0, 1, 10}, {0, 2, -1}, {0, 3, 60}, {1, 0, 20}, {1, 1, 55}, {1, 2, -1}};
  PollOrderScratch scratch;
  Order(poll, scratch);
  // Partition 0's times count as 50, 50, 50, 60; partition 1's as 20, 55, 55.
  EXPECT_EQ(Offsets(poll), (std::vector<int64_t>{0, 0, 1, 2, 1, 2, 3}));
  std::vector<int32_t> partitions;
  for (const Message& m : poll) partitions.push_back(m.partition);
  EXPECT_EQ(partitions, (std::vector<int32_t>{1, 0, 0, 0, 1, 1, 0}));
}

// A burst produced within one millisecond arrives a partition at a time: its
// messages are spread over the millisecond in proportion, so partitions
// interleave as a producer spreading keys over them wrote them.
TEST(PollOrderTest, ABurstOfOneMillisecondInterleavesPartitionsInProportion) {
  std::vector<Message> poll = {{0, 0, 10}, {0, 1, 10}, {0, 2, 10}, {0, 3, 10}, {1, 0, 10}, {1, 1, 10}};
  PollOrderScratch scratch;
  Order(poll, scratch);
  std::vector<std::pair<int32_t, int64_t>> order;
  for (const Message& m : poll) order.emplace_back(m.partition, m.offset);
  // Partition 0 at 1/8, 3/8, 5/8, 7/8 of the millisecond; partition 1 at 1/4, 3/4.
  EXPECT_EQ(order, (std::vector<std::pair<int32_t, int64_t>>{{0, 0}, {1, 0}, {0, 1}, {0, 2}, {1, 1}, {0, 3}}));
}

// Equal places keep the order they came in, and one partition is left alone.
TEST(PollOrderTest, TiesKeepTheirPlaceAndOnePartitionIsLeftAlone) {
  std::vector<Message> poll = {{3, 0, 10}, {4, 0, 10}, {3, 1, 10}, {4, 1, 10}};
  PollOrderScratch scratch;
  Order(poll, scratch);
  EXPECT_EQ(Offsets(poll), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(poll[0].partition, 3);
  EXPECT_EQ(poll[1].partition, 4);
  std::vector<Message> one = {{5, 0, 30}, {5, 1, 10}, {5, 2, 20}};
  Order(one, scratch);
  EXPECT_EQ(Offsets(one), (std::vector<int64_t>{0, 1, 2}));
}

// Random polls: the result is a permutation with every partition in its own
// order, and the effective times (each raised to its partition's latest) never
// go back.
TEST(PollOrderTest, RandomPollsKeepEveryMessageAndEveryPartitionsOrder) {
  std::mt19937_64 random(11);
  PollOrderScratch scratch;
  for (int round = 0; round < 200; ++round) {
    const int partitions = 1 + static_cast<int>(random() % 70);
    const size_t size = random() % 1001;
    std::map<int32_t, int64_t> next;
    std::vector<Message> poll;
    for (size_t i = 0; i < size; ++i) {
      const auto p = static_cast<int32_t>(random() % partitions);
      const int64_t time = random() % 10 == 0 ? -1 : static_cast<int64_t>(random() % 1000);
      poll.push_back({p, next[p]++, time});
    }
    std::vector<Message> before = poll;
    Order(poll, scratch);
    ASSERT_EQ(poll.size(), before.size());
    std::map<int32_t, int64_t> seen, latest;
    int64_t last_effective = INT64_MIN;
    for (const Message& m : poll) {
      ASSERT_EQ(m.offset, seen[m.partition]++) << "round " << round;
      auto [it, fresh] = latest.try_emplace(m.partition, m.time);
      if (!fresh) it->second = std::max(it->second, m.time);
      EXPECT_GE(it->second, last_effective) << "round " << round;
      last_effective = it->second;
    }
    EXPECT_EQ(seen, next);
  }
}

}  // namespace
}  // namespace tally
