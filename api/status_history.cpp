#include "api/status_history.h"

#include "api/metrics.h"

namespace tally {

StatusHistory::StatusHistory(size_t route_slots) : ring_(kSamples) {
  for (Sample& s : ring_) {
    s.requests.resize(route_slots);
    s.durations.resize(route_slots);
  }
}

void StatusHistory::Record(Clock::time_point at, uint64_t applied, const HttpMetrics& http) {
  std::lock_guard lock(mutex_);
  Sample& s = ring_[next_];
  s.at = at;
  s.applied = applied;
  for (size_t r = 0; r < s.requests.size() && r < http.route_slots(); ++r) {
    s.requests[r] = http.slot_requests(r);
    s.durations[r] = http.slot_durations(r);
  }
  next_ = (next_ + 1) % kSamples;
  if (held_ < kSamples) ++held_;
}

std::vector<StatusHistory::Sample> StatusHistory::Since(Clock::time_point since) const {
  std::lock_guard lock(mutex_);
  std::vector<Sample> out;
  for (size_t i = 0; i < held_; ++i) {
    const Sample& s = ring_[(next_ + kSamples - held_ + i) % kSamples];
    if (s.at >= since) out.push_back(s);
  }
  return out;
}

}  // namespace tally
