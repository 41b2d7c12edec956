#include "api/metrics.h"

#include <charconv>
#include <map>

#include "aggregate/rejection.h"
#include "api/process_metrics.h"

namespace tally {
namespace {

void AppendNumber(double v, std::string* out) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;  // 32 bytes hold any double's shortest form
  out->append(buf, end);
}

void AppendUint(uint64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  out->append(buf, end);
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;
  out->append(buf, end);
}

void Header(std::string_view name, std::string_view type, std::string_view help, std::string* out) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Counter(std::string_view name, std::string_view help, uint64_t value, std::string* out) {
  Header(name, "counter", help, out);
  out->append(name).append(" ");
  AppendUint(value, out);
  out->append("\n");
}

void Gauge(std::string_view name, std::string_view help, int64_t value, std::string* out) {
  Header(name, "gauge", help, out);
  out->append(name).append(" ");
  AppendInt(value, out);
  out->append("\n");
}

// Label values are escaped as the text format says: backslash, quote, newline.
void AppendLabelValue(std::string_view v, std::string* out) {
  for (char c : v) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

size_t HttpMetrics::StatusIndex(int http_status) {
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == http_status) return i;
  }
  static_assert(kStatuses[7] == 500);
  return 7;  // 500
}

HttpMetrics::HttpMetrics() : route_slots_(Routes().size() + 1), routes_(new PerRoute[route_slots_]()) {}

void HttpMetrics::ObserveRequest(const RouteInfo* route, int http_status, double seconds) {
  PerRoute& r = routes_[RouteIndex(route)];
  r.requests[StatusIndex(http_status)].fetch_add(1, std::memory_order_relaxed);
  r.durations.Observe(seconds);
  if (http_status == 304) not_modified_.fetch_add(1, std::memory_order_relaxed);
}

uint64_t HttpMetrics::slot_requests(size_t slot) const {
  uint64_t n = 0;
  for (const auto& count : routes_[slot].requests) n += count.load(std::memory_order_relaxed);
  return n;
}

uint64_t HttpMetrics::requests(const RouteInfo* route, int http_status) const {
  return routes_[RouteIndex(route)].requests[StatusIndex(http_status)].load(std::memory_order_relaxed);
}

void AppendHistogram(std::string_view name, std::string_view help, std::string_view labels,
                     const Histogram::Snapshot& h, bool with_header, std::string* out) {
  if (with_header) Header(name, "histogram", help, out);
  uint64_t cumulative = 0;
  for (size_t b = 0; b < h.counts.size(); ++b) {
    cumulative += h.counts[b];
    out->append(name).append("_bucket{");
    if (!labels.empty()) out->append(labels).append(",");
    out->append("le=\"");
    if (b < Histogram::kBounds.size()) {
      AppendNumber(Histogram::kBounds[b], out);
    } else {
      out->append("+Inf");
    }
    out->append("\"} ");
    AppendUint(cumulative, out);
    out->append("\n");
  }
  const std::string braced = labels.empty() ? std::string() : "{" + std::string(labels) + "}";
  out->append(name).append("_sum").append(braced).append(" ");
  AppendNumber(h.sum, out);
  out->append("\n");
  out->append(name).append("_count").append(braced).append(" ");
  AppendUint(cumulative, out);
  out->append("\n");
}

