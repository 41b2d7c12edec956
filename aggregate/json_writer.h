#pragma once

// JsonWriter appends JSON text to a string the caller owns, placing commas and
// colons itself so callers only say what comes next. It writes straight into the
// destination (an HTTP response body, a Kafka message) with no tree in between.
// Not thread-safe; one writer per output. Nesting is limited to kMaxDepth levels.

#include <cstdint>
#include <string>
#include <string_view>

#include "aggregate/id.h"

namespace tally {

// Appends `text` as a quoted JSON string. Control characters, quotes and
// backslashes are escaped; bytes that are not valid UTF-8 become U+FFFD, so the
// output is valid JSON whatever the input.
void AppendJsonString(std::string_view text, std::string* out);

// The room WriteJsonString may need for `bytes` bytes of text: a byte becomes at
// most 6 (\u001f, \ufffd), and the quotes.
constexpr size_t JsonStringBound(size_t bytes) { return 6 * bytes + 2; }
// Writes `text` as AppendJsonString appends it, at `out`, which has room for
// JsonStringBound(text.size()) bytes; returns the end. For writers that reserve
// room for a whole object and fill it through a pointer.
char* WriteJsonString(std::string_view text, char* out);

// The name of an object member written in the code: checked when the program is
// compiled to need no escaping, and kept quoted with its colon, so that writing it
// is a single append (names are most of a page's JSON calls).
class JsonName {
 public:
  static constexpr size_t kMaxBytes = 40;

  template <size_t N>
  consteval JsonName(const char (&name)[N]) : size_(N - 1 + 3) {  // NOLINT: implicit from a literal by design
    static_assert(N - 1 + 3 <= kMaxBytes, "a member name this long needs a larger JsonName::kMaxBytes");
    text_[0] = '"';
    for (size_t i = 0; i + 1 < N; ++i) {
      const char c = name[i];
      // Not a constant expression, so a name that would need escaping fails to compile.
      if (c < 0x20 || c == '"' || c == '\\' || static_cast<unsigned char>(c) >= 0x80) NameNeedsEscaping();
      text_[i + 1] = c;
    }
    text_[N] = '"';
    text_[N + 1] = ':';
  }

  std::string_view quoted() const { return std::string_view(text_, size_); }  // "name":

 private:
  static void NameNeedsEscaping() {}

  char text_[kMaxBytes] = {};
  size_t size_;
};

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // The name of the next object member: one written in the code, or one that
  // comes from data (an instance key), escaped.
  void Key(const JsonName& name);
  void DataKey(std::string_view name);

  void String(std::string_view text);
  void Uint(uint64_t value);
  void Int(int64_t value);
  void Id(tally::Id value);  // a JSON number with the id's digits
  void Bool(bool value);
  void Null();
  // A value that is already JSON text.
  void Raw(std::string_view json);

  std::string* out() const { return out_; }

  // Deepest nesting of arrays and objects: one bit of has_items_ per level.
  static constexpr int kMaxDepth = 64;

 private:
  void BeforeValue();
  void Open(char bracket);
  void Close(char bracket);

  std::string* out_;
  uint64_t has_items_ = 0;  // bit d: the container at depth d has a value already
  int depth_ = 0;
  bool after_key_ = false;
};

}  // namespace tally
