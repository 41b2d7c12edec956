#pragma once

// Writes a TaskAction as TaskAction v1 JSON: the inverse of Decoder, so that
// decoding what this writes gives back an equal TaskAction. Used by the workload
// generator (`tally produce`), benchmarks and tests. IDs are JSON numbers; absent
// optional fields are left out; createdTime is "YYYY-MM-DD HH:MM:SS", or ISO-8601
// with milliseconds and Z when it has a fraction.

#include <string>

#include "aggregate/task_action.h"

namespace tally {

void AppendEventJson(const TaskAction& action, std::string* out);

}  // namespace tally
