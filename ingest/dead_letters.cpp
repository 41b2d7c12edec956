#include "ingest/dead_letters.h"

#include <spdlog/spdlog.h>

#include <string>

namespace tally {

Result<std::unique_ptr<DeadLetters>> DeadLetters::Create(const std::string& brokers, const std::string& topic,
                                                         const KafkaProperties& user) {
  // The user's properties apply too (security, addresses); consumer-only ones
  // are ignored by a producer.
  Result<rd_kafka_conf_t*> conf =
      MakeKafkaConfig({{"bootstrap.servers", brokers}, {"linger.ms", "50"}, {"log.connection.close", "false"}}, user);
  if (!conf) return conf.error();
  rd_kafka_conf_set_dr_msg_cb(*conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err) spdlog::warn("dead letters: delivery failed: {}", rd_kafka_err2str(m->err));
  });
  char error[512];
  std::unique_ptr<DeadLetters> out(new DeadLetters());
  out->producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, error, sizeof(error));
  if (!out->producer_) {
    rd_kafka_conf_destroy(*conf);
    return Status::InvalidArgument(std::string("--dead-letter-topic: cannot create a producer: ") + error);
  }
  out->topic_ = topic;
  return out;
}

DeadLetters::~DeadLetters() {
  if (producer_) rd_kafka_destroy(producer_);
}

void DeadLetters::Send(const Rejection& r, std::string_view source_topic, std::string_view key,
                       std::string_view body) {
  rd_kafka_headers_t* headers = rd_kafka_headers_new(6);
  auto add = [&](const char* name, std::string_view value) {
    rd_kafka_header_add(headers, name, -1, value.data(), static_cast<ssize_t>(value.size()));
  };
  add("tally-reason", Slug(r.reason));
  add("tally-message", r.message);
  add("tally-source-topic", source_topic);
  add("tally-source-partition", std::to_string(r.origin.partition));
  add("tally-source-offset", std::to_string(r.origin.offset));
  if (r.element) add("tally-source-element", std::to_string(*r.element));
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_VALUE(const_cast<char*>(body.data()), body.size()),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
  if (err) {
    rd_kafka_headers_destroy(headers);  // kept by librdkafka only on success
    spdlog::warn("dead letters: cannot queue a rejected event: {}", rd_kafka_err2str(err));
  }
}

void DeadLetters::Poll() { rd_kafka_poll(producer_, 0); }

void DeadLetters::Flush(std::chrono::milliseconds timeout) {
  rd_kafka_flush(producer_, static_cast<int>(timeout.count()));
}

}  // namespace tally
