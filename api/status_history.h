#pragma once

// StatusHistory keeps the last minute of the counters that the status page
// (status_page.h) turns into rates: once a second the server's sampler records
// the events applied so far and, per route, the requests answered and their
// duration histogram. A rate is then (now - the oldest sample) / its age, and
// a p99 the quantile of the histogram's growth over that time, as Prometheus'
// rate() and histogram_quantile() would say over [1m].
// Memory is fixed at construction: kSamples samples of every route slot.
// Threads: Record from one thread at a time (the sampler), Since from any; a
// mutex held for a copy.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "aggregate/histogram.h"

namespace tally {

class HttpMetrics;

class StatusHistory {
 public:
  using Clock = std::chrono::steady_clock;
  // A minute of one-second steps, with both ends.
  static constexpr size_t kSamples = 61;
  static constexpr Clock::duration kWindow = std::chrono::seconds(60);

  struct Sample {
    Clock::time_point at;
    uint64_t applied = 0;                         // events applied, total
    std::vector<uint64_t> requests;               // per route slot (HttpMetrics::route_slots), total
    std::vector<Histogram::Snapshot> durations;   // per route slot
  };

  explicit StatusHistory(size_t route_slots);

  // Records the counters as of `at` (later than the previous sample's), over
  // the oldest sample once kSamples are held.
  void Record(Clock::time_point at, uint64_t applied, const HttpMetrics& http);

  // The samples taken at or after `since`, oldest first.
  std::vector<Sample> Since(Clock::time_point since) const;

 private:
  mutable std::mutex mutex_;
  std::vector<Sample> ring_;  // guarded by mutex_; kSamples slots, allocated once
  size_t next_ = 0;           // guarded by mutex_; the slot the next sample goes to
  size_t held_ = 0;           // guarded by mutex_; samples recorded, at most kSamples
};

}  // namespace tally
