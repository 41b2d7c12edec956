#include "aggregate/codec.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

TaskAction Full() {
  TaskAction a;
  a.id = *Id::FromDigits("99999999999999999999999999999999999999");
  a.campaign_id = "camp";
  a.scene_id = "scene";
  a.task_id = *Id::FromDigits("234234123133374715904");
  a.project_id = Id(1);
  a.pool_id = Id(0);
  a.pool_name = "";
  a.folder_id = Id(7);
  a.alice_name = "daf";
  a.pool_type = static_cast<PoolType>(1000);
  a.status = TaskStatus::kAccomplish;
  a.action_type = ActionType::kReturnFromWorkPool;
  a.created_time = Timestamp{-5};
  a.instance_info = InstanceInfo{{"a", 0}, {"b", kMaxCount}};
  a.modify_instance_num = 0;
  a.modify_attributes_num = kMaxCount;
  a.instance_sum = 3;
  a.attributes_sum = 4;
  return a;
}

TEST(CodecTest, RecordRoundTripsEveryField) {
  for (TaskAction a : {Full(), TaskAction{}}) {
    std::string bytes;
    EncodeRecord(a, &bytes);
    TaskAction back;
    back.alice_name = "stale";  // decoding overwrites everything
    ASSERT_TRUE(DecodeRecord(bytes, &back));
    back.id = a.id;
    back.annotation_request_id = a.annotation_request_id;
    EXPECT_EQ(back, a);
    EXPECT_FALSE(DecodeRecord(bytes.substr(0, bytes.size() - 1), &back));
    EXPECT_FALSE(DecodeRecord(bytes + "x", &back));
  }
}

TEST(CodecTest, TaskViewRoundTrips) {
  TaskView v;
  Fold(Full(), &v);
  TaskAction later = Full();
  later.id = Id(5);
  later.created_time = Timestamp{10};
  later.pool_name.reset();
  later.instance_info = InstanceInfo{{"c", 9}};
  Fold(later, &v);
  std::string bytes;
  EncodeTaskView(v, &bytes);
  TaskView back;
  ASSERT_TRUE(DecodeTaskView(bytes, &back));
  EXPECT_EQ(back, v);
  EXPECT_FALSE(DecodeTaskView(bytes.substr(0, bytes.size() - 2), &back));
}

TEST(CodecTest, SmallValuesRoundTrip) {
  std::string bytes;
  EncodeRequestMeta(RequestMeta{RequestNo{77}, uint64_t{1} << 40, 3}, &bytes);
  RequestMeta meta;
  ASSERT_TRUE(DecodeRequestMeta(bytes, &meta));
  EXPECT_EQ(meta, (RequestMeta{RequestNo{77}, uint64_t{1} << 40, 3}));
  bytes.clear();
  const Stamp stamp{Timestamp{-123}, *Id::FromDigits("12345678901234567890123")};
  EncodeStamp(stamp, &bytes);
  Stamp back;
  ASSERT_TRUE(DecodeStamp(bytes, &back));
  EXPECT_EQ(back, stamp);
  bytes.clear();
  Rejection r{Origin{}, std::nullopt, RejectReason::kInvalidTime, "createdTime", "createdTime: bad", "{\xff"};
  EncodeRejection(r, &bytes);
  Rejection rb;
  ASSERT_TRUE(DecodeRejection(bytes, &rb));
  EXPECT_EQ(rb, r);
}

TEST(CodecTest, SummaryAndLabelerStatsRoundTrip) {
  RequestSummary summary;
  summary.tasks_by_status.Add(9, 47);
  summary.tasks_by_status.Add(1, 3);
  summary.tasks_by_helix_status.Add(11, 47);
  summary.records_by_action_type.Add(1000, 2);
  summary.instance_num = 852;
  summary.labelers = 12;
  summary.times.Add(Timestamp{-5});
  summary.times.Add(Timestamp{1'743'494'400'000});
  LabelerStats stats;
  stats.records = 120;
  stats.tasks = 38;
  stats.records_by_action_type.Add(13, 60);
  stats.modify_instance_num = 410;
  stats.modify_attributes_num = 95;
  stats.times.Add(Timestamp{7});
  for (const RequestSummary& s : {summary, RequestSummary{}}) {
    std::string bytes;
    EncodeRequestSummary(s, &bytes);
    RequestSummary back;
    ASSERT_TRUE(DecodeRequestSummary(bytes, &back));
    EXPECT_EQ(back, s);
    EXPECT_FALSE(DecodeRequestSummary(bytes + "x", &back));
    EXPECT_FALSE(DecodeRequestSummary(bytes.substr(0, bytes.size() - 1), &back));
  }
  for (const LabelerStats& s : {stats, LabelerStats{}}) {
    std::string bytes;
    EncodeLabelerStats(s, &bytes);
    LabelerStats back;
    ASSERT_TRUE(DecodeLabelerStats(bytes, &back));
    EXPECT_EQ(back, s);
    EXPECT_FALSE(DecodeLabelerStats(bytes + "x", &back));
  }
}

TEST(CodecTest, CountMapsKeepNonZeroCountsInKeyOrder) {
  CountMap counts;
  counts.Add(11, 1);
  counts.Add(9, 2);
  counts.Add(11, -1);  // back to zero: gone
  counts.Add(3, -1);   // never below zero
  counts.Add(-4, 1);
  EXPECT_EQ(counts.entries(), (std::vector<CountMap::Entry>{{-4, 1}, {9, 2}}));
}

}  // namespace
}  // namespace tally
