#include "aggregate/histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tally {
namespace {

TEST(HistogramTest, CountsIntoTheFirstBucketNotBelowTheValue) {
  Histogram h;
  h.Observe(0.00005);  // <= 100 us
  h.Observe(0.0001);   // == a bound: that bucket
  h.Observe(0.003);    // <= 5 ms
  h.Observe(60);       // +Inf
  const Histogram::Snapshot s = h.Read();
  EXPECT_EQ(s.counts[0], 2u);
  EXPECT_EQ(s.counts[5], 1u);
  EXPECT_EQ(s.counts.back(), 1u);
  EXPECT_EQ(s.count(), 4u);
  EXPECT_NEAR(s.sum, 60.00315, 1e-6);
}

TEST(HistogramTest, LosesNothingUnderConcurrentObservers) {
  Histogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) h.Observe(0.001);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.Read().count(), 400000u);
  EXPECT_EQ(h.Read().counts[3], 400000u);
}

}  // namespace
}  // namespace tally
