#include "aggregate/json_writer.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace tally {
namespace {

std::string Escaped(std::string_view text) {
  std::string out;
  AppendJsonString(text, &out);
  return out;
}

TEST(JsonWriterTest, PlacesCommasAndColons) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("a");
  w.Uint(1);
  w.Key("b");
  w.BeginArray();
  w.Int(-2);
  w.Null();
  w.Bool(true);
  w.BeginObject();
  w.EndObject();
  w.BeginArray();
  w.EndArray();
  w.EndArray();
  w.Key("id");
  w.Id(*Id::FromDigits("234234123133374715904"));
  w.Key("raw");
  w.Raw("{\"x\":1}");
  w.EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[-2,null,true,{},[]],"id":234234123133374715904,"raw":{"x":1}})");
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Escaped("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Escaped("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(Escaped(std::string_view("\x01\x1f\x00", 3)), R"("\u0001\u001f\u0000")");
  EXPECT_EQ(Escaped("\x7f"), "\"\x7f\"");
}

TEST(JsonWriterTest, KeepsValidUtf8) {
  EXPECT_EQ(Escaped("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"");
}

TEST(JsonWriterTest, ReplacesInvalidUtf8) {
  EXPECT_EQ(Escaped("a\xff" "b"), R"("a\ufffdb")");
  EXPECT_EQ(Escaped("\xc3"), R"("\ufffd")");                 // truncated sequence
  EXPECT_EQ(Escaped("\xc0\xaf"), R"("\ufffd\ufffd")");        // overlong
  EXPECT_EQ(Escaped("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
  EXPECT_EQ(Escaped("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // > U+10FFFF
}

// The escaper scans eight bytes at a time: every byte value, at every position of
// a string longer than two such words (so in a word's every lane and in the tail
// scanned byte by byte), is escaped exactly as a one-byte-at-a-time reference does.
TEST(JsonWriterTest, EscapesEveryByteValueAtEveryPosition) {
  const std::string plain = "abcdefghijklmnopqrstu";  // 21 bytes: two words and a tail
  auto reference = [](unsigned char c) -> std::string {
    switch (c) {
      case '"': return "\\\"";
      case '\\': return "\\\\";
      case '\n': return "\\n";
      case '\r': return "\\r";
      case '\t': return "\\t";
      case '\b': return "\\b";
      case '\f': return "\\f";
    }
    if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      return buf;
    }
    if (c >= 0x80) return "\\ufffd";  // a lone byte >= 0x80 is never valid UTF-8
    return std::string(1, static_cast<char>(c));
  };
  for (size_t at = 0; at < plain.size(); ++at) {
    for (int b = 0; b < 256; ++b) {
      std::string text = plain;
      text[at] = static_cast<char>(b);
      const std::string expected =
          "\"" + plain.substr(0, at) + reference(static_cast<unsigned char>(b)) + plain.substr(at + 1) + "\"";
      ASSERT_EQ(Escaped(text), expected) << "byte " << b << " at " << at;
    }
  }
}

}  // namespace
}  // namespace tally
