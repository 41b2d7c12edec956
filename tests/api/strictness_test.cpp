// HTTP/1.1 message rules (RFC 9112) over raw sockets (issue 9, "HTTP
// strictness"): ambiguous framing is answered 400 (code 4005) and the
// connection closed, never guessed at — above all, never a body read as a
// second request — and the request target's absolute form is routed like the
// origin form.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "api/http_framing.h"
#include "api/server.h"
#include "tests/api/api_test_support.h"

namespace tally::testing {
namespace {

class ApiStrictnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ApiOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    auto server = ApiServer::Start(options, SharedStore::Get(), {});
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }

  // Sends `bytes` on a new connection and expects one 400 / 4005 answer whose
  // message contains `names`, then the connection closed (nothing answered after).
  void ExpectRefused(const std::string& bytes, const std::string& names) {
    SCOPED_TRACE(bytes);
    HttpClient client(server_->port());
    client.WriteRaw(bytes);
    auto r = client.Read();
    ASSERT_TRUE(r) << "closed without an answer";
    auto json = ExpectEnvelope(*r, 400, 4005);
    EXPECT_NE(Str((*json)["message"]).find(names), std::string::npos) << Str((*json)["message"]);
    EXPECT_FALSE(r->keep_alive);
    if (bytes.find(" HTTP/1.0\r\n") == std::string::npos) {
      EXPECT_EQ(r->header("connection"), "close");
    }
    EXPECT_TRUE(client.ClosedByServer()) << "a second answer came: the body was read as a request";
  }

  HttpResult Answer(const std::string& bytes) {
    HttpClient client(server_->port());
    client.WriteRaw(bytes);
    auto r = client.Read();
    if (!r) throw std::runtime_error("no answer");
    return *r;
  }

  std::unique_ptr<ApiServer> server_;
};

// A request whose body is itself a request: if the server misreads the framing,
// the smuggled GET gets a second answer.
std::string Smuggling(const std::string& transfer_encoding) {
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  return "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + transfer_encoding + "\r\n\r\n" + smuggled;
}

// ---- item 10: Transfer-Encoding ------------------------------------------------------

TEST_F(ApiStrictnessTest, TransferEncodingOtherThanAFinalChunkedIsRefused) {
  for (const std::string te : {"chunked, identity", "xchunked", "identity", "gzip, chunked", "chunked;q=1",
                               "CHUNKED , gzip", "identity, chunked, identity"}) {
    ExpectRefused(Smuggling(te), "Transfer-Encoding");
  }
  // Two Transfer-Encoding fields, and Transfer-Encoding with Content-Length: Beast refuses them.
  ExpectRefused("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\n\r\n",
                "malformed");
  ExpectRefused("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\n\r\n",
                "malformed");
  // On HTTP/1.0 a Transfer-Encoding is refused whatever it says.
  ExpectRefused("POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.0");
}

TEST_F(ApiStrictnessTest, ChunkedBodiesStillWork) {
  const std::string body = R"({"annotationRequestId":"req-1","pageSize":2})";
  std::ostringstream chunked;
  chunked << "POST /statistics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
          << std::hex << 10 << "\r\n" << body.substr(0, 10) << "\r\n"
          << std::hex << body.size() - 10 << "\r\n" << body.substr(10) << "\r\n0\r\n\r\n";
  HttpClient client(server_->port());
  client.WriteRaw(chunked.str());
  auto r = client.Read();
  ASSERT_TRUE(r);
  auto json = ExpectEnvelope(*r, 200, 2000);
  EXPECT_EQ((*json)["data"].get_array().value().size(), 2u);
  EXPECT_TRUE(r->keep_alive);
  EXPECT_EQ(client.Get("/healthz").status, 200);  // the connection goes on
}

// ---- item 11: Host, absolute form, obs-fold, malformed framing -----------------------

TEST_F(ApiStrictnessTest, Http11WithoutExactlyOneHostIsRefused) {
  ExpectRefused("GET /healthz HTTP/1.1\r\n\r\n", "Host");
  ExpectRefused("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "Host");
  // HTTP/1.0 did not require it.
  EXPECT_EQ(Answer("GET /healthz HTTP/1.0\r\n\r\n").status, 200);
}

TEST_F(ApiStrictnessTest, AbsoluteFormTargetsAreRoutedOnTheirPath) {
  const std::string host = "127.0.0.1:" + std::to_string(server_->port());
  auto health = Answer("GET http://" + host + "/healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  auto stats = Answer("GET HTTP://" + host + "/statistics?annotationRequestId=req-1&pageSize=3 HTTP/1.1\r\nHost: " +
                      host + "\r\n\r\n");
  auto json = ExpectEnvelope(stats, 200, 2000);
  EXPECT_EQ((*json)["data"].get_array().value().size(), 3u);
  EXPECT_EQ(stats.header("x-total-count"), "25");
  ExpectEnvelope(Answer("GET http://" + host + "/nope HTTP/1.1\r\nHost: x\r\n\r\n"), 404, 4004);
  // No path: "/", the status page.
  auto root = Answer("GET http://" + host + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(root.status, 200);
  EXPECT_TRUE(root.body.starts_with("<!DOCTYPE html>")) << root.body.substr(0, 200);
}

TEST_F(ApiStrictnessTest, ObsFoldIsRefused) {
  ExpectRefused("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", "folding");
  ExpectRefused("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n\tb\r\n\r\n", "folding");
  ExpectRefused("GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n", "folding");  // whitespace before the first field
}

TEST_F(ApiStrictnessTest, MalformedFramingIsAnswered400BeforeTheClose) {
  ExpectRefused("GET /healthz HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", "malformed");
  ExpectRefused("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                "malformed");
  ExpectRefused("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", "malformed");
  ExpectRefused("POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                "malformed");
  ExpectRefused("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", "malformed");
  // The server still serves well-formed requests on other connections.
  EXPECT_EQ(Answer("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
}

TEST(ApiFramingTest, SplitTargetTakesOriginAndAbsoluteForms) {
  auto parts = [](std::string_view t) {
    const TargetParts p = SplitTarget(t);
    return std::string(p.path) + "|" + std::string(p.query);
  };
  EXPECT_EQ(parts("/statistics?a=1"), "/statistics|a=1");
  EXPECT_EQ(parts("/statistics?a=1#frag"), "/statistics|a=1");
  EXPECT_EQ(parts("http://h:80/statistics?a=1"), "/statistics|a=1");
  EXPECT_EQ(parts("https://h/x"), "/x|");
  EXPECT_EQ(parts("http://h"), "/|");
  EXPECT_EQ(parts("http://h?q"), "/|q");
  EXPECT_EQ(parts("ftp://h/x"), "ftp://h/x|");
}

}  // namespace
}  // namespace tally::testing
