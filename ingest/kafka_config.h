#pragma once

// Builds librdkafka configurations: tally's defaults, then the user's --kafka
// properties, which win; librdkafka's own log lines go to spdlog at debug
// level. Private to ingest/.

#include <librdkafka/rdkafka.h>

#include "aggregate/status.h"
#include "ingest/kafka_properties.h"

namespace tally {

// A new configuration (the caller owns it: rd_kafka_new takes it, or
// rd_kafka_conf_destroy frees it). An unknown property or a bad value is an
// InvalidArgument naming it: "--kafka foo=bar: No such configuration property".
Result<rd_kafka_conf_t*> MakeKafkaConfig(const KafkaProperties& defaults, const KafkaProperties& user);

}  // namespace tally