void HttpMetrics::Append(std::string* out) const {
  Header("tally_http_requests_total", "counter", "HTTP requests answered, by route and HTTP status.", out);
  // Slot r is the route Routes()[r]; the last one, "other".
  auto label = [](size_t r) { return RouteLabel(r < Routes().size() ? &Routes()[r] : nullptr); };
  for (size_t r = 0; r < route_slots_; ++r) {
    for (size_t s = 0; s < HttpMetrics::kStatuses.size(); ++s) {
      const uint64_t n = routes_[r].requests[s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out->append("tally_http_requests_total{route=\"");
      AppendLabelValue(label(r), out);
      out->append("\",code=\"");
      AppendUint(static_cast<uint64_t>(kStatuses[s]), out);
      out->append("\"} ");
      AppendUint(n, out);
      out->append("\n");
    }
  }
  for (size_t r = 0; r < route_slots_; ++r) {
    std::string labels = "route=\"";
    AppendLabelValue(label(r), &labels);
    labels += "\"";
    AppendHistogram("tally_http_request_duration_seconds",
                    "Time from a request's last byte read to its response ready, by route.", labels,
                    routes_[r].durations.Read(), r == 0, out);
  }
  Gauge("tally_http_connections_open", "HTTP connections open now.", open_connections(), out);
  Counter("tally_http_connections_refused_total", "Connections closed at once: over the connection cap and its reserve.",
          refused_connections_.load(std::memory_order_relaxed), out);
  Counter("tally_http_access_log_suppressed_total", "Access log lines dropped by the rate limit.",
          log_suppressed_.load(std::memory_order_relaxed), out);
  Counter("tally_http_connections_evicted_total",
          "Longest-idle connections closed to admit new ones (at the cap, or out of file descriptors).",
          evicted_connections_.load(std::memory_order_relaxed), out);
  Counter("tally_http_accept_failures_total", "Failed accepts (out of file descriptors or memory); retried after a short pause.",
          accept_failures_.load(std::memory_order_relaxed), out);
  Gauge("tally_http_queries_in_flight", "Business queries running or waiting for a query thread.",
        queries_in_flight_ ? queries_in_flight_() : 0, out);
  Counter("tally_http_queries_rejected_total", "Business requests answered 503: the query queue was full.",
          rejected_queries_.load(std::memory_order_relaxed), out);
  Counter("tally_http_cache_hits_total", "Business requests answered from the response cache.", cache_hits(), out);
  Counter("tally_http_cache_misses_total",
          "Business requests answered by a store query: not in the response cache, or the cache is off "
          "(--response-cache-entries 0).",
          cache_misses(), out);
  Counter("tally_http_not_modified_total",
          "Business requests answered 304 Not Modified: their If-None-Match named the current ETag.",
          not_modified(), out);
  Gauge("tally_http_waiters", "Long polls held now (Prefer: wait), at most --max-waiters.",
        waiters_ ? waiters_() : 0, out);
  Counter("tally_http_behind_position_total",
          "Business requests answered 503: ingestion did not reach their X-Tally-Min-Position within "
          "--position-wait-ms.",
          behind_position(), out);
  Gauge("tally_http_position_waiters",
        "Business requests waiting for ingestion to reach their X-Tally-Min-Position (no thread each).",
        position_waiters_ ? position_waiters_() : 0, out);
}

std::string RenderMetrics(const HttpMetrics& http, const IngestStatus& ingest, const StoreTotals* totals,
                          const StoreDisk* disk, const BackupStats* backups) {
  std::string out;
  out.reserve(16 << 10);
  Counter("tally_events_consumed_total", "Events read from Kafka (array elements; a non-JSON message counts once).",
          ingest.consumed, &out);
  Counter("tally_events_applied_total", "Events applied to the store as new records.", ingest.applied, &out);
  Counter("tally_events_duplicate_total", "Events whose record id was applied before.", ingest.duplicates, &out);
  Counter("tally_events_conflict_total", "Duplicates whose content differs from the applied record.",
          ingest.conflicts, &out);
  // Every known reason is listed, at 0 if need be, so rates need no absent-series care.
  std::map<std::string, uint64_t> rejected;
  for (uint8_t r = 0; r <= static_cast<uint8_t>(RejectReason::kTooManyKeys); ++r) {
    rejected[std::string(Slug(static_cast<RejectReason>(r)))] = 0;
  }
  for (const auto& [reason, n] : ingest.rejected) rejected[reason] += n;
  Header("tally_events_rejected_total", "counter", "Events rejected, by reason.", &out);
  for (const auto& [reason, n] : rejected) {
    out.append("tally_events_rejected_total{reason=\"");
    AppendLabelValue(reason, &out);
    out.append("\"} ");
    AppendUint(n, &out);
    out.append("\n");
  }
  Counter("tally_offset_resets_total",
          "Partitions re-read from the earliest offset because the broker no longer holds the stored position "
          "(another cluster, a recreated topic).",
          ingest.offset_resets, &out);
  Counter("tally_offsets_skipped_total",
          "Messages the brokers had removed (retention) before tally read them: their events are missing from the "
          "views.",
          ingest.offsets_skipped, &out);
  Counter("tally_dead_letters_total", "Rejected events queued for the dead-letter topic.", ingest.dead_letters,
          &out);
  Counter("tally_dead_letters_failed_total",
          "Dead letters lost: refused by the producer, or not delivered within its message timeout.",
          ingest.dead_letters_failed, &out);
  Gauge("tally_consumer_lag", "Events in the assigned partitions not yet applied (-1: unknown).", ingest.lag, &out);
  Header("tally_consumer_partition_lag", "gauge",
         "Events not yet applied, per assigned partition (no series while the lag is unknown).", &out);
  for (const auto& [partition, lag] : ingest.partition_lag) {
    out.append("tally_consumer_partition_lag{partition=\"");
    AppendInt(Raw(partition), &out);
    out.append("\"} ");
    AppendInt(lag, &out);
    out.append("\n");
  }
  Gauge("tally_consumer_ready", "1 once the consumer has joined its group and has an assignment.",
        ingest.ready ? 1 : 0, &out);
  AppendHistogram("tally_apply_batch_duration_seconds", "Time to apply one batch to the store.", "",
                  ingest.apply_batch_seconds, true, &out);
  AppendHistogram("tally_event_freshness_seconds",
                  "Per event, from its Kafka message timestamp to its batch being durable and visible.", "",
                  ingest.event_freshness_seconds, true, &out);
  if (totals != nullptr) {
    Gauge("tally_store_records", "Distinct records held in the store.", static_cast<int64_t>(totals->records), &out);
    Gauge("tally_store_tasks", "Task views held in the store.", static_cast<int64_t>(totals->tasks), &out);
    Gauge("tally_store_requests", "Annotation requests held in the store.", static_cast<int64_t>(totals->requests),
          &out);
  }
  if (disk != nullptr) {
    Gauge("tally_store_size_bytes",
          "Bytes of the store's table files on disk (the write-ahead logs come on top).",
          static_cast<int64_t>(disk->table_bytes), &out);
    // Absent, not 0, when statvfs failed: a 0 would page as a full disk.
    if (disk->filesystem_size_bytes > 0) {
      Gauge("tally_store_filesystem_size_bytes", "Size of the filesystem holding the data directory.",
            static_cast<int64_t>(disk->filesystem_size_bytes), &out);
      Gauge("tally_store_filesystem_avail_bytes",
            "Bytes still free for tally on the filesystem holding the data directory; at 0 the store stops.",
            static_cast<int64_t>(disk->filesystem_available_bytes), &out);
    }
  }
  const BackupStats backup = backups != nullptr ? *backups : BackupStats{};
  Header("tally_backup_last_success_timestamp_seconds", "gauge",
         "Unix time the last successful backup of this process ended (0: none yet, or no --backup-dir).", &out);
  out.append("tally_backup_last_success_timestamp_seconds ");
  AppendNumber(backup.last_success_unix_s, &out);
  out.append("\n");
  Header("tally_backup_duration_seconds", "gauge", "How long the last successful backup took, seconds.", &out);
  out.append("tally_backup_duration_seconds ");
  AppendNumber(backup.last_duration_s, &out);
  out.append("\n");
  Counter("tally_backup_failures_total", "Backups that failed (each logged once); the next one retries.",
          backup.failures, &out);
  http.Append(&out);
  AppendProcessMetrics(&out);
  return out;
}

}  // namespace tally
