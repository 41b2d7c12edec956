#include "ingest/kafka_properties.h"

namespace tally {

Result<std::pair<std::string, std::string>> ParseKafkaProperty(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Status::InvalidArgument("--kafka " + text + ": expected PROPERTY=VALUE");
  }
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

}  // namespace tally
