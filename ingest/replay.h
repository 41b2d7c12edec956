#pragma once

// Replay applies an NDJSON stream (one Kafka message value per line) through the
// same decode and apply path as the consumer, in batches, without Kafka. Line n
// (from 1) has origin {kReplayPartition (-1), offset n}, which is where its rejections are
// filed. Replaying a stream twice changes nothing: records are deduplicated.
//
// Threads: applies on the caller's thread, which must be the store's only
// writer, while a thread of its own reads and decodes the next batch.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>

#include "aggregate/status.h"
#include "aggregate/store.h"
#include "ingest/decode.h"

namespace tally {

struct ReplayProgress {
  uint64_t lines = 0;
  uint64_t events = 0;  // accepted and rejected
  uint64_t applied = 0;
  uint64_t duplicates = 0;
  uint64_t conflicts = 0;
  uint64_t rejected = 0;
  uint64_t bytes = 0;  // of the input read so far (the reader may be a batch ahead of `events`)
  double seconds = 0;
};

struct ReplayOptions {
  size_t batch_events = kBatchEvents;
  size_t batch_bytes = kBatchBytes;  // DecodedEvents::bytes(): a huge message goes in parts
  // Called after an applied batch once `progress_every` has passed since the last
  // call, with the totals so far.
  std::function<void(const ReplayProgress&)> progress;
  std::chrono::milliseconds progress_every{1000};
};

// Reads `in` to its end. Returns the totals, or the first error of reading or of
// the store (batches before it stay applied).
Result<ReplayProgress> Replay(std::FILE* in, Store* store, const ReplayOptions& options);

}  // namespace tally
