#include "api/query_pool.h"

#include <boost/asio/post.hpp>

namespace tally {

QueryPool::QueryPool(int threads, size_t queue)
    : limit_(static_cast<size_t>(threads) + queue), pool_(std::in_place, static_cast<size_t>(threads)) {}

QueryPool::~QueryPool() { Stop(); }

bool QueryPool::TrySubmit(std::function<void()> job) {
  if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= limit_) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  boost::asio::post(*pool_, [this, job = std::move(job)] {
    job();
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
  });
  return true;
}

void QueryPool::Stop() {
  if (!pool_) return;
  pool_->stop();
  pool_->join();
  pool_.reset();
}

}  // namespace tally
