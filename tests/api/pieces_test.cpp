// The server's small parts without a socket: gzip negotiation, the access log's
// rate limit, API keys, request ids, listen addresses.

#include <gtest/gtest.h>
#include <zlib.h>

#include "api/access_log.h"
#include "api/gzip.h"
#include "api/api_keys.h"
#include "api/listen_address.h"
#include "api/request_id.h"

namespace tally {
namespace {

TEST(GzipTest, NegotiatesLikeRfc9110) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_TRUE(AcceptsGzip("br, x-gzip"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000, *"));
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
}

TEST(GzipTest, RoundTrips) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "{\"id\":" + std::to_string(i) + "},";
  auto gz = Gzip(text);
  ASSERT_TRUE(gz);
  EXPECT_LT(gz->size(), text.size() / 3);
  std::string back(text.size(), '\0');
  uLongf n = 0;
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(gz->data());
  z.avail_in = static_cast<uInt>(gz->size());
  z.next_out = reinterpret_cast<Bytef*>(back.data());
  z.avail_out = static_cast<uInt>(back.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  n = z.total_out;
  inflateEnd(&z);
  EXPECT_EQ(back.substr(0, n), text);
}

TEST(AccessLogTest, RateLimitsAndReportsWhatItDropped) {
  std::vector<std::string> lines;
  AccessLog::Clock::time_point now{};
  AccessLog log(10, 5, [&](std::string_view line) { lines.emplace_back(line); }, [&] { return now; });
  AccessEntry e{"GET", "/statistics", 200, 2000, 321, 0.0015, "abc"};
  uint64_t dropped = 0;
  for (int i = 0; i < 1000; ++i) dropped += log.Log(e);  // a flood at one instant
  EXPECT_EQ(lines.size(), 5u);                            // the burst
  EXPECT_EQ(dropped, 995u);
  EXPECT_EQ(lines[0],
            R"({"log":"access","method":"GET","route":"/statistics","status":200,"code":2000,"bytes":321,)"
            R"("durationMs":1.500,"requestId":"abc"})");
  now += std::chrono::seconds(1);  // refills 10 tokens, capped at the burst
  for (int i = 0; i < 1000; ++i) dropped += log.Log(e);
  EXPECT_EQ(lines.size(), 10u);
  EXPECT_NE(lines[5].find(R"("suppressedBefore":995)"), std::string::npos) << lines[5];
  // Over a long flood the lines written grow with time, not with requests.
  for (int s = 0; s < 100; ++s) {
    now += std::chrono::milliseconds(100);
    for (int i = 0; i < 1000; ++i) log.Log(e);
  }
  EXPECT_LE(lines.size(), 10u + 100u + 1u);
}

TEST(ApiKeysTest, ComparesKeysExactly) {
  const std::vector<std::string> keys = {"alpha", "beta-key"};
  EXPECT_TRUE(KeyMatches("alpha", keys));
  EXPECT_TRUE(KeyMatches("beta-key", keys));
  EXPECT_FALSE(KeyMatches("alph", keys));
  EXPECT_FALSE(KeyMatches("alphaa", keys));
  EXPECT_FALSE(KeyMatches("", keys));
  EXPECT_FALSE(KeyMatches(std::string("alpha\0", 6), keys));
  EXPECT_FALSE(KeyMatches("alpha", {}));
}

TEST(ApiKeysTest, TakesABearerTokenOrAnXApiKeyHeader) {
  const std::vector<std::string> keys = {"k1"};
  auto with = [](std::vector<std::pair<std::string, std::string>> headers) {
    HttpRequest request{boost::beast::http::verb::get, "/statistics", 11};
    for (const auto& [name, value] : headers) request.set(name, value);
    return request;
  };
  EXPECT_TRUE(Authorized(with({}), {}));  // no keys: open
  EXPECT_FALSE(Authorized(with({}), keys));
  EXPECT_TRUE(Authorized(with({{"Authorization", "Bearer k1"}}), keys));
  EXPECT_TRUE(Authorized(with({{"Authorization", " bEaReR   k1 "}}), keys));
  EXPECT_TRUE(Authorized(with({{"X-API-Key", "k1"}}), keys));
  EXPECT_TRUE(Authorized(with({{"Authorization", "Bearer nope"}, {"X-API-Key", "k1"}}), keys));
  EXPECT_FALSE(Authorized(with({{"Authorization", "Basic k1"}}), keys));
  EXPECT_FALSE(Authorized(with({{"Authorization", "k1"}}), keys));
  EXPECT_FALSE(Authorized(with({{"X-API-Key", "k2"}}), keys));
}

TEST(RequestIdTest, MakesOrEchoesRequestIds) {
  EXPECT_EQ(RequestIdFor("caller_ID-1"), "caller_ID-1");
  for (std::string_view bad : {std::string_view(""), std::string_view("a b"), std::string_view("a.b")}) {
    const std::string id = RequestIdFor(bad);
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  }
  EXPECT_NE(RequestIdFor(""), RequestIdFor(""));
}

TEST(ListenAddressTest, ParsesHostAndPort) {
  auto a = ParseListenAddress("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->address.to_string(), "127.0.0.1");
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->address.is_v6());
  EXPECT_TRUE(ParseListenAddress("localhost:9000"));
  EXPECT_TRUE(ParseListenAddress("0.0.0.0:65535"));
  for (const char* bad : {"", "8080", "host:", ":8080", "1.2.3.4:65536", "1.2.3.4:-1", "::1:80", "no.such.host.invalid:80"}) {
    auto r = ParseListenAddress(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find(std::string("\"") + bad + "\""), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace tally

#include "api/response_cache.h"

namespace tally {
namespace {

// The versions of one named request.
std::vector<uint64_t> V(uint64_t version) { return {version}; }

std::shared_ptr<const ResponseCache::Entry> Entry(uint64_t version, std::string data) {
  auto e = std::make_shared<ResponseCache::Entry>();
  e->versions = V(version);
  e->data = std::move(data);
  return e;
}

TEST(ResponseCacheTest, AnswersOnlyForTheSameStoreVersion) {
  ResponseCache cache;
  cache.Insert("k", Entry(5, "five"));
  ASSERT_TRUE(cache.Find("k", V(5)));
  EXPECT_EQ(cache.Find("k", V(5))->data, "five");
  EXPECT_FALSE(cache.Find("k", V(6)));
  EXPECT_FALSE(cache.Find("other", V(5)));
  cache.Insert("k", Entry(7, "seven"));
  cache.Insert("k", Entry(6, "six"));  // older than what is there: ignored
  EXPECT_EQ(cache.Find("k", V(7))->data, "seven");
  EXPECT_FALSE(cache.Find("k", V(6)));
}

// An answer naming several requests is valid for exactly their versions.
TEST(ResponseCacheTest, AnswersOnlyForTheSameVersionsOfEveryNamedRequest) {
  ResponseCache cache;
  auto e = std::make_shared<ResponseCache::Entry>();
  e->versions = {3, 4};
  e->data = "both";
  cache.Insert("k", e);
  EXPECT_TRUE(cache.Find("k", std::vector<uint64_t>{3, 4}));
  EXPECT_FALSE(cache.Find("k", std::vector<uint64_t>{3, 5}));
  EXPECT_FALSE(cache.Find("k", std::vector<uint64_t>{4, 4}));
  EXPECT_FALSE(cache.Find("k", std::vector<uint64_t>{3}));
}

TEST(ResponseCacheTest, StaysWithinItsBounds) {
  ResponseCache cache;
  for (size_t i = 0; i < 3 * kDefaultResponseCacheEntries; ++i) cache.Insert("key" + std::to_string(i), Entry(1, "x"));
  size_t kept = 0;
  for (size_t i = 0; i < 3 * kDefaultResponseCacheEntries; ++i) kept += cache.Find("key" + std::to_string(i), V(1)) != nullptr;
  EXPECT_LE(kept, kDefaultResponseCacheEntries);
  EXPECT_GT(kept, kDefaultResponseCacheEntries / 2);
  EXPECT_TRUE(cache.Find("key" + std::to_string(3 * kDefaultResponseCacheEntries - 1), V(1)));  // recent ones stay
  cache.Insert("huge", Entry(1, std::string(ResponseCache::kMaxEntryBytes, 'h')));
  EXPECT_FALSE(cache.Find("huge", V(1)));
}

// --response-cache-entries N: at most N answers, also when N is below the shard count.
TEST(ResponseCacheTest, KeepsAtMostTheConfiguredEntries) {
  for (size_t limit : {size_t{1}, size_t{5}, size_t{100}}) {
    ResponseCache cache(limit);
    for (size_t i = 0; i < 10 * limit + 50; ++i) cache.Insert("key" + std::to_string(i), Entry(1, "x"));
    size_t kept = 0;
    for (size_t i = 0; i < 10 * limit + 50; ++i) kept += cache.Find("key" + std::to_string(i), V(1)) != nullptr;
    EXPECT_LE(kept, limit) << limit;
    EXPECT_GE(kept, 1u) << limit;
  }
  ResponseCache one(1);
  one.Insert("a", Entry(1, "a"));
  EXPECT_TRUE(one.Find("a", V(1)));
  one.Insert("b", Entry(1, "b"));
  EXPECT_FALSE(one.Find("a", V(1)));
  EXPECT_TRUE(one.Find("b", V(1)));
}

}  // namespace
}  // namespace tally
