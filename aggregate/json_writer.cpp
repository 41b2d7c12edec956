#include "aggregate/json_writer.h"

#include <bit>
#include <cassert>
#include <charconv>
#include <cstring>

namespace tally {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
  }
  return n;
}

// The number of bytes at the start of `text` (from `i`) that are copied as they
// are: printable ASCII other than '"' and '\\'. Eight bytes at a time, portably
// (SWAR): answers are mostly ids, names and timestamps in plain ASCII, and a
// byte-by-byte scan was the largest single cost of writing a page of records.
size_t PlainRun(std::string_view text, size_t i) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const size_t start = i;
  while (i + 8 <= text.size()) {
    uint64_t w;
    std::memcpy(&w, text.data() + i, 8);
    // Per byte, exactly (no carry crosses a byte: x <= 0x7f): the high bit of
    // `special` is set where the byte is >= 0x80, < 0x20, '"' or '\\'.
    const uint64_t x = w & ~kHigh;
    const uint64_t control = ~(x + kOnes * 0x60);
    const uint64_t quote = ~((x ^ (kOnes * '"')) + kOnes * 0x7f);
    const uint64_t backslash = ~((x ^ (kOnes * '\\')) + kOnes * 0x7f);
    const uint64_t special = (w | control | quote | backslash) & kHigh;
    if (special != 0) {
      const int bit = std::endian::native == std::endian::little ? std::countr_zero(special)
                                                                  : std::countl_zero(special);
      return i - start + static_cast<size_t>(bit) / 8;
    }
    i += 8;
  }
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
    ++i;
  }
  return i - start;
}

}  // namespace

void AppendJsonString(std::string_view text, std::string* out) {
  if (PlainRun(text, 0) == text.size()) {  // nothing to escape, the common case: one append
    const size_t at = out->size();
    out->append(text.size() + 2, '"');
    std::memcpy(out->data() + at + 1, text.data(), text.size());
    return;
  }
  const size_t at = out->size();
  out->resize(at + JsonStringBound(text.size()));
  char* end = WriteJsonString(text, out->data() + at);
  out->resize(static_cast<size_t>(end - out->data()));
}

char* WriteJsonString(std::string_view text, char* out) {
  *out++ = '"';
  size_t i = PlainRun(text, 0);
  size_t run = 0;  // start of the pending run of bytes copied as they are
  auto copy_run = [&] {
    std::memcpy(out, text.data() + run, i - run);
    out += i - run;
  };
  auto put = [&](std::string_view s) {
    std::memcpy(out, s.data(), s.size());
    out += s.size();
  };
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      if (const size_t n = Utf8SequenceLength(text, i); n > 0) {
        i += n;
        i += PlainRun(text, i);
        continue;
      }
    }
    copy_run();
    switch (c) {
      case '"': put("\\\""); break;
      case '\\': put("\\\\"); break;
      case '\n': put("\\n"); break;
      case '\r': put("\\r"); break;
      case '\t': put("\\t"); break;
      case '\b': put("\\b"); break;
      case '\f': put("\\f"); break;
      default:
        if (c < 0x20) {
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          put(std::string_view(esc, sizeof(esc)));
        } else {
          put("\\ufffd");  // a byte that starts no valid UTF-8 sequence
        }
    }
    run = ++i;
    i += PlainRun(text, i);
  }
  copy_run();
  *out++ = '"';
  return out;
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ > 0) {
    const uint64_t bit = uint64_t{1} << (depth_ - 1);
    if (has_items_ & bit) out_->push_back(',');
    has_items_ |= bit;
  }
}

void JsonWriter::Open(char bracket) {
  BeforeValue();
  out_->push_back(bracket);
  assert(depth_ < kMaxDepth && "JsonWriter nests at most kMaxDepth levels");
  ++depth_;
  has_items_ &= ~(uint64_t{1} << (depth_ - 1));
}

void JsonWriter::Close(char bracket) {
  assert(depth_ > 0 && !after_key_);
  --depth_;
  out_->push_back(bracket);
}

void JsonWriter::Key(const JsonName& name) {
  BeforeValue();
  out_->append(name.quoted());
  after_key_ = true;
}

void JsonWriter::DataKey(std::string_view name) {
  BeforeValue();
  AppendJsonString(name, out_);
  out_->push_back(':');
  after_key_ = true;
}

void JsonWriter::String(std::string_view text) {
  BeforeValue();
  AppendJsonString(text, out_);
}

void JsonWriter::Uint(uint64_t value) {
  BeforeValue();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;  // 24 bytes always hold a uint64_t
  out_->append(buf, end);
}

void JsonWriter::Int(int64_t value) {
  BeforeValue();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;
  out_->append(buf, end);
}

void JsonWriter::Id(tally::Id value) {
  BeforeValue();
  value.AppendDecimal(out_);
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  out_->append(value ? "true" : "false");
}

void JsonWriter::Null() {
  BeforeValue();
  out_->append("null");
}

void JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_->append(json);
}

}  // namespace tally
