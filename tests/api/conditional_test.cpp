// ETag / If-None-Match / 304 and long polls (Prefer: wait), docs/http-api.md
// "Polling": the tag's rules (a function of route, effective parameters and
// the named requests' versions), the header parsing, the 304's headers, and
// held requests: woken by an apply, timed out, capped, freed by a disconnect,
// answered at shutdown.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <regex>
#include <set>
#include <thread>

#include "api/etag.h"
#include "api/not_modified_memo.h"
#include "api/position.h"
#include "tests/api/api_test_support.h"

namespace tally::testing {
namespace {

using namespace std::chrono_literals;

// FNV-1a 64's published test vectors: the hash is the same in every build.
TEST(ETagTest, HashIsFnv1a64) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(ETagTest, TagIsAShortQuotedStrongTagOfItsInputs) {
  const std::vector<uint64_t> v1 = {3}, v2 = {4}, both = {3, 4};
  const std::string tag = MakeETag("key", "", v1);
  EXPECT_TRUE(std::regex_match(tag, std::regex("\"[A-Za-z0-9_-]{1,64}\""))) << tag;
  EXPECT_EQ(tag, MakeETag("key", "", v1));
  EXPECT_NE(tag, MakeETag("key", "", v2));
  EXPECT_NE(tag, MakeETag("kez", "", v1));
  EXPECT_NE(tag, MakeETag("key", "salt", v1));
  EXPECT_NE(MakeETag("key", "", both), MakeETag("key", "", std::vector<uint64_t>{4, 3}));
  const std::vector<uint64_t> huge = {UINT64_MAX / 2, UINT64_MAX / 2};
  EXPECT_LE(MakeETag(std::string(1000, 'k'), "s", huge).size(), 66u);
}

TEST(ETagTest, IfNoneMatchIsAListWithWeakPrefixesAndNoWildcard) {
  const std::string tag = "\"7-00ff\"";
  for (const char* header : {"\"7-00ff\"", "W/\"7-00ff\"", "\"x\", \"7-00ff\"", "\"x\",W/\"7-00ff\" , \"y\"",
                             "*, \"7-00ff\"", "  \"7-00ff\"  ", "\"a,b\", \"7-00ff\""}) {
    EXPECT_TRUE(IfNoneMatchHas(header, tag)) << header;
  }
  for (const char* header : {"*", "", "\"7-00fe\"", "7-00ff", "w/\"7-00ff\"x", "\"7-00ff", "W/ \"x\"",
                             "\"7-00ff\"x", "\"x\" \"y\""}) {
    EXPECT_FALSE(IfNoneMatchHas(header, tag)) << header;
  }
}

TEST(ETagTest, PreferWaitIsWholeSecondsCappedAtSixty) {
  EXPECT_EQ(PreferredWait("wait=5"), 5s);
  EXPECT_EQ(PreferredWait("WAIT = 7"), 7s);
  EXPECT_EQ(PreferredWait("respond-async, wait=10"), 10s);
  EXPECT_EQ(PreferredWait("wait=10; foo=bar"), 10s);
  EXPECT_EQ(PreferredWait("wait=61"), 60s);
  EXPECT_EQ(PreferredWait("wait=99999999999999999999999"), 60s);
  for (const char* none : {"", "wait=0", "wait=", "wait=-1", "wait=1.5", "wait=abc", "wait=+3", "respond-async",
                           "waiting=3", "wait=3s"}) {
    EXPECT_EQ(PreferredWait(none), std::nullopt) << none;
  }
}

TEST(NotModifiedMemoTest, AnswersOnlyTheSameRequestInTheSameState) {
  NotModifiedMemo memo;
  std::string key, other;
  ASSERT_TRUE(NotModifiedMemo::MakeKey(1, "annotationRequestId=a", "", "\"1-ab\"", std::nullopt, &key));
  memo.Put(key, 10, "\"1-ab\"", "p1");
  std::string etag, position;
  auto take = [&](std::string_view e, std::string_view p) {
    etag = e;
    position = p;
  };
  EXPECT_TRUE(memo.Find(key, 10, take));
  EXPECT_EQ(etag, "\"1-ab\"");
  EXPECT_EQ(position, "p1");
  EXPECT_FALSE(memo.Find(key, 11, take));  // a write since: found again, never reused
  EXPECT_FALSE(memo.Find(key, 9, take));
  // Any part that differs is another request; parts cannot run into each other.
  const std::vector<std::tuple<size_t, std::string, std::string, std::string, std::optional<std::string>>> others = {
      {2, "annotationRequestId=a", "", "\"1-ab\"", std::nullopt},
      {1, "annotationRequestId=b", "", "\"1-ab\"", std::nullopt},
      {1, "annotationRequestId=a", "{}", "\"1-ab\"", std::nullopt},
      {1, "annotationRequestId=", "a", "\"1-ab\"", std::nullopt},
      {1, "annotationRequestId=a", "", "\"1-ac\"", std::nullopt},
      {1, "annotationRequestId=a", "", "\"1-ab\"", std::string()},
      {1, "annotationRequestId=a", "", "\"1-ab\"", std::string("v1.x")},
  };
  for (const auto& [route, query, body, tag, min] : others) {
    ASSERT_TRUE(NotModifiedMemo::MakeKey(route, query, body, tag, min, &other));
    EXPECT_NE(other, key) << query << " " << body << " " << tag;
    EXPECT_FALSE(memo.Find(other, 10, take)) << query << " " << body << " " << tag;
  }
  // A slower thread's 304 of an older state does not replace the newer one.
  memo.Put(key, 12, "\"2-cd\"", "p2");
  memo.Put(key, 11, "\"1-ab\"", "p1");
  EXPECT_TRUE(memo.Find(key, 12, take));
  EXPECT_EQ(etag, "\"2-cd\"");
  // Memory stays bounded: a request longer than the limit is not kept.
  EXPECT_FALSE(NotModifiedMemo::MakeKey(1, std::string(NotModifiedMemo::kMaxKeyBytes, 'q'), "", "\"1-ab\"",
                                        std::nullopt, &other));
}

// A store of its own, records applied in the test, and a server over it whose
// long polls the store wakes.
class ConditionalTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }
  void TearDown() override {
    StopServer();
  }

