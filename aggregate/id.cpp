#include "aggregate/id.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>

namespace tally {

std::optional<Id> Id::FromDigits(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  size_t i = 0;
  while (i + 1 < digits.size() && digits[i] == '0') ++i;  // keep one digit for "000"
  if (digits.size() - i > static_cast<size_t>(kMaxDigits)) return std::nullopt;
  // 19 digits always fit in 64 bits; only longer ids pay for 128-bit arithmetic.
  uint64_t low = 0;
  const size_t split = std::min(digits.size(), i + 19);
  for (; i < split; ++i) {
    const unsigned d = static_cast<unsigned char>(digits[i]) - '0';
    if (d > 9) return std::nullopt;
    low = low * 10 + d;
  }
  Id id;
  id.value_ = low;
  for (; i < digits.size(); ++i) {
    const unsigned d = static_cast<unsigned char>(digits[i]) - '0';
    if (d > 9) return std::nullopt;
    id.value_ = id.value_ * 10 + d;
  }
  return id;
}

char* Id::WriteDecimal(char* out) const {
  // Most ids fit 64 bits: one std::to_chars.
  if (value_ <= UINT64_MAX) return std::to_chars(out, out + kMaxDecimalBytes, static_cast<uint64_t>(value_)).ptr;
  // Peel 19-digit chunks off with 128-bit division (at most two), then print
  // the rest with the 64-bit path in front of them.
  char buf[38];
  char* end = buf + sizeof(buf);
  char* p = end;
  Rep v = value_;
  constexpr uint64_t kChunk = 10'000'000'000'000'000'000ULL;
  while (v > UINT64_MAX) {
    uint64_t chunk = static_cast<uint64_t>(v % kChunk);
    v /= kChunk;
    for (int k = 0; k < 19; ++k) {
      *--p = static_cast<char>('0' + chunk % 10);
      chunk /= 10;
    }
  }
  out = std::to_chars(out, out + kMaxDecimalBytes, static_cast<uint64_t>(v)).ptr;
  std::memcpy(out, p, static_cast<size_t>(end - p));
  return out + (end - p);
}

void Id::AppendDecimal(std::string* out) const {
  char buf[kMaxDecimalBytes];
  out->append(buf, WriteDecimal(buf));
}

std::string Id::ToString() const {
  std::string out;
  AppendDecimal(&out);
  return out;
}

void Id::AppendKey(std::string* out) const {
  // Called several times per event: count the significant bytes with clz and
  // write them big-endian from a byte-swapped copy.
  const auto hi = static_cast<uint64_t>(value_ >> 64);
  const auto lo = static_cast<uint64_t>(value_);
  const unsigned n = hi ? 16 - static_cast<unsigned>(__builtin_clzll(hi)) / 8
                   : lo ? 8 - static_cast<unsigned>(__builtin_clzll(lo)) / 8
                        : 0;
  char buf[17];
  buf[0] = static_cast<char>(n);
  const uint64_t be[2] = {__builtin_bswap64(hi), __builtin_bswap64(lo)};
  std::memcpy(buf + 1, reinterpret_cast<const char*>(be) + (16 - n), n);
  out->append(buf, n + 1);
}

namespace {

// The significant bytes of the key encoding at the front of `in` (after its
// length byte), or nullopt if `in` does not start with one.
std::optional<size_t> KeyBytes(std::string_view in) {
  if (in.empty()) return std::nullopt;
  const size_t n = static_cast<unsigned char>(in[0]);
  if (n > 16 || in.size() < 1 + n) return std::nullopt;
  // A leading zero byte would break the order the encoding promises.
  if (n > 0 && in[1] == 0) return std::nullopt;
  return n;
}

}  // namespace

bool Id::SkipKey(std::string_view* in) {
  const std::optional<size_t> n = KeyBytes(*in);
  if (!n) return false;
  in->remove_prefix(1 + *n);
  return true;
}

std::optional<Id> Id::ConsumeKey(std::string_view* in) {
  const std::optional<size_t> bytes = KeyBytes(*in);
  if (!bytes) return std::nullopt;
  const size_t n = *bytes;
  // Read on every stamp of every view and record a query decodes: the bytes go
  // right-aligned into a big-endian 16-byte buffer, swapped back as two words.
  unsigned char be[16] = {};
  std::memcpy(be + (16 - n), in->data() + 1, n);
  uint64_t hi, lo;
  std::memcpy(&hi, be, 8);
  std::memcpy(&lo, be + 8, 8);
  if constexpr (std::endian::native == std::endian::little) {
    hi = __builtin_bswap64(hi);
    lo = __builtin_bswap64(lo);
  }
  Id id;
  id.value_ = (static_cast<Rep>(hi) << 64) | lo;
  in->remove_prefix(1 + n);
  return id;
}

}  // namespace tally
