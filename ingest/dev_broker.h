#pragma once

// DevBroker is an embedded development Kafka: librdkafka's mock cluster, in this
// process, speaking the real Kafka protocol on 127.0.0.1 to any Kafka client.
// It keeps everything in memory (and only a few MiB per partition), so it is for
// development, demos and tests, never for data that matters.
//
// Lifecycle: Start(), use bootstrap(); destroying it shuts the brokers down.
// Threads: any; the mock cluster runs its own.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>

#include "aggregate/status.h"

namespace tally {

class DevBroker {
 public:
  // Starts `brokers` mock brokers.
  static Result<std::unique_ptr<DevBroker>> Start(int brokers = 1);
  ~DevBroker();

  // "127.0.0.1:port,..." for bootstrap.servers.
  std::string bootstrap() const;
  Status CreateTopic(const std::string& topic, int partitions);
  // The mock cluster, for tests that inject faults (rdkafka_mock.h).
  rd_kafka_mock_cluster_t* mock() const { return cluster_; }

 private:
  DevBroker() = default;
  rd_kafka_t* owner_ = nullptr;  // the handle the mock cluster belongs to
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

}  // namespace tally
