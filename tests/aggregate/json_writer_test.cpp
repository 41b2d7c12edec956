#include "aggregate/json_writer.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace tally
