// The API over loopback with a real HTTP client (CONTRACT §3 and §5 "HTTP"): each
// endpoint in each parameter encoding, each rule and error code, the envelope,
// auth, limits, keep-alive, timeouts, the connection cap, gzip, ops endpoints,
// and shutdown.

#include "api/server.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <future>
#include <poll.h>
#include <set>
#include <sstream>
#include <thread>

#include "tests/api/api_test_support.h"

namespace tally::testing {
namespace {

using http::verb;

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(ApiOptions{}); }

  void Start(ApiOptions options, const Store* store = SharedStore::Get()) {
    server_.reset();
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    auto status = [this] {
      if (block_ingest_status_) {
        std::unique_lock lock(mutex_);
        entered_ = true;
        changed_.notify_all();
        changed_.wait(lock, [this] { return !block_ingest_status_; });
      }
      std::lock_guard lock(mutex_);
      return status_;
    };
    auto server = ApiServer::Start(options, store, IngestSource{[status] { return status().lag; }, status});
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
    port_ = server_->port();
  }

  HttpClient Client() { return HttpClient(port_); }
  HttpResult Get(const std::string& target, const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return Client().Get(target, h);
  }
  HttpResult Post(const std::string& target, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return Client().Post(target, body, h);
  }
  // GET with a body, as the seeds do.
  HttpResult GetWithBody(const std::string& target, const std::string& body) {
    return Client().Send(verb::get, target, body);
  }

