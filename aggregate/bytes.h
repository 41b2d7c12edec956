#pragma once

// Little helpers for tally's binary value formats: appending and reading
// varints, fixed-width big-endian integers (which sort like numbers) and
// length-prefixed strings. ByteReader never reads past its input: every Read
// returns false instead, and the caller reports Corruption. Private to aggregate/.

#include <cstdint>
#include <string>
#include <string_view>

#include "aggregate/id.h"

namespace tally {

inline void PutVarint(uint64_t v, std::string* out) {
  if (v < 0x80) {
    out->push_back(static_cast<char>(v));
    return;
  }
  // Longer ones (times, counts) are built apart and appended at once: a
  // push_back per byte checked the capacity each time, and views are encoded
  // with every batch that touches them.
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

inline void PutZigZag(int64_t v, std::string* out) {
  PutVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63), out);
}

inline void PutString(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

// Big-endian, so that keys sort numerically.
inline void PutFixed32BE(uint32_t v, std::string* out) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  out->append(b, 4);
}

inline void PutFixed64BE(uint64_t v, std::string* out) {
  PutFixed32BE(static_cast<uint32_t>(v >> 32), out);
  PutFixed32BE(static_cast<uint32_t>(v), out);
}

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  bool empty() const { return in_.empty(); }
  std::string_view rest() const { return in_; }

  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63 && !in_.empty(); shift += 7) {
      const auto byte = static_cast<unsigned char>(in_[0]);
      in_.remove_prefix(1);
      result |= uint64_t{byte & 0x7Fu} << shift;
      if (byte < 0x80) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Varint32(uint32_t* v) {
    uint64_t x;
    if (!Varint(&x) || x > UINT32_MAX) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool ZigZag(int64_t* v) {
    uint64_t x;
    if (!Varint(&x)) return false;
    *v = static_cast<int64_t>((x >> 1) ^ (~(x & 1) + 1));
    return true;
  }
  bool String(std::string_view* s) {
    uint64_t n;
    if (!Varint(&n) || n > in_.size()) return false;
    *s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool Fixed32BE(uint32_t* v) {
    if (in_.size() < 4) return false;
    const auto* b = reinterpret_cast<const unsigned char*>(in_.data());
    *v = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
    in_.remove_prefix(4);
    return true;
  }
  bool Fixed64BE(uint64_t* v) {
    uint32_t hi, lo;
    if (!Fixed32BE(&hi) || !Fixed32BE(&lo)) return false;
    *v = uint64_t{hi} << 32 | lo;
    return true;
  }
  bool SkipId() { return tally::Id::SkipKey(&in_); }
  bool Id(tally::Id* id) {
    auto parsed = Id::ConsumeKey(&in_);
    if (!parsed) return false;
    *id = *parsed;
    return true;
  }

 private:
  std::string_view in_;
};

}  // namespace tally
