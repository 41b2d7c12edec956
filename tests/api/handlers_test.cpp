// The handlers as plain functions, without a socket, a router or a cache:
// validated parameters and one snapshot of the test store in, an outcome and the
// `data` JSON out.

#include "api/handlers.h"

#include <gtest/gtest.h>

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
