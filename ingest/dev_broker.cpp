#include "ingest/dev_broker.h"

namespace tally {

Result<std::unique_ptr<DevBroker>> DevBroker::Start(int brokers) {
  std::unique_ptr<DevBroker> out(new DevBroker());
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The owner never talks to a broker; it only hosts the mock cluster.
  rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", nullptr, 0);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  out->owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (!out->owner_) {
    rd_kafka_conf_destroy(conf);
    return Status::IOError(std::string("cannot start the embedded broker: ") + error);
  }
  out->cluster_ = rd_kafka_mock_cluster_new(out->owner_, brokers);
  if (!out->cluster_) return Status::IOError("cannot start the embedded broker's mock cluster");
  return out;
}

DevBroker::~DevBroker() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  if (owner_) rd_kafka_destroy(owner_);
}

std::string DevBroker::bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

Status DevBroker::CreateTopic(const std::string& topic, int partitions) {
  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (err) return Status::InvalidArgument("cannot create topic " + topic + ": " + rd_kafka_err2str(err));
  return Status::OK();
}

}  // namespace tally
