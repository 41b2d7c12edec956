#pragma once

// The store the API tests read: a few requests in a few campaigns, built from
// TaskActions in code (no decoder, no Kafka), with every case the endpoints must
// show: a 21-digit task id, tasks without a project or a pool, summed
// instanceInfo, records with every optional field absent, records of two
// requests that interleave by id, and a request with more than 1000 tasks for
// the page-size clamp.
//
//   campaign camp-1: req-1 (25 tasks: ids 1..24 and 234234123133374715904), req-2 (3 records)
//   campaign camp-2: req-3 (1 task, scene scene-x), and req-2 again (a request is
//                    in every campaign its records name)
//   campaign camp-3: big (1005 tasks)

#include <string>
#include <vector>

#include "aggregate/store.h"

namespace tally::testing {

inline constexpr char kBigTaskId[] = "234234123133374715904";
inline constexpr int64_t kBaseMillis = 1'743'494'400'000;  // 2025-04-01 08:00:00 UTC

inline TaskAction Action(uint64_t id, std::string request, std::string campaign, Id task, int64_t second) {
  TaskAction a;
  a.id = Id(id);
  a.annotation_request_id = std::move(request);
  a.campaign_id = std::move(campaign);
  a.task_id = task;
  a.created_time = Timestamp{kBaseMillis + second * 1000};
  return a;
}

inline std::vector<TaskAction> TestActions() {
  std::vector<TaskAction> out;
  const Id big = *Id::FromDigits(kBigTaskId);
  // req-1: 25 tasks, one record each (ids 1001..1024, 2001), and a second
  // record for task 1 (id 3001, later) that adds to its instanceInfo.
  for (uint64_t t = 1; t <= 25; ++t) {
    const Id task = t == 25 ? big : Id(t);
    TaskAction a = Action(t == 25 ? 2001 : 1000 + t, "req-1", "camp-1", task, static_cast<int64_t>(t));
    a.scene_id = "scene-" + std::to_string(t);
    if (t != 7) a.project_id = Id(1234);
    if (t != 8) a.pool_id = Id(3001);
    a.pool_name = "Annotation Pool";
    a.pool_type = PoolType::kAnnotation;
    a.status = TaskStatus::kAtWork;
    a.action_type = ActionType::kAcceptTask;
    a.folder_id = Id(4001);
    a.alice_name = "daf";
    a.instance_info = InstanceInfo{{"select-[e000f]", static_cast<uint32_t>(t)}, {"box", 1}};
    a.modify_instance_num = 10;
    a.modify_attributes_num = 5;
    a.instance_sum = 20;
    a.attributes_sum = 10;
    if (t == 2) {  // Check pool, waiting: Helix status 5
      a.pool_type = PoolType::kCheck;
      a.status = TaskStatus::kWaitingForAllocation;
    }
    out.push_back(a);
  }
  TaskAction later = Action(3001, "req-1", "camp-1", Id(1), 100);
  later.scene_id = "scene-1";
  later.pool_type = PoolType::kAnnotation;
  later.status = TaskStatus::kAtWork;
  later.action_type = ActionType::kSubmitAnnotation;  // Helix status 4
  later.instance_info = InstanceInfo{{"box", 2}};
  out.push_back(later);
  // req-2: records whose ids interleave with req-1's; one with nothing optional.
  for (uint64_t id : {1100, 1010 + 5000, 900}) {
    TaskAction a = Action(id, "req-2", "camp-1", Id(77), static_cast<int64_t>(id));
    out.push_back(a);
  }
  TaskAction other_campaign = Action(950, "req-2", "camp-2", Id(77), 1);
  out.push_back(other_campaign);
  // req-3 in camp-2.
  TaskAction r3 = Action(5000, "req-3", "camp-2", Id(9), 5);
  r3.scene_id = "scene-x";
  r3.project_id = Id(55);
  r3.pool_type = PoolType::kComplete;  // Helix status 11
  out.push_back(r3);
  // big: 1005 tasks.
  for (uint64_t t = 1; t <= 1005; ++t) out.push_back(Action(100000 + t, "big", "camp-3", Id(t), 1));
  return out;
}

// Applies TestActions() to the store; returns false if the store refused.
inline bool FillTestStore(Store* store) {
  const std::vector<TaskAction> actions = TestActions();
  auto result = store->Apply(ApplyBatch{actions, {}, "task-actions", {}});
  return result.has_value();
}

}  // namespace tally::testing
