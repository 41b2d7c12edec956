// The key layout (aggregate/keys.h): every key the store builds parses back to
// what built it, and the column family table matches its enum.

#include "aggregate/keys.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <type_traits>
#include <vector>

#include "aggregate/store.h"

namespace tally {
namespace {

TEST(KeysTest, EveryFamilyIsListedOnceInTheOrderOfItsEnum) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < keys::kFamilyCount; ++i) {
    EXPECT_EQ(static_cast<size_t>(keys::kFamilies[i].family), i);
    EXPECT_TRUE(names.insert(keys::kFamilies[i].name).second) << keys::kFamilies[i].name;
  }
  EXPECT_EQ(keys::NameOf(keys::Family::kRecords), "records");
  EXPECT_EQ(keys::NameOf(keys::Family::kMeta), "meta");
  EXPECT_TRUE(keys::InfoOf(keys::Family::kInstances).sums_counts);
}

TEST(KeysTest, RequestKeysParseBackAndStayBelowTheRequestEnd) {
  const RequestNo no{0x01020304};
  const Id id(123456789);
  const std::string item = keys::RequestItem(no, id);
  EXPECT_EQ(keys::RequestOf(item), no);
  EXPECT_EQ(keys::ItemOf(item), id);
  EXPECT_LT(item, keys::RequestEnd(no));
  EXPECT_LT(keys::Instance(no, id, "\xff\xff"), keys::RequestEnd(no));
  EXPECT_GT(keys::RequestPrefix(RequestNo{0x01020305}), keys::RequestEnd(no));
  EXPECT_FALSE(keys::RequestOf("abc"));

  const std::string prefix = keys::InstancePrefix(no, id);
  EXPECT_EQ(keys::InstanceKeyOf(keys::Instance(no, id, "label:cat"), prefix), "label:cat");

  const std::string scene_prefix = keys::ScenePrefix(no, "scene-1");
  EXPECT_EQ(keys::SceneTaskOf(keys::Scene(no, "scene-1", id), scene_prefix), id);
  EXPECT_FALSE(keys::SceneTaskOf(keys::Scene(no, "scene-1", id) + "x", scene_prefix));
}

TEST(KeysTest, PartitionKeysParseBackNegativePartitionsIncluded) {
  for (const Partition partition : {kReplayPartition, Partition{0}, Partition{7}, Partition{INT32_MAX}}) {
    Origin origin{};
    std::optional<uint32_t> element = 99;
    ASSERT_TRUE(keys::ParseRejected(keys::Rejected(Origin{partition, Offset{42}}, std::nullopt), &origin, &element));
    EXPECT_EQ(origin.partition, partition);
    EXPECT_EQ(origin.offset, Offset{42});
    EXPECT_EQ(element, std::nullopt);
    ASSERT_TRUE(keys::ParseRejected(keys::Rejected(Origin{partition, Offset{-5}}, 3u), &origin, &element));
    EXPECT_EQ(origin.offset, Offset{-5});
    EXPECT_EQ(element, 3u);

    EXPECT_EQ(keys::RejectsPartitionOf(keys::Rejects(partition)), partition);
    const std::string prefix = keys::OffsetPrefix("topic");
    EXPECT_EQ(keys::OffsetPartitionOf(keys::OffsetKey("topic", partition), prefix), partition);
  }
  Origin origin{};
  std::optional<uint32_t> element;
  EXPECT_FALSE(keys::ParseRejected("short", &origin, &element));
  EXPECT_FALSE(keys::RejectsPartitionOf("offset/x"));
  EXPECT_FALSE(keys::OffsetPartitionOf(keys::OffsetKey("topic", Partition{1}) + "x", keys::OffsetPrefix("topic")));
}

// Byte order of rejected keys is (partition, offset, element) order, negative
// partitions and offsets included: the store keeps "the latest" rejections of a
// partition by key order.
TEST(KeysTest, RejectedKeysSortByPartitionThenOffset) {
  const std::vector<Origin> ascending = {
      {kReplayPartition, Offset{5}}, {Partition{0}, Offset{-1}}, {Partition{0}, kFirstOffset},
      {Partition{0}, Offset{1}},     {Partition{0}, Offset{INT64_MAX}}, {Partition{1}, kFirstOffset}};
  for (size_t i = 1; i < ascending.size(); ++i) {
    EXPECT_LT(keys::Rejected(ascending[i - 1], std::nullopt), keys::Rejected(ascending[i], std::nullopt)) << i;
  }
  EXPECT_LT(keys::Rejected(ascending[2], std::nullopt), keys::Rejected(ascending[2], 0u));
}

// Partition and Offset are distinct types: swapping one for the other, or for
// a bare number, does not compile (the conversions are explicit).
static_assert(!std::is_convertible_v<Partition, Offset> && !std::is_convertible_v<Offset, Partition>);
static_assert(!std::is_convertible_v<int32_t, Partition> && !std::is_convertible_v<int64_t, Offset>);
static_assert(!std::is_constructible_v<Origin, Offset, Partition>, "Origin{offset, partition} does not compile");
static_assert(!std::is_constructible_v<PartitionOffset, Offset, Partition>);
static_assert(!std::is_constructible_v<PartitionOffset, int32_t, int64_t>);

TEST(KeysTest, OffsetArithmeticCountsMessages) {
  constexpr Offset next{10};
  static_assert(next - 1 == Offset{9} && next + 5 == Offset{15});
  static_assert(next - Offset{4} == 6);
  EXPECT_EQ(Raw(next), 10);
  EXPECT_EQ(Raw(kReplayPartition), -1);
}

TEST(KeysTest, OffsetValuesParseBackOldShortValuesIncluded) {
  std::string value;
  keys::AppendOffsetValue({Offset{17}, "cluster-a", 0xabcdefull}, &value);
  keys::OffsetValue parsed;
  ASSERT_TRUE(keys::ParseOffsetValue(value, &parsed));
  EXPECT_EQ(parsed.next, Offset{17});
  EXPECT_EQ(parsed.cluster, "cluster-a");
  EXPECT_EQ(parsed.fingerprint, 0xabcdefull);

  value.clear();
  keys::AppendOffsetValue({Offset{5}, "", std::nullopt}, &value);
  ASSERT_TRUE(keys::ParseOffsetValue(value, &parsed));
  EXPECT_EQ(parsed.next, Offset{5});
  EXPECT_EQ(parsed.fingerprint, std::nullopt);

  std::string old;  // written before the cluster id and fingerprint were kept
  PutFixed64BE(9, &old);
  ASSERT_TRUE(keys::ParseOffsetValue(old, &parsed));
  EXPECT_EQ(parsed.next, Offset{9});
  EXPECT_TRUE(parsed.cluster.empty());
  EXPECT_FALSE(keys::ParseOffsetValue(old + "x", &parsed));
}

}  // namespace
}  // namespace tally
