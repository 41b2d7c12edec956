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

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // The name of the next object member.
  void Key(std::string_view name);

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
