// The router and its route table without a socket: HandleRequest as a function
// of the request and the context, the table's kinds deciding the API key, the
// query thread, the cache and the envelope, and the one mapping of a Status to
// the contract's code and HTTP status.

#include "api/router.h"

#include <gtest/gtest.h>

#include <set>

#include "api/api_code.h"
#include "api/http_framing.h"
#include "api/metrics.h"
#include "api/params.h"
#include "api/response_cache.h"
#include "api/routes.h"
#include "tests/api/api_test_support.h"

namespace tally::testing {
namespace {

namespace http = boost::beast::http;

HttpRequest Request(http::verb method, std::string target, std::vector<std::pair<std::string, std::string>> headers = {},
                    std::string body = {}) {
  HttpRequest request{method, target, 11};
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

ApiContext ContextOver(const Store* store) {
  ApiContext context;
  context.store = store;
  context.ingest.lag = [] { return int64_t{7}; };
  return context;
}

// The envelope's code of an answer, checked against the answer's own record of it.
int64_t CodeOf(const Answer& answer) {
  auto json = ParseJson(answer.response.body());
  const int64_t code = Int((*json)["code"]);
  EXPECT_EQ(code, answer.code);
  EXPECT_EQ(answer.response["X-Tally-Lag"], "7");
  return code;
}

TEST(RouteTableTest, EveryPathRoutesToItsOwnRowAndLabel) {
  std::set<std::string_view> paths;
  for (const RouteInfo& route : Routes()) {
    EXPECT_EQ(RouteOf(route.path), &route);
    EXPECT_EQ(RouteLabel(&route), route.path);
    EXPECT_EQ(&Routes()[RouteIndex(&route)], &route);
    EXPECT_TRUE(paths.insert(route.path).second) << route.path;
    EXPECT_EQ(route.business != nullptr, route.kind == RouteKind::kBusiness) << route.path;
    EXPECT_EQ(route.ops != nullptr, route.kind == RouteKind::kOps) << route.path;
  }
  EXPECT_EQ(RouteOf("/statistics/"), nullptr);
  EXPECT_EQ(RouteOf("/Statistics"), nullptr);
  EXPECT_EQ(RouteLabel(nullptr), "other");
  EXPECT_EQ(RouteIndex(nullptr), Routes().size());
}

// The kind decides: a business route wants the API key and answers in the
// envelope; an operations route is open and plain.
TEST(RouteTableTest, TheKindDecidesKeyAndEnvelope) {
  ApiContext context = ContextOver(SharedStore::Get());
  context.api_keys = {"secret"};
  for (const RouteInfo& route : Routes()) {
    SCOPED_TRACE(route.path);
    const HttpRequest request = Request(http::verb::get, std::string(route.path));
    const Answer answer = HandleRequest(request, context);
    EXPECT_EQ(answer.route, &route);
    EXPECT_EQ(IsBusinessRequest(request), route.kind == RouteKind::kBusiness);
    // Business and admin routes need the key and answer in the envelope; operations ones are open.
    if (route.kind != RouteKind::kOps) {
      EXPECT_EQ(answer.response.result_int(), 401u);
      EXPECT_EQ(CodeOf(answer), 4001);
      EXPECT_EQ(answer.response[http::field::www_authenticate], "Bearer");
    } else {
      EXPECT_NE(answer.response.result_int(), 401u);
      EXPECT_EQ(answer.code, 0);
      EXPECT_EQ(answer.response.count("X-Tally-Lag"), 0u);
    }
    EXPECT_FALSE(answer.response["X-Request-Id"].empty());
  }
}

TEST(RouterTest, ChecksRouteThenMethodThenKeyThenParameters) {
  ApiContext context = ContextOver(SharedStore::Get());
  context.api_keys = {"secret"};
  const std::pair<std::string, std::string> key = {"X-API-Key", "secret"};
  const Answer no_route = HandleRequest(Request(http::verb::delete_, "/nowhere"), context);
  EXPECT_EQ(no_route.response.result_int(), 404u);
  EXPECT_EQ(CodeOf(no_route), 4004);
  EXPECT_EQ(no_route.route, nullptr);

  const Answer method = HandleRequest(Request(http::verb::delete_, "/statistics"), context);
  EXPECT_EQ(method.response.result_int(), 405u);
  EXPECT_EQ(CodeOf(method), 4005);
  EXPECT_EQ(method.response[http::field::allow], "GET, POST");

  const Answer no_key = HandleRequest(Request(http::verb::get, "/statistics?pageSize=x"), context);
  EXPECT_EQ(CodeOf(no_key), 4001);

  const Answer bad = HandleRequest(Request(http::verb::get, "/statistics?pageSize=x", {key}), context);
  EXPECT_EQ(bad.response.result_int(), 400u);
  EXPECT_EQ(CodeOf(bad), 4005);

  const Answer unknown = HandleRequest(Request(http::verb::get, "/statistics?annotationRequestId=ghost", {key}), context);
  EXPECT_EQ(unknown.response.result_int(), 404u);
  EXPECT_EQ(CodeOf(unknown), 53003);

  const Answer ok = HandleRequest(
      Request(http::verb::post, "/task/get", {key, {"Content-Type", "application/json"}},
              R"({"campaignId":"camp-1","annotationRequestId":"req-1","sceneId":"scene-1"})"),
      context);
  EXPECT_EQ(ok.response.result_int(), 200u);
  EXPECT_EQ(CodeOf(ok), 2000);
}

TEST(RouterTest, StoreNotOpenAnswers503OnBusinessRoutesOnly) {
  const ApiContext context = ContextOver(nullptr);
  const Answer business = HandleRequest(Request(http::verb::get, "/statistics?annotationRequestId=req-1"), context);
  EXPECT_EQ(business.response.result_int(), 503u);
  EXPECT_EQ(CodeOf(business), 5000);
  EXPECT_EQ(HandleRequest(Request(http::verb::get, "/healthz"), context).response.result_int(), 200u);
  EXPECT_EQ(HandleRequest(Request(http::verb::get, "/readyz"), context).response.result_int(), 503u);
}

// The 413 answers state the limits of http_framing.h, from their constants.
TEST(RouterTest, TooLargeAnswersStateTheLimitOfTheirConstant) {
  const ApiContext context = ContextOver(nullptr);
  const HttpRequest request = Request(http::verb::post, "/statistics");
  for (const bool headers : {true, false}) {
    const Answer answer = LimitExceeded(request, headers, context);
    EXPECT_EQ(answer.response.result_int(), 413u);
    EXPECT_EQ(CodeOf(answer), 4013);
    const size_t limit = headers ? kMaxHeaderBytes : kMaxBodyBytes;
    const std::string size =
        limit % (size_t{1} << 20) == 0 ? std::to_string(limit >> 20) + " MiB" : std::to_string(limit >> 10) + " KiB";
    auto json = ParseJson(answer.response.body());
    EXPECT_EQ(Str((*json)["message"]),
              std::string(headers ? "Request headers" : "Request body") + " too large: the limit is " + size);
  }
}

// An I/O thread answers operations, errors and cache hits itself; a business
// answer that needs the store waits for a query thread.
TEST(RouterTest, OnlyUncachedBusinessAnswersNeedAQueryThread) {
  ResponseCache cache;
  ApiContext context = ContextOver(SharedStore::Get());
  context.cache = &cache;
  const HttpRequest statistics = Request(http::verb::get, "/statistics?annotationRequestId=req-3");
  EXPECT_FALSE(AnswerWithoutQuery(statistics, context));
  const Answer computed = HandleRequest(statistics, context);
  std::optional<Answer> cached = AnswerWithoutQuery(statistics, context);
  ASSERT_TRUE(cached);
  EXPECT_EQ(CodeOf(*cached), 2000);
  auto a = ParseJson(computed.response.body());
  auto b = ParseJson(cached->response.body());
  EXPECT_EQ(simdjson::minify((*a)["data"]), simdjson::minify((*b)["data"]));
  EXPECT_EQ(cached->response["X-Total-Count"], "1");

  EXPECT_TRUE(AnswerWithoutQuery(Request(http::verb::get, "/healthz"), context));
  EXPECT_TRUE(AnswerWithoutQuery(Request(http::verb::get, "/statistics?pageSize=0"), context));  // 4005
  context.cache = nullptr;  // nothing to find: every business request goes to a query thread
  EXPECT_FALSE(AnswerWithoutQuery(statistics, context));
}

// The same parameters on two routes, or parameters that only differ in where
// one string ends, never share a cache entry.
TEST(RouterTest, CacheKeysNeverMixRoutesOrParameters) {
  std::string split_one, split_two;
  AppendCacheKey(TaskGetParams{"ab", "c", "d"}, &split_one);
  AppendCacheKey(TaskGetParams{"a", "bc", "d"}, &split_two);
  EXPECT_NE(split_one, split_two);
  std::string one_request, two_requests;
  AppendCacheKey(RecordParams{{"a/1:b"}, Page{}}, &one_request);
  AppendCacheKey(RecordParams{{"a", "b"}, Page{}}, &two_requests);
  EXPECT_NE(one_request, two_requests);

  // /statistics and /statistics/record with the same id and page: different answers, both cached.
  ResponseCache cache;
  ApiContext context = ContextOver(SharedStore::Get());
  context.cache = &cache;
  const HttpRequest tasks = Request(http::verb::get, "/statistics?annotationRequestId=req-3");
  const HttpRequest records = Request(http::verb::get, "/statistics/record?annotationRequestId=req-3");
  HandleRequest(tasks, context);
  HandleRequest(records, context);
  auto cached_tasks = AnswerWithoutQuery(tasks, context);
  auto cached_records = AnswerWithoutQuery(records, context);
  ASSERT_TRUE(cached_tasks && cached_records);
  EXPECT_TRUE((*ParseJson(cached_tasks->response.body()))["data"].is_array());
  EXPECT_TRUE((*ParseJson(cached_records->response.body()))["data"].is_object());
}

// --response-cache-entries: with a cache the second identical request is a hit;
// with none (0) both are misses, answered alike. Each request counts once, also
// when an I/O thread looked before its query thread did.
TEST(RouterTest, CacheHitsAndMissesAreCountedOncePerRequest) {
  const HttpRequest statistics = Request(http::verb::get, "/statistics?annotationRequestId=req-3");
  auto data_of = [](const Answer& a) { return std::string(simdjson::minify((*ParseJson(a.response.body()))["data"])); };

  HttpMetrics with_metrics;
  ResponseCache cache(4);
  ApiContext cached = ContextOver(SharedStore::Get());
  cached.cache = &cache;
  cached.metrics = &with_metrics;
  EXPECT_FALSE(AnswerWithoutQuery(statistics, cached));  // the I/O thread's look: not counted yet
  const Answer first = HandleRequest(statistics, cached);
  EXPECT_EQ(with_metrics.cache_misses(), 1u);
  EXPECT_EQ(with_metrics.cache_hits(), 0u);
  std::optional<Answer> second = AnswerWithoutQuery(statistics, cached);
  ASSERT_TRUE(second);
  EXPECT_EQ(with_metrics.cache_misses(), 1u);
  EXPECT_EQ(with_metrics.cache_hits(), 1u);
  EXPECT_EQ(data_of(*second), data_of(first));
  EXPECT_TRUE(AnswerWithoutQuery(Request(http::verb::get, "/statistics?pageSize=0"), cached));  // 4005: no look
  EXPECT_EQ(with_metrics.cache_hits() + with_metrics.cache_misses(), 2u);

  HttpMetrics without_metrics;
  ApiContext uncached = ContextOver(SharedStore::Get());
  uncached.metrics = &without_metrics;
  const Answer a = HandleRequest(statistics, uncached);
  const Answer b = HandleRequest(statistics, uncached);
  EXPECT_EQ(CodeOf(a), 2000);
  EXPECT_EQ(data_of(a), data_of(first));
  EXPECT_EQ(data_of(b), data_of(first));
  EXPECT_EQ(without_metrics.cache_misses(), 2u);
  EXPECT_EQ(without_metrics.cache_hits(), 0u);
  std::string page;
  without_metrics.Append(&page);
  EXPECT_NE(page.find("# TYPE tally_http_cache_hits_total counter\ntally_http_cache_hits_total 0\n"), std::string::npos);
  EXPECT_NE(page.find("# TYPE tally_http_cache_misses_total counter\ntally_http_cache_misses_total 2\n"),
            std::string::npos);
}

TEST(RouterTest, MetricsLabelEachRouteByItsPath) {
  HttpMetrics metrics;
  for (const RouteInfo& route : Routes()) metrics.ObserveRequest(&route, 200, 0.001);
  metrics.ObserveRequest(nullptr, 404, 0.001);
  std::string page;
  metrics.Append(&page);
  for (const RouteInfo& route : Routes()) {
    EXPECT_EQ(metrics.requests(&route, 200), 1u);
    EXPECT_NE(page.find("tally_http_requests_total{route=\"" + std::string(route.path) + "\",code=\"200\"} 1"),
              std::string::npos)
        << route.path;
  }
  EXPECT_NE(page.find("tally_http_requests_total{route=\"other\",code=\"404\"} 1"), std::string::npos);
}

TEST(ContractErrorTest, MapsEachStatusToOneCodeAndHttpStatus) {
  struct Case {
    Status status;
    Fault fault;
    ApiCode code;
    int http_status;
    std::string_view message;
  };
  const std::vector<Case> cases = {
      {Status::InvalidArgument("Invalid parameter: x"), Fault::kRequest, ApiCode::kInvalidParameter, 400,
       "Invalid parameter: x"},
      {Status::NotFound("Not found: no route /x"), Fault::kRequest, ApiCode::kNotFound, 404, "Not found: no route /x"},
      {Status::Unavailable("not open"), Fault::kServer, ApiCode::kInternal, 503, kInternalMessage},
      {Status::Unavailable("queue full"), Fault::kRequest, ApiCode::kInternal, 503, kInternalMessage},
      {Status::InvalidArgument("internal"), Fault::kServer, ApiCode::kInternal, 500, kInternalMessage},
      {Status::NotFound("internal"), Fault::kServer, ApiCode::kInternal, 500, kInternalMessage},
      {Status::Corruption("bad"), Fault::kRequest, ApiCode::kInternal, 500, kInternalMessage},
      {Status::IOError("disk"), Fault::kServer, ApiCode::kInternal, 500, kInternalMessage},
      {Status::Busy("locked"), Fault::kServer, ApiCode::kInternal, 500, kInternalMessage},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status.ToString());
    const ContractError error = ContractErrorOf(c.status, c.fault);
    EXPECT_EQ(error.code, c.code);
    EXPECT_EQ(error.http_status, c.http_status);
    EXPECT_EQ(error.message, c.message);
  }
}

}  // namespace
}  // namespace tally::testing