  void SetStatus(IngestStatus s) {
    std::lock_guard lock(mutex_);
    status_ = std::move(s);
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  IngestStatus status_;
  std::atomic<bool> block_ingest_status_{false};
  bool entered_ = false;
  std::unique_ptr<ApiServer> server_;
  uint16_t port_ = 0;
};

// ---- GET /statistics -------------------------------------------------------

TEST_F(ApiServerTest, StatisticsReturnsTasksByTaskIdWithTotalCount) {
  auto r = Get("/statistics?annotationRequestId=req-1&pageNumber=1&pageSize=30");
  auto json = ExpectEnvelope(r, 200, 2000);
  EXPECT_EQ(Str((*json)["message"]), "Success");
  EXPECT_EQ(r.header("x-total-count"), "25");
  auto data = (*json)["data"].get_array().value();
  ASSERT_EQ(data.size(), 25u);
  std::vector<std::string> ids;
  for (auto task : data) ids.push_back(Digits(task["id"].value()));
  EXPECT_EQ(ids.front(), "1");
  EXPECT_EQ(ids[23], "24");
  EXPECT_EQ(ids.back(), kBigTaskId);  // numeric order, written with all its digits
  auto first = data.at(0).value();
  EXPECT_EQ(json->Keys(first), (std::vector<std::string>{"id", "status", "project_id", "pool_id", "pool_type",
                                                         "instance_info", "instance_num"}));
  EXPECT_EQ(Int(first["status"].value()), 3);
  EXPECT_EQ(Int(first["project_id"].value()), 1234);
  EXPECT_EQ(Int(first["pool_id"].value()), 3001);
  EXPECT_EQ(Int(first["pool_type"].value()), 1);
  EXPECT_EQ(simdjson::minify(first["instance_info"].value()), R"({"box":3,"select-[e000f]":1})");
  EXPECT_EQ(Int(first["instance_num"].value()), 4);
  EXPECT_TRUE(data.at(6).value()["project_id"].is_null());  // task 7 has no project
  EXPECT_TRUE(data.at(7).value()["pool_id"].is_null());     // task 8 has no pool
}

TEST_F(ApiServerTest, StatisticsPagesByPageNumber) {
  auto json = ExpectEnvelope(Get("/statistics?annotationRequestId=req-1&pageNumber=3&pageSize=10"), 200, 2000);
  auto data = (*json)["data"].get_array().value();
  ASSERT_EQ(data.size(), 5u);
  EXPECT_EQ(Digits(data.at(0).value()["id"].value()), "21");
  auto defaults = ExpectEnvelope(Get("/statistics?annotationRequestId=req-1"), 200, 2000);
  EXPECT_EQ((*defaults)["data"].get_array().value().size(), 10u);  // pageNumber 1, pageSize 10
  auto past = Get("/statistics?annotationRequestId=req-1&pageNumber=4&pageSize=10");
  auto past_json = ExpectEnvelope(past, 200, 2000);
  EXPECT_EQ(simdjson::minify((*past_json)["data"]), "[]");
  EXPECT_EQ(past.header("x-total-count"), "25");
  auto huge = ExpectEnvelope(Get("/statistics?annotationRequestId=req-1&pageNumber=99999999999999999999999"), 200,
                             2000);
  EXPECT_EQ(simdjson::minify((*huge)["data"]), "[]");
}

TEST_F(ApiServerTest, StatisticsClampsPageSizeTo1000) {
  auto r = Get("/statistics?annotationRequestId=big&pageSize=5000");
  auto json = ExpectEnvelope(r, 200, 2000);
  EXPECT_EQ((*json)["data"].get_array().value().size(), 1000u);
  EXPECT_EQ(r.header("x-total-count"), "1005");
  auto second = ExpectEnvelope(Get("/statistics?annotationRequestId=big&pageSize=5000&pageNumber=2"), 200, 2000);
  EXPECT_EQ((*second)["data"].get_array().value().size(), 5u);
}

TEST_F(ApiServerTest, StatisticsTakesEveryEncoding) {
  auto base = ParseJson(Get("/statistics?annotationRequestId=req-1&pageNumber=2&pageSize=3").body);
  const std::string expected = simdjson::minify((*base)["data"]);
  ASSERT_FALSE(expected.empty());
  auto same = [&](const HttpResult& r) {
    auto json = ExpectEnvelope(r, 200, 2000);
    EXPECT_EQ(simdjson::minify((*json)["data"]), expected);
    EXPECT_EQ(r.header("x-total-count"), "25");
  };
  same(GetWithBody("/statistics", R"({"annotationRequestId":"req-1","pageNumber":2,"pageSize":3})"));
  same(Post("/statistics", R"({"annotationRequestId":"req-1","pageNumber":"2","pageSize":"03"})"));
  same(Post("/statistics?annotationRequestId=req-1&pageNumber=2&pageSize=3", ""));
  same(Post("/statistics?annotationRequestId=req-1&pageNumber=2&pageSize=3", " \n\t "));  // whitespace = empty
  // A body, when sent, is used instead of the query.
  same(Post("/statistics?annotationRequestId=nope", R"({"annotationRequestId":"req-1","pageNumber":2,"pageSize":3})"));
  // Percent-decoding, of names too; unknown parameters ignored; a leading zero.
  same(Get("/statistics?annotation%52equestId=req%2D1&pageNumber=02&pageSize=%33&foo=bar&foo=baz"));
  // null takes the default.
  auto nulls = ExpectEnvelope(Post("/statistics", R"({"annotationRequestId":"req-1","pageNumber":null,"pageSize":null,"x":[1,{}]})"), 200, 2000);
  EXPECT_EQ((*nulls)["data"].get_array().value().size(), 10u);
}

TEST_F(ApiServerTest, StatisticsAnswers53003ForAnUnknownRequest) {
  auto json = ExpectEnvelope(Get("/statistics?annotationRequestId=nope"), 404, 53003);
  EXPECT_NE(Str((*json)["message"]).find("nope"), std::string::npos);
  // '+' is a space: "req 1" is not "req-1".
  ExpectEnvelope(Get("/statistics?annotationRequestId=req+1"), 404, 53003);
}

struct InvalidCase {
  std::string target;  // GET with this target...
  std::string body;    // ...and this body (if any)
  std::string names;   // the message must name this parameter
};

void ExpectInvalid(ApiServerTest* test, HttpResult r, const InvalidCase& c) {
  (void)test;
  auto json = ExpectEnvelope(r, 400, 4005);
  EXPECT_NE(Str((*json)["message"]).find(c.names), std::string::npos)
      << c.target << " " << c.body << " -> " << Str((*json)["message"]);
}

TEST_F(ApiServerTest, StatisticsRefusesEachInvalidParameterWith4005) {
  const std::string big(256, 'x');
  const std::vector<InvalidCase> cases = {
      {"/statistics", "", "annotationRequestId"},
      {"/statistics?annotationRequestId=", "", "annotationRequestId"},
      {"/statistics?annotationRequestId=" + big, "", "annotationRequestId"},
      {"/statistics?annotationRequestId=a&annotationRequestId=b", "", "annotationRequestId"},
      {"/statistics?annotationRequestId[]=req-1", "", "annotationRequestId"},
      {"/statistics?annotationRequestId=req-1&pageNumber=0", "", "pageNumber"},
      {"/statistics?annotationRequestId=req-1&pageNumber=-1", "", "pageNumber"},
      {"/statistics?annotationRequestId=req-1&pageNumber=abc", "", "pageNumber"},
      {"/statistics?annotationRequestId=req-1&pageNumber=2.0", "", "pageNumber"},
      {"/statistics?annotationRequestId=req-1&pageNumber=1e3", "", "pageNumber"},
      {"/statistics?annotationRequestId=req-1&pageNumber=%2B1", "", "pageNumber"},
      {"/statistics?annotationRequestId=req-1&pageNumber=", "", "pageNumber"},
      {"/statistics?annotationRequestId=req-1&pageNumber=1&pageNumber=2", "", "pageNumber"},
      {"/statistics?annotationRequestId=req-1&pageSize=0", "", "pageSize"},
      {"/statistics?annotationRequestId=req-1&pageSize=%zz", "", "pageSize"},
      // Checked in the table's order: the first broken rule is reported.
      {"/statistics?pageNumber=0", "", "annotationRequestId"},
      {"/statistics?annotationRequestId=req-1&pageNumber=0&pageSize=0", "", "pageNumber"},
      // Body forms.
      {"/statistics", R"({"annotationRequestId":7})", "annotationRequestId"},
      {"/statistics", R"({"annotationRequestId":["req-1"]})", "annotationRequestId"},
      {"/statistics", R"({"annotationRequestId":null})", "annotationRequestId"},
      {"/statistics", R"({"annotationRequestId":"req-1","annotationRequestId":"req-1"})", "annotationRequestId"},
      {"/statistics", R"({"annotationRequestId":"req-1","pageNumber":2.0})", "pageNumber"},
      {"/statistics", R"({"annotationRequestId":"req-1","pageNumber":1e3})", "pageNumber"},
      {"/statistics", R"({"annotationRequestId":"req-1","pageNumber":-3})", "pageNumber"},
      {"/statistics", R"({"annotationRequestId":"req-1","pageNumber":"+1"})", "pageNumber"},
      {"/statistics", R"({"annotationRequestId":"req-1","pageNumber":""})", "pageNumber"},
      {"/statistics", R"({"annotationRequestId":"req-1","pageNumber":true})", "pageNumber"},
      {"/statistics", R"({"annotationRequestId":"req-1","pageNumber":[1]})", "pageNumber"},
      {"/statistics", R"({"annotationRequestId":"req-1","pageSize":{}})", "pageSize"},
      {"/statistics", R"({"annotationRequestId":"req-1",)", "body"},
      {"/statistics", R"(["req-1"])", "body"},
      {"/statistics", R"("req-1")", "body"},
  };
  for (const InvalidCase& c : cases) {
    ExpectInvalid(this, c.body.empty() ? Get(c.target) : GetWithBody(c.target, c.body), c);
    if (!c.body.empty()) ExpectInvalid(this, Post(c.target, c.body), c);
  }
}

// ---- GET /statistics/summary and /statistics/labelers -------------------------

TEST_F(ApiServerTest, SummaryAnswersTheRequestAtAGlance) {
  auto r = Get("/statistics/summary?annotationRequestId=req-1");
  auto json = ExpectEnvelope(r, 200, 2000);
  simdjson::dom::element data = (*json)["data"];
  EXPECT_EQ(json->Keys(data), (std::vector<std::string>{"annotationRequestId", "tasks", "records", "tasksByStatus",
                                                        "tasksByHelixStatus", "recordsByActionType", "instanceInfo",
                                                        "instanceNum", "firstRecordTime", "lastRecordTime"}));
  // 25 tasks: task 2 waits in a Check pool (status 1, Helix 5), task 1's latest
  // record submitted it (Helix 4), the rest are at work in annotation (3, 3).
  EXPECT_EQ(simdjson::minify(data),
            R"({"annotationRequestId":"req-1","tasks":25,"records":26,"tasksByStatus":{"1":1,"3":24},)"
            R"("tasksByHelixStatus":{"3":23,"4":1,"5":1},"recordsByActionType":{"7":1,"13":25},)"
            R"("instanceInfo":{"box":27,"select-[e000f]":325},"instanceNum":352,)"
            R"("firstRecordTime":"2025-04-01 08:00:01","lastRecordTime":"2025-04-01 08:01:40"})");
  EXPECT_EQ(r.header("x-total-count"), "");
  EXPECT_EQ(r.header("x-tally-lag"), "-1");
  // Numeric key order: "9" before "11"; a request whose records carry no counts.
  auto other = ExpectEnvelope(Get("/statistics/summary?annotationRequestId=req-3"), 200, 2000);
  EXPECT_EQ(simdjson::minify((*other)["data"]["tasksByHelixStatus"]), R"({"11":1})");
  EXPECT_EQ(simdjson::minify((*other)["data"]["instanceInfo"]), "{}");
  EXPECT_EQ(Int((*other)["data"]["instanceNum"].value()), 0);
}

TEST_F(ApiServerTest, SummaryTakesEveryEncodingAndIgnoresPaging) {
  const std::string expected =
      simdjson::minify((*ParseJson(Get("/statistics/summary?annotationRequestId=req-1").body))["data"]);
  ASSERT_FALSE(expected.empty());
  auto same = [&](const HttpResult& r) {
    auto json = ExpectEnvelope(r, 200, 2000);
    EXPECT_EQ(simdjson::minify((*json)["data"]), expected);
  };
  same(GetWithBody("/statistics/summary", R"({"annotationRequestId":"req-1"})"));
  same(Post("/statistics/summary", R"({"annotationRequestId":"req-1","pageNumber":0})"));
  same(Post("/statistics/summary?annotationRequestId=req-1", " "));
  same(Get("/statistics/summary?annotation%52equestId=req%2D1&pageSize=0&foo=bar"));
}

TEST_F(ApiServerTest, SummaryAndLabelersAnswer53003ForAnUnknownRequest) {
  for (const std::string route : {"/statistics/summary", "/statistics/labelers"}) {
    auto r = Get(route + "?annotationRequestId=nope");
    auto json = ExpectEnvelope(r, 404, 53003);
    EXPECT_NE(Str((*json)["message"]).find("nope"), std::string::npos) << route;
    EXPECT_EQ(r.header("x-total-count"), "") << route;
    ExpectEnvelope(Post(route, R"({"annotationRequestId":"req+1"})"), 404, 53003);
  }
}

TEST_F(ApiServerTest, SummaryAndLabelersRefuseEachInvalidParameterWith4005) {
  const std::string big(256, 'x');
  for (const std::string route : {"/statistics/summary", "/statistics/labelers"}) {
    std::vector<InvalidCase> cases = {
        {route, "", "annotationRequestId"},
        {route + "?annotationRequestId=", "", "annotationRequestId"},
        {route + "?annotationRequestId=" + big, "", "annotationRequestId"},
        {route + "?annotationRequestId=a&annotationRequestId=b", "", "annotationRequestId"},
        {route + "?annotationRequestId=req%zz1", "", "annotationRequestId"},
        {route + "?annotationRequestId=req-1%", "", "annotationRequestId"},
        {route + "?annotationRequestId[]=req-1", "", "annotationRequestId"},
        {route + "?pageNumber=0", "", "annotationRequestId"},
        {route, R"({"annotationRequestId":7})", "annotationRequestId"},
        {route, R"({"annotationRequestId":["req-1"]})", "annotationRequestId"},
        {route, R"({"annotationRequestId":null})", "annotationRequestId"},
        {route, R"({"annotationRequestId":"req-1",)", "body"},
        {route, R"(["req-1"])", "body"},
    };
    if (route == "/statistics/labelers") {
      const std::vector<InvalidCase> paging = {
          {route + "?annotationRequestId=req-1&pageNumber=0", "", "pageNumber"},
          {route + "?annotationRequestId=req-1&pageNumber=-1", "", "pageNumber"},
          {route + "?annotationRequestId=req-1&pageNumber=2.0", "", "pageNumber"},
          {route + "?annotationRequestId=req-1&pageNumber=1e3", "", "pageNumber"},
          {route + "?annotationRequestId=req-1&pageNumber=%2B1", "", "pageNumber"},
          {route + "?annotationRequestId=req-1&pageNumber=", "", "pageNumber"},
          {route + "?annotationRequestId=req-1&pageNumber=1&pageNumber=2", "", "pageNumber"},
          {route + "?annotationRequestId=req-1&pageSize=0", "", "pageSize"},
          {route + "?annotationRequestId=req-1&pageSize=1%G0", "", "pageSize"},
          {route + "?annotationRequestId=req-1&pageNumber=0&pageSize=0", "", "pageNumber"},
          {route, R"({"annotationRequestId":"req-1","pageNumber":true})", "pageNumber"},
          {route, R"({"annotationRequestId":"req-1","pageSize":{}})", "pageSize"},
          // Parameters before existence: an unknown request with a bad page is 4005.
          {route + "?annotationRequestId=nope&pageSize=abc", "", "pageSize"},
      };
      cases.insert(cases.end(), paging.begin(), paging.end());
    }
    for (const InvalidCase& c : cases) {
      ExpectInvalid(this, c.body.empty() ? Get(c.target) : GetWithBody(c.target, c.body), c);
      if (!c.body.empty()) ExpectInvalid(this, Post(c.target, c.body), c);
    }
  }
}

TEST_F(ApiServerTest, LabelersOfTheTestStore) {
  auto r = Get("/statistics/labelers?annotationRequestId=req-1");
  auto json = ExpectEnvelope(r, 200, 2000);
  EXPECT_EQ(r.header("x-total-count"), "1");
  // Task 1's second record has no aliceName: not counted.
  EXPECT_EQ(simdjson::minify((*json)["data"]),
            R"([{"aliceName":"daf","records":25,"tasks":25,"recordsByActionType":{"13":25},)"
            R"("modifyInstanceNum":250,"modifyAttributesNum":125,)"
            R"("firstRecordTime":"2025-04-01 08:00:01","lastRecordTime":"2025-04-01 08:00:25"}])");
  auto none = Get("/statistics/labelers?annotationRequestId=req-2");  // records without aliceName
  EXPECT_EQ(simdjson::minify((*ExpectEnvelope(none, 200, 2000))["data"]), "[]");
  EXPECT_EQ(none.header("x-total-count"), "0");
}

// A store of a test's own (not the shared one), in a directory removed with it,
// and a server on it at a free loopback port with default options.
struct OwnStore {
  TempDir dir;
  Result<std::unique_ptr<Store>> opened = Store::Open(StoreOptions{dir.path(), size_t{32} << 20, false, {}});
};
Result<std::unique_ptr<ApiServer>> ServeOn(Store* store) {
  ApiOptions options;
  options.listen = "127.0.0.1:0";
  return ApiServer::Start(options, store, IngestSource{});
}

// Labelers in bytewise order, paged like /statistics (clamped, past the end []),
// each task counted once per labeler, records without a name left out.
TEST(ApiLabelersTest, PagesLabelersByNameBytewise) {
  OwnStore own;
  ASSERT_TRUE(own.opened);
  Store& store = **own.opened;
  std::vector<TaskAction> actions;
  uint64_t id = 1;
  auto add = [&](std::optional<std::string> name, uint64_t task, int64_t second, ActionType action) {
    TaskAction a = Action(id++, "people", "camp", Id(task), second);
    a.alice_name = std::move(name);
    a.action_type = action;
    actions.push_back(a);
  };
  add("alice", 1, 10, ActionType::kAcceptTask);
  add("alice", 1, 20, ActionType::kSubmitAnnotation);  // the same task again
  add("alice", 2, 5, ActionType::kAcceptTask);
  add("Bob", 3, 7, ActionType::kCheck);
  add("\xc3\xa9mile", 3, 8, ActionType::kCheck);
  add("", 4, 9, ActionType::kCheck);            // empty: not a labeler
  add(std::nullopt, 4, 9, ActionType::kCheck);  // absent: not a labeler
  actions.back().modify_instance_num = 3;
  actions[0].modify_instance_num = 4;
  actions[1].modify_attributes_num = 2;
  ASSERT_TRUE(store.Apply(ApplyBatch{actions, {}, "task-actions", {}}));
  auto server = ServeOn(&store);
  ASSERT_TRUE(server);
  HttpClient client((*server)->port());
  auto names = [](const Json& json) {
    std::vector<std::string> out;
    const simdjson::dom::array labelers = json["data"].get_array().value();
    for (auto l : labelers) out.push_back(Str(l["aliceName"].value()));
    return out;
  };
  auto all = client.Get("/statistics/labelers?annotationRequestId=people&pageSize=5000");
  auto all_json = ExpectEnvelope(all, 200, 2000);
  EXPECT_EQ(all.header("x-total-count"), "3");
  EXPECT_EQ(names(*all_json), (std::vector<std::string>{"Bob", "alice", "\xc3\xa9mile"}));
  auto alice = (*all_json)["data"].at(1).value();
  EXPECT_EQ(all_json->Keys(alice),
            (std::vector<std::string>{"aliceName", "records", "tasks", "recordsByActionType", "modifyInstanceNum",
                                      "modifyAttributesNum", "firstRecordTime", "lastRecordTime"}));
  EXPECT_EQ(simdjson::minify(alice),
            R"({"aliceName":"alice","records":3,"tasks":2,"recordsByActionType":{"7":1,"13":2},)"
            R"("modifyInstanceNum":4,"modifyAttributesNum":2,)"
            R"("firstRecordTime":"2025-04-01 08:00:05","lastRecordTime":"2025-04-01 08:00:20"})");
  auto page2 = client.Get("/statistics/labelers?annotationRequestId=people&pageNumber=2&pageSize=2");
  EXPECT_EQ(names(*ExpectEnvelope(page2, 200, 2000)), (std::vector<std::string>{"\xc3\xa9mile"}));
  EXPECT_EQ(page2.header("x-total-count"), "3");
  auto past = client.Get("/statistics/labelers?annotationRequestId=people&pageNumber=3&pageSize=2");
  EXPECT_EQ(simdjson::minify((*ExpectEnvelope(past, 200, 2000))["data"]), "[]");
  EXPECT_EQ(past.header("x-total-count"), "3");
  auto defaults = ExpectEnvelope(client.Post("/statistics/labelers", R"({"annotationRequestId":"people"})"), 200, 2000);
  EXPECT_EQ(names(*defaults).size(), 3u);
  auto huge = client.Get("/statistics/labelers?annotationRequestId=people&pageNumber=99999999999999999999999");
  EXPECT_EQ(simdjson::minify((*ExpectEnvelope(huge, 200, 2000))["data"]), "[]");
  // The summary counts every record, named or not, and the tasks' buckets.
  auto summary = ExpectEnvelope(client.Get("/statistics/summary?annotationRequestId=people"), 200, 2000);
  EXPECT_EQ(Int((*summary)["data"]["records"].value()), 7);
  EXPECT_EQ(simdjson::minify((*summary)["data"]["recordsByActionType"]), R"({"7":1,"8":4,"13":2})");
  EXPECT_EQ(Str((*summary)["data"]["firstRecordTime"]), "2025-04-01 08:00:05");
  (*server)->Stop();
}

// The summary's maps: integer keys in numeric order ("9" before "10", "100",
// "1000"), instanceInfo keys bytewise ("B" < "a" < "a-" < "ab" < "b" < "é"),
// zero counts left out, and a task that moves to another bucket leaves none
// behind in the old one.
TEST(ApiSummaryTest, MapsHoldNonZeroCountsInNumericAndBytewiseOrder) {
  OwnStore own;
  ASSERT_TRUE(own.opened);
  Store& store = **own.opened;
  auto record = [](uint64_t id, uint64_t task, int64_t second, int32_t status, int32_t pool, int32_t action) {
    TaskAction a = Action(id, "order", "camp", Id(task), second);
    a.status = static_cast<TaskStatus>(status);
    a.pool_type = static_cast<PoolType>(pool);
    a.action_type = static_cast<ActionType>(action);
    return a;
  };
  TaskAction t1 = record(1, 1, 30, 9, 5, 9);  // Accomplish in Complete: Helix 11
  t1.instance_info = InstanceInfo{{"b", 2}, {"a", 3}};
  TaskAction t2 = record(2, 2, 5, 10, 1, 10);  // Invalid in Annotation: Helix 3
  t2.instance_info = InstanceInfo{{"zero", 0}, {"a-", 1}, {"B", 1}};
  TaskAction t3_old = record(3, 3, 7, 2, 1, 5);  // Assigned in Annotation: Helix 2, until t3_new
  TaskAction t4 = record(4, 4, 50, 100, 7, 1000);  // values outside the tables: Helix 3
  t4.instance_info = InstanceInfo{{"\xc3\xa9", 1}, {"ab", 4}, {"a", 1}};
  std::vector<TaskAction> first = {t4, t3_old, t2, t1};
  ASSERT_TRUE(store.Apply(ApplyBatch{first, {}, "task-actions", {}}));
  auto server = ServeOn(&store);
  ASSERT_TRUE(server);
  HttpClient client((*server)->port());
  const std::string target = "/statistics/summary?annotationRequestId=order";
  auto before = ExpectEnvelope(client.Get(target), 200, 2000);
  EXPECT_EQ(simdjson::minify((*before)["data"]["tasksByStatus"]), R"({"2":1,"9":1,"10":1,"100":1})");
  EXPECT_EQ(simdjson::minify((*before)["data"]["tasksByHelixStatus"]), R"({"2":1,"3":2,"11":1})");
  // Task 3's newer record moves it from status 2 / Helix 2 to 9 / 11: both old buckets empty, and gone.
  std::vector<TaskAction> second = {record(5, 3, 8, 9, 5, 13)};
  ASSERT_TRUE(store.Apply(ApplyBatch{second, {}, "task-actions", {}}));
  auto json = ExpectEnvelope(client.Get(target), 200, 2000);
  EXPECT_EQ(simdjson::minify((*json)["data"]),
            R"({"annotationRequestId":"order","tasks":4,"records":5,)"
            R"("tasksByStatus":{"9":2,"10":1,"100":1},"tasksByHelixStatus":{"3":2,"11":2},)"
            R"("recordsByActionType":{"5":1,"9":1,"10":1,"13":1,"1000":1},)"
            R"("instanceInfo":{"B":1,"a":4,"a-":1,"ab":4,"b":2,")" "\xc3\xa9" R"(":1},"instanceNum":13,)"
            R"("firstRecordTime":"2025-04-01 08:00:05","lastRecordTime":"2025-04-01 08:00:50"})");
  // The tasks' statuses agree with /statistics and their Helix statuses with /task/get.
  auto tasks = ExpectEnvelope(client.Get("/statistics?annotationRequestId=order"), 200, 2000);
  std::vector<int64_t> statuses;
  const simdjson::dom::array task_array = (*tasks)["data"].get_array().value();
  for (auto t : task_array) statuses.push_back(Int(t["status"].value()));
  EXPECT_EQ(statuses, (std::vector<int64_t>{9, 10, 9, 100}));
  (*server)->Stop();
}

// pageSize above 1000 counts as 1000, as on /statistics: 1001 labelers, a page of 1000.
TEST(ApiLabelersTest, PageSizeIsClampedTo1000) {
  OwnStore own;
  ASSERT_TRUE(own.opened);
  Store& store = **own.opened;
  std::vector<TaskAction> actions;
  for (uint64_t i = 0; i < 1001; ++i) {
    TaskAction a = Action(i + 1, "crowd", "camp", Id(i % 7 + 1), static_cast<int64_t>(i));
    char name[16];
    std::snprintf(name, sizeof(name), "n%04u", static_cast<unsigned>(i));
    a.alice_name = name;
    actions.push_back(std::move(a));
  }
  ASSERT_TRUE(store.Apply(ApplyBatch{actions, {}, "task-actions", {}}));
  auto server = ServeOn(&store);
  ASSERT_TRUE(server);
  HttpClient client((*server)->port());
  auto count = [](const Json& json) { return json["data"].get_array().value().size(); };
  for (const std::string size : {"1000", "1001", "5000", "99999999999999999999999"}) {
    auto r = client.Get("/statistics/labelers?annotationRequestId=crowd&pageSize=" + size);
    auto json = ExpectEnvelope(r, 200, 2000);
    EXPECT_EQ(count(*json), 1000u) << size;
    EXPECT_EQ(r.header("x-total-count"), "1001");
    EXPECT_EQ(Str((*json)["data"].at(999).value()["aliceName"].value()), "n0999");
    // The second page of 1000 holds the last one; the third is past the end.
    auto page2 = client.Get("/statistics/labelers?annotationRequestId=crowd&pageNumber=2&pageSize=" + size);
    auto json2 = ExpectEnvelope(page2, 200, 2000);
    ASSERT_EQ(count(*json2), 1u) << size;
    EXPECT_EQ(Str((*json2)["data"].at(0).value()["aliceName"].value()), "n1000");
    auto page3 = client.Get("/statistics/labelers?annotationRequestId=crowd&pageNumber=3&pageSize=" + size);
    EXPECT_EQ(simdjson::minify((*ExpectEnvelope(page3, 200, 2000))["data"]), "[]");
    EXPECT_EQ(page3.header("x-total-count"), "1001");
  }
  // Numbers as strings, null for the default, unknown parameters ignored, in a body and a query.
  auto body = client.Post("/statistics/labelers",
                          R"({"annotationRequestId":"crowd","pageNumber":"02","pageSize":null,"other":[1]})");
  auto body_json = ExpectEnvelope(body, 200, 2000);
  ASSERT_EQ(count(*body_json), 10u);
  EXPECT_EQ(Str((*body_json)["data"].at(0).value()["aliceName"].value()), "n0010");
  auto query = ExpectEnvelope(client.Get("/statistics/labelers?annotationRequestId=crowd&pageSize=3&x=%zz&y"), 200, 2000);
  EXPECT_EQ(count(*query), 3u);
  (*server)->Stop();
}

// ---- GET /statistics/record ---------------------------------------------------

std::vector<std::string> RecordIds(const Json& json) {
  std::vector<std::string> ids;
  const simdjson::dom::array records = json["data"]["data"].get_array().value();
  for (auto r : records) ids.push_back(Digits(r["id"].value()));
  return ids;
}

TEST_F(ApiServerTest, RecordsMergeRequestsById) {
  auto json = ExpectEnvelope(Get("/statistics/record?annotationRequestId=req-1&annotationRequestId=req-2&limit=5"),
                             200, 2000);
  EXPECT_EQ(json->Keys((*json)["data"]), (std::vector<std::string>{"count", "data"}));
  EXPECT_EQ(Int((*json)["data"]["count"].value()), 30);
  EXPECT_EQ(RecordIds(*json), (std::vector<std::string>{"900", "950", "1001", "1002", "1003"}));
  // offset is the page number.
  auto page3 = ExpectEnvelope(
      Get("/statistics/record?annotationRequestId=req-1&annotationRequestId=req-2&offset=6&limit=5"), 200, 2000);
  EXPECT_EQ(RecordIds(*page3), (std::vector<std::string>{"1024", "1100", "2001", "3001", "6010"}));
  auto past = ExpectEnvelope(Get("/statistics/record?annotationRequestId=req-1&offset=7&limit=5"), 200, 2000);
  EXPECT_EQ(simdjson::minify((*past)["data"]), R"({"count":26,"data":[]})");
  auto defaults = ExpectEnvelope(Get("/statistics/record?annotationRequestId=req-1"), 200, 2000);
  EXPECT_EQ(RecordIds(*defaults).size(), 10u);
}

TEST_F(ApiServerTest, RecordsHaveExactlyTheSeedFields) {
  auto json = ExpectEnvelope(Get("/statistics/record?annotationRequestId=req-1&limit=1"), 200, 2000);
  auto record = (*json)["data"]["data"].at(0).value();
  EXPECT_EQ(simdjson::minify(record),
            R"({"id":1001,"status":3,"campaignId":"camp-1","taskId":1,"poolName":"Annotation Pool","poolType":1,)"
            R"("folderId":4001,"aliceName":"daf","createdTime":"2025-04-01 08:00:01","actionType":13,)"
            R"("instanceInfo":{"box":1,"select-[e000f]":1},"modifyInstanceNum":10,"modifyAttributesNum":5,)"
            R"("instanceSum":20,"attributesSum":10})");
  auto bare = ExpectEnvelope(Get("/statistics/record?annotationRequestId=req-2&limit=1"), 200, 2000);
  EXPECT_EQ(simdjson::minify((*bare)["data"]["data"].at(0).value()),
            R"({"id":900,"status":1,"campaignId":"camp-1","taskId":77,"poolName":null,"poolType":0,)"
            R"("folderId":null,"aliceName":null,"createdTime":"2025-04-01 08:15:00","actionType":0,)"
            R"("instanceInfo":{},"modifyInstanceNum":null,"modifyAttributesNum":null,"instanceSum":null,)"
            R"("attributesSum":null})");
  auto big = ExpectEnvelope(Get("/statistics/record?annotationRequestId=req-1&offset=25&limit=1"), 200, 2000);
  EXPECT_EQ(Digits((*big)["data"]["data"].at(0).value()["taskId"].value()), kBigTaskId);
}

TEST_F(ApiServerTest, RecordsTakeEveryArrayEncoding) {
  const std::vector<std::string> both = {"900", "950", "1001"};
  auto check = [&](const HttpResult& r, const std::vector<std::string>& want, int64_t count) {
    auto json = ExpectEnvelope(r, 200, 2000);
    EXPECT_EQ(RecordIds(*json), want) << r.body;
    EXPECT_EQ(Int((*json)["data"]["count"].value()), count);
  };
  check(Get("/statistics/record?annotationRequestId=req-1&annotationRequestId=req-2&limit=3"), both, 30);
  check(Get("/statistics/record?annotationRequestId[]=req-1&annotationRequestId[]=req-2&limit=3"), both, 30);
  check(Get("/statistics/record?annotationRequestId%5B%5D=req-1&annotationRequestId=req-2&limit=3"), both, 30);
  check(Get("/statistics/record?annotationRequestId=req-1,req-2&limit=3"), both, 30);
  check(Get("/statistics/record?annotationRequestId=req-1%2Creq-2&limit=3"), both, 30);
  // Duplicates in the list are ignored.
  check(Get("/statistics/record?annotationRequestId=req-2,req-1,req-2&limit=3"), both, 30);
  check(GetWithBody("/statistics/record", R"({"annotationRequestId":["req-1","req-2"],"limit":3})"), both, 30);
  check(Post("/statistics/record", R"({"annotationRequestId":["req-1","req-2","req-1"],"limit":"3","offset":1})"),
        both, 30);
  check(Post("/statistics/record", R"({"annotationRequestId":"req-2","limit":3})"), {"900", "950", "1100"}, 4);
  check(Post("/statistics/record?annotationRequestId=req-2&limit=3", ""), {"900", "950", "1100"}, 4);
}

TEST_F(ApiServerTest, RecordsAnswer53003NamingTheUnknownIds) {
  auto json = ExpectEnvelope(Get("/statistics/record?annotationRequestId=req-1,ghost-a,req-2,ghost-b"), 404, 53003);
  const std::string message = Str((*json)["message"]);
  EXPECT_NE(message.find("ghost-a"), std::string::npos) << message;
  EXPECT_NE(message.find("ghost-b"), std::string::npos) << message;
  EXPECT_EQ(message.find("req-1"), std::string::npos) << message;
  // An id with a comma goes in the repeated form, where it is one id.
  auto comma = ExpectEnvelope(Get("/statistics/record?annotationRequestId=a,b&annotationRequestId=req-1"), 404, 53003);
  EXPECT_NE(Str((*comma)["message"]).find("a,b"), std::string::npos);
}

TEST_F(ApiServerTest, RecordsRefuseEachInvalidParameterWith4005) {
  std::string hundred_and_one, hundred;
  for (int i = 0; i < 101; ++i) {
    (i == 0 ? hundred_and_one : hundred_and_one += ",") += "id" + std::to_string(i);
    if (i < 100) (i == 0 ? hundred : hundred += ",") += "id" + std::to_string(i);
  }
  const std::vector<InvalidCase> cases = {
      {"/statistics/record", "", "annotationRequestId"},
      {"/statistics/record?annotationRequestId=", "", "annotationRequestId"},
      {"/statistics/record?annotationRequestId=a,,b", "", "annotationRequestId"},
      {"/statistics/record?annotationRequestId=" + std::string(256, 'x'), "", "annotationRequestId"},
      {"/statistics/record?annotationRequestId=" + hundred_and_one, "", "annotationRequestId"},
      {"/statistics/record?annotationRequestId=req-1&offset=0", "", "offset"},
      {"/statistics/record?annotationRequestId=req-1&offset=x", "", "offset"},
      {"/statistics/record?annotationRequestId=req-1&offset=1&offset=2", "", "offset"},
      {"/statistics/record?annotationRequestId=req-1&limit=0", "", "limit"},
      {"/statistics/record?annotationRequestId=req-1&limit=1.5", "", "limit"},
      {"/statistics/record?offset=0&limit=0", "", "annotationRequestId"},
      {"/statistics/record?annotationRequestId=req-1&offset=0&limit=0", "", "offset"},
      {"/statistics/record", R"({"annotationRequestId":[]})", "annotationRequestId"},
      {"/statistics/record", R"({"annotationRequestId":[1]})", "annotationRequestId"},
      {"/statistics/record", R"({"annotationRequestId":7})", "annotationRequestId"},
      {"/statistics/record", R"({"annotationRequestId":[""]})", "annotationRequestId"},
      {"/statistics/record", R"({"annotationRequestId":["req-1"],"limit":[3]})", "limit"},
      {"/statistics/record", R"({"annotationRequestId":["req-1"],"offset":1e0})", "offset"},
  };
  for (const InvalidCase& c : cases) {
    ExpectInvalid(this, c.body.empty() ? Get(c.target) : GetWithBody(c.target, c.body), c);
    if (!c.body.empty()) ExpectInvalid(this, Post(c.target, c.body), c);
  }
  // 100 distinct ids are fine (here unknown, so 53003), and duplicates do not count.
  ExpectEnvelope(Get("/statistics/record?annotationRequestId=" + hundred), 404, 53003);
  ExpectEnvelope(Get("/statistics/record?annotationRequestId=" + hundred + ",id0,id1"), 404, 53003);
}

TEST_F(ApiServerTest, RecordsClampLimitTo1000) {
  auto json = ExpectEnvelope(Get("/statistics/record?annotationRequestId=big&limit=1001"), 200, 2000);
  EXPECT_EQ(Int((*json)["data"]["count"].value()), 1005);
  EXPECT_EQ(RecordIds(*json).size(), 1000u);
}

// ---- POST /task/get -------------------------------------------------------------

TEST_F(ApiServerTest, TaskGetAnswersViewUrlAndHelixStatus) {
  auto json = ExpectEnvelope(
      Post("/task/get", R"({"campaignId":"camp-1","annotationRequestId":"req-1","sceneId":"scene-25"})"), 200, 2000);
  EXPECT_EQ(simdjson::minify((*json)["data"]),
            R"({"viewUrl":"https://localhost/rosetta-open/task/1234/234234123133374715904/viewOnly","status":3})");
  auto submitted = ExpectEnvelope(
      Post("/task/get", R"({"campaignId":"camp-1","annotationRequestId":"req-1","sceneId":"scene-1"})"), 200, 2000);
  EXPECT_EQ(Int((*submitted)["data"]["status"].value()), 4);
  auto check = ExpectEnvelope(Get("/task/get?campaignId=camp-1&annotationRequestId=req-1&sceneId=scene-2"), 200, 2000);
  EXPECT_EQ(Int((*check)["data"]["status"].value()), 5);
  auto complete = ExpectEnvelope(
      GetWithBody("/task/get", R"({"campaignId":"camp-2","annotationRequestId":"req-3","sceneId":"scene-x"})"), 200,
      2000);
  EXPECT_EQ(simdjson::minify((*complete)["data"]),
            R"({"viewUrl":"https://localhost/rosetta-open/task/55/9/viewOnly","status":11})");
  auto no_project = ExpectEnvelope(
      Post("/task/get", R"({"campaignId":"camp-1","annotationRequestId":"req-1","sceneId":"scene-7"})"), 200, 2000);
  EXPECT_TRUE((*no_project)["data"]["viewUrl"].is_null());
}

TEST_F(ApiServerTest, TaskGetUsesTheConfiguredViewUrlBase) {
  ApiOptions options;
  options.view_url_base = "https://helix.example/";
  Start(options);
  auto json = ExpectEnvelope(Get("/task/get?campaignId=camp-2&annotationRequestId=req-3&sceneId=scene-x"), 200, 2000);
  EXPECT_EQ(Str((*json)["data"]["viewUrl"]), "https://helix.example/rosetta-open/task/55/9/viewOnly");
}

TEST_F(ApiServerTest, TaskGetChecksCampaignThenRequestThenScene) {
  auto body = [](const std::string& c, const std::string& r, const std::string& s) {
    return R"({"campaignId":")" + c + R"(","annotationRequestId":")" + r + R"(","sceneId":")" + s + R"("})";
  };
  ExpectEnvelope(Post("/task/get", body("ghost", "ghost", "ghost")), 404, 51008);
  ExpectEnvelope(Post("/task/get", body("ghost", "req-1", "scene-1")), 404, 51008);
  ExpectEnvelope(Post("/task/get", body("camp-1", "ghost", "ghost")), 404, 53003);
  ExpectEnvelope(Post("/task/get", body("camp-2", "req-1", "scene-1")), 404, 53003);  // not in that campaign
  ExpectEnvelope(Post("/task/get", body("camp-1", "req-1", "ghost")), 404, 56001);
  ExpectEnvelope(Post("/task/get", body("camp-1", "req-3", "scene-x")), 404, 53003);
  // req-2 is in both campaigns its records name.
  ExpectEnvelope(Post("/task/get", body("camp-2", "req-2", "ghost")), 404, 56001);
  auto json = ExpectEnvelope(Post("/task/get", body("camp-1", "req-1", "ghost")), 404, 56001);
  EXPECT_EQ(Str((*json)["message"]).rfind("SceneId is not exists.", 0), 0u);
}

TEST_F(ApiServerTest, TaskGetRefusesEachInvalidParameterWith4005) {
  const std::vector<InvalidCase> cases = {
      {"/task/get", R"({"annotationRequestId":"req-1","sceneId":"scene-1"})", "campaignId"},
      {"/task/get", R"({"campaignId":"","annotationRequestId":"req-1","sceneId":"scene-1"})", "campaignId"},
      {"/task/get", R"({"campaignId":1001,"annotationRequestId":"req-1","sceneId":"scene-1"})", "campaignId"},
      {"/task/get", R"({"campaignId":"camp-1","sceneId":"scene-1"})", "annotationRequestId"},
      {"/task/get", R"({"campaignId":"camp-1","annotationRequestId":"req-1"})", "sceneId"},
      {"/task/get", R"({"campaignId":"camp-1","annotationRequestId":"req-1","sceneId":null})", "sceneId"},
      {"/task/get",
       R"({"campaignId":"camp-1","annotationRequestId":"req-1","sceneId":")" + std::string(256, 's') + "\"}",
       "sceneId"},
      {"/task/get", "{}", "campaignId"},  // the first of the table is reported
      {"/task/get", "{", "body"},
  };
  for (const InvalidCase& c : cases) {
    ExpectInvalid(this, Post(c.target, c.body), c);
    ExpectInvalid(this, GetWithBody(c.target, c.body), c);
  }
  ExpectInvalid(this, Get("/task/get?campaignId=camp-1&annotationRequestId=req-1"), {"", "", "sceneId"});
  ExpectInvalid(this, Get("/task/get?campaignId=camp-1&campaignId=camp-1&annotationRequestId=req-1&sceneId=s"),
                {"", "", "campaignId"});
}

// ---- envelope, request ids, lag --------------------------------------------------

TEST_F(ApiServerTest, EveryResponseCarriesARequestId) {
  std::set<std::string> seen;
  for (const std::string target : {"/statistics?annotationRequestId=req-1", "/statistics", "/nope", "/healthz",
                                    "/readyz", "/metrics", "/openapi.yaml", "/statistics/summary?annotationRequestId=req-1",
                                    "/statistics/labelers?annotationRequestId=req-1", "/statistics/labelers"}) {
    auto r = Get(target);
    EXPECT_TRUE(IsFreshRequestId(r.header("x-request-id"))) << target << ": " << r.header("x-request-id");
    seen.insert(r.header("x-request-id"));
  }
  EXPECT_EQ(seen.size(), 10u);  // new for every response
}

TEST_F(ApiServerTest, EchoesAValidCallerRequestId) {
  const std::string id64(64, 'A');
  for (const std::string& id : {std::string("abc-DEF_123"), id64, std::string("x")}) {
    auto r = Get("/statistics?annotationRequestId=req-1", {{"X-Request-Id", id}});
    auto json = ExpectEnvelope(r, 200, 2000);
    EXPECT_EQ(Str((*json)["requestId"]), id);
    EXPECT_EQ(r.header("x-request-id"), id);
  }
  for (const std::string& id : {id64 + "A", std::string("has space"), std::string("dot."), std::string("é")}) {
    auto r = Get("/statistics?annotationRequestId=nope", {{"X-Request-Id", id}});
    auto json = ExpectEnvelope(r, 404, 53003);
    EXPECT_TRUE(IsFreshRequestId(Str((*json)["requestId"]))) << id;
  }
  EXPECT_EQ(Get("/healthz", {{"X-Request-Id", "ops-1"}}).header("x-request-id"), "ops-1");
}

TEST_F(ApiServerTest, DateIsServerUtcNow) {
  auto json = ExpectEnvelope(Get("/statistics?annotationRequestId=req-1"), 200, 2000);
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char today[16];
  std::strftime(today, sizeof(today), "%Y-%m-%d", &tm);
  EXPECT_EQ(Str((*json)["date"]).substr(0, 10), today);
}

TEST_F(ApiServerTest, CarriesTheLagOnBusinessResponses) {
  EXPECT_EQ(Get("/statistics?annotationRequestId=req-1").header("x-tally-lag"), "-1");
  IngestStatus s;
  s.lag = 42;
  SetStatus(s);
  EXPECT_EQ(Get("/statistics?annotationRequestId=req-1").header("x-tally-lag"), "42");
  EXPECT_EQ(Get("/statistics/record?annotationRequestId=ghost").header("x-tally-lag"), "42");
  EXPECT_EQ(Post("/task/get", "{}").header("x-tally-lag"), "42");
  EXPECT_EQ(Get("/statistics/summary?annotationRequestId=req-1").header("x-tally-lag"), "42");
  EXPECT_EQ(Get("/statistics/labelers?annotationRequestId=ghost").header("x-tally-lag"), "42");
}

// ---- routes, methods, auth ---------------------------------------------------------

TEST_F(ApiServerTest, UnknownRoutesAnswer4004) {
  // "/" is the status page (status_page_test.cpp); "/status/" and "//" are no routes.
  for (const std::string target : {"//", "/status/", "/statistics/", "/statistic", "/task", "/task/get/x", "/STATISTICS"}) {
    ExpectEnvelope(Get(target), 404, 4004);
  }
  ExpectEnvelope(Client().Send(verb::delete_, "/nope"), 404, 4004);  // route before method
}

TEST_F(ApiServerTest, OtherMethodsAnswer405WithAllow) {
  for (verb method : {verb::put, verb::delete_, verb::patch, verb::head, verb::options}) {
    for (const std::string target : {"/statistics", "/statistics/record", "/task/get", "/statistics/summary",
                                     "/statistics/labelers", "/healthz", "/metrics", "/", "/status"}) {
      HttpClient client(port_);
      http::request<http::string_body> req{method, target, 11};
      req.set(http::field::host, "x");
      http::write(client.socket(), req);
      http::response_parser<http::string_body> parser;
      if (method == verb::head) parser.skip(true);
      beast::flat_buffer buffer;
      http::read(client.socket(), buffer, parser);
      EXPECT_EQ(parser.get().result_int(), 405u) << target;
      EXPECT_EQ(parser.get()[http::field::allow], "GET, POST");
      if (method != verb::head) {
        auto json = ParseJson(parser.get().body());
        EXPECT_EQ(Int((*json)["code"]), 4005);
      }
    }
  }
}

TEST_F(ApiServerTest, ApiKeysGuardBusinessEndpointsOnly) {
  ApiOptions options;
  options.api_keys = {"key-one", "key-two"};
  Start(options);
  const std::string target = "/statistics?annotationRequestId=req-1";
  ExpectEnvelope(Get(target), 401, 4001);
  ExpectEnvelope(Get(target, {{"Authorization", "Bearer wrong"}}), 401, 4001);
  ExpectEnvelope(Get(target, {{"Authorization", "Bearer key-one2"}}), 401, 4001);
  ExpectEnvelope(Get(target, {{"Authorization", "Bearer key-on"}}), 401, 4001);
  ExpectEnvelope(Get(target, {{"Authorization", "Basic key-one"}}), 401, 4001);
  ExpectEnvelope(Get(target, {{"X-API-Key", "nope"}}), 401, 4001);
  ExpectEnvelope(Get(target, {{"Authorization", "Bearer key-one"}}), 200, 2000);
  ExpectEnvelope(Get(target, {{"Authorization", "bearer key-two"}}), 200, 2000);
  ExpectEnvelope(Get(target, {{"X-API-Key", "key-two"}}), 200, 2000);
  ExpectEnvelope(Post("/task/get", "{}", {{"X-API-Key", "key-one"}}), 400, 4005);
  for (const std::string route : {"/statistics/summary", "/statistics/labelers"}) {
    ExpectEnvelope(Get(route + "?annotationRequestId=req-1"), 401, 4001);
    ExpectEnvelope(Get(route), 401, 4001);  // auth before parameters
    ExpectEnvelope(Get(route + "?annotationRequestId=req-1", {{"X-API-Key", "key-two"}}), 200, 2000);
    ExpectEnvelope(Get(route, {{"Authorization", "Bearer key-one"}}), 400, 4005);
  }
  // Auth comes after route and method, before parameters.
  ExpectEnvelope(Post("/task/get", "{}"), 401, 4001);
  ExpectEnvelope(Get("/nope"), 404, 4004);
  EXPECT_EQ(Client().Send(verb::put, "/task/get").status, 405);
  // Ops endpoints are open.
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/metrics").status, 200);
  EXPECT_EQ(Get("/openapi.yaml").status, 200);
  EXPECT_EQ(Get("/readyz").status, 503);
}

// ---- limits, connections -------------------------------------------------------------

TEST_F(ApiServerTest, BodyOver1MiBAnswers4013) {
  std::string ok_body = R"({"annotationRequestId":"req-1","pad":")";
  ok_body += std::string((1 << 20) - ok_body.size() - 2, 'p') + "\"}";
  ASSERT_EQ(ok_body.size(), size_t{1} << 20);
  ExpectEnvelope(Post("/statistics", ok_body), 200, 2000);
  const std::string too_big = ok_body + " ";
  ExpectEnvelope(Post("/statistics", too_big), 413, 4013);
  ExpectEnvelope(Post("/nope", too_big), 413, 4013);  // limits come before routes
  // Chunked, with no length announced.
  HttpClient chunked(port_);
  chunked.WriteRaw("POST /statistics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::ostringstream chunk;
  chunk << std::hex << too_big.size() << "\r\n" << too_big << "\r\n0\r\n\r\n";
  std::thread writer([&] {
    try {
      chunked.WriteRaw(chunk.str());
    } catch (...) {
    }
  });
  auto r = chunked.Read();
  writer.join();
  ASSERT_TRUE(r);
  ExpectEnvelope(*r, 413, 4013);
  EXPECT_FALSE(r->keep_alive);
}

TEST_F(ApiServerTest, HeadersOver16KiBAnswer4013) {
  ExpectEnvelope(Get("/statistics?annotationRequestId=req-1", {{"X-Pad", std::string(15000, 'h')}}), 200, 2000);
  auto r = Get("/statistics?annotationRequestId=req-1", {{"X-Pad", std::string(17000, 'h')}});
  ExpectEnvelope(r, 413, 4013);
  EXPECT_FALSE(r.keep_alive);
  auto long_target = Get("/statistics?annotationRequestId=" + std::string(17000, 'r'));
  ExpectEnvelope(long_target, 413, 4013);
}

TEST_F(ApiServerTest, ServesManyRequestsOnOneKeepAliveConnection) {
  HttpClient client(port_);
  for (int i = 0; i < 500; ++i) {
    auto r = i % 3 == 0   ? client.Get("/statistics?annotationRequestId=req-1&pageSize=2")
             : i % 3 == 1 ? client.Post("/statistics/record", R"({"annotationRequestId":["req-2"]})")
                          : client.Get("/nope");
    ASSERT_EQ(r.status, i % 3 == 2 ? 404 : 200) << i;
    ASSERT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(server_->port(), port_);
  // HTTP/1.0 and Connection: close end the connection after the answer.
  auto closing = client.Get("/healthz", {{"Connection", "close"}});
  EXPECT_EQ(closing.status, 200);
  EXPECT_FALSE(closing.keep_alive);
  EXPECT_TRUE(client.ClosedByServer());
}

// Pipelined requests (all sent before any answer is read) are answered in
// order, each once: small answers go out at once from the answering call, the
// next request then waits for a handler of its own; when the client reads
// slowly the socket's buffer fills and the rest goes out asynchronously.
TEST_F(ApiServerTest, APipelineIsAnsweredInOrderWhetherTheClientReadsOrNot) {
  const std::string target = "/statistics/record?annotationRequestId=req-1&limit=1000";  // ~8 KB
  const HttpResult first = Get(target);
  ASSERT_EQ(first.status, 200);
  const std::string etag = first.header("etag");
  ASSERT_FALSE(etag.empty());
  // Every other one a whole answer, the others 304s: ~8 MB of answers, more than
  // the server's socket can hold (its send buffer grows to 4 MiB at most).
  constexpr int kRequests = 2000;
  std::string pipeline;
  for (int i = 0; i < kRequests; ++i) {
    pipeline += "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: p" + std::to_string(i) + "\r\n";
    if (i % 2 != 0) pipeline += "If-None-Match: " + etag + "\r\n";
    pipeline += "\r\n";
  }
  HttpClient client(port_, 20);
  const int small = 16 * 1024;  // a small receive buffer: the server's writes must wait for the reader
  ::setsockopt(client.socket().native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  std::thread writer([&] { client.WriteRaw(pipeline); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // nothing read meanwhile
  int answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    const std::optional<HttpResult> r = client.Read();
    if (!r) break;
    ++answered;
    ASSERT_EQ(r->header("x-request-id"), "p" + std::to_string(i));
    if (i % 2 == 0) {
      ASSERT_EQ(r->status, 200) << i;
      ASSERT_TRUE(r->body.starts_with("{\"code\":2000,") && r->body.ends_with("}")) << i;
      ASSERT_NE(r->body.find("\"requestId\":\"p" + std::to_string(i) + "\""), std::string::npos) << i;
      ASSERT_EQ(r->header("etag"), etag);
    } else {
      ASSERT_EQ(r->status, 304) << i;
      ASSERT_TRUE(r->body.empty());
    }
    ASSERT_TRUE(r->keep_alive);
  }
  writer.join();
  EXPECT_EQ(answered, kRequests);
  // The connection still serves.
  EXPECT_EQ(client.Get("/healthz").status, 200);
}

// The idle timeout counts from each request's start: a connection that keeps
// asking, each request well within it, is never cut off, however long it lives
// (the header deadline's timer is moved on lazily, api/server.cpp).
TEST_F(ApiServerTest, AConnectionThatKeepsAskingOutlivesTheIdleTimeout) {
  ApiOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  Start(options);
  HttpClient client(port_, 10);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 12; ++i) {  // ~3.6 s: more than three timeouts
    const HttpResult r = client.Get("/statistics?annotationRequestId=req-1");
    ASSERT_EQ(r.status, 200) << i;
    ASSERT_TRUE(r.keep_alive);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_GT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  // Then idle: closed after about a timeout.
  const auto idle_start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.ClosedByServer());
  const double idle = std::chrono::duration<double>(std::chrono::steady_clock::now() - idle_start).count();
  EXPECT_GT(idle, 0.5);
  EXPECT_LT(idle, 6.0);
}

TEST_F(ApiServerTest, CutsOffASlowClientWhileServingOthers) {
  ApiOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  Start(options);
  HttpClient slow(port_, 10);
  const auto start = std::chrono::steady_clock::now();
  slow.WriteRaw("GET /statistics?annotationRequestId=req-1 HTTP/1.1\r\n");
  bool cut = false;
  // One header byte every 100 ms never completes a request within the timeout
  // (bounded: 80 rounds, at least 8 s, if the server never cuts it off).
  for (int i = 0; i < 80 && !cut; ++i) {
    HttpClient other(port_);
    EXPECT_EQ(other.Get("/statistics?annotationRequestId=req-1").status, 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    try {
      slow.WriteRaw("X");
    } catch (...) {
      cut = true;
    }
    if (!cut) {
      pollfd p{slow.socket().native_handle(), POLLIN, 0};
      cut = ::poll(&p, 1, 0) > 0;  // EOF is readable
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(cut);
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 6.0);  // 1 s and some slack for a loaded machine
  // An idle keep-alive connection is closed too.
  HttpClient idle(port_);
  EXPECT_EQ(idle.Get("/healthz").status, 200);
  const auto idle_start = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.ClosedByServer());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - idle_start).count(), 6.0);
}

TEST_F(ApiServerTest, GzipsLargeBodiesForClientsThatAcceptIt) {
  const std::string target = "/statistics?annotationRequestId=req-1&pageSize=25";
  auto plain = Get(target);
  ASSERT_GT(plain.body.size(), 1024u);
  EXPECT_FALSE(plain.has("content-encoding"));
  auto gz = Get(target, {{"Accept-Encoding", "deflate, gzip;q=0.8"}});
  ASSERT_EQ(gz.header("content-encoding"), "gzip");
  EXPECT_LT(gz.body.size(), plain.body.size());
  std::string inflated(plain.body.size() * 2, '\0');
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(gz.body.data());
  z.avail_in = static_cast<uInt>(gz.body.size());
  z.next_out = reinterpret_cast<Bytef*>(inflated.data());
  z.avail_out = static_cast<uInt>(inflated.size());
  ASSERT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  inflated.resize(z.total_out);
  inflateEnd(&z);
  auto json = ExpectEnvelope({200, {{"content-type", "application/json"}, {"x-request-id", gz.header("x-request-id")}, {"x-tally-lag", "-1"}}, inflated, true}, 200, 2000);
  EXPECT_EQ((*json)["data"].get_array().value().size(), 25u);
  EXPECT_FALSE(Get(target, {{"Accept-Encoding", "gzip;q=0"}}).has("content-encoding"));
  EXPECT_FALSE(Get("/statistics?annotationRequestId=req-1&pageSize=1", {{"Accept-Encoding", "gzip"}})
                   .has("content-encoding"));  // small bodies are sent as they are
  EXPECT_EQ(Get("/metrics", {{"Accept-Encoding", "*"}}).header("content-encoding"), "gzip");
}

// ---- ops endpoints ----------------------------------------------------------------------

TEST_F(ApiServerTest, HealthzIsOk) {
  auto r = Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(Post("/healthz", "").status, 200);
}

TEST_F(ApiServerTest, ReadyzFollowsTheConsumer) {
  auto r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"ready":false,"lag":-1,"eventsApplied":0,"freshnessSeconds":null})");
  IngestStatus s;
  s.ready = true;
  s.lag = 3;
  s.applied = 1234;
  // 10 events fresh within 1..2.5 ms (bucket 4), 90 within 2.5..5 ms (bucket 5).
  s.event_freshness_seconds.counts[4] = 10;
  s.event_freshness_seconds.counts[5] = 90;
  SetStatus(s);
  r = Get("/readyz");
  EXPECT_EQ(r.status, 200);
  // p50: the 50th of 100, 40/90 into 2.5..5 ms; p99: 89/90 into it.
  EXPECT_EQ(r.body,
            R"({"ready":true,"lag":3,"eventsApplied":1234,"freshnessSeconds":{"p50":0.003611,"p99":0.004972}})");
}

TEST_F(ApiServerTest, StoreNotOpenAnswers503) {
  Start(ApiOptions{}, nullptr);
  IngestStatus s;
  s.ready = true;
  SetStatus(s);
  auto json = ExpectEnvelope(Get("/statistics?annotationRequestId=req-1"), 503, 5000);
  EXPECT_EQ(Str((*json)["message"]), "Service hiccuped, please try again later.");
  EXPECT_EQ(Get("/readyz").status, 503);
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/metrics").status, 200);
}

TEST_F(ApiServerTest, MetricsListEveryContractMetric) {
  IngestStatus s;
  s.consumed = 10;
  s.applied = 7;
  s.duplicates = 2;
  s.conflicts = 1;
  s.offset_resets = 3;
  s.offsets_skipped = 9;
  s.dead_letters = 6;
  s.dead_letters_failed = 2;
  s.lag = 5;
  s.rejected = {{"invalid_json", 1}, {"missing_field", 2}};
  s.apply_batch_seconds.counts[3] = 4;
  s.apply_batch_seconds.sum = 0.004;
  s.event_freshness_seconds.counts[6] = 9;
  s.event_freshness_seconds.sum = 0.05;
  SetStatus(s);
  Get("/statistics?annotationRequestId=req-1");
  Get("/nope");
  auto r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const std::string line :
       {"tally_events_consumed_total 10", "tally_events_applied_total 7", "tally_events_duplicate_total 2",
        "tally_events_conflict_total 1", "tally_events_rejected_total{reason=\"invalid_json\"} 1",
        "tally_events_rejected_total{reason=\"missing_field\"} 2",
        "tally_events_rejected_total{reason=\"too_large\"} 0", "tally_consumer_lag 5",
        "tally_offset_resets_total 3", "tally_offsets_skipped_total 9", "tally_dead_letters_total 6",
        "tally_dead_letters_failed_total 2",
        "tally_http_requests_total{route=\"/statistics\",code=\"200\"} 1",
        "tally_http_requests_total{route=\"other\",code=\"404\"} 1",
        "tally_http_request_duration_seconds_count{route=\"/statistics\"} 1",
        "tally_http_request_duration_seconds_bucket{route=\"/task/get\",le=\"+Inf\"} 0",
        "tally_apply_batch_duration_seconds_bucket{le=\"0.001\"} 4",
        "tally_apply_batch_duration_seconds_count 4", "# TYPE tally_event_freshness_seconds histogram",
        "tally_event_freshness_seconds_bucket{le=\"0.01\"} 9", "tally_event_freshness_seconds_count 9",
        "tally_store_records 1036", "tally_store_tasks 1032",
        "# TYPE tally_http_request_duration_seconds histogram"}) {
    EXPECT_NE(r.body.find(line + "\n"), std::string::npos) << line;
  }
}

