// Parameter parsing without a socket: the query string forms, JSON bodies, and
// each endpoint's rules in order (api/params.h).

#include "api/params.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

TEST(ParamsTest, PercentDecodesWithPlusAsSpace) {
  EXPECT_EQ(PercentDecode("a%20b+c%2B%2c"), "a b c+,");
  EXPECT_EQ(PercentDecode("%e4%B8%AD"), "\xe4\xb8\xad");
  EXPECT_EQ(PercentDecode(""), "");
  EXPECT_FALSE(PercentDecode("%"));
  EXPECT_FALSE(PercentDecode("%4"));
  EXPECT_FALSE(PercentDecode("%zz"));
  EXPECT_FALSE(PercentDecode("ab%2"));
}

TEST(ParamsTest, ReadsStatisticsFromTheQuery) {
  auto p = ParseStatisticsParams(ParamSource::FromQuery("annotationRequestId=r%201&pageNumber=007&pageSize=5000"));
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->annotation_request_id, "r 1");
  EXPECT_EQ(p->page.number, 7u);
  EXPECT_EQ(p->page.size, 1000u);
  auto defaults = ParseStatisticsParams(ParamSource::FromQuery("&&annotationRequestId=r&=x&junk"));
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->page.number, 1u);
  EXPECT_EQ(defaults->page.size, 10u);
  auto saturated = ParseStatisticsParams(ParamSource::FromQuery("annotationRequestId=r&pageNumber=" + std::string(40, '9')));
  ASSERT_TRUE(saturated);
  EXPECT_EQ(saturated->page.number, UINT64_MAX);
}

TEST(ParamsTest, NamesTheFirstBrokenRule) {
  struct Case {
    std::string query;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "Invalid parameter: annotationRequestId is required"},
      {"annotationRequestId=", "Invalid parameter: annotationRequestId must not be empty"},
      {"annotationRequestId=" + std::string(256, 'a'), "Invalid parameter: annotationRequestId must be at most 255 bytes"},
      {"annotationRequestId=a&annotationRequestId=a", "Invalid parameter: annotationRequestId is given more than once"},
      {"annotationRequestId=%g0", "Invalid parameter: annotationRequestId has a malformed percent-escape"},
      {"annotationRequestId=a&pageNumber=0", "Invalid parameter: pageNumber must be a whole number >= 1, got \"0\""},
      {"annotationRequestId=a&pageNumber=+1", "Invalid parameter: pageNumber must be a whole number >= 1, got \" 1\""},
      {"annotationRequestId=a&pageSize=1e3", "Invalid parameter: pageSize must be a whole number >= 1, got \"1e3\""},
      {"annotationRequestId=a&pageSize[]=3", "Invalid parameter: pageSize must be a single value, not an array"},
      {"pageNumber=x", "Invalid parameter: annotationRequestId is required"},
  };
  for (const Case& c : cases) {
    auto p = ParseStatisticsParams(ParamSource::FromQuery(c.query));
    ASSERT_FALSE(p) << c.query;
    EXPECT_EQ(p.error().message(), c.message) << c.query;
  }
}

TEST(ParamsTest, SplitsOnlyALonePlainQueryValueAtCommas) {
  auto ids = [](const std::string& query) {
    auto p = ParseRecordParams(ParamSource::FromQuery(query));
    EXPECT_TRUE(p) << query << ": " << (p ? "" : p.error().message());
    return p ? p->annotation_request_ids : std::vector<std::string>{};
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids("annotationRequestId=a,b,a"), (V{"a", "b"}));
  EXPECT_EQ(ids("annotationRequestId=a,b&annotationRequestId=c"), (V{"a,b", "c"}));
  EXPECT_EQ(ids("annotationRequestId[]=a,b"), (V{"a,b"}));
  EXPECT_EQ(ids("annotationRequestId[]=b&annotationRequestId=a&annotationRequestId[]=b"), (V{"b", "a"}));
  EXPECT_EQ(ids("annotationRequestId=x%2Cy"), (V{"x", "y"}));
}

