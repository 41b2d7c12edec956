#pragma once

// DeadLetters produces rejected events to a Kafka topic, each with headers
// naming why it was rejected and where it came from (tally-reason,
// tally-message, tally-source-topic, tally-source-partition,
// tally-source-offset, and tally-source-element for an array element), keyed
// like the original. Delivery is at least once: after a crash, events of a
// batch not yet applied are sent again. Failures to deliver are logged, and
// never stop ingestion. Messages waiting for delivery are bounded
// (kMaxQueuedMessages, kMaxQueuedKiB, unless --kafka says otherwise): when the
// queue is full, Send waits for room. Private to ingest/; the consumer owns one.
// Threads: the consumer's.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "aggregate/rejection.h"
#include "ingest/kafka_producer.h"

namespace tally {

class DeadLetters {
 public:
  static constexpr int kMaxQueuedMessages = 50'000;
  static constexpr int kMaxQueuedKiB = 32 << 10;

  static Result<std::unique_ptr<DeadLetters>> Create(const std::string& brokers, const std::string& topic,
                                                     const KafkaProperties& user);
  ~DeadLetters();

  // Queues the rejected event (its text, `body`) for delivery.
  void Send(const Rejection& rejection, std::string_view source_topic, std::string_view key,
            std::string_view body);
  // Serves delivery reports; call often.
  void Poll();
  // Waits up to `timeout` for queued events to be delivered.
  void Flush(std::chrono::milliseconds timeout);
  // Dead letters lost so far: refused by the producer, or not delivered within
  // the message timeout.
  uint64_t failed() const { return not_queued_ + producer_->failed(); }

 private:
  DeadLetters() = default;
  // Logs the failures since the last line, at most once a second (`now`:
  // whatever the interval), so that a flood of failures is a few lines.
  void ReportFailures(bool now = false);

  std::unique_ptr<KafkaProducer> producer_;
  std::string topic_;
  uint64_t not_queued_ = 0;
  uint64_t failures_reported_ = 0;  // failed() as of the last line
  std::string last_problem_;        // the last producer error, for that line
  std::chrono::steady_clock::time_point last_report_;
};

}  // namespace tally
