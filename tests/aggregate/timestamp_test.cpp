#include "aggregate/timestamp.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

int64_t Millis(std::string_view text) {
  auto t = ParseTimestamp(text);
  EXPECT_TRUE(t) << text << ": " << (t ? "" : t.error().message());
  return t ? t->millis : -1;
}

TEST(TimestampTest, ParsesPlainUtcForm) {
  EXPECT_EQ(Millis("1970-01-01 00:00:00"), 0);
  EXPECT_EQ(Millis("2025-04-01 10:00:00"), 1743501600000);
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("2025-04-01 10:00:00")), "2025-04-01 10:00:00");
}

TEST(TimestampTest, ConvertsIsoOffsetsToUtc) {
  const int64_t utc = Millis("2025-04-01 10:00:00");
  EXPECT_EQ(Millis("2025-04-01T10:00:00Z"), utc);
  EXPECT_EQ(Millis("2025-04-01t10:00:00z"), utc);
  EXPECT_EQ(Millis("2025-04-01T18:00:00+08:00"), utc);
  EXPECT_EQ(Millis("2025-04-01T18:00:00+0800"), utc);
  EXPECT_EQ(Millis("2025-04-01T05:30:00-04:30"), utc);
  EXPECT_EQ(Millis("2025-04-02T00:00:00+14:00"), utc);
}

TEST(TimestampTest, TruncatesFractionsToMilliseconds) {
  const int64_t utc = Millis("2025-04-01 10:00:00");
  EXPECT_EQ(Millis("2025-04-01T10:00:00.1Z"), utc + 100);
  EXPECT_EQ(Millis("2025-04-01T10:00:00.123Z"), utc + 123);
  EXPECT_EQ(Millis("2025-04-01T10:00:00.123999999Z"), utc + 123);
  EXPECT_EQ(FormatTimestamp(Timestamp{utc + 999}), "2025-04-01 10:00:00");
}

TEST(TimestampTest, AcceptsLeapDaysOnlyInLeapYears) {
  EXPECT_TRUE(ParseTimestamp("2024-02-29 00:00:00"));
  EXPECT_TRUE(ParseTimestamp("2000-02-29 00:00:00"));
  EXPECT_FALSE(ParseTimestamp("2025-02-29 00:00:00"));
  EXPECT_FALSE(ParseTimestamp("1900-02-29 00:00:00"));
}

TEST(TimestampTest, RejectsMalformedAndImpossibleTimes) {
  for (const char* text :
       {"", "2025-04-01", "2025-04-01 10:00", "2025-04-01 10:00:00Z", "2025-04-01 10:00:00.5",
        "2025-04-01T10:00:00", "2025-04-01T10:00:00.Z", "2025-04-01T10:00:00.1234567890Z",
        "2025-04-01T10:00:00+8:00", "2025-04-01T10:00:00+24:00", "2025-04-01T10:00:00+08:60",
        "2025-04-01T10:00:00+08:00 ", " 2025-04-01 10:00:00", "2025/04/01 10:00:00",
        "2025-13-01 10:00:00", "2025-00-01 10:00:00", "2025-04-31 10:00:00",
        "2025-04-01 24:00:00", "2025-04-01 10:60:00", "2025-04-01 10:00:60",
        "0000-01-01 00:00:00", "2025-04-01X10:00:00Z", "２０２５-04-01 10:00:00"}) {
    EXPECT_FALSE(ParseTimestamp(text)) << '"' << text << '"';
  }
}

TEST(TimestampTest, NamesWhatIsWrong) {
  EXPECT_NE(ParseTimestamp("2025-04-01 10:00:60").error().message().find("second"),
            std::string::npos);
  EXPECT_NE(ParseTimestamp("2025-04-01T10:00:00").error().message().find("zone"),
            std::string::npos);
}

TEST(TimestampTest, FormatsTheEdgesOfTheCalendar) {
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("0001-01-01 00:00:00")), "0001-01-01 00:00:00");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("9999-12-31T23:59:59.999Z")), "9999-12-31 23:59:59");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("0001-01-01T00:30:00-01:00")), "0001-01-01 01:30:00");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("9999-12-31T23:30:00+01:00")), "9999-12-31 22:30:00");
  EXPECT_EQ(FormatTimestamp(*ParseTimestamp("1969-12-31 23:59:59")), "1969-12-31 23:59:59");
}

// Every answer prints four-digit years: an offset that carries the time out of
// 0001..9999 in UTC is rejected, not served as year 0000 or 10000.
TEST(TimestampTest, RejectsOffsetsThatLeaveTheCalendar) {
  for (const char* text : {"9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00",
                           "9999-12-31T23:59:59.999-00:01", "0001-01-01T00:00:00+0001"}) {
    auto t = ParseTimestamp(text);
    ASSERT_FALSE(t) << text;
    EXPECT_NE(t.error().message().find("0001..9999"), std::string::npos) << t.error().message();
  }
}

TEST(TimestampTest, CivilDaysRoundTrip) {
  for (int64_t days = -800000; days <= 3000000; days += 37) {
    const CivilDate d = CivilFromDays(days);
    ASSERT_EQ(DaysFromCivil(d.year, d.month, d.day), days);
  }
}

}  // namespace
}  // namespace tally
