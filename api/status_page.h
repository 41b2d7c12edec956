#pragma once

// The status page (`GET /`, `GET /status`): one HTML page for people, rendered
// on the server with inline CSS and no script, reloading itself every 5 s. An
// operations endpoint (ops_endpoints.h): open, answered on the I/O thread from
// the server's context alone — the consumer's counters (as /readyz and
// /metrics read them), the store's in-memory totals and latest rejections (no
// store read), the HTTP metrics and the last minute of them (status_history.h).
// It shows counts only: rejected events by reason, partition and offset, never
// their content. Every text put into the HTML is escaped.
// Any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/store.h"
#include "api/api_context.h"
#include "api/metrics.h"
#include "api/ops_endpoints.h"
#include "api/server.h"

namespace tally {

// What the page shows, gathered at one moment (GatherStatus); a plain value.
struct StatusPageData {
  std::string version;
  std::string topic;
  std::string generated_utc;  // "YYYY-MM-DD HH:MM:SS"
  double uptime_seconds = 0;
  // As /readyz says, and why not in a sentence.
  bool ready = false;
  std::string not_ready_reason;
  IngestStatus ingest;
  std::optional<StoreTotals> store;  // nullopt: the store is not open yet
  StoreDisk disk;                    // as /metrics reads it (Store::disk)
  std::vector<RejectedAt> recent_rejections;  // oldest first
  // Events applied per second over `window_seconds` (up to a minute; nullopt
  // before a second of history), and per second, oldest first.
  std::optional<double> applied_per_second;
  double window_seconds = 0;
  std::vector<double> applied_series;
  struct Route {
    std::string label;  // the route's path, or "other"
    uint64_t requests = 0;            // since start
    std::optional<double> per_second;  // over the window
    std::optional<double> p99_seconds;  // over the window; nullopt: no request in it
  };
  std::vector<Route> routes;  // those with a request since start
};

// The page's data now: the same sources as /readyz and /metrics.
StatusPageData GatherStatus(const ApiContext& context, std::chrono::steady_clock::time_point now);

// The page's HTML.
std::string RenderStatusPage(const StatusPageData& data);

// 200 text/html: the page as of now.
PlainAnswer AnswerStatus(const ApiContext& context);

// Appends `text` with & < > " ' as character references: safe in element
// content and in quoted attribute values.
void AppendHtmlEscaped(std::string_view text, std::string* out);

}  // namespace tally
