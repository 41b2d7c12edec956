#pragma once

// KafkaProducer is a librdkafka producer with tally's conventions: properties
// from MakeKafkaConfig (the user's --kafka properties win), delivery results
// counted, and the first delivery error kept for the caller to report. Used for
// dead letters and by `tally produce`.
//
// Threads: one caller thread at a time; librdkafka delivers on its own.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "ingest/kafka_properties.h"

namespace tally {

class KafkaProducer {
 public:
  // `purpose` starts every error message ("--dead-letter-topic", "tally produce").
  static Result<std::unique_ptr<KafkaProducer>> Create(const KafkaProperties& defaults, const KafkaProperties& user,
                                                       std::string_view purpose);
  ~KafkaProducer();
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  enum class WhenFull { kWait, kFail };
  // Queues a message (copied). `headers` (may be null) pass to librdkafka on
  // success and are freed on failure. With kWait a full local queue is waited
  // out, serving delivery reports; with kFail it is an error, as any other.
  Status Send(std::string_view topic, std::string_view key, std::string_view value,
              rd_kafka_headers_t* headers = nullptr, WhenFull when_full = WhenFull::kWait);
  // Serves delivery reports without waiting.
  void Poll();
  // Waits up to `timeout` for every queued message; returns how many are still
  // undelivered.
  int Flush(std::chrono::milliseconds timeout);

  uint64_t delivered() const { return delivered_; }
  uint64_t failed() const { return failed_; }
  // The first delivery failure, or the latest "all brokers down" report; empty if none.
  std::string problem() const;

 private:
  KafkaProducer() = default;
  void OnDelivery(const rd_kafka_message_t* m);
  void OnError(int err, const char* reason);

  rd_kafka_t* rk_ = nullptr;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_{0};
  mutable std::mutex problem_mutex_;
  std::string problem_;
};

}  // namespace tally
