#include "ingest/dead_letters.h"

#include <spdlog/spdlog.h>

#include <string>

namespace tally {

Result<std::unique_ptr<DeadLetters>> DeadLetters::Create(const std::string& brokers, const std::string& topic,
                                                         const KafkaProperties& user) {
  // The user's properties apply too (security, addresses); consumer-only ones
  // are ignored by a producer.
  // In flight memory is bounded (librdkafka's defaults allow a million
  // messages, a GiB): a flood of rejections waits for room instead (Send), and
  // a dead letter that cannot be delivered within the timeout fails, counted
  // and logged (ReportFailures), rather than stalling ingestion for longer.
  Result<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(
      {{"bootstrap.servers", brokers},
       {"linger.ms", "50"},
       {"log.connection.close", "false"},
       {"queue.buffering.max.messages", std::to_string(kMaxQueuedMessages)},
       {"queue.buffering.max.kbytes", std::to_string(kMaxQueuedKiB)},
       {"message.timeout.ms", "60000"}},
      user, "--dead-letter-topic");
  if (!producer) return producer.error();
  std::unique_ptr<DeadLetters> out(new DeadLetters());
  out->producer_ = std::move(*producer);
  out->topic_ = topic;
  return out;
}

DeadLetters::~DeadLetters() = default;

void DeadLetters::Send(const Rejection& r, std::string_view source_topic, std::string_view key,
                       std::string_view body) {
  rd_kafka_headers_t* headers = rd_kafka_headers_new(6);
  auto add = [&](const char* name, std::string_view value) {
    rd_kafka_header_add(headers, name, -1, value.data(), static_cast<ssize_t>(value.size()));
  };
  add("tally-reason", Slug(r.reason));
  add("tally-message", r.message);
  add("tally-source-topic", source_topic);
  add("tally-source-partition", std::to_string(Raw(r.origin.partition)));
  add("tally-source-offset", std::to_string(Raw(r.origin.offset)));
  if (r.element) add("tally-source-element", std::to_string(*r.element));
  // A full queue is waited out (deliveries, or failures after the message
  // timeout, make room): a flood of rejections slows ingestion down rather than
  // losing dead letters or memory. Any other error loses this one, loudly.
  if (Status s = producer_->Send(topic_, key, body, headers, KafkaProducer::WhenFull::kWait); !s.ok()) {
    ++not_queued_;
    last_problem_ = s.message();
    ReportFailures();
  }
}

void DeadLetters::Poll() {
  producer_->Poll();
  ReportFailures();
}

void DeadLetters::Flush(std::chrono::milliseconds timeout) {
  if (const int left = producer_->Flush(timeout); left > 0) {
    spdlog::warn("dead letters: {} not delivered before shutdown", left);
  }
  ReportFailures(/*now=*/true);
}

void DeadLetters::ReportFailures(bool now) {
  const uint64_t lost = failed();
  if (lost == failures_reported_) return;
  const auto t = std::chrono::steady_clock::now();
  if (!now && t - last_report_ < std::chrono::seconds(1)) return;
  std::string problem = producer_->problem();
  if (problem.empty()) problem = last_problem_;
  spdlog::warn("dead letters: {} lost since the last such line, {} in all ({})", lost - failures_reported_, lost,
               problem);
  failures_reported_ = lost;
  last_report_ = t;
}

}  // namespace tally
