#pragma once

// The embedded Kafka cluster as tests start it: one broker with a topic.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "aggregate/status.h"
#include "ingest/dev_broker.h"

namespace tally::testing {

// A test's own cluster: the embedded broker with `topic` of `partitions`.
// Null, after a failure that says why, if either could not be made.
inline std::unique_ptr<DevBroker> BrokerWithTopic(int partitions, const std::string& topic = "task-actions") {
  Result<std::unique_ptr<DevBroker>> broker = DevBroker::Start(1);
  if (!broker) {
    ADD_FAILURE() << "cannot start the embedded broker: " << broker.error().ToString();
    return nullptr;
  }
  if (const Status created = (*broker)->CreateTopic(topic, partitions); !created.ok()) {
    ADD_FAILURE() << "cannot create " << topic << ": " << created.ToString();
    return nullptr;
  }
  return std::move(*broker);
}

}  // namespace tally::testing
