#pragma once

// Builds librdkafka configurations: tally's defaults, then the user's --kafka
// properties, which win; librdkafka's own log lines go to spdlog at debug
// level. Private to ingest/.

#include <librdkafka/rdkafka.h>

#include <string>
#include <utility>
#include <vector>

#include "aggregate/status.h"

namespace tally {

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// A new configuration (the caller owns it: rd_kafka_new takes it, or
// rd_kafka_conf_destroy frees it). An unknown property or a bad value is an
// InvalidArgument naming it: "--kafka foo=bar: No such configuration property".
Result<rd_kafka_conf_t*> MakeKafkaConfig(const KafkaProperties& defaults, const KafkaProperties& user);

// "name=value" into a pair; InvalidArgument naming the text if there is no '='.
Result<std::pair<std::string, std::string>> ParseKafkaProperty(const std::string& text);

}  // namespace tally
