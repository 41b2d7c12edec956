// Huge answers (issue 9, item 9): a task with 300,000 instance keys, and pages
// of records with thousands of keys each, are answered correctly and streamed
// in bounded pieces (chunked), never built whole; small answers keep one buffer
// with a Content-Length.

#include <gtest/gtest.h>
#include <zlib.h>

#include <map>
#include <set>

#include "api/router.h"
#include "api/server.h"
#include "tests/api/api_test_support.h"

namespace tally::testing {
namespace {

constexpr uint32_t kBigEvents = 30, kBigKeys = 10'000;  // the case: 300,000 keys
constexpr uint32_t kRecords = 200, kRecordKeys = 2'000;  // about 6 MB of records

// Event `n` of `task` in `request` with `keys` keys of its own and "shared".
TaskAction ManyKeyEvent(std::string request, uint64_t task, uint64_t n, uint32_t keys) {
  TaskAction a;
  a.id = Id(1'000'000 * task + n);
  a.annotation_request_id = std::move(request);
  a.campaign_id = "camp";
  a.task_id = Id(task);
  a.project_id = Id(5);
  a.created_time = Timestamp{1'743'500'000'000 + static_cast<int64_t>(n) * 1000};
  for (uint32_t k = 0; k < keys; ++k) a.instance_info.Add("e" + std::to_string(n) + "-" + std::to_string(k), k % 9);
  a.instance_info.Add("shared", 3);
  a.instance_info.Sort();
  return a;
}

std::string Gunzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    char buffer[1 << 16];
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof(buffer);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - z.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  EXPECT_EQ(z.avail_in, 0u);  // one stream, nothing after it
  inflateEnd(&z);
  return out;
}

class StreamingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto store = Store::Open(StoreOptions{dir_->path(), size_t{64} << 20, false, {}});
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = store->release();
    for (uint32_t n = 0; n < kBigEvents; ++n) {
      const std::vector<TaskAction> one = {ManyKeyEvent("big", 7, n, kBigKeys)};
      ASSERT_TRUE(store_->Apply(ApplyBatch{one, {}, "t", {}}));
    }
    std::vector<TaskAction> records;
    for (uint32_t n = 0; n < kRecords; ++n) records.push_back(ManyKeyEvent("records", 1 + n % 5, n, kRecordKeys));
    ASSERT_TRUE(store_->Apply(ApplyBatch{records, {}, "t", {}}));
    const std::vector<TaskAction> small = {ManyKeyEvent("small", 3, 0, 3)};
    ASSERT_TRUE(store_->Apply(ApplyBatch{small, {}, "t", {}}));
  }
  static void TearDownTestSuite() {
    delete store_;
    delete dir_;
  }

  void SetUp() override {
    ApiOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    auto server = ApiServer::Start(options, store_, IngestSource{});
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }

  HttpClient Client() { return HttpClient(server_->port(), 60); }

  static TempDir* dir_;
  static Store* store_;
  std::unique_ptr<ApiServer> server_;
};

TempDir* StreamingTest::dir_ = nullptr;
Store* StreamingTest::store_ = nullptr;

TEST_F(StreamingTest, ATaskWith300kKeysIsAnsweredWholeAndChunked) {
  HttpClient client = Client();
  for (const bool gzip : {false, true}) {
    SCOPED_TRACE(gzip ? "accepting gzip" : "plain");
    std::vector<std::pair<std::string, std::string>> headers;
    if (gzip) headers.emplace_back("Accept-Encoding", "gzip");
    HttpResult r = client.Get("/statistics?annotationRequestId=big", headers);
    EXPECT_EQ(r.header("transfer-encoding"), "chunked");
    EXPECT_FALSE(r.has("content-length"));
    EXPECT_EQ(r.header("x-total-count"), "1");
    if (gzip) {
      // One gzip stream over all the pieces.
      EXPECT_EQ(r.header("content-encoding"), "gzip");
      EXPECT_LT(r.body.size(), size_t{2} << 20);
      r.body = Gunzip(r.body);
    } else {
      EXPECT_FALSE(r.has("content-encoding"));
    }
    EXPECT_GT(r.body.size(), size_t{3} << 20);  // about 3.7 MB
    auto json = ExpectEnvelope(r, 200, 2000);
    const auto tasks = (*json)["data"].get_array().value();
    ASSERT_EQ(tasks.size(), 1u);
    const simdjson::dom::element task = tasks.at(0).value();
    EXPECT_EQ(json->Keys(task), (std::vector<std::string>{"id", "status", "project_id", "pool_id", "pool_type",
                                                          "instance_info", "instance_num"}));
    EXPECT_EQ(Int(task["id"].value()), 7);
    // Every key, in bytewise order, with its sum over the 30 events.
    std::map<std::string, uint64_t> want;
    uint64_t want_num = 0;
    for (uint32_t n = 0; n < kBigEvents; ++n) {
      for (uint32_t k = 0; k < kBigKeys; ++k) {
        want["e" + std::to_string(n) + "-" + std::to_string(k)] += k % 9;
        want_num += k % 9;
      }
      want["shared"] += 3;
      want_num += 3;
    }
    const simdjson::dom::object info = task["instance_info"].get_object().value();
    ASSERT_EQ(info.size(), want.size());
    auto expected = want.begin();
    for (auto field : info) {
      ASSERT_EQ(field.key, expected->first);
      ASSERT_EQ(field.value.get_uint64().value(), expected->second) << field.key;
      ++expected;
    }
    EXPECT_EQ(task["instance_num"].get_uint64().value(), want_num);
  }
  // The connection is still good for the next request.
  const HttpResult small = client.Get("/statistics?annotationRequestId=small");
  auto json = ExpectEnvelope(small, 200, 2000);
  EXPECT_EQ(small.header("content-length"), std::to_string(small.body.size()));
  EXPECT_FALSE(small.has("transfer-encoding"));
}

