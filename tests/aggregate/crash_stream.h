#pragma once

// The deterministic message stream of the crash test, shared by the test and its
// child process: events (some exact repeats of earlier ones) and poison messages
// (rejections), spread over kPartitions partitions: message i is at partition
// i % kPartitions, offset i / kPartitions.

#include <optional>
#include <random>
#include <vector>

#include "aggregate/rejection.h"
#include "aggregate/task_action.h"

namespace tally::testing {

inline constexpr int kCrashPartitions = 4;
inline constexpr const char* kCrashTopic = "crash";

struct CrashMessage {
  std::optional<TaskAction> action;  // or else a poison message:
  std::optional<Rejection> rejection;
};

inline std::vector<CrashMessage> CrashStream() {
  std::mt19937_64 rng(99);
  std::vector<CrashMessage> stream;
  for (int i = 0; i < 6000; ++i) {
    const Origin origin{Partition{i % kCrashPartitions}, Offset{i / kCrashPartitions}};
    if (i % 101 == 50) {
      stream.push_back({std::nullopt, Rejection{origin, std::nullopt, RejectReason::kInvalidJson, "message",
                                                "message: not valid JSON", "not json {"}});
      continue;
    }
    if (i % 37 == 20 && i > 40 && stream[i - 40].action) {  // an exact repeat
      stream.push_back({stream[i - 40].action, std::nullopt});
      continue;
    }
    TaskAction a;
    a.id = Id::FromRep((Id::Rep{1} << 66) + static_cast<Id::Rep>(i) * 7);
    a.annotation_request_id = "request-" + std::to_string(rng() % 8);
    a.campaign_id = "campaign-" + std::to_string(rng() % 2);
    a.task_id = Id(rng() % 40);
    a.scene_id = "scene-" + std::to_string(static_cast<uint64_t>(a.task_id.value() % 30));
    a.pool_type = static_cast<PoolType>(rng() % 7);
    a.status = static_cast<TaskStatus>(1 + rng() % 10);
    a.action_type = static_cast<ActionType>(rng() % 18);
    a.created_time = Timestamp{1'743'500'000'000 + static_cast<int64_t>(rng() % 100'000) * 1000};
    if (rng() % 2) a.project_id = Id(rng() % 5);
    if (rng() % 2) a.pool_name = "pool-" + std::to_string(rng() % 3);
    a.instance_info = InstanceInfo{{"car", static_cast<uint32_t>(rng() % 20)}, {"lane", 1}};
    stream.push_back({a, std::nullopt});
  }
  return stream;
}

}  // namespace tally::testing
