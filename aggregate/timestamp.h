#pragma once

// Timestamp is a record's createdTime: UTC milliseconds since the Unix epoch. The
// contract accepts "YYYY-MM-DD HH:MM:SS" (UTC) and ISO-8601 with a zone, and prints
// "YYYY-MM-DD HH:MM:SS". A plain value.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "aggregate/status.h"

namespace tally {

struct Timestamp {
  int64_t millis = 0;  // since 1970-01-01 00:00:00 UTC

  friend constexpr auto operator<=>(Timestamp, Timestamp) = default;
};

// Parses either accepted form:
//   YYYY-MM-DD HH:MM:SS                              (UTC)
//   YYYY-MM-DD(T|t)HH:MM:SS[.f{1,9}](Z|z|±hh:mm|±hhmm)  (converted to UTC)
// Years 0001..9999, real calendar dates (leap years included), seconds 00..59 (a
// leap second 60 is refused), offsets up to ±23:59; fractions are truncated to
// milliseconds. Returns InvalidArgument with a message saying what is wrong (no
// field name: the caller adds it).
Result<Timestamp> ParseTimestamp(std::string_view text);

// Appends "YYYY-MM-DD HH:MM:SS" (the fraction is dropped).
void AppendTimestamp(Timestamp t, std::string* out);
// Writes it at `out` (kTimestampChars bytes); returns the end.
inline constexpr size_t kTimestampChars = 19;
char* WriteTimestamp(Timestamp t, char* out);
std::string FormatTimestamp(Timestamp t);

// Converts a civil date to days since 1970-01-01 and back (proleptic Gregorian).
int64_t DaysFromCivil(int year, unsigned month, unsigned day);
struct CivilDate {
  int year;
  unsigned month;
  unsigned day;
};
CivilDate CivilFromDays(int64_t days);

}  // namespace tally
