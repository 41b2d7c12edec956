#include "api/access_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "aggregate/json_writer.h"

namespace tally {

AccessLog::AccessLog(double per_second, double burst, std::function<void(std::string_view)> sink,
                     std::function<Clock::time_point()> now)
    : per_second_(per_second),
      burst_(burst),
      sink_(sink ? std::move(sink) : [](std::string_view line) { spdlog::info("{}", line); }),
      now_(now ? std::move(now) : [] { return Clock::now(); }),
      tokens_(burst),
      last_(now_()) {}

std::string AccessLog::Format(const AccessEntry& e, uint64_t suppressed_before) {
  // One JSON object per line: easy for people to read and for log tools to parse.
  std::string line;
  line.reserve(200);
  JsonWriter w(&line);
  w.BeginObject();
  w.Key("log");
  w.String("access");
  w.Key("method");
  w.String(e.method);
  w.Key("route");
  w.String(e.route);
  w.Key("status");
  w.Int(e.status);
  if (e.code != 0) {
    w.Key("code");
    w.Int(e.code);
  }
  w.Key("bytes");
  w.Uint(e.bytes);
  w.Key("durationMs");
  char ms[32];
  std::snprintf(ms, sizeof(ms), "%.3f", e.seconds * 1000);
  w.Raw(ms);
  w.Key("requestId");
  w.String(e.request_id);
  if (suppressed_before > 0) {
    w.Key("suppressedBefore");
    w.Uint(suppressed_before);
  }
  w.EndObject();
  return line;
}

uint64_t AccessLog::Log(const AccessEntry& entry) {
  uint64_t suppressed_before;
  {
    std::lock_guard lock(mutex_);
    const Clock::time_point now = now_();
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + std::max(0.0, elapsed) * per_second_);
    if (tokens_ < 1) {
      ++suppressed_;
      return 1;
    }
    tokens_ -= 1;
    suppressed_before = suppressed_;
    suppressed_ = 0;
  }
  sink_(Format(entry, suppressed_before));
  return 0;
}

}  // namespace tally
