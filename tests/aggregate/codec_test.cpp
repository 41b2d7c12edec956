#include "aggregate/codec.h"

#include <gtest/gtest.h>

#include "aggregate/bytes.h"

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

// The stored formats are LEB128 varints: the bytes are part of the on-disk
// format (PutVarint builds longer ones apart and appends them at once).
TEST(CodecTest, VarintsAreLeb128ByteForByte) {
  const std::pair<uint64_t, std::string> cases[] = {
      {0, std::string(1, '\0')},
      {1, "\x01"},
      {127, "\x7f"},
      {128, "\x80\x01"},
      {300, "\xac\x02"},
      {16'383, "\xff\x7f"},
      {16'384, "\x80\x80\x01"},
      {uint64_t{1} << 42, std::string("\x80\x80\x80\x80\x80\x80\x01", 7)},
      {UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"},
  };
  for (const auto& [value, bytes] : cases) {
    std::string out = "x";  // appends after what is there
    PutVarint(value, &out);
    EXPECT_EQ(out, "x" + bytes) << value;
    ByteReader r(std::string_view(out).substr(1));
    uint64_t back = 0;
    ASSERT_TRUE(r.Varint(&back)) << value;
    EXPECT_EQ(back, value);
    EXPECT_TRUE(r.empty());
  }
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

// The view of Full() and a later record of its task without a pool name, with `counts`.
TaskView TwoRecordView(InstanceInfo counts) {
  TaskView v;
  Fold(Full(), &v);
  TaskAction later = Full();
  later.id = Id(5);
  later.created_time = Timestamp{10};
  later.pool_name.reset();
  later.instance_info = std::move(counts);
  Fold(later, &v);
  return v;
}

TEST(CodecTest, TaskViewRoundTrips) {
  const TaskView v = TwoRecordView(InstanceInfo{{"c", 9}});
  std::string bytes;
  EncodeTaskView(v, &bytes);
  TaskView back;
  ASSERT_TRUE(DecodeTaskView(bytes, &back));
  EXPECT_EQ(back, v);
  EXPECT_FALSE(DecodeTaskView(bytes.substr(0, bytes.size() - 2), &back));
}

// The fields an answer shows, read in place, are the decoded view's: with and
// without the optional fields, with labelers after them, with counts apart.
TEST(CodecTest, TaskFieldsAreTheViewsShownFieldsReadInPlace) {
  const TaskView full = TwoRecordView(InstanceInfo{{"c", 9}, {"needs \"escaping\"", 3}});
  TaskView bare;
  TaskAction plain;
  plain.task_id = Id(7);
  Fold(plain, &bare);
  TaskView apart = full;
  apart.instance_info.clear();
  apart.instances_apart = true;
  TaskLabelers labelers;
  labelers.Add(3);
  for (const TaskView& v : {full, bare, apart}) {
    for (const TaskLabelers* with : {static_cast<const TaskLabelers*>(nullptr), static_cast<const TaskLabelers*>(&labelers)}) {
      std::string bytes;
      EncodeTaskView(v, &bytes, with);
      TaskFields f;
      ASSERT_TRUE(DecodeTaskFields(bytes, &f));
      EXPECT_EQ(f.task_id, v.task_id);
      EXPECT_EQ(f.status, v.status);
      EXPECT_EQ(f.pool_type, v.pool_type);
      EXPECT_EQ(f.project_id, v.project_id ? std::optional<Id>(v.project_id->value) : std::nullopt);
      EXPECT_EQ(f.pool_id, v.pool_id ? std::optional<Id>(v.pool_id->value) : std::nullopt);
      EXPECT_EQ(f.instances_apart, v.instances_apart);
      EXPECT_EQ(f.instance_num, v.instance_num);
      std::vector<InstanceSum> sums;
      f.instance_info.ForEach([&](std::string_view key, uint64_t sum) { sums.push_back({std::string(key), sum}); });
      EXPECT_EQ(sums, v.instance_info);
      EXPECT_EQ(f.instance_info.size(), v.instance_info.size());
      if (with == nullptr) {  // every shorter prefix is unreadable
        for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(DecodeTaskFields(bytes.substr(0, n), &f)) << n;
      }
    }
  }
  EXPECT_FALSE(full.instance_info.empty());
  EXPECT_FALSE(bare.project_id);
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
    EncodeLabelerStats(s, 300, &bytes);
    LabelerStats back;
    uint64_t number = 0;
    ASSERT_TRUE(DecodeLabelerStats(bytes, &back, &number));
    EXPECT_EQ(back, s);
    EXPECT_EQ(number, 300u);
    EXPECT_FALSE(DecodeLabelerStats(bytes + "x", &back));
    // A format 3 value (no number) is not read as one.
    EXPECT_FALSE(DecodeLabelerStats(bytes.substr(0, bytes.size() - 2), &back));
  }
}

// A task's labelers travel with its view by number (format 4): a handful take a
// byte each, whatever their names; a view written without them reads as none.
TEST(CodecTest, TaskLabelersRoundTripByNumber) {
  TaskView view;
  view.task_id = Id(77);
  view.campaign_id = "c";
  view.records = 3;
  TaskLabelers labelers;
  for (uint64_t n : {0u, 5u, 127u, 128u, 40000u}) {
    EXPECT_FALSE(labelers.Has(n));
    labelers.Add(n);
    EXPECT_TRUE(labelers.Has(n));
  }
  EXPECT_FALSE(labelers.Has(1));
  std::vector<uint64_t> listed;
  labelers.ForEach([&](uint64_t n) { listed.push_back(n); });
  EXPECT_EQ(listed, (std::vector<uint64_t>{0, 5, 127, 128, 40000}));
  std::string without, with;
  EncodeTaskView(view, &without);
  EncodeTaskView(view, &with, &labelers);
  // A second byte of presence bits, the count, then each number.
  EXPECT_EQ(with.size(), without.size() + 1 + 1 + 1 + 1 + 1 + 2 + 3);
  TaskView back;
  TaskLabelers back_labelers;
  ASSERT_TRUE(DecodeTaskView(with, &back, &back_labelers));
  EXPECT_EQ(back, view);
  EXPECT_EQ(back_labelers, labelers);
  ASSERT_TRUE(DecodeTaskView(with, &back));  // a reader that wants none skips them
  EXPECT_FALSE(DecodeTaskView(with.substr(0, with.size() - 1), &back, &back_labelers));
  ASSERT_TRUE(DecodeTaskView(without, &back, &back_labelers));
  EXPECT_EQ(back_labelers, TaskLabelers{});
  std::string none;
  const TaskLabelers empty;
  EncodeTaskView(view, &none, &empty);
  EXPECT_EQ(none, without);
  labelers.apart = true;  // apart: none in the value
  std::string apart;
  EncodeTaskView(view, &apart, &labelers);
  EXPECT_EQ(apart.size(), without.size());
  ASSERT_TRUE(DecodeTaskView(apart, &back, &back_labelers));
  EXPECT_TRUE(back_labelers.apart);
  EXPECT_EQ(back_labelers.count, 0u);
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
