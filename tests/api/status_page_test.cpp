// The status page (`GET /`, `GET /status`) without a socket: its figures come
// from the same sources as /readyz and /metrics, its rates from the last
// minute of samples, every text in it is escaped, it needs nothing from
// elsewhere, and other methods get the router's 405.

#include "api/status_page.h"

#include <gtest/gtest.h>

#include <regex>

#include "api/metrics.h"
#include "api/router.h"
#include "api/routes.h"
#include "api/status_history.h"
#include "tests/api/api_test_support.h"

namespace tally::testing {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

HttpRequest Get(std::string target, http::verb method = http::verb::get) {
  HttpRequest request{method, target, 11};
  request.prepare_payload();
  return request;
}

IngestStatus BusyIngest() {
  IngestStatus s;
  s.ready = true;
  s.lag = 5;
  s.partition_lag = {{Partition{0}, 2}, {Partition{3}, 3}};
  s.consumed = 1'234'600;
  s.applied = 1'234'567;
  s.duplicates = 12;
  s.rejected = {{"invalid_json", 3}, {"missing_field", 1}};
  return s;
}

// The text of the element with `id`, commas dropped ("1,234" → "1234").
std::string TextOf(const std::string& page, const std::string& id) {
  std::smatch m;
  if (!std::regex_search(page, m, std::regex("id=\"" + id + "\">([^<]*)<"))) return "(no element " + id + ")";
  std::string text = m[1];
  std::erase(text, ',');
  return text;
}

// The number cell of the table row with `attribute`="value".
std::string RowCount(const std::string& page, const std::string& attribute, const std::string& value) {
  std::smatch m;
  if (!std::regex_search(page, m, std::regex("<tr " + attribute + "=\"" + value + "\"[^>]*><td>[^<]*</td><td class=\"n\">([^<]*)<"))) {
    return "(no row " + value + ")";
  }
  std::string text = m[1];
  std::erase(text, ',');
  return text;
}

TEST(StatusPageTest, ShowsWhatReadyzAndMetricsShow) {
  HttpMetrics metrics;
  metrics.ObserveRequest(RouteOf("/statistics"), 200, 0.002);
  metrics.ObserveRequest(RouteOf("/statistics"), 404, 0.003);
  metrics.ObserveRequest(nullptr, 404, 0.001);
  ApiContext context;
  context.store = SharedStore::Get();
  context.metrics = &metrics;
  context.version = "1.2.3";
  context.ingest.status = [] { return BusyIngest(); };

  for (const std::string target : {"/", "/status", "/?x=1"}) {
    SCOPED_TRACE(target);
    const Answer answer = HandleRequest(Get(target), context);
    ASSERT_EQ(answer.response.result_int(), 200u);
    EXPECT_EQ(answer.response[http::field::content_type], "text/html; charset=utf-8");
    EXPECT_EQ(answer.response.count("X-Tally-Lag"), 0u);  // an operations endpoint: no envelope, no lag header
    const std::string& page = answer.response.body();
    EXPECT_NE(page.find("id=\"readiness\">ready<"), std::string::npos);
    EXPECT_EQ(page.find("not-ready-reason"), std::string::npos);
    EXPECT_EQ(TextOf(page, "version"), "1.2.3");
    EXPECT_EQ(TextOf(page, "events-applied"), "1234567");
    EXPECT_EQ(TextOf(page, "events-consumed"), "1234600");
    EXPECT_EQ(TextOf(page, "events-duplicate"), "12");
    EXPECT_EQ(TextOf(page, "consumer-lag"), "5");
    EXPECT_EQ(RowCount(page, "data-partition", "0"), "2");
    EXPECT_EQ(RowCount(page, "data-partition", "3"), "3");
    EXPECT_EQ(RowCount(page, "data-reason", "invalid_json"), "3");
    EXPECT_EQ(RowCount(page, "data-reason", "missing_field"), "1");
    EXPECT_EQ(RowCount(page, "data-reason", "too_many_keys"), "0");  // every reason, as /metrics lists them
    const StoreTotals totals = SharedStore::Get()->totals();
    ASSERT_GT(totals.records, 0u);
    EXPECT_EQ(TextOf(page, "store-records"), std::to_string(totals.records));
    EXPECT_EQ(TextOf(page, "store-tasks"), std::to_string(totals.tasks));
    EXPECT_EQ(TextOf(page, "store-requests"), std::to_string(totals.requests));
    EXPECT_EQ(RowCount(page, "data-route", "/statistics"), "2");
    EXPECT_EQ(RowCount(page, "data-route", "other"), "1");
    EXPECT_EQ(RowCount(page, "data-route", "/task/get"), "(no row /task/get)");  // no request yet: not listed
  }
  // The figures /metrics shows at the same moment.
  const std::string page = HandleRequest(Get("/"), context).response.body();
  const std::string scrape = HandleRequest(Get("/metrics"), context).response.body();
  EXPECT_NE(scrape.find("tally_events_applied_total 1234567\n"), std::string::npos);
  EXPECT_NE(scrape.find("tally_consumer_partition_lag{partition=\"3\"} 3\n"), std::string::npos) << scrape;
  EXPECT_NE(scrape.find("tally_events_rejected_total{reason=\"invalid_json\"} 3\n"), std::string::npos);
  std::smatch size;
  ASSERT_TRUE(std::regex_search(scrape, size, std::regex("\ntally_store_size_bytes ([0-9]+)\n"))) << scrape;
  std::smatch shown;
  const std::string store_size = TextOf(page, "store-size");
  ASSERT_TRUE(std::regex_search(store_size, shown, std::regex("([0-9]+) bytes"))) << store_size;
  EXPECT_EQ(shown[1], size[1]);
  std::smatch avail;
  ASSERT_TRUE(std::regex_search(scrape, avail, std::regex("\ntally_store_filesystem_avail_bytes ([0-9]+)\n")));
  EXPECT_NE(page.find("id=\"filesystem-available\""), std::string::npos);
}

TEST(StatusPageTest, SaysWhyItIsNotReady) {
  ApiContext context;
  context.store = nullptr;
  const std::string closed = HandleRequest(Get("/"), context).response.body();
  EXPECT_NE(closed.find("id=\"readiness\">not ready<"), std::string::npos);
  EXPECT_NE(closed.find("Not ready: the store is not open yet"), std::string::npos);
  EXPECT_NE(closed.find("The store is not open yet."), std::string::npos);

  context.store = SharedStore::Get();
  context.ingest.status = [] {
    IngestStatus s;
    s.not_ready_reason = "every Kafka broker is unreachable: ingestion is stalled";
    return s;
  };
  const Answer answer = HandleRequest(Get("/status"), context);
  EXPECT_EQ(answer.response.result_int(), 200u);  // the page itself is there, ready or not
  EXPECT_NE(answer.response.body().find("Not ready: every Kafka broker is unreachable"), std::string::npos);
  EXPECT_EQ(TextOf(answer.response.body(), "consumer-lag"), "unknown");
  EXPECT_NE(answer.response.body().find("id=\"partition-lag-unknown\""), std::string::npos);
  // /readyz agrees.
  EXPECT_EQ(HandleRequest(Get("/readyz"), context).response.result_int(), 503u);
}

TEST(StatusPageTest, EscapesEveryTextItShows) {
  std::string escaped;
  AppendHtmlEscaped(R"(<a href="x">Tom & 'Jerry'</a>)", &escaped);
  EXPECT_EQ(escaped, "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");

  StatusPageData data;
  data.version = "<b>1</b>";
  data.topic = "topic\"><script>alert(1)</script>";
  data.generated_utc = "2026-01-01 00:00:00";
  data.not_ready_reason = "the store failed: cannot write /data/<x>&'y'";
  data.routes.push_back({"/<i>", 1, std::nullopt, std::nullopt});
  const std::string page = RenderStatusPage(data);
  EXPECT_EQ(page.find("<script"), std::string::npos) << page;
  EXPECT_EQ(page.find("<b>1"), std::string::npos);
  EXPECT_EQ(page.find("<i>"), std::string::npos);
  EXPECT_NE(page.find("&lt;b&gt;1&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(page.find("topic&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("cannot write /data/&lt;x&gt;&amp;&#39;y&#39;"), std::string::npos);
  EXPECT_NE(page.find("data-route=\"/&lt;i&gt;\""), std::string::npos);
}

// One page, nothing fetched from elsewhere, no script; it reloads itself.
TEST(StatusPageTest, NeedsNothingFromElsewhere) {
  ApiContext context;
  context.store = SharedStore::Get();
  const std::string page = HandleRequest(Get("/"), context).response.body();
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(page.find("<meta http-equiv=\"refresh\" content=\"5\">"), std::string::npos);
  EXPECT_NE(page.find("<style>"), std::string::npos);
  for (const std::string_view absent : {"<script", "<link", "<img", "src=", "http://", "https://", "@import", "url("}) {
    EXPECT_EQ(page.find(absent), std::string::npos) << absent;
  }
}

TEST(StatusPageTest, OtherMethodsGetTheRoutersAnswer) {
  ApiContext context;
  context.store = SharedStore::Get();
  for (const std::string target : {"/", "/status"}) {
    const Answer answer = HandleRequest(Get(target, http::verb::delete_), context);
    EXPECT_EQ(answer.response.result_int(), 405u);
    EXPECT_EQ(answer.code, 4005);
    EXPECT_EQ(answer.response[http::field::allow], "GET, POST");
    // POST is taken on every route, the page's too.
    EXPECT_EQ(HandleRequest(Get(target, http::verb::post), context).response.result_int(), 200u);
  }
  // An API key is not needed: an operations endpoint.
  context.api_keys = {"secret"};
  EXPECT_EQ(HandleRequest(Get("/"), context).response.result_int(), 200u);
}

// Rates: the growth since the oldest sample of the last minute, over its age.
TEST(StatusPageTest, RatesAndP99OverTheLastMinuteOfSamples) {
  HttpMetrics metrics;
  StatusHistory history(metrics.route_slots());
  const auto t0 = StatusHistory::Clock::now();
  uint64_t applied = 500;
  history.Record(t0 - 200s, 0, metrics);  // out of the window: not the base
  for (int s = 0; s <= 30; ++s) {
    history.Record(t0 + std::chrono::seconds(s), applied, metrics);
    if (s < 30) applied += s < 20 ? 100 : 400;
  }
  // In the last second, 60 requests of ~2 ms on /statistics, 1 slow one on /task/get.
  for (int i = 0; i < 60; ++i) metrics.ObserveRequest(RouteOf("/statistics"), 200, 0.002);
  metrics.ObserveRequest(RouteOf("/task/get"), 200, 0.3);

  ApiContext context;
  context.metrics = &metrics;
  context.history = &history;
  context.ingest.status = [&applied] {
    IngestStatus s;
    s.applied = applied;
    return s;
  };
  const auto now = t0 + 40s;
  const StatusPageData data = GatherStatus(context, now);
  ASSERT_TRUE(data.applied_per_second);
  EXPECT_DOUBLE_EQ(data.window_seconds, 40);
  EXPECT_DOUBLE_EQ(*data.applied_per_second, (20 * 100 + 10 * 400) / 40.0);
  ASSERT_EQ(data.applied_series.size(), 30u);
  EXPECT_DOUBLE_EQ(data.applied_series.front(), 100);
  EXPECT_DOUBLE_EQ(data.applied_series.back(), 400);
  ASSERT_EQ(data.routes.size(), 2u);
  EXPECT_EQ(data.routes[0].label, "/statistics");
  EXPECT_EQ(data.routes[0].requests, 60u);
  EXPECT_DOUBLE_EQ(*data.routes[0].per_second, 60 / 40.0);
  ASSERT_TRUE(data.routes[0].p99_seconds);
  EXPECT_GT(*data.routes[0].p99_seconds, 0.001);
  EXPECT_LE(*data.routes[0].p99_seconds, 0.0025);
  EXPECT_EQ(data.routes[1].label, "/task/get");
  EXPECT_GT(*data.routes[1].p99_seconds, 0.25);

  // A minute later without samples (the sampler stopped): no base, no rates.
  const StatusPageData later = GatherStatus(context, t0 + 200s);
  EXPECT_FALSE(later.applied_per_second);
  EXPECT_FALSE(later.routes[0].per_second);
  EXPECT_NE(RenderStatusPage(later).find("The rates need a second of history"), std::string::npos);

  // The history keeps a minute: the oldest samples go.
  for (int s = 0; s < 100; ++s) history.Record(t0 + 300s + std::chrono::seconds(s), applied, metrics);
  EXPECT_EQ(history.Since(t0).size(), StatusHistory::kSamples);
}

}  // namespace
}  // namespace tally::testing
