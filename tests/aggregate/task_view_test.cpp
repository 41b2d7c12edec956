#include "aggregate/task_view.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

TaskAction At(int64_t ms, uint64_t id) {
  TaskAction a;
  a.id = Id(id);
  a.task_id = Id(1);
  a.created_time = Timestamp{ms};
  a.campaign_id = "c";
  return a;
}

TEST(TaskViewTest, LatestIsGreatestCreatedTimeThenId) {
  TaskAction early = At(100, 9), late = At(200, 1), tie = At(200, 2);
  early.status = TaskStatus::kAtWork;
  late.status = TaskStatus::kPause;
  tie.status = TaskStatus::kAccomplish;
  for (const auto& order : {std::vector{early, late, tie}, std::vector{tie, early, late}}) {
    TaskView v;
    for (const auto& a : order) Fold(a, &v);
    EXPECT_EQ(v.status, TaskStatus::kAccomplish);
    EXPECT_EQ(v.latest, (Stamp{Timestamp{200}, Id(2)}));
    EXPECT_EQ(v.records, 3u);
  }
}

TEST(TaskViewTest, OptionalFieldsComeFromTheLatestRecordCarryingThem) {
  TaskAction a = At(100, 1), b = At(200, 2);
  a.project_id = Id(7);
  a.scene_id = "s1";
  b.pool_name = "p";
  TaskView v;
  Fold(b, &v);
  Fold(a, &v);
  ASSERT_TRUE(v.project_id && v.scene_id && v.pool_name);
  EXPECT_EQ(v.project_id->value, Id(7));
  EXPECT_EQ(v.scene_id->value, "s1");
  EXPECT_EQ(v.pool_name->value, "p");
  EXPECT_FALSE(v.pool_id);
}

TEST(TaskViewTest, SumsInstanceCountsPerKey) {
  TaskAction a = At(1, 1), b = At(2, 2), c = At(3, 3);
  a.instance_info = InstanceInfo{{"x", 1}, {"y", 2}};
  b.instance_info = InstanceInfo{{"a", 10}, {"y", 3}};
  c.instance_info = InstanceInfo{{"x", kMaxCount}, {"z", kMaxCount}};
  TaskView v;
  for (const auto* r : {&a, &b, &c}) Fold(*r, &v);
  ASSERT_EQ(v.instance_info.size(), 4u);
  EXPECT_EQ(v.instance_info[0], (InstanceSum{"a", 10}));
  EXPECT_EQ(v.instance_info[1], (InstanceSum{"x", 1 + uint64_t{kMaxCount}}));
  EXPECT_EQ(v.instance_info[2], (InstanceSum{"y", 5}));
  EXPECT_EQ(v.instance_num, 16 + 2 * uint64_t{kMaxCount});
}

TEST(TaskViewTest, HelixStatusFollowsTheContractTableTopToBottom) {
  struct Row {
    int pool, status, action, expected;
  };
  const Row rows[] = {
      {0, 6, 0, 0},  {0, 10, 0, 0}, {0, 1, 0, 1},  {4, 6, 0, 1},  {1, 1, 5, 2},  {6, 2, 5, 2},
      {1, 4, 13, 4}, {1, 9, 13, 4}, {1, 3, 7, 4},  {1, 3, 13, 3}, {1, 5, 13, 3}, {2, 1, 7, 5},
      {2, 2, 7, 5},  {2, 3, 13, 6}, {3, 1, 8, 8},  {3, 9, 13, 10}, {3, 3, 9, 10}, {3, 3, 13, 9},
      {5, 9, 9, 11}, {7, 1, 0, 3},  {1000, 6, 0, 3}, {1, 6, 7, 4},
  };
  for (const Row& r : rows) {
    TaskView v;
    v.pool_type = static_cast<PoolType>(r.pool);
    v.status = static_cast<TaskStatus>(r.status);
    v.action_type = static_cast<ActionType>(r.action);
    EXPECT_EQ(HelixStatus(v), r.expected) << r.pool << "/" << r.status << "/" << r.action;
  }
}

}  // namespace
}  // namespace tally