// The dashboard's store size, disk room, memory and CPU panels and the disk
// alert (deploy/) read these; the figures are the process's and the store's own.
TEST_F(ApiServerTest, MetricsShowStoreDiskAndProcess) {
  // At least 20 ms of CPU (the kernel counts in 10 ms ticks), so the counter cannot read 0.
  const std::clock_t begin = std::clock();
  for (volatile uint64_t spin = 0; std::clock() - begin < CLOCKS_PER_SEC / 50;) spin = spin + 1;
  auto r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  auto value = [&r](const std::string& name) -> double {
    const std::string head = "\n" + name + " ";
    const size_t at = r.body.find(head);
    if (at == std::string::npos) return -1;
    return std::stod(r.body.substr(at + head.size(), r.body.find('\n', at + 1) - at - head.size()));
  };
  for (const std::string type : {"# TYPE tally_store_size_bytes gauge", "# TYPE tally_store_filesystem_size_bytes gauge",
                                 "# TYPE tally_store_filesystem_avail_bytes gauge",
                                 "# TYPE process_cpu_seconds_total counter",
                                 "# TYPE process_resident_memory_bytes gauge",
                                 "# TYPE process_start_time_seconds gauge", "# TYPE process_open_fds gauge"}) {
    EXPECT_NE(r.body.find(type + "\n"), std::string::npos) << type;
  }
  // The store's tables may all be in memory yet (tests/aggregate checks their size
  // after a flush); its filesystem has a size and some room.
  EXPECT_GE(value("tally_store_size_bytes"), 0);
  EXPECT_GT(value("tally_store_filesystem_size_bytes"), 0);
  EXPECT_GT(value("tally_store_filesystem_avail_bytes"), 0);
  EXPECT_LE(value("tally_store_filesystem_avail_bytes"), value("tally_store_filesystem_size_bytes"));
  // This very process: megabytes resident, some CPU spent, started before now and after 2020.
  EXPECT_GT(value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(value("process_cpu_seconds_total"), 0.01);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(value("process_start_time_seconds"), now + 1);
  EXPECT_GT(value("process_start_time_seconds"), 1577836800);
  EXPECT_GT(value("process_open_fds"), 2);
}

TEST_F(ApiServerTest, StoreNotOpenHasNoStoreGauges) {
  Start(ApiOptions{}, nullptr);
  auto r = Get("/metrics");
  EXPECT_EQ(r.body.find("tally_store_size_bytes"), std::string::npos);
  EXPECT_EQ(r.body.find("tally_store_filesystem_avail_bytes"), std::string::npos);
  EXPECT_NE(r.body.find("\nprocess_resident_memory_bytes "), std::string::npos);
}

TEST_F(ApiServerTest, ServesTheOpenApiDocumentAsBuilt) {
  auto r = Get("/openapi.yaml");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.header("content-type").starts_with("application/yaml"));
  std::ifstream file(TALLY_SOURCE_DIR "/schemas/openapi.yaml", std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(r.body, text.str());
}

// ---- start and stop ------------------------------------------------------------------------

TEST_F(ApiServerTest, StartRefusesBadAddresses) {
  for (const std::string listen : {"nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x", ":80", "::1:80"}) {
    ApiOptions options;
    options.listen = listen;
    auto server = ApiServer::Start(options, SharedStore::Get(), {});
    ASSERT_FALSE(server) << listen;
    EXPECT_EQ(server.error().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(server.error().message().find(listen), std::string::npos);
  }
  ApiOptions taken;
  taken.listen = "127.0.0.1:" + std::to_string(port_);
  auto server = ApiServer::Start(taken, SharedStore::Get(), {});
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error().code(), Status::Code::kIOError);
  ApiOptions v6;
  v6.listen = "[::1]:0";
  auto ok = ApiServer::Start(v6, SharedStore::Get(), {});
  if (ok) (*ok)->Stop();  // a machine without IPv6 may refuse; the syntax was accepted
  else EXPECT_EQ(ok.error().code(), Status::Code::kIOError);
}

TEST_F(ApiServerTest, StopFinishesRequestsInFlightAndClosesIdleConnections) {
  HttpClient idle(port_);
  EXPECT_EQ(idle.Get("/healthz").status, 200);
  // A business request blocks inside the server (reading the lag) until released.
  block_ingest_status_ = true;
  HttpClient busy(port_);
  busy.WriteRaw("GET /statistics?annotationRequestId=req-1 HTTP/1.1\r\nHost: x\r\n\r\n");
  {
    std::unique_lock lock(mutex_);
    ASSERT_TRUE(changed_.wait_for(lock, std::chrono::seconds(10), [this] { return entered_; }));
  }
  auto stopped = std::async(std::launch::async, [this] { server_->Stop(); });
  EXPECT_TRUE(idle.ClosedByServer());  // idle connections close at once
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  {
    std::lock_guard lock(mutex_);
    block_ingest_status_ = false;
  }
  changed_.notify_all();
  auto r = busy.Read();
  ASSERT_TRUE(r);
  ExpectEnvelope(*r, 200, 2000);
  EXPECT_FALSE(r->keep_alive);  // draining: the answer closes the connection
  EXPECT_EQ(stopped.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  server_->Stop();  // idempotent
  EXPECT_THROW(HttpClient{port_}, std::exception);
}

}  // namespace
}  // namespace tally::testing

