// Positions (api/position.h, docs/http-api.md "Positions"): the token's round
// trip and its refusals; X-Tally-Position on every business answer, read from
// the snapshot that answered; X-Tally-Min-Position waiting for the apply
// thread, then 503 + Retry-After; the order of checks.

#include <algorithm>
#include <cctype>
#include <future>
#include <limits>
#include <random>
#include <thread>

#include "api/position.h"
#include "api/position_waiters.h"
#include "tests/api/api_test_support.h"

namespace tally::testing {
namespace {

using namespace std::chrono_literals;

std::vector<PartitionNext> Pos(std::initializer_list<std::pair<int32_t, int64_t>> list) {
  std::vector<PartitionNext> out;
  for (const auto& [p, o] : list) out.push_back({Partition{p}, Offset{o}});
  return out;
}

bool InAlphabet(const std::string& token) {
  return std::all_of(token.begin(), token.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '~' || c == '-';
  });
}

// ---- the token ---------------------------------------------------------------

TEST(PositionTokenTest, RoundTrips) {
  const std::vector<std::vector<PartitionNext>> cases = {
      {},
      Pos({{0, 0}}),
      Pos({{0, 17}, {1, 0}, {2, 300}, {7, 1'000'000'007}}),
      Pos({{-1, 5}, {3, int64_t{1} << 62}}),
      Pos({{2'147'483'647, std::numeric_limits<int64_t>::max()}}),
  };
  for (const auto& position : cases) {
    const std::string token = EncodePosition("task-actions", position);
    EXPECT_TRUE(InAlphabet(token)) << token;
    EXPECT_LE(token.size(), kMaxPositionBytes);
    auto parsed = ParsePosition(token, "task-actions");
    ASSERT_TRUE(parsed) << token << ": " << parsed.error().ToString();
    EXPECT_EQ(*parsed, position) << token;
  }
}

TEST(PositionTokenTest, ManyPartitionsKeepTheLowestThatFitIn2KiB) {
  std::vector<PartitionNext> position;
  for (int32_t p = 0; p < 5000; ++p) position.push_back({Partition{p}, Offset{int64_t{1} << 40}});
  const std::string token = EncodePosition("task-actions", position);
  EXPECT_LE(token.size(), kMaxPositionBytes);
  EXPECT_GT(token.size(), kMaxPositionBytes - 16);  // it is filled, not cut short
  auto parsed = ParsePosition(token, "task-actions");
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  ASSERT_GT(parsed->size(), 100u);
  ASSERT_LT(parsed->size(), position.size());
  EXPECT_TRUE(std::equal(parsed->begin(), parsed->end(), position.begin()));  // a prefix: never more than applied
  // 250 partitions with offsets in the billions fit whole.
  position.resize(250);
  for (auto& p : position) p.next = Offset{4'000'000'000};
  EXPECT_EQ(ParsePosition(EncodePosition("task-actions", position), "task-actions")->size(), 250u);
}

TEST(PositionTokenTest, RefusesMalformedTokensNamingTheHeader) {
  const std::string good = EncodePosition("task-actions", Pos({{0, 5}, {1, 9}}));
  const std::vector<std::string> bad = {
      "",
      "p1",
      "p2." + good.substr(3),                  // another version
      good + "A",                              // an impossible base64 length or trailing bytes
      good + "AA",                             // trailing bytes
      good.substr(0, good.size() - 2),         // truncated
      "p1." + good.substr(3, 5) + "+" + good.substr(9),  // outside base64url
      "p1.////",
      "p1.=",
      std::string(3000, 'A'),                  // too long
      "p1." + std::string(2100, 'A'),
      "p1.Bw",                                 // topic length 7, no topic
  };
  for (const std::string& token : bad) {
    auto parsed = ParsePosition(token, "task-actions");
    ASSERT_FALSE(parsed) << token;
    EXPECT_EQ(parsed.error().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(parsed.error().message().find("X-Tally-Min-Position"), std::string::npos) << parsed.error().message();
  }
}

TEST(PositionTokenTest, RefusesNumbersOutOfRangeAndNonMinimalVarints) {
  // Hand-made payloads: topic "t", two pairs; base64url of the bytes.
  // 01 74 02 | 00 05 | 00 07 is ascending (0 then 1); a huge step overflows int32.
  auto token = [](std::string bytes) {
    static constexpr char kA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out = "p1.";
    uint32_t bits = 0;
    int n = 0;
    for (unsigned char c : bytes) {
      bits = (bits << 8) | c;
      n += 8;
      while (n >= 6) out.push_back(kA[(bits >> (n -= 6)) & 63]);
    }
    if (n > 0) out.push_back(kA[(bits << (6 - n)) & 63]);
    return out;
  };
  ASSERT_TRUE(ParsePosition(token(std::string("\x01t\x02\x00\x05\x00\x07", 7)), "t"));
  EXPECT_EQ(*ParsePosition(token(std::string("\x01t\x02\x00\x05\x00\x07", 7)), "t"), Pos({{0, 5}, {1, 7}}));
  EXPECT_FALSE(ParsePosition(token(std::string("\x01t\x02\x00\x05\xff\xff\xff\xff\x0f\x07", 11)), "t"));
  EXPECT_FALSE(ParsePosition(token(std::string("\x01t\x01\x00\x80\x00", 6)), "t"));  // a varint not minimal
  EXPECT_FALSE(ParsePosition(token(std::string("\x01t\x03\x00\x05\x00\x07", 7)), "t"));  // count too high
}

TEST(PositionTokenTest, RefusesATokenOfAnotherTopic) {
  const std::string token = EncodePosition("other-topic", Pos({{0, 5}}));
  auto parsed = ParsePosition(token, "task-actions");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message().find("X-Tally-Min-Position"), std::string::npos);
  EXPECT_NE(parsed.error().message().find("another topic"), std::string::npos);
}

TEST(PositionTokenTest, AnUnknownPartitionCountsAsOffsetZero) {
  EXPECT_TRUE(Reaches(Pos({{0, 5}}), Pos({{0, 5}, {3, 0}})));
  EXPECT_FALSE(Reaches(Pos({{0, 5}}), Pos({{0, 5}, {3, 1}})));
  EXPECT_FALSE(Reaches(Pos({{0, 5}, {1, 2}}), Pos({{0, 6}})));
  EXPECT_TRUE(Reaches(Pos({{0, 6}, {1, 2}}), Pos({{1, 2}})));
  EXPECT_TRUE(Reaches({}, {}));
}

TEST(PositionWaitersTest, WakesOnlyWaitersWhosePositionIsReached) {
  PositionWaiters waiters;
  int a = 0, b = 0;
  const uint64_t id_a = waiters.Add(Pos({{0, 5}}), Pos({{0, 1}, {1, 9}}), [&] { ++a; });
  const uint64_t id_b = waiters.Add(Pos({{0, 3}, {1, 10}}), Pos({{0, 1}}), [&] { ++b; });
  ASSERT_NE(id_a, 0u);
  ASSERT_NE(id_b, 0u);
  waiters.Advanced(Pos({{0, 4}}));
  EXPECT_EQ(a + b, 0);
  waiters.Advanced(Pos({{0, 5}}));  // partition 1 is at 9, from a's snapshot
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
  waiters.Advanced(Pos({{1, 10}}));
  EXPECT_EQ(b, 1);
  EXPECT_EQ(waiters.size(), 0u);
  // Reached already (a batch landed after the snapshot): not kept.
  EXPECT_EQ(waiters.Add(Pos({{0, 5}}), {}, [&] { ++a; }), 0u);
  // Removed: not woken.
  const uint64_t id_c = waiters.Add(Pos({{2, 1}}), {}, [&] { ++a; });
  waiters.Remove(id_c);
  waiters.Advanced(Pos({{2, 1}}));
  EXPECT_EQ(a, 1);
  // Stopping wakes everyone and keeps no one.
  waiters.Add(Pos({{3, 1}}), {}, [&] { ++b; });
  waiters.WakeAll();
  EXPECT_EQ(b, 2);
  EXPECT_EQ(waiters.Add(Pos({{3, 2}}), {}, [&] { ++b; }), 0u);
}

// Waiters are filed by one partition they wait for; whatever order partitions
// advance in (rewinds included), the ones woken after each batch are exactly
// those a scan of every waiter with Reaches finds.
TEST(PositionWaitersTest, WakesWhatAScanOfEveryWaiterWouldWake) {
  std::mt19937 random(7);
  for (int round = 0; round < 20; ++round) {
    PositionWaiters waiters;
    std::vector<PartitionNext> applied;  // the reference: what the batches said
    std::vector<std::vector<PartitionNext>> mins;
    std::vector<int> woken;
    auto merge = [&](const std::vector<PartitionNext>& batch) {
      for (const PartitionNext& b : batch) {
        auto it = std::find_if(applied.begin(), applied.end(), [&](auto& a) { return a.partition == b.partition; });
        if (it == applied.end()) {
          applied.push_back(b);
        } else {
          it->next = b.next;
        }
      }
      std::sort(applied.begin(), applied.end(), [](auto& x, auto& y) { return Raw(x.partition) < Raw(y.partition); });
    };
    for (int i = 0; i < 200; ++i) {
      std::vector<PartitionNext> min;
      for (int32_t p = 0; p < 6; ++p) {
        if (random() % 2) min.push_back({Partition{p}, Offset{static_cast<int64_t>(random() % 40)}});
      }
      const size_t index = mins.size();
      mins.push_back(min);
      woken.push_back(0);
      // A snapshot's position fills in partitions no batch has named yet.
      std::vector<PartitionNext> seen;
      for (int32_t p = 0; p < 6; ++p) {
        if (random() % 4 == 0) seen.push_back({Partition{p}, Offset{static_cast<int64_t>(random() % 40)}});
      }
      for (const PartitionNext& f : seen) {
        if (std::none_of(applied.begin(), applied.end(), [&](auto& a) { return a.partition == f.partition; })) merge({f});
      }
      auto wake = [&, index] {
        ++woken[index];
        EXPECT_TRUE(Reaches(applied, mins[index])) << "waiter " << index << " woken short of its position";
      };
      if (waiters.Add(min, seen, wake) == 0) woken[index] = -1;  // reached: not kept
      EXPECT_EQ(woken[index] == -1, Reaches(applied, min)) << "waiter " << i;
      std::vector<PartitionNext> batch;
      for (int32_t p = 0; p < 6; ++p) {
        if (random() % 3 == 0) batch.push_back({Partition{p}, Offset{static_cast<int64_t>(random() % 45)}});
      }
      merge(batch);
      waiters.Advanced(batch);
      for (size_t w = 0; w < mins.size(); ++w) {
        if (woken[w] == -1) continue;
        ASSERT_LE(woken[w], 1) << "waiter " << w << " woken twice";
        // None still waits that its position is reached (woken ones may be
        // behind again: a rewound partition).
        if (woken[w] == 0) {
          EXPECT_FALSE(Reaches(applied, mins[w])) << "waiter " << w << " not woken";
        }
      }
    }
    size_t waiting = 0;
    for (size_t w = 0; w < mins.size(); ++w) waiting += woken[w] == 0;
    EXPECT_EQ(waiters.size(), waiting);
  }
}

// ---- the server --------------------------------------------------------------

// A server over a store of its own, whose batches (with offsets) the test applies.
class PositionServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(StoreOptions{dir_.path(), size_t{32} << 20, false, {}});
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    std::vector<TaskAction> actions = TestActions();
    ASSERT_TRUE(Apply(actions, Pos({{0, 10}, {1, 20}})));
  }

  void Start(ApiOptions options) {
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    options.query_threads = 2;
    auto server = ApiServer::Start(options, store_.get(), IngestSource{});
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }

  // Applies a batch with these offsets of task-actions and tells the server, as the consumer does.
  bool Apply(std::span<const TaskAction> actions, const std::vector<PartitionNext>& next) {
    std::vector<PartitionOffset> offsets;
    for (const PartitionNext& n : next) offsets.emplace_back(n.partition, n.next);
    if (!store_->Apply(ApplyBatch{actions, {}, "task-actions", offsets})) return false;
    if (server_) server_->PositionAdvanced(offsets);
    return true;
  }

  HttpResult Get(const std::string& target, const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return HttpClient(server_->port()).Get(target, h);
  }

  int64_t Metric(const std::string& name) {
    const std::string text = Get("/metrics").body;
    const size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + name.size() + 2));
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(PositionServerTest, EveryBusinessAnswerCarriesThePositionOfItsSnapshot) {
  Start(ApiOptions{});
  const std::vector<HttpResult> answers = {
      Get("/statistics?annotationRequestId=req-1"),
      Get("/statistics/record?annotationRequestId=req-1"),
      HttpClient(server_->port()).Post("/task/get", R"({"campaignId":"camp-1","annotationRequestId":"req-1","sceneId":"scene-1"})"),
      Get("/statistics?annotationRequestId=req-1"),  // from the response cache
      Get("/statistics?annotationRequestId=no-such-request"),  // 53003: read from a snapshot too
      Get("/statistics/summary?annotationRequestId=req-1"),
      Get("/statistics/labelers?annotationRequestId=req-1"),
  };
  for (const HttpResult& r : answers) {
    ASSERT_TRUE(r.has("x-tally-position")) << r.status << " " << r.body;
    auto parsed = ParsePosition(r.header("x-tally-position"), "task-actions");
    ASSERT_TRUE(parsed) << r.header("x-tally-position");
    EXPECT_EQ(*parsed, Pos({{0, 10}, {1, 20}}));
  }
  // Not on answers no snapshot was read for.
  EXPECT_FALSE(Get("/statistics").has("x-tally-position"));
  EXPECT_FALSE(Get("/healthz").has("x-tally-position"));
  // A batch moves it (and the cached answer is not served with the old one).
  std::vector<TaskAction> more = {Action(9001, "req-1", "camp-1", Id(1), 500)};
  ASSERT_TRUE(Apply(more, Pos({{1, 21}})));
  EXPECT_EQ(*ParsePosition(Get("/statistics?annotationRequestId=req-1").header("x-tally-position"), "task-actions"),
            Pos({{0, 10}, {1, 21}}));
}

TEST_F(PositionServerTest, AReachedPositionIsAnsweredAtOnce) {
  Start(ApiOptions{});
  const std::string now = Get("/statistics?annotationRequestId=req-1").header("x-tally-position");
  for (const std::string& min : {now, EncodePosition("task-actions", Pos({{0, 3}})),
                                 EncodePosition("task-actions", Pos({{5, 0}}))}) {
    HttpResult r = Get("/statistics?annotationRequestId=req-1", {{"X-Tally-Min-Position", min}});
    ExpectEnvelope(r, 200, 2000);
  }
}

TEST_F(PositionServerTest, ABehindRequestIsAnsweredOnceIngestionReachesItsPosition) {
  ApiOptions options;
  options.position_wait = 20s;  // the test's apply ends the wait, not the clock
  Start(options);
  const std::string min = EncodePosition("task-actions", Pos({{1, 22}, {4, 1}}));
  // The request goes first; the record it must see is applied only once it waits.
  auto answer = std::async(std::launch::async, [&] {
    return Get("/statistics?annotationRequestId=req-new", {{"X-Tally-Min-Position", min}});
  });
  for (int i = 0; i < 500 && Metric("tally_http_position_waiters") != 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(Metric("tally_http_position_waiters"), 1);
  std::vector<TaskAction> first = {Action(9101, "req-new", "camp-9", Id(1), 600)};
  ASSERT_TRUE(Apply(first, Pos({{1, 22}})));  // partition 4 still short
  ASSERT_EQ(answer.wait_for(300ms), std::future_status::timeout);
  std::vector<TaskAction> second = {Action(9102, "req-new", "camp-9", Id(2), 601)};
  ASSERT_TRUE(Apply(second, Pos({{4, 1}})));
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  HttpResult r = answer.get();
  auto json = ExpectEnvelope(r, 200, 2000);  // the request did not exist when it came: not 53003
  EXPECT_EQ(r.header("x-total-count"), "2");
  auto position = ParsePosition(r.header("x-tally-position"), "task-actions");
  ASSERT_TRUE(position);
  EXPECT_TRUE(Reaches(*position, *ParsePosition(min, "task-actions")));
  EXPECT_EQ(Metric("tally_http_position_waiters"), 0);
}

TEST_F(PositionServerTest, StillBehindAfterTheWaitIs503WithRetryAfter) {
  ApiOptions options;
  options.position_wait = 300ms;
  Start(options);
  const auto started = std::chrono::steady_clock::now();
  HttpResult r = Get("/statistics?annotationRequestId=req-1",
                     {{"X-Tally-Min-Position", EncodePosition("task-actions", Pos({{0, 11}}))}});
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);  // it waited (a lower bound only)
  auto json = ExpectEnvelope(r, 503, 5000);
  EXPECT_EQ(Str((*json)["message"]), "Behind the requested position; try again");
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_EQ(Metric("tally_http_behind_position_total"), 1);
  EXPECT_EQ(Metric("tally_http_position_waiters"), 0);
  // With no wait at all, at once.
  server_.reset();
  options.position_wait = 0ms;
  Start(options);
  r = Get("/statistics?annotationRequestId=req-1",
          {{"X-Tally-Min-Position", EncodePosition("task-actions", Pos({{7, 1}}))}});
  ExpectEnvelope(r, 503, 5000);
  EXPECT_EQ(r.header("retry-after"), "1");
}

TEST_F(PositionServerTest, ChecksAuthThenParametersThenPositionThenExistence) {
  ApiOptions options;
  options.api_keys = {"k"};
  options.position_wait = 200ms;
  Start(options);
  const std::pair<std::string, std::string> key = {"X-API-Key", "k"};
  const std::pair<std::string, std::string> bad = {"X-Tally-Min-Position", "garbage"};
  const std::pair<std::string, std::string> other = {"X-Tally-Min-Position",
                                                     EncodePosition("other-topic", Pos({{0, 1}}))};
  const std::pair<std::string, std::string> ahead = {"X-Tally-Min-Position",
                                                     EncodePosition("task-actions", Pos({{0, 99}}))};
  // No key: 4001 whatever the token.
  ExpectEnvelope(Get("/statistics?annotationRequestId=req-1", {bad}), 401, 4001);
  // A bad parameter is named before the token.
  auto json = ExpectEnvelope(Get("/statistics?pageSize=0&annotationRequestId=req-1", {key, bad}), 400, 4005);
  EXPECT_NE(Str((*json)["message"]).find("pageSize"), std::string::npos) << Str((*json)["message"]);
  // Then the token, before existence: a malformed one, one of another topic, an empty one.
  for (const auto& header : {bad, other, std::pair<std::string, std::string>{"X-Tally-Min-Position", ""}}) {
    for (const char* request : {"req-1", "no-such-request"}) {
      json = ExpectEnvelope(Get(std::string("/statistics?annotationRequestId=") + request, {key, header}), 400, 4005);
      EXPECT_NE(Str((*json)["message"]).find("X-Tally-Min-Position"), std::string::npos) << Str((*json)["message"]);
    }
  }
  json = ExpectEnvelope(HttpClient(server_->port()).Post("/task/get", R"({"campaignId":"x","annotationRequestId":"y","sceneId":"z"})",
                                                         {key, other}),
                        400, 4005);
  EXPECT_NE(Str((*json)["message"]).find("X-Tally-Min-Position"), std::string::npos);
  // The same order on the summary and labelers.
  for (const std::string route : {"/statistics/summary", "/statistics/labelers"}) {
    ExpectEnvelope(Get(route + "?annotationRequestId=no-such-request", {bad}), 401, 4001);
    json = ExpectEnvelope(Get(route + "?annotationRequestId=req-1&annotationRequestId=req-2", {key, bad}), 400, 4005);
    EXPECT_NE(Str((*json)["message"]).find("annotationRequestId"), std::string::npos) << Str((*json)["message"]);
    for (const auto& header : {bad, other}) {
      json = ExpectEnvelope(Get(route + "?annotationRequestId=no-such-request", {key, header}), 400, 4005);
      EXPECT_NE(Str((*json)["message"]).find("X-Tally-Min-Position"), std::string::npos) << Str((*json)["message"]);
    }
    auto behind = Get(route + "?annotationRequestId=no-such-request", {key, ahead});
    json = ExpectEnvelope(behind, 503, 5000);
    EXPECT_EQ(Str((*json)["message"]), "Behind the requested position; try again");
    EXPECT_EQ(behind.header("retry-after"), "1");
    ExpectEnvelope(Get(route + "?annotationRequestId=no-such-request",
                       {key, {"X-Tally-Min-Position", EncodePosition("task-actions", Pos({{0, 10}}))}}),
                   404, 53003);
  }
  // An unknown request at a position not reached: 503, not 53003 (it may exist there).
  ExpectEnvelope(Get("/statistics/record?annotationRequestId=no-such-request", {key, ahead}), 503, 5000);
  // Reached: existence is checked.
  ExpectEnvelope(Get("/statistics/record?annotationRequestId=no-such-request",
                     {key, {"X-Tally-Min-Position", EncodePosition("task-actions", Pos({{0, 10}}))}}),
                 404, 53003);
}

TEST_F(PositionServerTest, A304CarriesThePositionAndWaitsForTheMinimumLikeA200) {
  ApiOptions options;
  options.position_wait = 20s;
  Start(options);
  const HttpResult first = Get("/statistics?annotationRequestId=req-1");
  ASSERT_EQ(first.status, 200);
  const std::string etag = first.header("etag");
  ASSERT_FALSE(etag.empty());
  HttpResult r = Get("/statistics?annotationRequestId=req-1", {{"If-None-Match", etag}});
  ASSERT_EQ(r.status, 304);
  ASSERT_TRUE(r.has("x-tally-position"));
  EXPECT_EQ(*ParsePosition(r.header("x-tally-position"), "task-actions"), Pos({{0, 10}, {1, 20}}));
  // Ahead: held until ingestion gets there (a batch of another request: req-1's tag stays), then 304.
  const std::string min = EncodePosition("task-actions", Pos({{0, 12}}));
  auto answer = std::async(std::launch::async, [&] {
    return Get("/statistics?annotationRequestId=req-1", {{"If-None-Match", etag}, {"X-Tally-Min-Position", min}});
  });
  for (int i = 0; i < 500 && Metric("tally_http_position_waiters") != 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(Metric("tally_http_position_waiters"), 1);
  std::vector<TaskAction> other = {Action(9201, "req-other", "camp-9", Id(1), 700)};
  ASSERT_TRUE(Apply(other, Pos({{0, 12}})));
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  r = answer.get();
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(*ParsePosition(r.header("x-tally-position"), "task-actions"), Pos({{0, 12}, {1, 20}}));
}

TEST_F(PositionServerTest, StopAnswersWaitingRequestsAtOnce) {
  ApiOptions options;
  options.position_wait = 30s;
  Start(options);
  auto answer = std::async(std::launch::async, [&] {
    return Get("/statistics?annotationRequestId=req-1",
               {{"X-Tally-Min-Position", EncodePosition("task-actions", Pos({{0, 50}}))}});
  });
  for (int i = 0; i < 500 && Metric("tally_http_position_waiters") != 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(Metric("tally_http_position_waiters"), 1);
  std::thread stop([&] { server_->Stop(); });
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);  // not the 30 s of the wait
  stop.join();
  EXPECT_EQ(answer.get().status, 503);
}

}  // namespace
}  // namespace tally::testing