  void OpenStore() {
    auto opened = Store::Open(StoreOptions{dir_.path(), size_t{32} << 20, false, {}});
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  void StartServer(ApiOptions options = {}) {
    options.listen = "127.0.0.1:0";
    options.idle_timeout = 30s;
    auto server = ApiServer::Start(options, store_.get(), IngestSource{[] { return int64_t{7}; }, {}});
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
    store_->SetChangeListener([s = server_.get()](std::span<const std::string> r) { s->RequestsChanged(r); });
  }

  void StopServer() {
    if (!server_) return;
    store_->SetChangeListener(nullptr);
    server_->Stop();
    server_.reset();
  }

  void Apply(std::vector<TaskAction> actions) {
    ASSERT_TRUE(store_->Apply(ApplyBatch{actions, {}, "task-actions", {}}));
  }

  static TaskAction Record(uint64_t id, const std::string& request, uint64_t task) {
    TaskAction a = Action(id, request, "camp", Id(task), static_cast<int64_t>(id));
    a.scene_id = "scene-" + std::to_string(task);
    a.project_id = Id(9);
    return a;
  }

  HttpResult Get(const std::string& target, const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return HttpClient(server_->port()).Get(target, h);
  }
  std::string ETagOf(const std::string& target) {
    HttpResult r = Get(target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    return r.header("etag");
  }
  // A metric's value from /metrics (0 if absent).
  double Metric(const std::string& name) {
    const std::string text = Get("/metrics").body;
    const std::regex line("(^|\n)" + name + " ([0-9.e+-]+)");
    std::smatch m;
    return std::regex_search(text, m, line) ? std::stod(m[2]) : 0;
  }
  // Waits (bounded) until the tally_http_waiters gauge shows `n`.
  bool WaitForWaiters(double n) {
    for (int i = 0; i < 500; ++i) {
      if (Metric("tally_http_waiters") == n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  // Sends a GET on its own connection and returns it without reading the answer.
  std::unique_ptr<HttpClient> Send(const std::string& target, const std::string& etag, const std::string& prefer,
                                   int timeout_seconds = 90) {
    auto client = std::make_unique<HttpClient>(server_->port(), timeout_seconds);
    std::string raw = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: " + etag + "\r\n";
    if (!prefer.empty()) raw += "Prefer: " + prefer + "\r\n";
    client->WriteRaw(raw + "\r\n");
    return client;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ApiServer> server_;
};

const std::string kStats = "/statistics?annotationRequestId=a";
const std::string kRecords = "/statistics/record?annotationRequestId=a,b";
const std::string kTask = "/task/get?campaignId=camp&annotationRequestId=a&sceneId=scene-1";
const std::string kSummary = "/statistics/summary?annotationRequestId=a";
const std::string kLabelers = "/statistics/labelers?annotationRequestId=a";
// Every business route, each naming request a (kRecords: a and b).
const std::vector<std::string> kEveryRoute = {kStats, kRecords, kTask, kSummary, kLabelers};

TEST_F(ConditionalTest, EveryBusinessSuccessCarriesAStrongTag) {
  Apply({Record(1, "a", 1), Record(2, "b", 2)});
  StartServer();
  for (const std::string& target : {kStats, kRecords, kTask}) {
    HttpResult r = Get(target);
    ExpectEnvelope(r, 200, 2000);
    EXPECT_TRUE(std::regex_match(r.header("etag"), std::regex("\"[A-Za-z0-9_-]{1,64}\""))) << r.header("etag");
    EXPECT_EQ(Get(target).header("etag"), r.header("etag")) << target;  // stable while nothing is applied
  }
  // Different endpoints and parameters, different tags.
  EXPECT_NE(ETagOf(kStats), ETagOf(kTask));
  EXPECT_NE(ETagOf(kStats), ETagOf(kStats + "&pageSize=3"));
  // Errors carry none.
  EXPECT_FALSE(Get("/statistics?annotationRequestId=nope").has("etag"));
  EXPECT_FALSE(Get("/statistics?pageSize=3").has("etag"));
}

// The summary and labelers name one request: its version makes their tags.
TEST_F(ConditionalTest, SummaryAndLabelersTakePart) {
  TaskAction first = Record(1, "a", 1);
  first.alice_name = "ann";
  Apply({first, Record(2, "b", 2)});
  StartServer();
  for (const std::string target : {"/statistics/summary?annotationRequestId=a", "/statistics/labelers?annotationRequestId=a"}) {
    const std::string tag = ETagOf(target);
    EXPECT_TRUE(std::regex_match(tag, std::regex("\"[A-Za-z0-9_-]{1,64}\""))) << tag;
    EXPECT_NE(tag, ETagOf(kStats)) << target;
    EXPECT_EQ(Get(target, {{"If-None-Match", tag}}).status, 304) << target;
    Apply({Record(100 + target.size(), "b", 2)});  // another request: same tag
    EXPECT_EQ(ETagOf(target), tag) << target;
    Apply({Record(200 + target.size(), "a", 3)});  // its request: a new tag, and a 200
    EXPECT_NE(ETagOf(target), tag) << target;
    EXPECT_EQ(Get(target, {{"If-None-Match", tag}}).status, 200) << target;
  }
  EXPECT_EQ(ETagOf("/statistics/labelers?annotationRequestId=a&pageSize=5000"),
            ETagOf("/statistics/labelers?annotationRequestId=a&pageSize=1000"));
  // Defaults, a body, and parameters the route does not take are the same effective parameters.
  const std::string labelers = ETagOf(kLabelers);
  EXPECT_EQ(ETagOf(kLabelers + "&pageNumber=1&pageSize=10&foo=bar"), labelers);
  EXPECT_EQ(HttpClient(server_->port()).Post("/statistics/labelers", R"({"annotationRequestId":"a","pageSize":"10"})")
                .header("etag"),
            labelers);
  EXPECT_NE(ETagOf(kLabelers + "&pageSize=9"), labelers);
  EXPECT_NE(ETagOf(kLabelers + "&pageNumber=2"), labelers);
  const std::string summary = ETagOf(kSummary);
  EXPECT_EQ(ETagOf(kSummary + "&pageSize=3&pageNumber=7"), summary);  // summary takes no paging
  EXPECT_EQ(HttpClient(server_->port()).Post("/statistics/summary", R"({"annotationRequestId":"a"})").header("etag"),
            summary);
  EXPECT_NE(summary, labelers);  // the endpoint is part of the tag
  EXPECT_FALSE(Get("/statistics/summary?annotationRequestId=nope").has("etag"));
}

TEST_F(ConditionalTest, TagChangesWithTheNamedRequestsOnly) {
  Apply({Record(1, "a", 1), Record(2, "b", 2), Record(3, "c", 3)});
  StartServer();
  const std::string stats = ETagOf(kStats), records = ETagOf(kRecords), task = ETagOf(kTask);
  const double hits = Metric("tally_http_cache_hits_total");
  // A record of another request: every tag stays, and the cached answers are still served.
  Apply({Record(10, "c", 3)});
  EXPECT_EQ(ETagOf(kStats), stats);
  EXPECT_EQ(ETagOf(kRecords), records);
  EXPECT_EQ(ETagOf(kTask), task);
  EXPECT_GE(Metric("tally_http_cache_hits_total"), hits + 3);
  // A duplicate of a named request's record changes nothing.
  Apply({Record(1, "a", 1)});
  EXPECT_EQ(ETagOf(kStats), stats);
  // A record of b: only the tag naming b changes.
  Apply({Record(11, "b", 2)});
  EXPECT_EQ(ETagOf(kStats), stats);
  EXPECT_EQ(ETagOf(kTask), task);
  const std::string records2 = ETagOf(kRecords);
  EXPECT_NE(records2, records);
  // A record of a: every tag naming a changes.
  Apply({Record(12, "a", 4)});
  EXPECT_NE(ETagOf(kStats), stats);
  EXPECT_NE(ETagOf(kTask), task);
  EXPECT_NE(ETagOf(kRecords), records2);
}

TEST_F(ConditionalTest, EffectiveParametersShareATag) {
  Apply({Record(1, "a", 1), Record(2, "b", 2)});
  StartServer();
  const std::string stats = ETagOf(kStats);
  EXPECT_EQ(ETagOf(kStats + "&pageSize=10&pageNumber=1"), stats);
  EXPECT_EQ(ETagOf(kStats + "&pageSize=5000"), ETagOf(kStats + "&pageSize=1000"));
  EXPECT_EQ(ETagOf(kRecords + "&limit=5000"), ETagOf(kRecords + "&limit=1000"));
  EXPECT_EQ(ETagOf(kRecords), ETagOf("/statistics/record?annotationRequestId=a&annotationRequestId=b&"
                                     "annotationRequestId=a&offset=1&limit=10"));
  // A JSON body is the same parameters as the query.
  HttpResult body = HttpClient(server_->port()).Post("/statistics", R"({"annotationRequestId":"a","pageSize":10})");
  EXPECT_EQ(body.header("etag"), stats);
}

TEST_F(ConditionalTest, TagSurvivesARestartAndReplicasAgree) {
  const std::vector<TaskAction> records = {Record(1, "a", 1), Record(2, "b", 2), Record(3, "a", 2),
                                           Record(4, "b", 1)};
  Apply(records);
  StartServer();
  std::vector<std::string> tags;
  for (const std::string& target : kEveryRoute) tags.push_back(ETagOf(target));
  StopServer();
  store_.reset();
  OpenStore();
  StartServer();
  for (size_t i = 0; i < kEveryRoute.size(); ++i) EXPECT_EQ(ETagOf(kEveryRoute[i]), tags[i]) << kEveryRoute[i];

  // Another store with the same records in another order, batching and
  // duplication: the same tags.
  TempDir other_dir;
  auto other = Store::Open(StoreOptions{other_dir.path(), size_t{32} << 20, false, {}});
  ASSERT_TRUE(other);
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    std::vector<TaskAction> one = {*it, *it};
    ASSERT_TRUE((*other)->Apply(ApplyBatch{one, {}, "task-actions", {}}));
  }
  ApiOptions options;
  options.listen = "127.0.0.1:0";
  auto replica = ApiServer::Start(options, other->get(), IngestSource{});
  ASSERT_TRUE(replica);
  HttpClient client((*replica)->port());
  for (size_t i = 0; i < kEveryRoute.size(); ++i) {
    EXPECT_EQ(client.Get(kEveryRoute[i]).header("etag"), tags[i]) << kEveryRoute[i];
  }
  (*replica)->Stop();
}

TEST_F(ConditionalTest, MatchingIfNoneMatchIs304WithItsHeaders) {
  Apply({Record(1, "a", 1), Record(2, "b", 2)});
  StartServer();
  for (const std::string& target : kEveryRoute) {
    const std::string tag = ETagOf(target);
    for (const std::string& header : {tag, "W/" + tag, "\"nope\", " + tag, "*, W/" + tag}) {
      HttpResult r = Get(target, {{"If-None-Match", header}, {"X-Request-Id", "poll-1"}});
      EXPECT_EQ(r.status, 304) << target << " " << header;
      EXPECT_TRUE(r.body.empty());
      EXPECT_EQ(r.header("etag"), tag);
      EXPECT_EQ(r.header("x-request-id"), "poll-1");
      EXPECT_EQ(r.header("x-tally-lag"), "7");
      EXPECT_TRUE(r.has("x-tally-position")) << target;
      EXPECT_FALSE(r.has("preference-applied"));
      EXPECT_FALSE(r.has("content-length") && r.header("content-length") != "0");
    }
    // A fresh request id when the caller gives none.
    EXPECT_TRUE(IsFreshRequestId(Get(target, {{"If-None-Match", tag}}).header("x-request-id")));
    // Not naming the current tag: the whole answer.
    for (const std::string& header : {std::string("*"), std::string("\"other\""), std::string("garbage")}) {
      HttpResult r = Get(target, {{"If-None-Match", header}});
      ExpectEnvelope(r, 200, 2000);
      EXPECT_EQ(r.header("etag"), tag);
    }
  }
  // POST too, and the tag of a clamped parameter set.
  const std::string tag = ETagOf(kStats);
  EXPECT_EQ(HttpClient(server_->port())
                .Post("/statistics", R"({"annotationRequestId":"a"})", {{"If-None-Match", tag}})
                .status,
            304);
  EXPECT_EQ(Get(kStats + "&pageSize=5000", {{"If-None-Match", ETagOf(kStats + "&pageSize=1000")}}).status, 304);
  // An old tag after a change: 200 and the new tag.
  Apply({Record(3, "a", 3)});
  HttpResult changed = Get(kStats, {{"If-None-Match", tag}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.header("etag"), tag);
  EXPECT_GE(Metric("tally_http_not_modified_total"), 13);
  EXPECT_NE(Get("/metrics").body.find("tally_http_requests_total{route=\"/statistics\",code=\"304\"}"),
            std::string::npos);
}

// If-None-Match and Prefer are lists (RFC 9110 section 5.3): a list may come as
// several field lines, which mean the same as one line joining them with commas.
TEST_F(ConditionalTest, ListHeadersMayComeAsSeveralFieldLines) {
  Apply({Record(1, "a", 1)});
  StartServer();
  for (const std::string& target : kEveryRoute) {
    if (target == kRecords) continue;  // names b, not applied here
    const std::string tag = ETagOf(target);
    auto client = std::make_unique<HttpClient>(server_->port(), 10);
    client->WriteRaw("GET " + target + " HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\nIf-None-Match: " + tag +
                     "\r\n\r\n");
    std::optional<HttpResult> r = client->Read();
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 304) << target;
    EXPECT_EQ(r->header("etag"), tag);
  }
  // The wait in a second Prefer line is a wait.
  const std::string tag = ETagOf(kStats);
  auto client = std::make_unique<HttpClient>(server_->port(), 10);
  client->WriteRaw("GET " + kStats + " HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"x\"\r\nPrefer: respond-async\r\n"
                   "If-None-Match: " + tag + "\r\nPrefer: wait=1\r\n\r\n");
  std::optional<HttpResult> r = client->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 304);
  EXPECT_EQ(r->header("preference-applied"), "wait=1");
}

TEST_F(ConditionalTest, ErrorsAreNever304) {
  Apply({Record(1, "a", 1)});
  StartServer();
  const std::string tag = ETagOf(kStats);
  // Parameters are checked first.
  ExpectEnvelope(Get(kStats + "&pageSize=0", {{"If-None-Match", tag}}), 400, 4005);
  ExpectEnvelope(Get("/statistics?annotationRequestId=nope", {{"If-None-Match", "*"}}), 404, 53003);
  ExpectEnvelope(Get("/statistics?annotationRequestId=nope", {{"If-None-Match", tag}}), 404, 53003);
  ExpectEnvelope(Get("/statistics/record?annotationRequestId=a,nope", {{"If-None-Match", "*"}}), 404, 53003);
  ExpectEnvelope(Get("/task/get?campaignId=camp&annotationRequestId=a&sceneId=none", {{"If-None-Match", "*"}}), 404,
                 56001);
  ExpectEnvelope(Get("/nowhere", {{"If-None-Match", tag}}), 404, 4004);
  for (const std::string& route : {std::string("/statistics/summary"), std::string("/statistics/labelers")}) {
    const std::string ok = route + "?annotationRequestId=a";
    const std::string own = ETagOf(ok);
    ExpectEnvelope(Get(route + "?annotationRequestId=nope", {{"If-None-Match", "*"}}), 404, 53003);
    ExpectEnvelope(Get(route + "?annotationRequestId=nope", {{"If-None-Match", own}}), 404, 53003);
    ExpectEnvelope(Get(route + "?annotationRequestId=a&annotationRequestId=a", {{"If-None-Match", own}}), 400, 4005);
    ExpectEnvelope(Get(route, {{"If-None-Match", own}}), 400, 4005);
  }
  ExpectEnvelope(Get(kLabelers + "&pageSize=0", {{"If-None-Match", ETagOf(kLabelers)}}), 400, 4005);
  const std::string summary_tag = ETagOf(kSummary);
  StopServer();
  // Auth before the condition.
  ApiOptions keyed;
  keyed.api_keys = {"k1"};
  StartServer(keyed);
  ExpectEnvelope(Get(kStats, {{"If-None-Match", tag}}), 401, 4001);
  EXPECT_EQ(Get(kStats, {{"If-None-Match", tag}, {"X-API-Key", "k1"}}).status, 304);
  ExpectEnvelope(Get(kSummary, {{"If-None-Match", summary_tag}}), 401, 4001);
  EXPECT_EQ(Get(kSummary, {{"If-None-Match", summary_tag}, {"X-API-Key", "k1"}}).status, 304);
}

TEST_F(ConditionalTest, LongPollIsWokenByAnApplyWith200) {
  Apply({Record(1, "a", 1), Record(2, "b", 2)});
  StartServer();
  for (const std::string& target : kEveryRoute) {
    const std::string tag = ETagOf(target);
    auto held = Send(target, tag, "wait=30");
    ASSERT_TRUE(WaitForWaiters(1)) << target;
    // A record of another request does not end it.
    Apply({Record(100 + Metric("tally_http_not_modified_total"), "c", 1)});
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(Metric("tally_http_waiters"), 1);
    const auto applied = std::chrono::steady_clock::now();
    static uint64_t next_id = 1000;
    Apply({Record(++next_id, target == kRecords ? "b" : "a", 1)});
    std::optional<HttpResult> r = held->Read();
    ASSERT_TRUE(r) << target;
    EXPECT_LT(std::chrono::steady_clock::now() - applied, 10s);  // not the 30 s: woken
    ExpectEnvelope(*r, 200, 2000);
    EXPECT_EQ(r->header("preference-applied"), "wait=30");
    EXPECT_TRUE(r->has("x-tally-position")) << target;
    EXPECT_NE(r->header("etag"), tag);
    EXPECT_EQ(r->header("etag"), ETagOf(target));
    EXPECT_TRUE(WaitForWaiters(0));
    // The connection goes on.
    EXPECT_EQ(held->Get("/healthz").status, 200);
  }
}

TEST_F(ConditionalTest, LongPollTimesOutWith304) {
  Apply({Record(1, "a", 1)});
  StartServer();
  const std::string tag = ETagOf(kStats);
  const auto start = std::chrono::steady_clock::now();
  auto held = Send(kStats, tag, "wait=1");
  std::optional<HttpResult> r = held->Read();
  ASSERT_TRUE(r);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_EQ(r->status, 304);
  EXPECT_EQ(r->header("etag"), tag);
  EXPECT_EQ(r->header("preference-applied"), "wait=1");
  EXPECT_TRUE(r->has("x-request-id"));
  EXPECT_TRUE(r->has("x-tally-position"));
  EXPECT_EQ(r->header("x-tally-lag"), "7");
  EXPECT_TRUE(r->body.empty());
  // Without a matching tag, or with no usable wait, Prefer is ignored: at once.
  for (const auto& [etag, prefer] : std::vector<std::pair<std::string, std::string>>{
           {"\"other\"", "wait=30"}, {tag, "wait=0"}, {tag, "wait=soon"}}) {
    auto client = Send(kStats, etag, prefer, 10);
    std::optional<HttpResult> now = client->Read();
    ASSERT_TRUE(now) << etag << " " << prefer;
    EXPECT_EQ(now->status, etag == tag ? 304 : 200);
    EXPECT_FALSE(now->has("preference-applied"));
  }
}

TEST_F(ConditionalTest, WaitOverSixtyCountsAsSixty) {
  Apply({Record(1, "a", 1)});
  StartServer();
  const std::string tag = ETagOf(kStats);
  auto held = Send(kStats, tag, "wait=3600");
  ASSERT_TRUE(WaitForWaiters(1));
  Apply({Record(2, "a", 2)});
  std::optional<HttpResult> r = held->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("preference-applied"), "wait=60");
}

TEST_F(ConditionalTest, PastTheCapTheAnswerIsImmediate) {
  Apply({Record(1, "a", 1)});
  ApiOptions options;
  options.max_waiters = 1;
  StartServer(options);
  const std::string tag = ETagOf(kStats);
  auto first = Send(kStats, tag, "wait=30");
  ASSERT_TRUE(WaitForWaiters(1));
  auto second = Send(kStats, tag, "wait=30", 10);
  std::optional<HttpResult> r = second->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 304);
  EXPECT_FALSE(r->has("preference-applied"));
  EXPECT_EQ(Metric("tally_http_waiters"), 1);
  Apply({Record(2, "a", 2)});
  ASSERT_TRUE(first->Read());
}

TEST_F(ConditionalTest, HeldPollsLeaveTheConnectionCapToOrdinaryRequests) {
  Apply({Record(1, "a", 1)});
  ApiOptions options;
  options.max_connections = 2;
  options.max_waiters = 8;
  StartServer(options);
  const std::string tag = ETagOf(kStats);
  std::vector<std::unique_ptr<HttpClient>> held;
  for (int i = 0; i < 3; ++i) held.push_back(Send(kStats, tag, "wait=60"));
  ASSERT_TRUE(WaitForWaiters(3));
  // More polls held than the cap allows connections, and still a business
  // request is answered (counted with them it would get the reserve's 503).
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get(kStats).status, 200);
  Apply({Record(2, "a", 2)});
  for (auto& client : held) {
    std::optional<HttpResult> r = client->Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(ConditionalTest, DisconnectFreesTheSlot) {
  Apply({Record(1, "a", 1)});
  ApiOptions options;
  options.max_waiters = 1;
  StartServer(options);
  const std::string tag = ETagOf(kStats);
  auto first = Send(kStats, tag, "wait=60");
  ASSERT_TRUE(WaitForWaiters(1));
  first.reset();  // the client leaves
  ASSERT_TRUE(WaitForWaiters(0));
  auto second = Send(kStats, tag, "wait=60");
  ASSERT_TRUE(WaitForWaiters(1));
  Apply({Record(2, "a", 2)});
  std::optional<HttpResult> r = second->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("preference-applied"), "wait=60");
}

TEST_F(ConditionalTest, StopAnswersHeldPollsAt304AtOnce) {
  Apply({Record(1, "a", 1)});
  StartServer();
  const std::string tag = ETagOf(kStats);
  std::vector<std::unique_ptr<HttpClient>> held;
  for (int i = 0; i < 3; ++i) held.push_back(Send(kStats, tag, "wait=60"));
  ASSERT_TRUE(WaitForWaiters(3));
  const auto start = std::chrono::steady_clock::now();
  server_->EndLongPolls();
  for (auto& client : held) {
    std::optional<HttpResult> r = client->Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 304);
    EXPECT_EQ(r->header("etag"), tag);
    EXPECT_EQ(r->header("preference-applied"), "wait=60");
    EXPECT_TRUE(r->has("x-tally-position"));
    EXPECT_TRUE(r->has("x-tally-lag"));
    EXPECT_TRUE(r->has("x-request-id"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);  // not the 60 s
  // No new poll is held once they are ended.
  auto late = Send(kStats, tag, "wait=60", 10);
  std::optional<HttpResult> r = late->Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 304);
  EXPECT_FALSE(r->has("preference-applied"));
}

// Helix repeats a poll with the same tag: while nothing is written, each
// repeat is the 304 it got before (not_modified_memo.h), with its own request id
// and the current lag; a write to another request keeps the 304; a write to the
// named request ends it at once (200, the new tag), as does a position the
// latest state has not reached.
TEST_F(ConditionalTest, ARepeatedPollGetsThe304OfTheStateItAsksIn) {
  Apply({Record(1, "a", 1), Record(2, "b", 2)});
  std::atomic<int64_t> lag{3};
  ApiOptions options;
  options.listen = "127.0.0.1:0";
  options.position_wait = 200ms;
  auto started = ApiServer::Start(options, store_.get(), IngestSource{[&lag] { return lag.load(); }, {}});
  ASSERT_TRUE(started) << started.error().ToString();
  server_ = std::move(*started);
  HttpClient client(server_->port());  // one keep-alive connection, as a poller has
  const std::string tag = client.Get(kStats).header("etag");
  ASSERT_FALSE(tag.empty());
  std::set<std::string> ids;
  const double not_modified = Metric("tally_http_not_modified_total");
  for (int i = 0; i < 5; ++i) {
    lag = 3 + i;
    HttpResult r = client.Get(kStats, {{"If-None-Match", tag}});
    EXPECT_EQ(r.status, 304);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.header("etag"), tag);
    EXPECT_EQ(r.header("x-tally-lag"), std::to_string(3 + i));
    EXPECT_TRUE(r.has("x-tally-position"));
    EXPECT_FALSE(r.has("preference-applied"));
    EXPECT_FALSE(r.has("content-length") && r.header("content-length") != "0");
    ids.insert(r.header("x-request-id"));
  }
  EXPECT_EQ(ids.size(), 5u);  // each answer its own id
  EXPECT_EQ(Metric("tally_http_not_modified_total"), not_modified + 5);  // each counted
  EXPECT_EQ(client.Get(kStats, {{"If-None-Match", tag}, {"X-Request-Id", "poll-7"}}).header("x-request-id"),
            "poll-7");
  // Another request's record: a new state, the same tag.
  Apply({Record(3, "b", 2)});
  EXPECT_EQ(client.Get(kStats, {{"If-None-Match", tag}}).status, 304);
  EXPECT_EQ(client.Get(kStats, {{"If-None-Match", tag}}).status, 304);
  // Offsets move the position a 304 carries.
  const std::string before = client.Get(kStats, {{"If-None-Match", tag}}).header("x-tally-position");
  const std::vector<PartitionOffset> offsets = {PartitionOffset(Partition{0}, Offset{5})};
  ASSERT_TRUE(store_->Apply(ApplyBatch{{}, {}, "task-actions", offsets}));
  HttpResult moved = client.Get(kStats, {{"If-None-Match", tag}});
  EXPECT_EQ(moved.status, 304);
  EXPECT_NE(moved.header("x-tally-position"), before);
  // A position beyond the latest: never the remembered 304.
  const std::vector<PartitionOffset> ahead = {PartitionOffset(Partition{0}, Offset{9})};
  HttpResult behind = client.Get(
      kStats, {{"If-None-Match", tag}, {"X-Tally-Min-Position", EncodePosition("task-actions", PositionOf(ahead))}});
  EXPECT_EQ(behind.status, 503) << behind.body;
  // A record of a: the old tag gets the whole answer at once.
  Apply({Record(4, "a", 3)});
  HttpResult changed = client.Get(kStats, {{"If-None-Match", tag}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.header("etag"), tag);
  EXPECT_EQ(client.Get(kStats, {{"If-None-Match", changed.header("etag")}}).status, 304);
}

// The same poll sent several times in one write (pipelined), then once with a
// chunked empty body and once more, then another request: each is answered in
// order, the repeats each a 304 of its own; the chunked one is read whole (its
// body is not taken for the next request).
TEST_F(ConditionalTest, RepeatedPollsPipelinedOrWithABodyAreEachAnsweredInOrder) {
  Apply({Record(1, "a", 1)});
  StartServer();
  const std::string tag = ETagOf(kStats);
  const std::string poll = "GET " + kStats + " HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: " + tag + "\r\n\r\n";
  const std::string chunked = "GET " + kStats + " HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: " + tag +
                              "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  HttpClient client(server_->port());
  client.WriteRaw(poll + poll + poll + chunked + chunked + poll + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  std::set<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    std::optional<HttpResult> r = client.Read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 304) << i << " " << r->body;
    EXPECT_EQ(r->header("etag"), tag) << i;
    ids.insert(r->header("x-request-id"));
  }
  EXPECT_EQ(ids.size(), 6u);
  std::optional<HttpResult> health = client.Read();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace tally::testing