namespace tally::testing {
namespace {

// The response cache must never show an answer older than the store: every
// applied record is visible to the next request.
TEST(ApiServerFreshnessTest, AnswersFollowNewRecordsDespiteTheCache) {
  OwnStore own;
  ASSERT_TRUE(own.opened);
  Store& store = **own.opened;
  auto apply = [&](std::vector<TaskAction> actions) {
    ASSERT_TRUE(store.Apply(ApplyBatch{actions, {}, "task-actions", {}}));
  };
  TaskAction first = Action(1, "live", "camp", Id(1), 0);
  first.scene_id = "scene-1";
  apply({first});
  auto server = ServeOn(&store);
  ASSERT_TRUE(server);
  HttpClient client((*server)->port());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(client.Get("/statistics?annotationRequestId=live").header("x-total-count"), "1");
  }
  ExpectEnvelope(client.Get("/statistics/record?annotationRequestId=live,later"), 404, 53003);
  ExpectEnvelope(client.Get("/task/get?campaignId=camp&annotationRequestId=later&sceneId=s"), 404, 53003);

  TaskAction second = Action(2, "live", "camp", Id(2), 1);
  TaskAction later = Action(3, "later", "camp", Id(5), 2);
  later.scene_id = "s";
  later.project_id = Id(9);
  apply({second, later});
  EXPECT_EQ(client.Get("/statistics?annotationRequestId=live").header("x-total-count"), "2");
  auto records = ExpectEnvelope(client.Get("/statistics/record?annotationRequestId=live,later"), 200, 2000);
  EXPECT_EQ(Int((*records)["data"]["count"].value()), 3);
  auto task = ExpectEnvelope(client.Get("/task/get?campaignId=camp&annotationRequestId=later&sceneId=s"), 200, 2000);
  EXPECT_EQ(Str((*task)["data"]["viewUrl"]), "https://localhost/rosetta-open/task/9/5/viewOnly");

  // A newer record of a task changes its answer too (same counts of tasks).
  TaskAction moved = Action(4, "later", "camp", Id(5), 3);
  moved.scene_id = "s";
  moved.pool_type = PoolType::kComplete;
  apply({moved});
  auto after = ExpectEnvelope(client.Get("/task/get?campaignId=camp&annotationRequestId=later&sceneId=s"), 200, 2000);
  EXPECT_EQ(Int((*after)["data"]["status"].value()), 11);
  (*server)->Stop();
}

}  // namespace
}  // namespace tally::testing
