#include "api/status_page.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "aggregate/rejection.h"
#include "aggregate/timestamp.h"
#include "api/routes.h"
#include "api/status_history.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// The growth of a cumulative histogram between two readings.
Histogram::Snapshot Growth(const Histogram::Snapshot& before, const Histogram::Snapshot& after) {
  Histogram::Snapshot d;
  for (size_t b = 0; b < d.counts.size(); ++b) {
    d.counts[b] = after.counts[b] >= before.counts[b] ? after.counts[b] - before.counts[b] : 0;
  }
  d.sum = after.sum - before.sum;
  return d;
}

// 1234567 → "1,234,567": digits grouped for reading (the tests strip the commas).
void AppendCount(uint64_t n, std::string* out) {
  const std::string digits = std::to_string(n);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out->push_back(',');
    out->push_back(digits[i]);
  }
}

void AppendSigned(int64_t n, std::string* out) {
  if (n < 0) {
    out->push_back('-');
    AppendCount(static_cast<uint64_t>(-(n + 1)) + 1, out);
  } else {
    AppendCount(static_cast<uint64_t>(n), out);
  }
}

void AppendFixed(double v, int decimals, std::string* out) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  out->append(buf);
}

// A duration for people: "850 µs", "12.5 ms", "1.20 s".
void AppendDuration(double seconds, std::string* out) {
  if (seconds < 0.001) {
    AppendFixed(seconds * 1e6, 0, out);
    out->append(" µs");
  } else if (seconds < 1) {
    AppendFixed(seconds * 1e3, seconds < 0.01 ? 2 : 1, out);
    out->append(" ms");
  } else {
    AppendFixed(seconds, 2, out);
    out->append(" s");
  }
}

// "3 d 4 h", "5 h 12 min", "7 min 3 s", "42 s".
void AppendUptime(double seconds, std::string* out) {
  const auto s = static_cast<uint64_t>(std::max(0.0, seconds));
  const uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  char buf[64];
  if (d > 0) {
    std::snprintf(buf, sizeof buf, "%llu d %llu h", static_cast<unsigned long long>(d), static_cast<unsigned long long>(h));
  } else if (h > 0) {
    std::snprintf(buf, sizeof buf, "%llu h %llu min", static_cast<unsigned long long>(h), static_cast<unsigned long long>(m));
  } else if (m > 0) {
    std::snprintf(buf, sizeof buf, "%llu min %llu s", static_cast<unsigned long long>(m), static_cast<unsigned long long>(sec));
  } else {
    std::snprintf(buf, sizeof buf, "%llu s", static_cast<unsigned long long>(sec));
  }
  out->append(buf);
}

// "1.5 GiB (1,610,612,736 bytes)".
void AppendBytes(uint64_t bytes, std::string* out) {
  static constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  if (unit == 0) {
    AppendCount(bytes, out);
    out->append(" bytes");
    return;
  }
  AppendFixed(v, 1, out);
  out->append(" ").append(kUnits[unit]).append(" (");
  AppendCount(bytes, out);
  out->append(" bytes)");
}

// A labelled figure: <div class="figure" id="ID"><span class="v">VALUE</span><span class="k">LABEL</span></div>.
void Figure(std::string_view id, std::string_view label, const std::string& value, std::string* out) {
  out->append("<div class=\"figure\"><span class=\"v\" id=\"");
  AppendHtmlEscaped(id, out);
  out->append("\">");
  out->append(value);  // built by the Append* helpers above: digits and units only
  out->append("</span><span class=\"k\">");
  AppendHtmlEscaped(label, out);
  out->append("</span></div>\n");
}

std::string CountText(uint64_t n) {
  std::string s;
  AppendCount(n, &s);
  return s;
}

// Events applied per second over the window as an inline SVG bar chart.
void AppendSparkline(const std::vector<double>& series, std::string* out) {
  constexpr int kWidth = 600, kHeight = 60;
  out->append("<svg class=\"spark\" role=\"img\" aria-label=\"events applied per second, last minute\" viewBox=\"0 0 ");
  out->append(std::to_string(kWidth)).append(" ").append(std::to_string(kHeight)).append("\" width=\"");
  out->append(std::to_string(kWidth)).append("\" height=\"").append(std::to_string(kHeight)).append("\">");
  out->append("<rect width=\"100%\" height=\"100%\" fill=\"#f4f6f8\"/>");
  const double top = std::max(1.0, series.empty() ? 1.0 : *std::max_element(series.begin(), series.end()));
  const double bar = static_cast<double>(kWidth) / static_cast<double>(StatusHistory::kSamples - 1);
  // Right-aligned: the newest second at the right edge.
  const double x0 = kWidth - bar * static_cast<double>(series.size());
  for (size_t i = 0; i < series.size(); ++i) {
    const double h = series[i] / top * (kHeight - 4);
    char rect[160];
    std::snprintf(rect, sizeof rect, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2f7d4a\"/>",
                  x0 + bar * static_cast<double>(i), kHeight - h, std::max(1.0, bar - 1), h);
    out->append(rect);
  }
  out->append("</svg>\n");
}

