#include "ingest/kafka_producer.h"

#include "ingest/kafka_config.h"

namespace tally {

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(const KafkaProperties& defaults,
                                                             const KafkaProperties& user, std::string_view purpose) {
  Result<rd_kafka_conf_t*> conf = MakeKafkaConfig(defaults, user);
  if (!conf) return conf.error();
  std::unique_ptr<KafkaProducer> out(new KafkaProducer());
  rd_kafka_conf_set_opaque(*conf, out.get());
  rd_kafka_conf_set_dr_msg_cb(*conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    static_cast<KafkaProducer*>(opaque)->OnDelivery(m);
  });
  rd_kafka_conf_set_error_cb(*conf, [](rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<KafkaProducer*>(opaque)->OnError(err, reason);
  });
  char error[512];
  out->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, error, sizeof(error));
  if (!out->rk_) {
    rd_kafka_conf_destroy(*conf);
    return Status::InvalidArgument(std::string(purpose) + ": cannot create a Kafka producer: " + error);
  }
  return out;
}

KafkaProducer::~KafkaProducer() {
  if (rk_) rd_kafka_destroy(rk_);
}

Status KafkaProducer::Send(std::string_view topic, std::string_view key, std::string_view value,
                           rd_kafka_headers_t* headers, WhenFull when_full) {
  const std::string topic_name(topic);
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (!err) return Status::OK();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && when_full == WhenFull::kWait) {
      rd_kafka_poll(rk_, 10);  // deliveries make room
      continue;
    }
    if (headers) rd_kafka_headers_destroy(headers);  // kept by librdkafka only on success
    return Status::IOError(std::string("cannot queue a message for ") + topic_name + ": " + rd_kafka_err2str(err));
  }
}

void KafkaProducer::Poll() { rd_kafka_poll(rk_, 0); }

int KafkaProducer::Flush(std::chrono::milliseconds timeout) {
  rd_kafka_flush(rk_, static_cast<int>(timeout.count()));
  return rd_kafka_outq_len(rk_);
}

std::string KafkaProducer::problem() const {
  std::lock_guard lock(problem_mutex_);
  return problem_;
}

void KafkaProducer::OnDelivery(const rd_kafka_message_t* m) {
  if (!m->err) {
    ++delivered_;
    return;
  }
  if (failed_++ == 0) {
    std::lock_guard lock(problem_mutex_);
    // Keeps an earlier "all brokers are down" report: it says why.
    problem_ = std::string("delivery to ") + rd_kafka_topic_name(m->rkt) + " failed: " + rd_kafka_err2str(m->err) +
               (problem_.empty() ? "" : " (" + problem_ + ")");
  }
}

void KafkaProducer::OnError(int err, const char* reason) {
  if (err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) return;  // librdkafka retries the rest itself
  std::lock_guard lock(problem_mutex_);
  if (failed_ == 0) problem_ = std::string("all brokers are down: ") + reason;
}

}  // namespace tally
