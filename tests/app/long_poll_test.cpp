// Long polls through `tally serve` as a process: a held request woken by an
// event produced to Kafka (the store's change listener wired to the server),
// and SIGTERM answering held requests 304 at once with exit code 0.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <regex>

#include "ingest/dev_broker.h"
#include "ingest/event_json.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_broker.h"

namespace tally {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

// One request on its own connection, answered whenever the server answers.
class Poll {
 public:
  Poll(uint16_t port, const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers)
      : stream_(io_) {
    stream_.expires_after(90s);
    stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::empty_body> request(http::verb::get, target, 11);
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    http::write(stream_, request);
  }
  // The answer; status 0 if none came within `timeout`.
  http::response<http::string_body> Read(std::chrono::seconds timeout) {
    stream_.expires_after(timeout);
    http::response<http::string_body> response;
    beast::flat_buffer buffer;
    beast::error_code ec;
    http::read(stream_, buffer, response, ec);
    if (ec) response.result(0);
    return response;
  }

 private:
  asio::io_context io_;
  beast::tcp_stream stream_;
};

std::string Header(const http::response<http::string_body>& r, std::string_view name) {
  auto it = r.find(beast::string_view(name.data(), name.size()));
  return it == r.end() ? std::string() : std::string(it->value());
}

class LongPollServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::BrokerWithTopic(2);
    ASSERT_TRUE(broker_);
    tally_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{TALLY_BINARY, "serve", "--brokers", broker_->bootstrap(), "--data-dir",
                                 dir_ / "data", "--listen", "127.0.0.1:0", "--batch-wait-ms", "20", "--memory-mb",
                                 "64"},
        dir_ / "serve.log");
    auto port = tally_->WaitForOutput("serving http://127\\.0\\.0\\.1:([0-9]+)", 20s);
    ASSERT_TRUE(port) << tally_->Output();
    port_ = static_cast<uint16_t>(std::stoi(*port));
  }

  void Produce(uint64_t id, const std::string& request) {
    TaskAction a;
    a.id = Id(id);
    a.annotation_request_id = request;
    a.campaign_id = "camp";
    a.task_id = Id(id);
    a.created_time = Timestamp{1'743'494'400'000};
    std::string json;
    AppendEventJson(a, &json);
    testing::TestProducer producer(broker_->bootstrap());
    producer.Send("task-actions", testing::Message{0, request, json});
    producer.Flush();
  }

  // The ETag of /statistics for `request` once it has `tasks` tasks (bounded wait).
  std::string WaitForTag(const std::string& request, int tasks) {
    std::string tag;
    testing::WaitFor(
        [&] {
          Poll p(port_, "/statistics?annotationRequestId=" + request, {});
          auto r = p.Read(5s);
          if (r.result_int() != 200 || Header(r, "X-Total-Count") != std::to_string(tasks)) return false;
          tag = Header(r, "ETag");
          return true;
        },
        30s);
    return tag;
  }

  testing::TempDir dir_;
  std::unique_ptr<DevBroker> broker_;
  std::unique_ptr<ChildProcess> tally_;
  uint16_t port_ = 0;
};

TEST_F(LongPollServeTest, AnEventOfTheRequestWakesItsPollWith200) {
  Produce(1, "r1");
  const std::string tag = WaitForTag("r1", 1);
  ASSERT_FALSE(tag.empty()) << tally_->Output();
  Poll held(port_, "/statistics?annotationRequestId=r1", {{"If-None-Match", tag}, {"Prefer", "wait=60"}});
  ASSERT_TRUE(testing::WaitFor(
      [&] { return testing::HttpGet(port_, "/metrics").body.find("\ntally_http_waiters 1\n") != std::string::npos; },
      20s));
  const auto start = std::chrono::steady_clock::now();
  Produce(2, "r1");
  auto r = held.Read(60s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);  // woken, not timed out
  EXPECT_EQ(r.result_int(), 200u);
  EXPECT_EQ(Header(r, "Preference-Applied"), "wait=60");
  EXPECT_EQ(Header(r, "X-Total-Count"), "2");
  EXPECT_NE(Header(r, "ETag"), tag);
  tally_->Signal(SIGTERM);
  EXPECT_TRUE(testing::ExitedWith(tally_->Wait(20s), 0)) << tally_->Output();
}

TEST_F(LongPollServeTest, SigtermAnswersHeldPollsWith304AndExitsZero) {
  Produce(1, "r1");
  const std::string tag = WaitForTag("r1", 1);
  ASSERT_FALSE(tag.empty()) << tally_->Output();
  std::vector<std::unique_ptr<Poll>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Poll>(port_, "/statistics?annotationRequestId=r1",
                                          std::vector<std::pair<std::string, std::string>>{
                                              {"If-None-Match", tag}, {"Prefer", "wait=60"}}));
  }
  ASSERT_TRUE(testing::WaitFor(
      [&] { return testing::HttpGet(port_, "/metrics").body.find("\ntally_http_waiters 3\n") != std::string::npos; },
      20s));
  const auto start = std::chrono::steady_clock::now();
  tally_->Signal(SIGTERM);
  for (auto& poll : held) {
    auto r = poll->Read(30s);
    EXPECT_EQ(r.result_int(), 304u);
    EXPECT_EQ(Header(r, "ETag"), tag);
    EXPECT_EQ(Header(r, "Preference-Applied"), "wait=60");
    EXPECT_TRUE(r.body().empty());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);  // not the 60 s of the wait
  EXPECT_TRUE(testing::ExitedWith(tally_->Wait(20s), 0)) << tally_->Output();
}

}  // namespace
}  // namespace tally
