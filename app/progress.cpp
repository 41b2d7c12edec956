#include "app/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>

namespace tally {

std::string FormatCount(double n) {
  static const char* const kSuffix[] = {"", "k", "M", "G", "T"};
  int unit = 0;
  while (n >= 999.5 && unit < 4) {
    n /= 1000;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%.0f", n);
  } else {
    // Three significant digits: 1.23M, 12.3M, 123M.
    std::snprintf(text, sizeof text, n < 9.995 ? "%.2f%s" : n < 99.95 ? "%.1f%s" : "%.0f%s", n, kSuffix[unit]);
  }
  return text;
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<unsigned long long>(std::llround(seconds));
  char text[48];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%llu:%02llu:%02llu", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%llu:%02llu", total / 60, total % 60);
  }
  return text;
}

std::string FormatProgress(const std::string& label, uint64_t events, double seconds, double fraction) {
  const double rate = seconds > 0 ? static_cast<double>(events) / seconds : 0;
  std::string line = label + ": " + FormatCount(static_cast<double>(events)) + " events, " + FormatCount(rate) +
                     " events/s";
  if (fraction >= 0) {
    const double f = std::min(fraction, 1.0);
    // The rest at the average pace so far; unknown until something is done.
    const double eta = f > 0 ? seconds * (1 - f) / f : -1;
    char percent[16];
    std::snprintf(percent, sizeof percent, "%.0f%%", std::floor(f * 100));
    line += std::string(", ") + percent + " (ETA " + FormatDuration(eta) + ")";
  }
  return line;
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

ProgressLine::ProgressLine(std::string label, std::FILE* out, bool enabled, Now now)
    : label_(std::move(label)), out_(out), enabled_(enabled), now_(std::move(now)) {
  start_ = now_();
  last_print_ = start_;
}

ProgressLine ProgressLine::ForStderr(std::string label) {
  return ProgressLine(std::move(label), stderr, isatty(STDERR_FILENO) == 1);
}

void ProgressLine::Update(uint64_t events, double fraction) {
  if (!enabled_) return;
  const double now = now_();
  if (now - last_print_ < kInterval) return;
  last_print_ = now;
  const std::string line = FormatProgress(label_, events, now - start_, fraction);
  // Spaces over the end of a longer line before it.
  const size_t pad = width_ > line.size() ? width_ - line.size() : 0;
  std::fprintf(out_, "\r%s%*s", line.c_str(), static_cast<int>(pad), "");
  std::fflush(out_);
  width_ = line.size();
}

void ProgressLine::Clear() {
  if (!enabled_ || width_ == 0) return;
  std::fprintf(out_, "\r%*s\r", static_cast<int>(width_), "");
  std::fflush(out_);
  width_ = 0;
}

}  // namespace tally
