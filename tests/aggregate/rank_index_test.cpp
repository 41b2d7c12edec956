#include "aggregate/rank_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace tally {
namespace {

// Splits every oversized segment the way the store does, from `all` (the sorted
// ids counted so far).
void SplitAll(RankIndex& index, const std::vector<size_t>& oversized, const std::vector<Id>& all) {
  for (auto it = oversized.rbegin(); it != oversized.rend(); ++it) {
    const Id start = index.segments()[*it].start;
    const std::optional<Id> end = index.End(*it);
    std::vector<Id> held;
    for (Id id : all) {
      if (id >= start && (!end || id < *end)) held.push_back(id);
    }
    index.Split(*it, held);
  }
}

TEST(RankIndexTest, LocatesEveryRankAfterRandomInsertsAndSplits) {
  std::mt19937_64 rng(5);
  RankIndex index;
  std::vector<Id> all;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<Id> fresh;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 400); ++k) {
      const Id id(rng() % 1'000'000);
      if (!std::binary_search(all.begin(), all.end(), id) &&
          std::find(fresh.begin(), fresh.end(), id) == fresh.end()) {
        fresh.push_back(id);
      }
    }
    std::sort(fresh.begin(), fresh.end());
    const auto oversized = index.Add(fresh);
    all.insert(all.end(), fresh.begin(), fresh.end());
    std::sort(all.begin(), all.end());
    SplitAll(index, oversized, all);
    ASSERT_EQ(index.total(), all.size());
    for (const auto& s : index.segments()) ASSERT_LE(s.count, RankIndex::kMaxSegment);
  }
  for (uint64_t k = 0; k < all.size(); ++k) {
    const auto pos = index.Locate(k);
    ASSERT_TRUE(pos);
    ASSERT_LT(pos->skip, RankIndex::kMaxSegment);
    // Skipping from the start lands on the k-th id.
    const auto from = std::lower_bound(all.begin(), all.end(), pos->start);
    ASSERT_EQ(*(from + static_cast<std::ptrdiff_t>(pos->skip)), all[k]);
  }
  EXPECT_FALSE(index.Locate(all.size()));
}

TEST(RankIndexTest, EncodingRoundTrips) {
  RankIndex index;
  std::vector<Id> ids;
  for (uint64_t i = 0; i < 2000; ++i) ids.push_back(Id(i * 7));
  SplitAll(index, index.Add(ids), ids);
  std::string bytes;
  index.EncodeTo(&bytes);
  RankIndex back;
  ASSERT_TRUE(back.DecodeFrom(bytes));
  EXPECT_EQ(back, index);
  EXPECT_FALSE(back.DecodeFrom(bytes.substr(0, bytes.size() - 1)));
  EXPECT_EQ(back, index);  // unchanged by a failed decode
}

}  // namespace
}  // namespace tally
