#pragma once

// HttpMetrics counts what the server did (requests by route and HTTP status,
// their durations by route, connections), and RenderMetrics writes every metric
// of docs/operations.md in Prometheus text format 0.0.4, joining the server's own
// counters with the consumer's (IngestStatus, filled by app/) and the store's
// totals.
// Threads: Observe* from any thread, lock-free; RenderMetrics from any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "aggregate/backup_service.h"
#include "aggregate/histogram.h"
#include "aggregate/store.h"
#include "api/routes.h"
#include "api/server.h"

namespace tally {

class HttpMetrics {
 public:
  // The HTTP statuses the server answers with; anything else counts as 500.
  static constexpr std::array<int, 9> kStatuses = {200, 304, 400, 401, 404, 405, 413, 500, 503};

  HttpMetrics();

  // `route` is null for a request that no route answered (labelled "other").
  void ObserveRequest(const RouteInfo* route, int http_status, double seconds);
  void ConnectionOpened() { open_connections_.fetch_add(1, std::memory_order_relaxed); }
  void ConnectionClosed() { open_connections_.fetch_sub(1, std::memory_order_relaxed); }
  void ConnectionRefused() { refused_connections_.fetch_add(1, std::memory_order_relaxed); }
  void AccessLinesSuppressed(uint64_t n) { log_suppressed_.fetch_add(n, std::memory_order_relaxed); }
  void ConnectionEvicted() { evicted_connections_.fetch_add(1, std::memory_order_relaxed); }
  void AcceptFailed() { accept_failures_.fetch_add(1, std::memory_order_relaxed); }
  void QueryRejected() { rejected_queries_.fetch_add(1, std::memory_order_relaxed); }
  // A business request answered from the response cache, or by a store query
  // (a miss; with the cache off every business answer is one).
  void CacheHit() { cache_hits_.fetch_add(1, std::memory_order_relaxed); }
  void CacheMiss() { cache_misses_.fetch_add(1, std::memory_order_relaxed); }
  // Where the gauge of held long polls comes from; set once, before serving.
  void SetWaiters(std::function<int64_t()> gauge) { waiters_ = std::move(gauge); }
  // A request answered 503: still behind its X-Tally-Min-Position when its wait ended.
  void BehindPosition() { behind_position_.fetch_add(1, std::memory_order_relaxed); }
  // Where the gauge of queries running or waiting comes from; set once, before serving.
  void SetQueriesInFlight(std::function<int64_t()> gauge) { queries_in_flight_ = std::move(gauge); }
  // Where the gauge of requests waiting for their X-Tally-Min-Position comes from; set once, before serving.
  void SetPositionWaiters(std::function<int64_t()> gauge) { position_waiters_ = std::move(gauge); }

  uint64_t requests(const RouteInfo* route, int http_status) const;
  // Per route slot (RouteIndex; the last, Routes().size(), is "other"): the
  // requests answered, any status, and their durations. For the status page.
  size_t route_slots() const { return route_slots_; }
  uint64_t slot_requests(size_t slot) const;
  Histogram::Snapshot slot_durations(size_t slot) const { return routes_[slot].durations.Read(); }
  int64_t open_connections() const { return open_connections_.load(std::memory_order_relaxed); }
  uint64_t cache_hits() const { return cache_hits_.load(std::memory_order_relaxed); }
  uint64_t cache_misses() const { return cache_misses_.load(std::memory_order_relaxed); }
  // 304 answers sent (ObserveRequest with 304).
  uint64_t not_modified() const { return not_modified_.load(std::memory_order_relaxed); }
  uint64_t behind_position() const { return behind_position_.load(std::memory_order_relaxed); }

  // Appends the server's metrics (tally_http_*).
  void Append(std::string* out) const;

 private:
  static size_t StatusIndex(int http_status);

  // Per route of the table (routes.h), by RouteIndex, and one more for "other".
  struct PerRoute {
    std::array<std::atomic<uint64_t>, kStatuses.size()> requests{};
    Histogram durations;
  };
  const size_t route_slots_;
  const std::unique_ptr<PerRoute[]> routes_;
  std::atomic<int64_t> open_connections_{0};
  std::atomic<uint64_t> refused_connections_{0};
  std::atomic<uint64_t> log_suppressed_{0};
  std::atomic<uint64_t> evicted_connections_{0};
  std::atomic<uint64_t> accept_failures_{0};
  std::atomic<uint64_t> rejected_queries_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> cache_misses_{0};
  std::atomic<uint64_t> not_modified_{0};
  std::atomic<uint64_t> behind_position_{0};
  std::function<int64_t()> queries_in_flight_;
  std::function<int64_t()> waiters_;
  std::function<int64_t()> position_waiters_;
};

// The whole /metrics page: ingestion, store, HTTP, process. `totals` and
// `disk` are null while the store is not open; `backups` is null without
// --backup-dir (the backup metrics then read 0).
std::string RenderMetrics(const HttpMetrics& http, const IngestStatus& ingest, const StoreTotals* totals,
                          const StoreDisk* disk, const BackupStats* backups = nullptr);

// Appends one histogram's HELP, TYPE and samples; `labels` is empty or like
// `route="/x"` (without braces).
void AppendHistogram(std::string_view name, std::string_view help, std::string_view labels,
                     const Histogram::Snapshot& h, bool with_header, std::string* out);

}  // namespace tally
