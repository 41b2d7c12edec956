#pragma once

// The progress line of long commands (`tally replay`, `tally produce`): events so
// far, the rate, and how far along with an ETA when the total is known, rewritten
// in place (\r) a few times per second on a terminal, and nothing at all when the
// stream is not one (a log or a pipe gets only the command's final report).
//
// A ProgressLine is used from one thread, the one doing the work. The formatting
// functions are pure, for tests.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace tally {

// 987, 12.3k, 4.56M, 7.89G: three significant digits past a thousand.
std::string FormatCount(double n);
// 0:07, 12:34, 1:02:03 (hours unbounded); "?" for a negative or non-finite time.
std::string FormatDuration(double seconds);
// "replay: 1.23M events, 152k events/s, 43% (ETA 0:12)", or without the part after
// the rate when `fraction` (done / total, 0..1) is unknown (< 0).
std::string FormatProgress(const std::string& label, uint64_t events, double seconds, double fraction);

// The monotonic clock, in seconds from an arbitrary start.
double MonotonicSeconds();

class ProgressLine {
 public:
  using Now = std::function<double()>;
  static constexpr double kInterval = 0.25;  // seconds between two prints, at least

  // Prints on `out` only if `enabled`; ForStderr() enables it when stderr is a terminal.
  ProgressLine(std::string label, std::FILE* out, bool enabled, Now now = MonotonicSeconds);
  static ProgressLine ForStderr(std::string label);

  // The totals so far; prints if kInterval has passed since the last print.
  // `fraction`: done / total when the total is known, else < 0.
  void Update(uint64_t events, double fraction = -1);
  // Erases the line (if one was printed), so that what follows starts a clean line.
  void Clear();

  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  std::FILE* out_;
  bool enabled_;
  Now now_;
  double start_;
  double last_print_;
  size_t width_ = 0;  // of the line on screen, 0 if none
};

}  // namespace tally
