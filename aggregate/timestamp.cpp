#include "aggregate/timestamp.h"

namespace tally {
namespace {

constexpr int64_t kMillisPerDay = 86'400'000;

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n ASCII digits at text[pos]; false if any is not a digit.
bool Digits(std::string_view text, size_t pos, size_t n, unsigned* value) {
  if (pos + n > text.size()) return false;
  unsigned v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    const unsigned d = static_cast<unsigned char>(text[i]) - '0';
    if (d > 9) return false;
    v = v * 10 + d;
  }
  *value = v;
  return true;
}

Status Invalid(std::string_view what) {
  return Status::InvalidArgument(std::string(what));
}

// The first and last millisecond of years 0001..9999 in UTC.
constexpr int64_t kMinMillis = -62'135'596'800'000;
constexpr int64_t kMaxMillis = 253'402'300'799'999;

constexpr std::string_view kForms =
    "expected \"YYYY-MM-DD HH:MM:SS\" or ISO-8601 \"YYYY-MM-DDTHH:MM:SS[.fff]Z\" "
    "(or with an offset like +08:00)";

}  // namespace

int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int>(yoe + era * 400 + (m <= 2)), m, d};
}

Result<Timestamp> ParseTimestamp(std::string_view text) {
  if (text.size() < 19) return Invalid(kForms);
  // Every event carries one: the fixed layout is checked without branching per
  // character, then the fields are range-checked.
  const auto* t = reinterpret_cast<const unsigned char*>(text.data());
  unsigned bad = 0;
  auto digit = [&](size_t i) {
    const unsigned d = t[i] - unsigned{'0'};
    bad |= static_cast<unsigned>(d > 9);
    return d;
  };
  auto two = [&](size_t i) { return digit(i) * 10 + digit(i + 1); };
  const unsigned year = two(0) * 100 + two(2);
  const unsigned month = two(5), day = two(8), hour = two(11), minute = two(14), second = two(17);
  bad |= static_cast<unsigned>(t[4] != '-') | static_cast<unsigned>(t[7] != '-') |
         static_cast<unsigned>(t[13] != ':') | static_cast<unsigned>(t[16] != ':');
  if (bad) return Invalid(kForms);
  const char sep = text[10];
  const bool iso = sep == 'T' || sep == 't';
  if (!iso && sep != ' ') return Invalid(kForms);
  if (year == 0) return Invalid("year 0000 does not exist");
  if (month < 1 || month > 12) return Invalid("month must be 01..12");
  if (day < 1 || day > DaysInMonth(static_cast<int>(year), month)) {
    return Invalid("day does not exist in that month");
  }
  if (hour > 23) return Invalid("hour must be 00..23");
  if (minute > 59) return Invalid("minute must be 00..59");
  if (second > 59) return Invalid("second must be 00..59 (leap seconds are not accepted)");

  int64_t millis = 0;
  int64_t offset_minutes = 0;
  size_t pos = 19;
  if (!iso) {
    if (pos != text.size()) return Invalid(kForms);
  } else {
    if (pos < text.size() && text[pos] == '.') {
      const size_t start = ++pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
      const size_t n = pos - start;
      if (n < 1 || n > 9) return Invalid("a fraction of a second needs 1..9 digits");
      for (size_t i = 0; i < 3; ++i) {
        millis = millis * 10 + (i < n ? text[start + i] - '0' : 0);
      }
    }
    if (pos >= text.size()) return Invalid("ISO-8601 time needs a zone: Z or an offset like +08:00");
    const char zone = text[pos];
    if (zone == 'Z' || zone == 'z') {
      ++pos;
    } else if (zone == '+' || zone == '-') {
      unsigned oh, om;
      if (!Digits(text, pos + 1, 2, &oh)) return Invalid("offset must be ±hh:mm or ±hhmm");
      size_t mpos = pos + 3;
      if (mpos < text.size() && text[mpos] == ':') ++mpos;
      if (!Digits(text, mpos, 2, &om)) return Invalid("offset must be ±hh:mm or ±hhmm");
      if (oh > 23 || om > 59) return Invalid("offset must be within ±23:59");
      offset_minutes = static_cast<int64_t>(oh * 60 + om) * (zone == '-' ? -1 : 1);
      pos = mpos + 2;
    } else {
      return Invalid("ISO-8601 time needs a zone: Z or an offset like +08:00");
    }
    if (pos != text.size()) return Invalid(kForms);
  }
  const int64_t days = DaysFromCivil(static_cast<int>(year), month, day);
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  const Timestamp utc{seconds * 1000 + millis};
  // Output is always four-digit years, so an offset must not carry the time out
  // of 0001..9999 ("9999-12-31T23:30:00-01:00" would be year 10000 in UTC).
  if (utc.millis < kMinMillis || utc.millis > kMaxMillis) {
    return Invalid("the time in UTC must be within years 0001..9999");
  }
  return utc;
}

char* WriteTimestamp(Timestamp t, char* out) {
  int64_t days = t.millis / kMillisPerDay;
  int64_t rest = t.millis % kMillisPerDay;
  if (rest < 0) {
    rest += kMillisPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  const int64_t secs = rest / 1000;
  // ParseTimestamp keeps years within 0001..9999 in UTC.
  const unsigned y = static_cast<unsigned>(date.year);
  for (unsigned div : {1000u, 100u, 10u, 1u}) *out++ = static_cast<char>('0' + y / div % 10);
  auto two = [&](unsigned value) {
    *out++ = static_cast<char>('0' + value / 10);
    *out++ = static_cast<char>('0' + value % 10);
  };
  *out++ = '-';
  two(date.month);
  *out++ = '-';
  two(date.day);
  *out++ = ' ';
  two(static_cast<unsigned>(secs / 3600));
  *out++ = ':';
  two(static_cast<unsigned>(secs / 60 % 60));
  *out++ = ':';
  two(static_cast<unsigned>(secs % 60));
  return out;
}

void AppendTimestamp(Timestamp t, std::string* out) {
  char buf[kTimestampChars];
  out->append(buf, WriteTimestamp(t, buf));
}

std::string FormatTimestamp(Timestamp t) {
  std::string out;
  AppendTimestamp(t, &out);
  return out;
}

}  // namespace tally
