#pragma once

// Decoder turns one Kafka message value into TaskActions and Rejections, enforcing
// every rule of docs/events.md (fields, limits, rejections). A message is one TaskAction
// object or a JSON array of them; each array element is judged alone, but a message
// that is not valid JSON (or is over 8 MiB) is rejected whole, as one event.
//
// Threads: a Decoder owns a simdjson parser and a buffer it reuses; use one per
// thread. Decode never throws.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "aggregate/decoded_events.h"
#include "aggregate/rejection.h"
#include "aggregate/task_action.h"

namespace tally {

// Where a batch is full, for decoding a large message in parts.
// kBatchEvents is the consumer's and replay's default cap on a batch (batches
// close earlier whenever the writer is free, so it is reached only by a backlog).
// It is large because a backlog read partition by partition spreads each task's
// events over many batches, and every batch rewrites each task it touches: at
// 10,000 events a catch-up of 100-event array messages wrote 1.5 x the keys of
// the same events in produced order and ran at half its speed (bench/kafka).
// kBatchBytes bounds the same batches in memory (DecodedEvents::bytes(): about
// 900 bytes for an ordinary event, so it holds a full batch of them) and batches
// of large rejections (4 KiB excerpts).
inline constexpr size_t kBatchEvents = 40'000;
inline constexpr size_t kBatchBytes = size_t{40} << 20;
struct DecodeLimits {
  size_t events = SIZE_MAX;
  size_t bytes = SIZE_MAX;
};

class Decoder {
 public:
  static constexpr size_t kMaxMessageBytes = size_t{8} << 20;
  // Deepest nesting of arrays and objects accepted anywhere in a message (unknown
  // fields included); deeper messages are rejected as invalid_json.
  static constexpr int kMaxDepth = 1024;

  Decoder();
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes one message and appends its events to *out: each valid event to its
  // actions, each invalid one to its rejections with `origin`, the element
  // index (for arrays), a reason, a message naming the field, and an excerpt. An
  // empty array appends nothing. A message that is not valid UTF-8 JSON, ends in
  // garbage or nests too deep appends exactly one invalid_json rejection (even if
  // some of its elements were fine); one over kMaxMessageBytes, one too_large.
  void Decode(std::string_view message, Origin origin, DecodedEvents* out);

  // The same in parts, so that a huge array is never held decoded at once:
  // appends the message's events until it ends (returns true) or *out holds
  // `limits` (returns false: hand *out on, then call Continue, which goes on
  // where this stopped, until it returns true). Only a message over
  // kWholeMessageBytes is split, after it has been checked whole: a message that
  // is not valid JSON is still exactly one rejection. A smaller one may overrun
  // the limits by its own events. The decoder decodes from its own copy: the
  // caller need not keep `message`.
  static constexpr size_t kWholeMessageBytes = size_t{64} << 10;
  bool Decode(std::string_view message, Origin origin, DecodedEvents* out, const DecodeLimits& limits);
  bool Continue(DecodedEvents* out, const DecodeLimits& limits);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
