#pragma once

// Histogram counts observations (durations, in seconds) into fixed buckets, the
// way Prometheus histograms expose them. Shared vocabulary of the modules that
// publish metrics (ingest/ times batches, api/ times requests), like Status.
// Threads: Observe from any thread without locks; Read from any thread gives a
// near-consistent copy (each count is exact; they are read one by one).

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace tally {

class Histogram {
 public:
  // Upper bounds of the buckets, seconds: 100 µs to 10 s.
  static constexpr std::array<double, 14> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     10};

  // `n` observations of `seconds` (below 0, say from clocks that disagree, counts as 0).
  void Observe(double seconds, uint64_t n = 1) {
    if (!(seconds > 0)) seconds = 0;
    size_t b = 0;
    while (b < kBounds.size() && seconds > kBounds[b]) ++b;
    counts_[b].fetch_add(n, std::memory_order_relaxed);
    sum_nanos_.fetch_add(static_cast<uint64_t>(seconds * 1e9) * n, std::memory_order_relaxed);
  }

  struct Snapshot {
    std::array<uint64_t, kBounds.size() + 1> counts{};  // per bucket, the last is +Inf
    double sum = 0;                                     // seconds
    uint64_t count() const {
      uint64_t n = 0;
      for (uint64_t c : counts) n += c;
      return n;
    }
    // The q-quantile (0 < q <= 1) estimated as Prometheus' histogram_quantile
    // does: linear within the bucket that holds it; the highest finite bound if
    // it lies in +Inf. -1 when nothing was observed.
    double Quantile(double q) const {
      const uint64_t total = count();
      if (total == 0) return -1;
      const double rank = q * static_cast<double>(total);
      uint64_t below = 0;
      for (size_t b = 0; b < counts.size(); ++b) {
        if (counts[b] > 0 && static_cast<double>(below + counts[b]) >= rank) {
          if (b == kBounds.size()) return kBounds.back();
          const double lower = b == 0 ? 0 : kBounds[b - 1];
          return lower + (kBounds[b] - lower) * (rank - static_cast<double>(below)) / static_cast<double>(counts[b]);
        }
        below += counts[b];
      }
      return kBounds.back();
    }
  };

  Snapshot Read() const {
    Snapshot s;
    for (size_t b = 0; b < counts_.size(); ++b) s.counts[b] = counts_[b].load(std::memory_order_relaxed);
    s.sum = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts_{};
  std::atomic<uint64_t> sum_nanos_{0};
};

}  // namespace tally
