#include "ingest/flat_reader.h"

#include <simdjson.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "ingest/event_fields.h"
#include "ingest/json_token.h"

namespace tally {
namespace {

inline void SkipSpace(const char*& p, const char* end) {
  while (p < end && json::IsSpace(*p)) ++p;
}

// The closing quote of the string whose content starts at p, or nullptr if the
// string has an escape or a control character first (or is not closed before the
// zero padding, which counts as control characters), or is not valid UTF-8.
// Reads 32-byte blocks; only strings with non-ASCII bytes pay for UTF-8 checking.
inline const char* StringEnd(const char* p) {
#ifdef __AVX2__
  const char* const start = p;
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i backslash = _mm256_set1_epi8('\\');
  const __m256i last_control = _mm256_set1_epi8(0x1F);
  uint32_t non_ascii = 0;
  for (;; p += 32) {
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const auto quotes = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, quote)));
    const auto others = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(
        _mm256_cmpeq_epi8(bytes, backslash),
        _mm256_cmpeq_epi8(_mm256_max_epu8(bytes, last_control), last_control))));
    const auto high = static_cast<uint32_t>(_mm256_movemask_epi8(bytes));
    if (const uint32_t stops = quotes | others) {
      const int at = __builtin_ctz(stops);
      if (!((quotes >> at) & 1)) return nullptr;
      non_ascii |= high & ((uint32_t{1} << at) - 1);
      if (non_ascii && !simdjson::validate_utf8(start, static_cast<size_t>(p + at - start))) return nullptr;
      return p + at;
    }
    non_ascii |= high;
  }
#else
  const char* const start = p;
  bool non_ascii = false;
  for (;; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') break;
    if (c == '\\' || c < 0x20) return nullptr;
    non_ascii |= c >= 0x80;
  }
  return !non_ascii || simdjson::validate_utf8(start, static_cast<size_t>(p - start)) ? p : nullptr;
#endif
}

// The number of ASCII digits starting at p, found 32 bytes at a time (the zero
// padding ends any run).
inline size_t DigitRun(const char* p) {
#ifdef __AVX2__
  const __m256i zero = _mm256_set1_epi8('0');
  const __m256i nine = _mm256_set1_epi8(9);
  for (size_t n = 0;; n += 32) {
    const __m256i d = _mm256_sub_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + n)), zero);
    const auto digits = static_cast<uint32_t>(
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(d, nine), nine)));
    if (digits != 0xFFFFFFFFu) return n + static_cast<size_t>(__builtin_ctz(~digits));
  }
#else
  size_t n = 0;
  while (static_cast<unsigned>(p[n] - '0') <= 9) ++n;
  return n;
#endif
}

// A number or literal token: the bytes up to the next delimiter.
inline std::string_view BareToken(const char*& p, const char* end) {
  const char* start = p;
  while (p < end) {
    const char c = *p;
    if (c == ',' || c == '}' || c == ']' || json::IsSpace(c)) break;
    ++p;
  }
  return std::string_view(start, static_cast<size_t>(p - start));
}

// Consumes a scalar value at p (the value of an unknown field) if it is valid
// JSON of the simple kind: a string without escapes, a number, a literal.
inline bool SkipScalar(const char*& p, const char* end) {
  if (*p == '"') {
    const char* close = StringEnd(p + 1);
    if (!close) return false;
    p = close + 1;
    return true;
  }
  const std::string_view token = BareToken(p, end);
  if (token == "true" || token == "false" || token == "null") return true;
  json::Number n;
  return !token.empty() && json::ParseNumber(token, &n);
}

inline bool Expect(const char*& p, const char* end, char c) {
  SkipSpace(p, end);
  if (p >= end || *p != c) return false;
  ++p;
  return true;
}

}  // namespace

