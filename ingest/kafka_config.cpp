#include "ingest/kafka_config.h"

#include <spdlog/spdlog.h>

namespace tally {

Result<rd_kafka_conf_t*> MakeKafkaConfig(const KafkaProperties& defaults, const KafkaProperties& user) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // librdkafka logs every retry (a broker down means a line per reconnect);
  // tally logs the state changes itself, so librdkafka's lines are debug.
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int level, const char* facility, const char* message) {
    spdlog::debug("librdkafka {} {}: {}", level, facility, message);
  });
  char error[512];
  for (const auto& [name, value] : defaults) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(name + ": " + error);
    }
  }
  for (const auto& [name, value] : user) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("--kafka " + name + "=" + value + ": " + error);
    }
  }
  return conf;
}

}  // namespace tally
