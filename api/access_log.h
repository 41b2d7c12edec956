#pragma once

// AccessLog writes one structured line per answered request (method, route,
// HTTP status, code, bytes, duration, requestId) through spdlog, rate-limited by
// a token bucket so that a flood of requests cannot fill the disk: past the
// burst, at most `per_second` lines a second are written and the rest are
// counted; the next line written says how many were dropped.
// Threads: Log from any thread (a mutex guards the bucket; the line is formatted
// outside it).

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace tally {

struct AccessEntry {
  std::string_view method;
  std::string_view route;  // the route label: a path or "other"
  int status = 0;          // HTTP status
  int code = 0;            // the envelope's code, 0 for ops endpoints
  uint64_t bytes = 0;      // response body bytes as sent
  double seconds = 0;
  std::string_view request_id;
};

class AccessLog {
 public:
  using Clock = std::chrono::steady_clock;
  // `sink` receives each line (default: spdlog's info level); `now` is the clock
  // (tests pass a fake one).
  AccessLog(double per_second, double burst, std::function<void(std::string_view)> sink = {},
            std::function<Clock::time_point()> now = {});

  // Writes the entry's line, or counts it as suppressed. Returns how many lines
  // were newly suppressed by this call (0 or 1), for the metrics.
  uint64_t Log(const AccessEntry& entry);

  static std::string Format(const AccessEntry& entry, uint64_t suppressed_before);

 private:
  const double per_second_;
  const double burst_;
  const std::function<void(std::string_view)> sink_;
  const std::function<Clock::time_point()> now_;
  std::mutex mutex_;
  double tokens_;             // guarded by mutex_
  Clock::time_point last_;    // guarded by mutex_
  uint64_t suppressed_ = 0;   // guarded by mutex_: since the last line written
};

}  // namespace tally