bool FlatReader::Read(std::string_view text, DecodedEvents* out) {
  // UTF-8 is checked string by string (StringEnd): outside strings the grammar
  // admits ASCII only.
  const size_t actions_before = out->actions().size();
  const char* p = text.data();
  const char* const end = p + text.size();
  bool ok;
  SkipSpace(p, end);
  if (p < end && *p == '[') {
    ++p;
    SkipSpace(p, end);
    ok = true;
    if (p < end && *p == ']') {
      ++p;
    } else {
      do {
        SkipSpace(p, end);
        ok = ReadEvent(p, end, out);
      } while (ok && Expect(p, end, ','));
      ok = ok && p < end && *p == ']';
      ++p;
    }
  } else {
    ok = ReadEvent(p, end, out);
  }
  SkipSpace(p, end);
  if (ok && p == end) return true;
  out->Truncate(actions_before, out->rejections().size());
  return false;
}

bool FlatReader::ReadEvent(const char*& p, const char* end, DecodedEvents* out) {
  if (p >= end || *p != '{') return false;
  ++p;
  builder_.Start(&out->NewAction());
  uint32_t seen = 0;
  Field hint = Field::kId;
  if (Expect(p, end, '}')) return false;  // {} lacks every required field
  do {
    if (!Expect(p, end, '"')) return false;
    int length;
    const Field f = kFieldTable.FindRaw(p, hint, &length);
    if (f != Field::kCount) {
      p += length + 1;  // the name is a known one: no control bytes to check
    } else {
      const char* close = StringEnd(p);  // unknown names still have to be valid
      if (!close) return false;
      p = close + 1;
    }
    if (!Expect(p, end, ':')) return false;
    SkipSpace(p, end);
    if (p >= end) return false;
    if (f == Field::kCount) {
      if (!SkipScalar(p, end)) return false;
      continue;
    }
    if (seen & Bit(f)) return false;
    seen |= Bit(f);
    hint = static_cast<Field>(static_cast<unsigned>(f) + 1);
    if (f == Field::kInstanceInfo && *p == '{') {
      if (!ReadInstanceInfo(p, end)) return false;
      continue;
    }
    bool stored;
    if (*p == '"') {
      const char* close = StringEnd(p + 1);
      if (!close) return false;
      stored = builder_.TryStoreString(f, std::string_view(p + 1, static_cast<size_t>(close - p - 1)));
      p = close + 1;
    } else if (static_cast<unsigned>(*p - '0') <= 9) {
      // A plain integer; if more follows ('.', 'e'), the ',' or '}' expected
      // next is missing and the event goes to the general path.
      const char* start = p;
      p += DigitRun(p);
      if (p > end) return false;
      stored = builder_.TryStoreNumber(f, std::string_view(start, static_cast<size_t>(p - start)));
    } else {
      stored = BareToken(p, end) == "null" && builder_.TryStoreNull(f);
    }
    if (!stored) return false;
  } while (Expect(p, end, ','));
  if (p >= end || *p != '}') return false;
  ++p;
  if ((seen & kRequiredFields) != kRequiredFields) return false;
  builder_.Finish();
  return true;
}

bool FlatReader::ReadInstanceInfo(const char*& p, const char* end) {
  ++p;  // '{'
  InstanceInfo& info = builder_.action().instance_info;
  if (Expect(p, end, '}')) return true;
  do {
    if (!Expect(p, end, '"')) return false;
    const char* close = StringEnd(p);
    if (!close || close - p > static_cast<ptrdiff_t>(kMaxStringBytes)) return false;
    const std::string_view key(p, static_cast<size_t>(close - p));
    p = close + 1;
    if (!Expect(p, end, ':')) return false;
    SkipSpace(p, end);
    const char* digits = p;
    p += DigitRun(p);
    uint64_t count;
    if (p > end || !json::FastUnsigned(std::string_view(digits, static_cast<size_t>(p - digits)), &count) ||
        count > kMaxCount) {
      return false;
    }
    if (info.size() == kMaxInstanceKeys) return false;
    info.Add(key, static_cast<uint32_t>(count));
  } while (Expect(p, end, ','));
  if (p >= end || *p != '}') return false;
  ++p;
  return info.Sort();
}

}  // namespace tally
