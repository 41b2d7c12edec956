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

}  // namespace
}  // namespace tally
