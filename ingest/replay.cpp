#include "ingest/replay.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "ingest/decode.h"

namespace tally {
namespace {

// Batches that change hands: the reader thread fills one (read + decode) while
// the caller's thread submits the other to the store (which takes its contents
// and hands back an empty one), so reading and decoding cost no time on the
// apply path.
class BatchExchange {
 public:
  // Reader side: the next batch to fill, or nullptr if the applier has stopped.
  Batch* Empty() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stopped_ || !empty_.empty(); });
    if (stopped_) return nullptr;
    Batch* b = empty_.back();
    empty_.pop_back();
    return b;
  }
  void Full(Batch* b) {
    std::lock_guard lock(mutex_);
    full_.push_back(b);
    changed_.notify_all();
  }
  void Finish(Status status) {
    std::lock_guard lock(mutex_);
    finished_ = true;
    read_status_ = std::move(status);
    changed_.notify_all();
  }

  // Applier side: the next filled batch, or nullptr once the reader has finished.
  Batch* NextFull() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return finished_ || !full_.empty(); });
    if (full_.empty()) return nullptr;
    Batch* b = full_.front();
    full_.erase(full_.begin());
    return b;
  }
  void Recycle(Batch* b) {
    std::lock_guard lock(mutex_);
    empty_.push_back(b);
    changed_.notify_all();
  }
  void Stop() {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    changed_.notify_all();
  }
  Status read_status() {
    std::lock_guard lock(mutex_);
    return read_status_;
  }

  Batch buffers[2];

  BatchExchange() { empty_ = {&buffers[0], &buffers[1]}; }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Batch*> empty_;  // guarded by mutex_
  std::vector<Batch*> full_;   // guarded by mutex_, oldest first
  bool finished_ = false;              // guarded by mutex_
  bool stopped_ = false;               // guarded by mutex_
  Status read_status_;                 // guarded by mutex_
};

// The reader thread: lines to decoded batches. Line n is origin {kReplayPartition, n}.
// `bytes` counts what was read, for progress.
void ReadLines(std::FILE* in, DecodeLimits limits, BatchExchange* exchange, uint64_t* lines,
               std::atomic<uint64_t>* bytes) {
  Decoder decoder;
  char* line = nullptr;
  size_t capacity = 0;
  Batch* batch = exchange->Empty();
  for (ssize_t n; batch && (n = getline(&line, &capacity, in)) >= 0;) {
    ++*lines;
    bytes->fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    std::string_view message(line, static_cast<size_t>(n));
    if (!message.empty() && message.back() == '\n') message.remove_suffix(1);
    if (!message.empty() && message.back() == '\r') message.remove_suffix(1);
    if (message.empty()) continue;  // blank lines carry no message
    // A huge message goes in parts, each in a batch of its own.
    const Origin origin{kReplayPartition, Offset{static_cast<int64_t>(*lines)}};
    bool done = decoder.Decode(message, origin, &batch->events, limits);
    for (;;) {
      if (batch->events.size() >= limits.events || batch->events.bytes() >= limits.bytes) {
        exchange->Full(batch);
        batch = exchange->Empty();
        if (!batch) break;
      }
      if (done) break;
      done = decoder.Continue(&batch->events, limits);
    }
  }
  std::free(line);
  if (batch && batch->events.size() > 0) exchange->Full(batch);
  exchange->Finish(std::ferror(in) ? Status::IOError("reading the replay input failed") : Status::OK());
}

}  // namespace

Result<ReplayProgress> Replay(std::FILE* in, Store* store, const ReplayOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto last_report = start;
  ReplayProgress progress;
  uint64_t lines = 0;  // the reader's; read after it is joined
  std::atomic<uint64_t> bytes{0};
  BatchExchange exchange;
  std::thread reader(ReadLines, in, DecodeLimits{options.batch_events, options.batch_bytes}, &exchange, &lines,
                     &bytes);

  Status status;
  auto account = [&](const std::optional<ApplyResult>& r) {
    if (!r) return;
    progress.events += r->applied + r->duplicates + r->rejected;  // every action is one or the other
    progress.applied += r->applied;
    progress.duplicates += r->duplicates;
    progress.conflicts += r->conflicts;
    progress.rejected += r->rejected;
  };
  while (Batch* batch = exchange.NextFull()) {
    Result<std::optional<ApplyResult>> r = store->Submit(batch);
    exchange.Recycle(batch);
    if (!r) {
      status = r.error();
      exchange.Stop();
      break;
    }
    account(*r);
    const auto now = Clock::now();
    progress.seconds = std::chrono::duration<double>(now - start).count();
    if (options.progress && now - last_report >= options.progress_every) {
      progress.bytes = bytes.load(std::memory_order_relaxed);
      options.progress(progress);
      last_report = now;
    }
  }
  if (status.ok()) {
    Result<std::optional<ApplyResult>> last = store->Flush();
    if (last) {
      account(*last);
    } else {
      status = last.error();
    }
  }
  reader.join();
  if (!status.ok()) return status;
  if (Status read = exchange.read_status(); !read.ok()) return read;
  progress.lines = lines;
  progress.bytes = bytes.load();
  progress.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return progress;
}

}  // namespace tally
