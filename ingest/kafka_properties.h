#pragma once

// The user's --kafka PROPERTY=VALUE settings, as the consumer and the producer
// take them (they win over tally's defaults; kafka_config.h, which only ingest/
// may include, turns them into a librdkafka configuration). No librdkafka types
// here, so the command line parses them without seeing Kafka's API.

#include <string>
#include <utility>
#include <vector>

#include "aggregate/status.h"

namespace tally {

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// "name=value" into a pair; InvalidArgument naming the text if there is no '='.
Result<std::pair<std::string, std::string>> ParseKafkaProperty(const std::string& text);

}  // namespace tally
