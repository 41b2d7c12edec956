// The handlers as plain functions, without a socket, a router or a cache:
// validated parameters and one snapshot of the test store in, an outcome and the
// `data` JSON out.

#include "api/handlers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "aggregate/json_writer.h"

#include "tests/api/api_test_support.h"

namespace tally::testing {
namespace {

HandlerInput InputOf(const Store& store, std::string_view view_url_base = "https://helix") {
  return HandlerInput{store, store.Snapshot(), view_url_base};
}

TEST(HandlersTest, StatisticsAnswersAPageOfTasksAndTheirCount) {
  const Store& store = *SharedStore::Get();
  std::string data;
  const Outcome outcome = HandleStatistics(StatisticsParams{"req-1", Page{3, 10}}, InputOf(store), &data);
  EXPECT_EQ(outcome.code, ApiCode::kSuccess);
  EXPECT_EQ(outcome.message, kSuccessMessage);
  EXPECT_EQ(outcome.total_count, std::optional<uint64_t>(25));
  auto json = ParseJson(data);
  auto tasks = json->root.get_array().value();
  ASSERT_EQ(tasks.size(), 5u);
  EXPECT_EQ(Digits(tasks.at(0).value()["id"].value()), "21");
  EXPECT_EQ(Digits(tasks.at(4).value()["id"].value()), kBigTaskId);
}

TEST(HandlersTest, StatisticsNamesAnUnknownRequest) {
  std::string data;
  const Outcome outcome = HandleStatistics(StatisticsParams{"ghost", Page{}}, InputOf(*SharedStore::Get()), &data);
  EXPECT_EQ(outcome.code, ApiCode::kRequestNotFound);
  EXPECT_EQ(outcome.message, "Annotation request has not exists. (ghost)");
  EXPECT_FALSE(outcome.total_count);
}

TEST(HandlersTest, RecordsMergeTheListedRequestsById) {
  std::string data;
  const Outcome outcome =
      HandleStatisticsRecord(RecordParams{{"req-2", "req-1"}, Page{1, 3}}, InputOf(*SharedStore::Get()), &data);
  ASSERT_EQ(outcome.code, ApiCode::kSuccess);
  auto json = ParseJson(data);
  EXPECT_EQ(Int((*json)["count"]), 30);
  std::vector<int64_t> ids;
  const simdjson::dom::array records = (*json)["data"].get_array().value();
  for (auto record : records) ids.push_back(Int(record["id"].value()));
  EXPECT_EQ(ids, (std::vector<int64_t>{900, 950, 1001}));

  std::string none;
  const Outcome unknown = HandleStatisticsRecord(RecordParams{{"ghost", "req-1", "phantom"}, Page{}},
                                                 InputOf(*SharedStore::Get()), &none);
  EXPECT_EQ(unknown.code, ApiCode::kRequestNotFound);
  EXPECT_EQ(unknown.message, "Annotation request has not exists. (ghost, phantom)");
}

// A record as the generic JsonWriter writes it, field by field: the reference
// for the record writer, which reads stored records in place and writes through
// a raw pointer.
std::string ReferenceRecordJson(const TaskAction& r) {
  std::string out;
  JsonWriter w(&out);
  auto optional_id = [&](const std::optional<Id>& id) { id ? w.Id(*id) : w.Null(); };
  auto optional_string = [&](const std::optional<std::string>& s) { s ? w.String(*s) : w.Null(); };
  auto optional_count = [&](const std::optional<uint32_t>& n) { n ? w.Uint(*n) : w.Null(); };
  w.BeginObject();
  w.Key("id");
  w.Id(r.id);
  w.Key("status");
  w.Int(static_cast<int32_t>(r.status));
  w.Key("campaignId");
  w.String(r.campaign_id);
  w.Key("taskId");
  w.Id(r.task_id);
  w.Key("poolName");
  optional_string(r.pool_name);
  w.Key("poolType");
  w.Int(static_cast<int32_t>(r.pool_type));
  w.Key("folderId");
  optional_id(r.folder_id);
  w.Key("aliceName");
  optional_string(r.alice_name);
  w.Key("createdTime");
  w.String(FormatTimestamp(r.created_time));
  w.Key("actionType");
  w.Int(static_cast<int32_t>(r.action_type));
  w.Key("instanceInfo");
  w.BeginObject();
  for (InstanceInfo::Entry e : r.instance_info) {
    w.DataKey(e.key);
    w.Uint(e.count);
  }
  w.EndObject();
  w.Key("modifyInstanceNum");
  optional_count(r.modify_instance_num);
  w.Key("modifyAttributesNum");
  optional_count(r.modify_attributes_num);
  w.Key("instanceSum");
  optional_count(r.instance_sum);
  w.Key("attributesSum");
  optional_count(r.attributes_sum);
  w.EndObject();
  return out;
}

TEST(HandlersTest, RecordsReadInPlaceWriteWhatTheGenericWriterWrites) {
  std::vector<TaskAction> records(4);
  for (size_t i = 0; i < records.size(); ++i) {
    TaskAction& a = records[i];
    a.id = Id(1000 + i);
    a.annotation_request_id = "r";
    a.campaign_id = "c-" + std::to_string(i);
    a.task_id = Id(7);
  }
  // Every kind of byte a string may hold, ids past 64 bits, extreme counts and times.
  records[0].campaign_id = "quote\" back\\slash \x01\x1f tab\t nl\n \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 bad\xff\xc3";
  records[0].task_id = Id::FromRep(~Id::Rep{0} >> 1);
  records[0].folder_id = Id::FromRep(Id::Rep{1} << 100);
  records[0].pool_name = "";
  records[0].alice_name = std::string("nul\0in", 6);
  records[0].instance_info = InstanceInfo{{"", 0}, {"k\"ey", kMaxCount}, {"\xe4\xb8\xad\xff", 1}};
  records[0].modify_instance_num = 0;
  records[0].modify_attributes_num = kMaxCount;
  records[0].instance_sum = 12;
  records[0].attributes_sum = 1;
  records[0].created_time = Timestamp{253'402'300'799'000};  // 9999-12-31 23:59:59
  records[1].id = Id::FromRep((Id::Rep{1} << 126) + 5);
  records[1].status = static_cast<TaskStatus>(-7);
  records[1].pool_type = static_cast<PoolType>(1000);
  records[1].action_type = static_cast<ActionType>(-2'147'483'647 - 1);
  records[1].created_time = Timestamp{-62'135'596'800'000};  // 0001-01-01 00:00:00
  records[2].pool_name = std::string(255, 'p');
  records[2].alice_name = std::string(255, '"');
  records[3].id = Id(0);
  TempDir dir;
  auto store = Store::Open(StoreOptions{dir.path(), size_t{32} << 20, false, {}});
  ASSERT_TRUE(store) << store.error().ToString();
  ASSERT_TRUE((*store)->Apply(ApplyBatch{std::span(records), {}, {}, {}}));

  std::sort(records.begin(), records.end(), [](const TaskAction& a, const TaskAction& b) { return a.id < b.id; });
  std::string expected = "{\"count\":4,\"data\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) expected += ',';
    expected += ReferenceRecordJson(records[i]);
    std::string from_action;
    AppendRecordJson(records[i].id, RecordFields::Of(records[i]), &from_action);
    EXPECT_EQ(from_action, ReferenceRecordJson(records[i]));
  }
  expected += "]}";
  std::string data;
  const Outcome outcome = HandleStatisticsRecord(RecordParams{{"r"}, Page{1, 10}}, InputOf(**store), &data);
  ASSERT_EQ(outcome.code, ApiCode::kSuccess);
  EXPECT_EQ(data, expected);
}

// A task of /statistics written from the folded view field by field, its
// strings by the generic escaper: the reference for the in-place writer.
std::string ReferenceTaskJson(const TaskView& t) {
  auto id = [](const std::optional<Stamped<Id>>& v) { return v ? v->value.ToString() : std::string("null"); };
  std::string out = "{\"id\":" + t.task_id.ToString() + ",\"status\":" + std::to_string(static_cast<int32_t>(t.status)) +
                    ",\"project_id\":" + id(t.project_id) + ",\"pool_id\":" + id(t.pool_id) +
                    ",\"pool_type\":" + std::to_string(static_cast<int32_t>(t.pool_type)) + ",\"instance_info\":{";
  for (size_t i = 0; i < t.instance_info.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(t.instance_info[i].key, &out);
    out += ':' + std::to_string(t.instance_info[i].sum);
  }
  return out + "},\"instance_num\":" + std::to_string(t.instance_num) + "}";
}

TEST(HandlersTest, TasksReadInPlaceWriteWhatTheGenericWriterWrites) {
  std::vector<TaskAction> records(4);
  for (size_t i = 0; i < records.size(); ++i) {
    TaskAction& a = records[i];
    a.id = Id(1000 + i);
    a.annotation_request_id = "r";
    a.campaign_id = "c";
    a.task_id = Id(7 + i);
  }
  // Ids past 64 bits, extreme enums and counts, keys that need escaping, no project or pool.
  records[0].task_id = Id::FromRep(~Id::Rep{0} >> 1);
  records[0].project_id = Id::FromRep(Id::Rep{1} << 100);
  records[0].pool_id = Id(0);
  records[0].status = static_cast<TaskStatus>(-7);
  records[0].pool_type = static_cast<PoolType>(2'147'483'647);
  records[0].instance_info = InstanceInfo{{"", 0}, {"k\"ey", kMaxCount}, {"\xe4\xb8\xad\xff\x01", 1}};
  records[1].instance_info = InstanceInfo{{"a", kMaxCount}};
  records[2].pool_id = Id(3);
  records[3] = records[1];  // a second record of task 8: the counts add up past 32 bits
  records[3].id = Id(2000);
  records[3].instance_info = InstanceInfo{{"a", kMaxCount}, {"b", 2}};
  TempDir dir;
  auto store = Store::Open(StoreOptions{dir.path(), size_t{32} << 20, false, {}});
  ASSERT_TRUE(store) << store.error().ToString();
  ASSERT_TRUE((*store)->Apply(ApplyBatch{std::span(records), {}, {}, {}}));

  std::map<Id, TaskView> views;
  for (const TaskAction& a : records) Fold(a, &views[a.task_id]);
  std::string expected = "[";
  for (const auto& [id, view] : views) {
    if (expected.size() > 1) expected += ',';
    expected += ReferenceTaskJson(view);
  }
  expected += "]";
  std::string data;
  const Outcome outcome = HandleStatistics(StatisticsParams{"r", Page{1, 10}}, InputOf(**store), &data);
  ASSERT_EQ(outcome.code, ApiCode::kSuccess);
  EXPECT_EQ(outcome.total_count, std::optional<uint64_t>(3));
  EXPECT_EQ(data, expected);
}

TEST(HandlersTest, TaskGetBuildsTheViewUrlFromTheGivenBase) {
  std::string data;
  const Outcome outcome = HandleTaskGet(TaskGetParams{"camp-2", "req-3", "scene-x"},
                                        InputOf(*SharedStore::Get(), "https://helix.example"), &data);
  ASSERT_EQ(outcome.code, ApiCode::kSuccess);
  EXPECT_EQ(data, R"({"viewUrl":"https://helix.example/rosetta-open/task/55/9/viewOnly","status":11})");
}

TEST(HandlersTest, TaskGetChecksCampaignThenRequestThenScene) {
  auto code_of = [](TaskGetParams params) {
    std::string data;
    return HandleTaskGet(params, InputOf(*SharedStore::Get()), &data).code;
  };
  EXPECT_EQ(code_of({"ghost", "ghost", "ghost"}), ApiCode::kCampaignNotFound);
  EXPECT_EQ(code_of({"camp-1", "ghost", "ghost"}), ApiCode::kRequestNotFound);
  EXPECT_EQ(code_of({"camp-1", "req-1", "ghost"}), ApiCode::kSceneNotFound);
  EXPECT_EQ(code_of({"camp-1", "req-1", "scene-1"}), ApiCode::kSuccess);
}

// Whatever kind of Status a store query fails with, it is the server's fault:
// 5000 with the seeds' message, never the store's words.
TEST(HandlersTest, AFailedStoreQueryIsTheServersFault) {
  for (const Status& status : {Status::InvalidArgument("a record reference past the listed requests"),
                               Status::NotFound("gone"), Status::Corruption("unreadable task view"),
                               Status::IOError("disk")}) {
    SCOPED_TRACE(status.ToString());
    const Outcome outcome = Outcome::StoreFailure(status);
    EXPECT_EQ(outcome.code, ApiCode::kInternal);
    EXPECT_EQ(outcome.message, kInternalMessage);
  }
}

}  // namespace
}  // namespace tally::testing