constexpr std::string_view kStyle = R"(
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2329;background:#fff}
header{padding:16px 24px;background:#1d2329;color:#fff;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:20px;margin:0}
header .meta{color:#c5ccd3}
main{padding:8px 24px 24px;max-width:1200px}
section{margin-top:20px}
h2{font-size:16px;margin:0 0 8px;border-bottom:1px solid #dde2e7;padding-bottom:4px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600}
.ready{background:#2f7d4a;color:#fff}
.not-ready{background:#b3261e;color:#fff}
.why{color:#b3261e;margin:8px 0 0}
.figures{display:flex;flex-wrap:wrap;gap:12px}
.figure{border:1px solid #dde2e7;border-radius:6px;padding:8px 12px;min-width:140px}
.figure .v{display:block;font-size:20px;font-weight:600;font-variant-numeric:tabular-nums}
.figure .k{color:#5b6670;font-size:12px}
table{border-collapse:collapse;margin-top:4px}
th,td{padding:3px 12px 3px 0;text-align:left;border-bottom:1px solid #eef1f4}
th{color:#5b6670;font-weight:600;font-size:12px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.zero td{color:#9aa4ad}
.note{color:#5b6670;font-size:12px}
.columns{display:flex;flex-wrap:wrap;gap:40px}
footer{padding:12px 24px;color:#5b6670;font-size:12px;border-top:1px solid #dde2e7}
a{color:#1b5fa8}
)";

}  // namespace

void AppendHtmlEscaped(std::string_view text, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '&': out->append("&amp;"); break;
      case '<': out->append("&lt;"); break;
      case '>': out->append("&gt;"); break;
      case '"': out->append("&quot;"); break;
      case '\'': out->append("&#39;"); break;
      default: out->push_back(c);
    }
  }
}

StatusPageData GatherStatus(const ApiContext& context, Clock::time_point now) {
  StatusPageData d;
  d.version = context.version.empty() ? "unknown" : context.version;
  d.topic = context.topic;
  const int64_t unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  AppendTimestamp(Timestamp{unix_ms}, &d.generated_utc);
  d.uptime_seconds = SecondsBetween(context.started, now);
  d.ingest = context.ingest.status ? context.ingest.status() : IngestStatus{};
  // As /readyz decides.
  d.ready = context.store != nullptr && d.ingest.ready;
  if (!d.ready) {
    d.not_ready_reason = context.store == nullptr           ? "the store is not open yet"
                         : !d.ingest.not_ready_reason.empty() ? d.ingest.not_ready_reason
                                                              : "the consumer is not ready";
  }
  if (context.store != nullptr) {
    d.store = context.store->totals();
    d.disk = context.store->disk();
    d.recent_rejections = context.store->RecentRejections();
  }

  const HttpMetrics* http = context.metrics;
  std::vector<StatusHistory::Sample> samples;
  if (context.history != nullptr) samples = context.history->Since(now - StatusHistory::kWindow);
  // The rates need a base at least a second old.
  const StatusHistory::Sample* base =
      !samples.empty() && SecondsBetween(samples.front().at, now) >= 1 ? &samples.front() : nullptr;
  if (base != nullptr) {
    d.window_seconds = SecondsBetween(base->at, now);
    d.applied_per_second =
        static_cast<double>(d.ingest.applied >= base->applied ? d.ingest.applied - base->applied : 0) /
        d.window_seconds;
    for (size_t i = 1; i < samples.size(); ++i) {
      const double dt = SecondsBetween(samples[i - 1].at, samples[i].at);
      const uint64_t n = samples[i].applied >= samples[i - 1].applied ? samples[i].applied - samples[i - 1].applied : 0;
      d.applied_series.push_back(dt > 0 ? static_cast<double>(n) / dt : 0);
    }
  }
  if (http != nullptr) {
    for (size_t slot = 0; slot < http->route_slots(); ++slot) {
      StatusPageData::Route row;
      row.requests = http->slot_requests(slot);
      if (row.requests == 0) continue;
      row.label = RouteLabel(slot < Routes().size() ? &Routes()[slot] : nullptr);
      if (base != nullptr && slot < base->requests.size()) {
        const uint64_t before = base->requests[slot];
        row.per_second = static_cast<double>(row.requests >= before ? row.requests - before : 0) / d.window_seconds;
        const Histogram::Snapshot grown = Growth(base->durations[slot], http->slot_durations(slot));
        if (grown.count() > 0) row.p99_seconds = grown.Quantile(0.99);
      }
      d.routes.push_back(std::move(row));
    }
  }
  return d;
}

std::string RenderStatusPage(const StatusPageData& d) {
  std::string out;
  out.reserve(16 << 10);
  out.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
  out.append("<meta http-equiv=\"refresh\" content=\"5\">\n");
  out.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  out.append("<title>tally status: ");
  out.append(d.ready ? "ready" : "not ready");
  out.append("</title>\n<style>");
  out.append(kStyle);
  out.append("</style>\n</head>\n<body>\n<header>\n<h1>tally</h1>\n");
  out.append(d.ready ? "<span class=\"badge ready\" id=\"readiness\">ready</span>\n"
                     : "<span class=\"badge not-ready\" id=\"readiness\">not ready</span>\n");
  out.append("<span class=\"meta\">version <span id=\"version\">");
  AppendHtmlEscaped(d.version, &out);
  out.append("</span> · up <span id=\"uptime\">");
  AppendUptime(d.uptime_seconds, &out);
  out.append("</span> · topic <span id=\"topic\">");
  AppendHtmlEscaped(d.topic, &out);
  out.append("</span> · as of <span id=\"generated\">");
  AppendHtmlEscaped(d.generated_utc, &out);
  out.append("</span> UTC (reloads every 5 s)</span>\n</header>\n<main>\n");
  if (!d.ready) {
    out.append("<p class=\"why\" id=\"not-ready-reason\">Not ready: ");
    AppendHtmlEscaped(d.not_ready_reason, &out);
    out.append("</p>\n");
  }

  // Ingestion.
  const IngestStatus& in = d.ingest;
  out.append("<section id=\"ingestion\">\n<h2>Ingestion</h2>\n<div class=\"figures\">\n");
  std::string rate;
  if (d.applied_per_second) {
    AppendFixed(*d.applied_per_second, *d.applied_per_second < 10 ? 2 : 0, &rate);
  } else {
    rate = "…";
  }
  Figure("applied-per-second", "events applied per second (last minute)", rate, &out);
  Figure("events-applied", "events applied", CountText(in.applied), &out);
  Figure("events-consumed", "events consumed", CountText(in.consumed), &out);
  Figure("events-duplicate", "duplicates", CountText(in.duplicates), &out);
  Figure("events-conflict", "conflicts", CountText(in.conflicts), &out);
  std::string lag;
  if (in.lag < 0) {
    lag = "unknown";
  } else {
    AppendSigned(in.lag, &lag);
  }
  Figure("consumer-lag", "lag (events not yet applied)", lag, &out);
  out.append("</div>\n");
  AppendSparkline(d.applied_series, &out);
  out.append("<p class=\"note\">");
  if (d.applied_per_second) {
    out.append("Events applied per second over the last ");
    AppendFixed(d.window_seconds, 0, &out);
    out.append(" s, one bar a second.");
  } else {
    out.append("The rates need a second of history: they show on the next reload.");
  }
  out.append(" Counts are since this process started.</p>\n");

  out.append("<div class=\"columns\">\n<div>\n<h2>Lag per partition</h2>\n");
  if (in.partition_lag.empty()) {
    out.append("<p class=\"note\" id=\"partition-lag-unknown\">Unknown: no partition is assigned, or the brokers are "
               "unreachable.</p>\n");
  } else {
    out.append("<table id=\"partition-lag\">\n<tr><th>partition</th><th class=\"n\">lag</th></tr>\n");
    for (const auto& [partition, behind] : in.partition_lag) {
      out.append("<tr data-partition=\"");
      out.append(std::to_string(Raw(partition)));
      out.append(behind == 0 ? "\" class=\"zero\"><td>" : "\"><td>");
      out.append(std::to_string(Raw(partition)));
      out.append("</td><td class=\"n\">");
      AppendSigned(behind, &out);
      out.append("</td></tr>\n");
    }
    out.append("</table>\n");
  }
  out.append("</div>\n");

  // Rejections: every reason, as /metrics lists them.
  out.append("<div>\n<h2>Rejected events by reason</h2>\n<table id=\"rejected\">\n"
             "<tr><th>reason</th><th class=\"n\">events</th></tr>\n");
  for (size_t r = 0; r < kRejectReasonCount; ++r) {
    const std::string_view slug = Slug(static_cast<RejectReason>(r));
    uint64_t n = 0;
    for (const auto& [reason, count] : in.rejected) {
      if (reason == slug) n += count;
    }
    out.append("<tr data-reason=\"");
    AppendHtmlEscaped(slug, &out);
    out.append(n == 0 ? "\" class=\"zero\"><td>" : "\"><td>");
    AppendHtmlEscaped(slug, &out);
    out.append("</td><td class=\"n\">");
    AppendCount(n, &out);
    out.append("</td></tr>\n");
  }
  out.append("</table>\n</div>\n");

  out.append("<div>\n<h2>Latest rejected events</h2>\n");
  if (d.recent_rejections.empty()) {
    out.append("<p class=\"note\" id=\"recent-rejections-none\">None since the store was opened.</p>\n");
  } else {
    out.append("<table id=\"recent-rejections\">\n<tr><th>reason</th><th class=\"n\">partition</th>"
               "<th class=\"n\">offset</th><th class=\"n\">element</th></tr>\n");
    // Newest first.
    for (auto it = d.recent_rejections.rbegin(); it != d.recent_rejections.rend(); ++it) {
      out.append("<tr><td>");
      AppendHtmlEscaped(Slug(it->reason), &out);
      out.append("</td><td class=\"n\">");
      if (it->origin.partition == kReplayPartition) {
        out.append("replay");
      } else {
        out.append(std::to_string(Raw(it->origin.partition)));
      }
      out.append("</td><td class=\"n\">");
      out.append(std::to_string(Raw(it->origin.offset)));
      out.append("</td><td class=\"n\">");
      if (it->element) out.append(std::to_string(*it->element));
      out.append("</td></tr>\n");
    }
    out.append("</table>\n<p class=\"note\">Where they were (their content is never shown here).</p>\n");
  }
  out.append("</div>\n</div>\n</section>\n");

  // Store.
  out.append("<section id=\"store\">\n<h2>Store</h2>\n");
  if (!d.store) {
    out.append("<p class=\"note\">The store is not open yet.</p>\n");
  } else {
    out.append("<div class=\"figures\">\n");
    Figure("store-records", "records", CountText(d.store->records), &out);
    Figure("store-tasks", "tasks", CountText(d.store->tasks), &out);
    Figure("store-requests", "annotation requests", CountText(d.store->requests), &out);
    std::string size;
    AppendBytes(d.disk.table_bytes, &size);
    Figure("store-size", "table files on disk (the write-ahead logs come on top)", size, &out);
    // Unknown (statvfs failed) rather than 0, which would read as a full disk.
    if (d.disk.filesystem_size_bytes > 0) {
      std::string free;
      AppendBytes(d.disk.filesystem_available_bytes, &free);
      char share[48];
      std::snprintf(share, sizeof share, " · %.1f %%",
                    100.0 * static_cast<double>(d.disk.filesystem_available_bytes) /
                        static_cast<double>(d.disk.filesystem_size_bytes));
      free += share;
      Figure("filesystem-available", "free on the data directory's filesystem", free, &out);
    }
    out.append("</div>\n");
  }
  out.append("</section>\n");

  // HTTP.
  out.append("<section id=\"http\">\n<h2>HTTP</h2>\n");
  out.append("<table id=\"routes\">\n<tr><th>route</th><th class=\"n\">requests</th>"
             "<th class=\"n\">per second (last minute)</th><th class=\"n\">p99 (last minute)</th></tr>\n");
  for (const StatusPageData::Route& r : d.routes) {
    out.append("<tr data-route=\"");
    AppendHtmlEscaped(r.label, &out);
    out.append("\"><td>");
    AppendHtmlEscaped(r.label, &out);
    out.append("</td><td class=\"n\">");
    AppendCount(r.requests, &out);
    out.append("</td><td class=\"n\">");
    if (r.per_second) {
      AppendFixed(*r.per_second, 2, &out);
    } else {
      out.append("…");
    }
    out.append("</td><td class=\"n\">");
    if (r.p99_seconds) {
      AppendDuration(*r.p99_seconds, &out);
    } else {
      out.append("–");
    }
    out.append("</td></tr>\n");
  }
  out.append("</table>\n<p class=\"note\">Requests by route since start; the p99 is estimated from the "
             "duration histogram's buckets, as Prometheus' histogram_quantile does.</p>\n</section>\n");
  out.append("</main>\n<footer>Machine-readable: <a href=\"/metrics\">/metrics</a> · <a href=\"/readyz\">/readyz</a> · "
             "<a href=\"/openapi.yaml\">/openapi.yaml</a></footer>\n</body>\n</html>\n");
  return out;
}

PlainAnswer AnswerStatus(const ApiContext& context) {
  return {200, "text/html; charset=utf-8", RenderStatusPage(GatherStatus(context, Clock::now()))};
}

}  // namespace tally
