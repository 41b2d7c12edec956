// The key layout (aggregate/keys.h): every key the store builds parses back to
// what built it, and the column family table matches its enum.

#include "aggregate/keys.h"

#include <gtest/gtest.h>

#include <set>

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
  for (const int32_t partition : {-1, 0, 7, INT32_MAX}) {
    Origin origin{};
    std::optional<uint32_t> element = 99;
    ASSERT_TRUE(keys::ParseRejected(keys::Rejected(Origin{partition, 42}, std::nullopt), &origin, &element));
    EXPECT_EQ(origin.partition, partition);
    EXPECT_EQ(origin.offset, 42);
    EXPECT_EQ(element, std::nullopt);
    ASSERT_TRUE(keys::ParseRejected(keys::Rejected(Origin{partition, -5}, 3u), &origin, &element));
    EXPECT_EQ(origin.offset, -5);
    EXPECT_EQ(element, 3u);

    EXPECT_EQ(keys::RejectsPartitionOf(keys::Rejects(partition)), partition);
    const std::string prefix = keys::OffsetPrefix("topic");
    EXPECT_EQ(keys::OffsetPartitionOf(keys::Offset("topic", partition), prefix), partition);
  }
  Origin origin{};
  std::optional<uint32_t> element;
  EXPECT_FALSE(keys::ParseRejected("short", &origin, &element));
  EXPECT_FALSE(keys::RejectsPartitionOf("offset/x"));
  EXPECT_FALSE(keys::OffsetPartitionOf(keys::Offset("topic", 1) + "x", keys::OffsetPrefix("topic")));
}

TEST(KeysTest, OffsetValuesParseBackOldShortValuesIncluded) {
  std::string value;
  keys::AppendOffsetValue({17, "cluster-a", 0xabcdefull}, &value);
  keys::OffsetValue parsed;
  ASSERT_TRUE(keys::ParseOffsetValue(value, &parsed));
  EXPECT_EQ(parsed.next, 17);
  EXPECT_EQ(parsed.cluster, "cluster-a");
  EXPECT_EQ(parsed.fingerprint, 0xabcdefull);

  value.clear();
  keys::AppendOffsetValue({5, "", std::nullopt}, &value);
  ASSERT_TRUE(keys::ParseOffsetValue(value, &parsed));
  EXPECT_EQ(parsed.next, 5);
  EXPECT_EQ(parsed.fingerprint, std::nullopt);

  std::string old;  // written before the cluster id and fingerprint were kept
  PutFixed64BE(9, &old);
  ASSERT_TRUE(keys::ParseOffsetValue(old, &parsed));
  EXPECT_EQ(parsed.next, 9);
  EXPECT_TRUE(parsed.cluster.empty());
  EXPECT_FALSE(keys::ParseOffsetValue(old + "x", &parsed));
}

}  // namespace
}  // namespace tally
