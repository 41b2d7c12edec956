#pragma once

// QueryPool runs the store queries of business requests on threads of their
// own, so that a flood of heavy queries never holds the I/O threads that read
// and write every connection and answer the operations endpoints. At most
// `threads` queries run at once and `queue` more wait; past that TrySubmit
// refuses, and the caller answers 503 with Retry-After (backpressure instead of
// an unbounded backlog).
// Threads: TrySubmit and the gauges from any thread; Stop from the controlling
// thread, after which the jobs not started are destroyed unrun.

#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <cstddef>
#include <functional>
#include <optional>

namespace tally {

class QueryPool {
 public:
  QueryPool(int threads, size_t queue);
  ~QueryPool();

  // Runs `job` on a query thread, or returns false (and drops it) when
  // `threads + queue` jobs are already running or waiting.
  bool TrySubmit(std::function<void()> job);

  // Jobs running or waiting now.
  size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  size_t capacity() const { return limit_; }

  // Finishes the jobs running, destroys the waiting ones, joins. Idempotent.
  void Stop();

  QueryPool(const QueryPool&) = delete;
  QueryPool& operator=(const QueryPool&) = delete;

 private:
  const size_t limit_;
  std::atomic<size_t> in_flight_{0};
  std::optional<boost::asio::thread_pool> pool_;
};

}  // namespace tally
