#include "aggregate/id.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace tally {
namespace {

TEST(IdTest, ParsesAndPrintsSameDigits) {
  for (const char* digits : {"0", "1", "42", "18446744073709551615", "18446744073709551616",
                             "234234123133374715904", "99999999999999999999999999999999999999"}) {
    auto id = Id::FromDigits(digits);
    ASSERT_TRUE(id) << digits;
    EXPECT_EQ(id->ToString(), digits);
  }
}

TEST(IdTest, DropsLeadingZeros) {
  EXPECT_EQ(Id::FromDigits("000123")->ToString(), "123");
  EXPECT_EQ(Id::FromDigits("0000")->ToString(), "0");
  // 38 significant digits after many zeros is still an id.
  EXPECT_TRUE(Id::FromDigits(std::string(26, '0') + std::string(38, '9')));
}

TEST(IdTest, RejectsWhatIsNotDigits) {
  for (const char* text : {"", "-1", "+1", " 1", "1 ", "1.0", "1e3", "abc", "12a"}) {
    EXPECT_FALSE(Id::FromDigits(text)) << '"' << text << '"';
  }
}

TEST(IdTest, RejectsMoreThan38SignificantDigits) {
  EXPECT_FALSE(Id::FromDigits("1" + std::string(38, '0')));
  EXPECT_TRUE(Id::FromDigits(std::string(38, '9')));
}

TEST(IdTest, ComparesNumerically) {
  EXPECT_LT(*Id::FromDigits("9"), *Id::FromDigits("10"));
  EXPECT_LT(*Id::FromDigits("18446744073709551615"), *Id::FromDigits("18446744073709551616"));
  EXPECT_EQ(*Id::FromDigits("007"), Id(7));
}

TEST(IdTest, KeyEncodingRoundTripsAndPreservesOrder) {
  std::mt19937_64 rng(7);
  std::vector<Id> ids = {Id(0), Id(1), Id(255), Id(256), Id(UINT64_MAX),
                         *Id::FromDigits(std::string(38, '9'))};
  for (int i = 0; i < 2000; ++i) {
    // Random digit counts so every byte length 0..16 is covered.
    std::string digits = std::to_string(rng() % 9 + 1);
    const int len = static_cast<int>(rng() % 38);
    for (int k = 0; k < len; ++k) digits += static_cast<char>('0' + rng() % 10);
    ids.push_back(*Id::FromDigits(digits));
  }
  std::vector<std::pair<std::string, Id>> keys;
  for (Id id : ids) {
    std::string key;
    id.AppendKey(&key);
    ASSERT_LE(key.size(), Id::kMaxKeyBytes);
    std::string_view in = key;
    auto back = Id::ConsumeKey(&in);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, id);
    EXPECT_TRUE(in.empty());
    std::string_view skipped = key;  // stepped over, it ends where reading it ends
    ASSERT_TRUE(Id::SkipKey(&skipped));
    EXPECT_TRUE(skipped.empty());
    keys.emplace_back(key, id);
  }
  std::sort(keys.begin(), keys.end());  // bytewise
  for (size_t i = 1; i < keys.size(); ++i) EXPECT_LE(keys[i - 1].second, keys[i].second);
}

TEST(IdTest, ConsumeKeyRejectsTruncatedAndNonCanonical) {
  std::string key;
  Id(70000).AppendKey(&key);
  std::string_view truncated(key.data(), key.size() - 1);
  EXPECT_FALSE(Id::ConsumeKey(&truncated));
  EXPECT_EQ(truncated.size(), key.size() - 1);  // left alone
  const std::string leading_zero("\x02\x00\x05", 3);
  std::string_view in = leading_zero;
  EXPECT_FALSE(Id::ConsumeKey(&in));
  const std::string too_long("\x11", 1);
  in = too_long;
  EXPECT_FALSE(Id::ConsumeKey(&in));
  // SkipKey refuses what ConsumeKey refuses, and leaves it alone.
  for (std::string_view bad : {truncated, std::string_view(leading_zero), std::string_view(too_long)}) {
    const std::string_view before = bad;
    EXPECT_FALSE(Id::SkipKey(&bad));
    EXPECT_EQ(bad, before);
  }
}

}  // namespace
}  // namespace tally