TEST(ParamsTest, ReadsJsonBodies) {
  auto source = ParamSource::FromRequest("annotationRequestId=ignored",
                                         R"({"annotationRequestId":["a","b"],"offset":"2","limit":20,"z":{"q":[]}})");
  ASSERT_TRUE(source);
  EXPECT_TRUE(source->from_body());
  auto p = ParseRecordParams(*source);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->annotation_request_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p->page.number, 2u);
  EXPECT_EQ(p->page.size, 20u);
  auto blank = ParamSource::FromRequest("annotationRequestId=q", " \r\n\t");
  ASSERT_TRUE(blank);
  EXPECT_FALSE(blank->from_body());
  for (const char* bad : {"{", "[]", "1", "\"x\"", "{\"a\":1}x", "{123456789012345678901234567890:1}",
                          "{\"a\":1e999}", "{\"a\":-}"}) {
    auto s = ParamSource::FromRequest("", bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_TRUE(s.error().message().starts_with("Invalid parameter: the request body")) << s.error().message();
  }
}

// An integer beyond 64 bits is valid JSON, and a body means what the query
// string means: a huge pageSize is clamped, a huge pageNumber is past the end,
// and a huge number where a string belongs is refused naming the parameter.
TEST(ParamsTest, BodyIntegersBeyond64BitsReadAsTheQueryStringReadsThem) {
  const std::string huge(25, '9');
  auto body = ParamSource::FromJsonBody(R"({"annotationRequestId":"r","pageNumber":)" + huge + R"(,"pageSize":)" +
                                        huge + R"(,"x":[1,)" + huge + R"(],"s":"12345678901234567890123"})");
  ASSERT_TRUE(body) << body.error().message();
  auto p = ParseStatisticsParams(*body);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->page.number, UINT64_MAX);
  EXPECT_EQ(p->page.size, 1000u);
  auto query = ParseStatisticsParams(ParamSource::FromQuery("annotationRequestId=r&pageNumber=" + huge + "&pageSize=" + huge));
  ASSERT_TRUE(query);
  EXPECT_EQ(query->page.number, p->page.number);
  EXPECT_EQ(query->page.size, p->page.size);
  auto named = ParseStatisticsParams(*ParamSource::FromJsonBody(R"({"annotationRequestId":)" + huge + "}"));
  ASSERT_FALSE(named);
  EXPECT_NE(named.error().message().find("annotationRequestId"), std::string::npos) << named.error().message();
  auto negative = ParseStatisticsParams(*ParamSource::FromJsonBody(R"({"annotationRequestId":"r","pageSize":-)" + huge + "}"));
  ASSERT_FALSE(negative);
  EXPECT_NE(negative.error().message().find("pageSize"), std::string::npos) << negative.error().message();
  // A string that begins with a control character stays a string.
  auto text = ParseStatisticsParams(
      *ParamSource::FromJsonBody(R"({"annotationRequestId":"\u00010123456789abcdef:5","pageSize":)" + huge + "}"));
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(text->annotation_request_id, "\x01" "0123456789abcdef:5");
}

TEST(ParamsTest, TaskGetChecksItsTableInOrder) {
  auto p = ParseTaskGetParams(*ParamSource::FromJsonBody(R"({"sceneId":"s","annotationRequestId":"r","campaignId":"c"})"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->campaign_id, "c");
  EXPECT_EQ(p->annotation_request_id, "r");
  EXPECT_EQ(p->scene_id, "s");
  auto missing = ParseTaskGetParams(*ParamSource::FromJsonBody(R"({"sceneId":5})"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "Invalid parameter: campaignId is required");
  auto wrong = ParseTaskGetParams(*ParamSource::FromJsonBody(R"({"campaignId":"c","annotationRequestId":"r","sceneId":5})"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message(), "Invalid parameter: sceneId must be a string, got 5");
}

}  // namespace
}  // namespace tally
