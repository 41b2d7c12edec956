#include "ingest/replay.h"

#include <chrono>
#include <cstdlib>
#include <string_view>

#include "ingest/decode.h"

namespace tally {

Result<ReplayProgress> Replay(std::FILE* in, Store* store, const ReplayOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto last_report = start;
  Decoder decoder;
  DecodedEvents events;
  ReplayProgress progress;
  char* line = nullptr;
  size_t capacity = 0;

  auto apply = [&]() -> Status {
    Result<ApplyResult> r = store->Apply(ApplyBatch{events.actions(), events.rejections(), {}, {}});
    if (!r) return r.error();
    progress.events += events.size();
    progress.applied += r->applied;
    progress.duplicates += r->duplicates;
    progress.conflicts += r->conflicts;
    progress.rejected += r->rejected;
    events.clear();
    const auto now = Clock::now();
    progress.seconds = std::chrono::duration<double>(now - start).count();
    if (options.progress && now - last_report >= std::chrono::seconds(1)) {
      options.progress(progress);
      last_report = now;
    }
    return Status::OK();
  };

  Status status;
  for (ssize_t n; (n = getline(&line, &capacity, in)) >= 0;) {
    ++progress.lines;
    std::string_view message(line, static_cast<size_t>(n));
    if (!message.empty() && message.back() == '\n') message.remove_suffix(1);
    if (!message.empty() && message.back() == '\r') message.remove_suffix(1);
    if (message.empty()) continue;  // blank lines carry no message
    decoder.Decode(message, Origin{-1, static_cast<int64_t>(progress.lines)}, &events);
    if (events.size() >= options.batch_events && !(status = apply()).ok()) break;
  }
  const bool read_error = std::ferror(in);
  std::free(line);
  if (!status.ok()) return status;
  if (read_error) return Status::IOError("reading the replay input failed");
  if (events.size() > 0 && !(status = apply()).ok()) return status;
  progress.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return progress;
}

}  // namespace tally
