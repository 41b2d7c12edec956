#pragma once

// Low-level helpers for reading raw JSON tokens out of simdjson's padded buffer:
// the number grammar (simdjson leaves tokens it is not asked to convert
// unchecked) and the scan of object keys. Portable code only: the SIMD work
// (structure, UTF-8, string validation) is simdjson's, dispatched at run time.
// Private to ingest/.

#include <cstdint>
#include <cstring>
#include <string_view>

#include "aggregate/id.h"

namespace tally::json {

inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

inline std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

inline std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

// A JSON number token, split the way the contract's rules need it.
struct Number {
  std::string_view text;    // the token as written, e.g. "-1.5e3"
  std::string_view digits;  // the integer part without its sign, e.g. "1"
  uint64_t value = 0;       // the integer part, when digits.size() <= 19
  bool negative = false;
  bool integer = true;  // no fraction and no exponent

  bool IsZero() const { return digits == "0"; }
};

// Parses a number token (trailing whitespace allowed) by RFC 8259's grammar in
// one pass; false if the token is not a JSON number.
inline bool ParseNumber(std::string_view token, Number* n) {
  const std::string_view t = TrimRight(token);
  const char* p = t.data();
  const char* const end = p + t.size();
  auto digit = [&](const char* at) { return at < end && static_cast<unsigned>(*at - '0') <= 9; };
  n->text = t;
  n->negative = p < end && *p == '-';
  if (n->negative) ++p;
  const char* const start = p;
  uint64_t value = 0;
  if (p < end && *p == '0') {
    ++p;
  } else {
    for (; digit(p); ++p) value = value * 10 + static_cast<unsigned>(*p - '0');
    if (p == start) return false;
  }
  n->digits = std::string_view(start, static_cast<size_t>(p - start));
  n->value = value;
  n->integer = true;
  if (p < end && *p == '.') {
    n->integer = false;
    if (!digit(++p)) return false;
    while (digit(p)) ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    n->integer = false;
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (!digit(p)) return false;
    while (digit(p)) ++p;
  }
  return p == end;
}

// Whether the 8 bytes at p are all ASCII digits.
inline bool EightDigits(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return (((v & 0xF0F0F0F0F0F0F0F0ULL) |
           (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL);
}

// The value of the 8 ASCII digits at p (SWAR: three multiplies instead of eight).
inline uint32_t ParseEightDigits(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  v = ((v & 0x0F0F0F0F0F0F0F0FULL) * 2561) >> 8;
  v = ((v & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
  return static_cast<uint32_t>(((v & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32);
}

// Parses n <= 19 ASCII digits at p; false if one is not a digit. Reads 8 bytes
// from each 8-digit block and from the tail: the buffer padding keeps that safe.
inline bool ParseDigits(const char* p, size_t n, uint64_t* value) {
  uint64_t v = 0;
  if (n <= 4) {  // enums and small counts: a short multiply-add chain is quicker
    for (size_t i = 0; i < n; ++i) {
      const unsigned d = static_cast<unsigned>(p[i] - '0');
      if (d > 9) return false;
      v = v * 10 + d;
    }
    *value = v;
    return true;
  }
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (!EightDigits(p + i)) return false;
    v = v * 100'000'000 + ParseEightDigits(p + i);
  }
  if (const size_t r = n - i; r > 0) {
    // The last r digits become the low digits of an 8-digit block padded with '0's.
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    word = (word << (8 * (8 - r))) | (0x3030303030303030ULL >> (8 * r));
    char block[8];
    std::memcpy(block, &word, 8);
    if (!EightDigits(block)) return false;
    static constexpr uint32_t kPow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
    v = v * kPow10[r] + ParseEightDigits(block);
  }
  *value = v;
  return true;
}

// The digits of an exact number token (no surrounding whitespace) that is a
// plain non-negative integer without a leading zero, as almost every number in an
// event is; empty for anything else, which the general path then judges.
inline std::string_view PlainDigits(std::string_view t) {
  if (t.empty() || static_cast<unsigned>(t[0] - '1') > 8) {
    return t == "0" ? t : std::string_view();
  }
  return t;
}

// A plain integer of at most 19 digits (see PlainDigits).
inline bool FastUnsigned(std::string_view token, uint64_t* value) {
  const std::string_view d = PlainDigits(token);
  return !d.empty() && d.size() <= 19 && ParseDigits(d.data(), d.size(), value);
}

// A plain integer ID of at most 38 digits (see PlainDigits).
inline bool FastId(std::string_view token, Id* id) {
  const std::string_view d = PlainDigits(token);
  uint64_t high;
  if (d.empty() || d.size() > static_cast<size_t>(Id::kMaxDigits)) return false;
  if (d.size() <= 19) {
    if (!ParseDigits(d.data(), d.size(), &high)) return false;
    *id = Id(high);
    return true;
  }
  uint64_t low;
  const size_t low_digits = d.size() - 19;
  if (!ParseDigits(d.data(), 19, &high) || !ParseDigits(d.data() + 19, low_digits, &low)) return false;
  Id::Rep scale = 1;
  for (size_t i = 0; i < low_digits; ++i) scale *= 10;
  *id = Id::FromRep(Id::Rep{high} * scale + low);
  return true;
}

inline bool HasBackslash(std::string_view s) { return s.find('\\') != std::string_view::npos; }

// Replaces *out with s, reusing its memory: std::string::assign takes the general
// (overlap-safe) replace path, which costs several times more for short strings.
inline void Assign(std::string* out, std::string_view s) {
  out->clear();
  out->append(s);
}

// The content of a string token that has no escapes (nearly all strings), in
// place: stage 1 has validated its UTF-8 and that it has no control characters.
// False if it has escapes (then get_string unescapes and validates them).
inline bool RawString(std::string_view token, std::string_view* content) {
  const std::string_view t = TrimRight(token);
  if (t.size() < 2 || t.front() != '"' || t.back() != '"') return false;
  const std::string_view inner = t.substr(1, t.size() - 2);
  if (HasBackslash(inner)) return false;
  *content = inner;
  return true;
}

// The length of the raw (still escaped) object key that starts at `raw`, just
// after its opening quote, if the key has no escapes and is under 32 bytes; -1
// otherwise. Reads up to 32 bytes from `raw`: simdjson's buffer padding makes
// that safe.
inline int SimpleKeyLength(const char* raw) {
  for (int i = 0; i < 32; ++i) {
    if (raw[i] == '"') return i;
    if (raw[i] == '\\') return -1;
  }
  return -1;
}

// A name of under 32 bytes, for comparing with SameKey.
struct PaddedName {
  char bytes[32] = {};
  int length = 0;
};

// Whether the `length` bytes at `raw` are `name`.
inline bool SameKey(const char* raw, int length, const PaddedName& name) {
  return length == name.length && std::memcmp(raw, name.bytes, static_cast<size_t>(length)) == 0;
}

}  // namespace tally::json