TEST_F(StreamingTest, APageOfLargeRecordsIsAnsweredWholeAndChunked) {
  const HttpResult r = Client().Get("/statistics/record?annotationRequestId=records&limit=1000");
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_FALSE(r.has("content-length"));
  auto json = ExpectEnvelope(r, 200, 2000);
  EXPECT_EQ(Int((*json)["data"]["count"].value()), kRecords);
  const auto records = (*json)["data"]["data"].get_array().value();
  ASSERT_EQ(records.size(), kRecords);
  int64_t previous = -1;
  std::set<int64_t> seen;
  for (auto record : records) {
    const int64_t id = Int(record["id"].value());
    EXPECT_GT(id, previous);  // ordered by id
    previous = id;
    seen.insert(id % 1'000'000);
    const simdjson::dom::object info = record["instanceInfo"].get_object().value();
    ASSERT_EQ(info.size(), kRecordKeys + 1u);
    ASSERT_EQ(info["shared"].get_uint64().value(), 3u);
    ASSERT_EQ(info["e" + std::to_string(id % 1'000'000) + "-8"].get_uint64().value(), 8u);
  }
  EXPECT_EQ(seen.size(), kRecords);
}

TEST_F(StreamingTest, SmallAnswersKeepOneBufferWithALength) {
  const HttpResult r = Client().Get("/statistics/record?annotationRequestId=small");
  ExpectEnvelope(r, 200, 2000);
  EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
  EXPECT_FALSE(r.has("transfer-encoding"));
}

TEST_F(StreamingTest, Http10ClientsGetTheStreamUntilTheConnectionCloses) {
  HttpClient client = Client();
  client.WriteRaw("GET /statistics?annotationRequestId=big HTTP/1.0\r\n\r\n");
  std::string raw;
  beast::error_code ec;
  std::array<char, 1 << 16> buffer;
  for (;;) {
    const size_t n = client.socket().read_some(asio::buffer(buffer), ec);
    raw.append(buffer.data(), n);
    if (ec) break;
  }
  EXPECT_EQ(ec, asio::error::eof);
  const size_t split = raw.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  const std::string head = raw.substr(0, split);
  EXPECT_TRUE(head.starts_with("HTTP/1.0 200")) << head;
  EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  auto json = ParseJson(raw.substr(split + 4));
  EXPECT_EQ((*json)["data"].at(0)["instance_info"].get_object().value().size(), size_t{kBigEvents} * kBigKeys + 1);
}

// The server's memory per answer is bounded by construction: the answer holds
// its first part (up to kInlineBodyBytes) and yields the rest in pieces of about
// kBodyPieceBytes, whatever the answer's size.
TEST_F(StreamingTest, AHugeAnswerIsHeldOnePieceAtATime) {
  ApiContext context;
  context.store = store_;
  for (const std::string target : {"/statistics?annotationRequestId=big",
                                   "/statistics/record?annotationRequestId=records&limit=1000"}) {
    SCOPED_TRACE(target);
    HttpRequest request{http::verb::get, target, 11};
    Answer answer = HandleRequest(request, context);
    ASSERT_EQ(answer.response.result_int(), 200u);
    ASSERT_NE(answer.stream, nullptr);
    constexpr size_t kLargestItem = 64 << 10;  // a record of 2,000 keys; a count is far less
    EXPECT_LE(answer.response.body().size(), kInlineBodyBytes + kLargestItem);
    std::string body = answer.response.body();
    std::string piece;
    size_t pieces = 0;
    for (bool more = true; more;) {
      piece.clear();
      Result<bool> next = answer.stream->Next(&piece);
      ASSERT_TRUE(next) << next.error().ToString();
      more = *next;
      EXPECT_LE(piece.size(), kBodyPieceBytes + kLargestItem);
      body += piece;
      ++pieces;
    }
    EXPECT_GT(pieces, 4u);
    auto json = ParseJson(body);
    EXPECT_EQ(Int((*json)["code"]), 2000);
  }
}

}  // namespace
}  // namespace tally::testing
