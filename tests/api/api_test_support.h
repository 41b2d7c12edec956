#pragma once

// Shared pieces of the API tests: a store filled with test_data.h opened once per
// test binary, a server on port 0 over it with a controllable IngestStatus, and
// checks of the response envelope.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "aggregate/store.h"
#include "api/server.h"
#include "tests/api/http_client.h"
#include "tests/api/test_data.h"
#include "tests/support/temp_dir.h"

namespace tally::testing {

struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;

  simdjson::dom::element operator[](std::string_view key) const { return root[key].value(); }
  std::vector<std::string> Keys(simdjson::dom::element e) const {
    std::vector<std::string> keys;
    const simdjson::dom::object object = e.get_object().value();  // a copy: the result is a temporary
    for (auto field : object) keys.emplace_back(field.key);
    return keys;
  }
};

// simdjson refuses integers beyond 64 bits, which tally writes for 21-digit task
// ids; the tests see such a number as the string "#<digits>" (see Digits).
inline std::string QuoteBigIntegers(const std::string& text) {
  std::string out;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        out.push_back(text[++i]);
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out.push_back(c);
    } else if (c >= '0' && c <= '9') {
      size_t end = i;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
      const std::string digits = text.substr(i, end - i);
      out += digits.size() > 19 ? "\"#" + digits + "\"" : digits;
      i = end - 1;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

inline std::unique_ptr<Json> ParseJson(const std::string& text) {
  auto json = std::make_unique<Json>();
  auto error = json->parser.parse(QuoteBigIntegers(text)).get(json->root);
  EXPECT_FALSE(error) << "not JSON: " << text;
  return json;
}

inline std::string Str(simdjson::dom::element e) { return std::string(e.get_string().value()); }
inline int64_t Int(simdjson::dom::element e) { return e.get_int64().value(); }
// A number's digits as written (for ids beyond 64 bits).
inline std::string Digits(simdjson::dom::element e) {
  if (e.is_string()) {
    std::string s = Str(e);
    return s.starts_with("#") ? s.substr(1) : "not a number: " + s;
  }
  return simdjson::minify(e);
}

// The store of test_data.h, opened once for the whole test binary.
class SharedStore {
 public:
  static Store* Get() {
    static SharedStore* shared = new SharedStore();  // never destroyed: tests run in any order
    return shared->store_.get();
  }

 private:
  SharedStore() {
    auto store = Store::Open(StoreOptions{dir_.path(), size_t{32} << 20, false, {}});
    if (!store) throw std::runtime_error(store.error().ToString());
    store_ = std::move(*store);
    if (!FillTestStore(store_.get())) throw std::runtime_error("cannot fill the test store");
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

// Checks the envelope every business response carries and returns the parsed body.
inline std::unique_ptr<Json> ExpectEnvelope(const HttpResult& r, int http_status, int code) {
  EXPECT_EQ(r.status, http_status) << r.body;
  EXPECT_TRUE(r.header("content-type").starts_with("application/json")) << r.header("content-type");
  auto json = ParseJson(r.body);
  if (!json->root.is_object()) return json;
  EXPECT_EQ(json->Keys(json->root),
            (std::vector<std::string>{"code", "message", "data", "date", "requestId", "success"}))
      << r.body;
  EXPECT_EQ(Int((*json)["code"]), code) << r.body;
  EXPECT_EQ((*json)["success"].get_bool().value(), code == 2000);
  if (code != 2000) {
    EXPECT_TRUE((*json)["data"].is_null()) << r.body;
  }
  EXPECT_FALSE(Str((*json)["message"]).empty());
  EXPECT_TRUE(std::regex_match(Str((*json)["date"]), std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")));
  const std::string id = Str((*json)["requestId"]);
  EXPECT_EQ(r.header("x-request-id"), id);
  EXPECT_TRUE(r.has("x-tally-lag"));
  return json;
}

inline bool IsFreshRequestId(const std::string& id) { return std::regex_match(id, std::regex("[0-9a-f]{32}")); }

}  // namespace tally::testing
