#pragma once

// Consumer reads TaskAction messages from Kafka and applies them to the store
// with exactly-once effect: the store, not Kafka, is the authority on what has
// been applied. Each partition is positioned at the offset stored with the last
// applied batch (the earliest offset when there is none), once the broker is
// found to still hold that position (same cluster id, same last message): if
// not, the partition is re-read from the earliest offset, logged and counted;
// messages retention removed before they were read are logged and counted too
// (ConsumerCounters::offsets_skipped);
// every batch is written atomically with its partitions' next offsets and the
// fingerprint of their last messages; a crash at any moment loses nothing and
// applies nothing twice. The durable offsets are also committed to Kafka
// asynchronously (at most every 100 ms, and on revocation and stop), so the
// usual lag tools see the group.
//
// Lifecycle: Create(), then Run() on a thread of its own until Stop() is called
// from any thread; Run() then applies what it holds, commits, and closes the
// consumer (leaving the group, unless it is a static member) before returning. The store must outlive the consumer.
// Threads: librdkafka's callbacks (rebalance, errors) run on the Run() thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aggregate/histogram.h"
#include "aggregate/rejection.h"
#include "aggregate/status.h"
#include "aggregate/store.h"
#include "ingest/decode.h"

namespace tally {

// The librdkafka properties that decide how tally's consumer fetches (fetch
// waits, the prefetch queue's thresholds): part of its defaults, and what a
// bench's bare consumer is given to read as tally does. Any thread.
const std::vector<std::pair<std::string, std::string>>& ConsumerFetchSettings();

struct ConsumerOptions {
  std::string brokers;  // host:port,...
  std::string topic = "task-actions";
  std::string group = "tally";
  // group.instance.id: static group membership, so that a restart (same id)
  // takes its partitions back at once instead of after the old member's
  // session; serve passes the store's id. Empty: dynamic membership.
  std::string instance_id;
  // Any librdkafka property (SASL, TLS, fetch sizes...); these win over tally's
  // own defaults.
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  // Rejected events are also produced here when set.
  std::string dead_letter_topic;
  // A batch closes as soon as nothing more is ready or the store's writer is
  // free (group commit: one event when idle, more under load), or once it
  // holds more events than the batch being written (so it is built while that
  // one is written), and at the latest when it holds this many events or is
  // this old. Far behind (a lag of more than two such batches), only these
  // bounds close it: a backlog goes in full batches.
  size_t batch_events = kBatchEvents;
  std::chrono::milliseconds batch_wait{100};
  // Under load (events arriving at linger_rate a second or more), a batch is
  // also kept open until it holds linger_events or is batch_linger old,
  // whatever the writer does: group commit's batches of a few events cost two
  // to three times the CPU per event of batches of several hundred (more keys,
  // each a random memtable insert), and at high rates that CPU is what makes
  // events wait. Below the rate, batches close as said above (one event when
  // idle). A zero batch_linger turns it off.
  std::chrono::milliseconds batch_linger{20};
  size_t linger_events = 500;
  double linger_rate = 10'000;
  // A batch is also applied when its events hold this much memory
  // (DecodedEvents::bytes()); a huge array message goes in parts, each applied
  // with the partition's offset still at the message (see Consume).
  size_t batch_bytes = kBatchBytes;
  // Told the next offsets of each batch once it is durable and readable (on the
  // Run() thread, which it must not hold up): `tally serve` wakes the requests
  // waiting for a position with it. Empty: nobody is told.
  std::function<void(std::span<const PartitionOffset>)> on_applied;
};

// What the consumer has done, for /metrics and /readyz. Written by the Run()
// thread, read by anyone.
struct ConsumerCounters {
  std::atomic<uint64_t> consumed{0};  // events (array elements; a non-JSON message is one)
  std::atomic<uint64_t> applied{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> conflicts{0};
  std::atomic<uint64_t> rejected[kRejectReasonCount] = {};
  std::atomic<uint64_t> dead_letters{0};         // queued for the dead-letter topic
  std::atomic<uint64_t> dead_letters_failed{0};  // lost: refused, or not delivered in time
  // Partitions whose stored offset the broker no longer matched (another
  // cluster, a recreated topic), re-read from the earliest offset.
  std::atomic<uint64_t> offset_resets{0};
  // Messages the brokers had removed (retention) before they were read: a
  // partition's first message came at a later offset than the one tally was to
  // apply next, and the partition's log now begins past it (or the brokers
  // did not say where it begins: then the whole gap, an upper bound). Their
  // events are missing from the views.
  std::atomic<uint64_t> offsets_skipped{0};
  Histogram apply_batch_seconds;
  // Per event: from its Kafka message's timestamp to its batch being durable
  // (and visible to queries). Events of messages without a timestamp are not in it.
  Histogram event_freshness_seconds;
  std::atomic<int64_t> lag{-1};     // messages not yet applied in assigned partitions; -1 unknown
  std::atomic<bool> ready{false};   // in the group, with an assignment, brokers reachable
  std::atomic<bool> brokers_down{false};  // every broker unreachable: one reason not to be ready

  // `lag` per assigned partition, in partition order (empty while it is
  // unknown); for the status page and /metrics. Any thread.
  std::vector<std::pair<Partition, int64_t>> partition_lag() const {
    std::lock_guard lock(partition_lag_mutex_);
    return partition_lag_;
  }
  void set_partition_lag(std::vector<std::pair<Partition, int64_t>> lags) {
    std::lock_guard lock(partition_lag_mutex_);
    partition_lag_ = std::move(lags);
  }

 private:
  mutable std::mutex partition_lag_mutex_;
  std::vector<std::pair<Partition, int64_t>> partition_lag_;  // guarded by partition_lag_mutex_; one per assigned partition
};

class Consumer {
 public:
  // Checks the configuration (an unknown or malformed --kafka property is an
  // InvalidArgument naming it) and creates the client; does not connect yet.
  static Result<std::unique_ptr<Consumer>> Create(const ConsumerOptions& options, Store* store);
  ~Consumer();

  // Consumes and applies until Stop(). Returns OK after a clean stop, or the
  // error that made applying impossible (a failed store write): nothing after it
  // is applied or committed.
  Status Run();
  // Asks Run() to finish; returns at once. Any thread.
  void Stop();

  const ConsumerCounters& counters() const;

  struct Impl;

 private:
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
