// Positions end to end (docs/http-api.md "Positions"): `tally serve` processes
// on an embedded broker the test hosts. One replica: a request ahead of it
// waits for ingestion and is answered once the event it needs is produced
// (after the request was sent). Two replicas, each with its own consumer group,
// behind nginx (round-robin; a child process with a generated config in a temp
// dir): with one replica paused (SIGSTOP) while events are produced, a poller
// that does not send positions back sees the record count go down, and one that
// sends back the last X-Tally-Position it got never does.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <thread>

#include "api/position.h"
#include "ingest/dev_broker.h"
#include "tests/api/http_client.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_broker.h"

namespace tally {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::HttpClient;
using testing::HttpResult;

constexpr int kPartitions = 2;
constexpr char kRequest[] = "req-lb";

std::string EventJson(int id, int partition_hint) {
  return R"({"id":)" + std::to_string(id) + R"(,"annotationRequestId":")" + kRequest +
         R"(","campaignId":"c-1","taskId":)" + std::to_string(id * 10 + partition_hint) +
         R"(,"poolType":1,"status":1,"actionType":0,"createdTime":"2025-04-01 08:00:00"})";
}

std::string NginxBinary() {
  for (const char* path : {"/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"}) {
    if (std::filesystem::exists(path)) return path;
  }
  return "";
}

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::BrokerWithTopic(kPartitions);
    ASSERT_TRUE(broker_);
  }

  std::unique_ptr<ChildProcess> Serve(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {TALLY_BINARY, "serve", "--brokers", broker_->bootstrap(), "--group",
                                     "group-" + name, "--data-dir", dir_ / name, "--listen", "127.0.0.1:0",
                                     "--batch-wait-ms", "5", "--memory-mb", "64", "--threads", "2",
                                     "--query-threads", "2", "--kafka", "session.timeout.ms=10000",
                                     "--kafka", "fetch.wait.max.ms=20"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(args, dir_ / (name + ".log"));
  }

  static uint16_t PortOf(ChildProcess& child) {
    auto port = child.WaitForOutput("serving http://127\\.0\\.0\\.1:([0-9]+)", 30s);
    return port ? static_cast<uint16_t>(std::stoi(*port)) : 0;
  }

  void Produce(int first_id, int count, int partition) {
    testing::TestProducer producer(broker_->bootstrap());
    for (int id = first_id; id < first_id + count; ++id) {
      producer.Send("task-actions", {partition, kRequest, EventJson(id, partition)});
    }
    producer.Flush();
  }

  static HttpResult Records(uint16_t port, const std::string& min_position = "") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!min_position.empty()) headers.emplace_back("X-Tally-Min-Position", min_position);
    return HttpClient(port, 20).Get(std::string("/statistics/record?annotationRequestId=") + kRequest, headers);
  }

  // The record count of an answer; -1 for anything but a 200.
  static int64_t CountOf(const HttpResult& r) {
    std::smatch m;
    if (r.status != 200 || !std::regex_search(r.body, m, std::regex(R"("count":([0-9]+))"))) return -1;
    return std::stoll(m[1]);
  }

  static bool WaitCount(uint16_t port, int64_t count, std::chrono::seconds timeout) {
    return testing::WaitFor([&] { return CountOf(Records(port)) == count; }, timeout);
  }

  static int64_t Metric(uint16_t port, const std::string& name) {
    const std::string text = HttpClient(port).Get("/metrics").body;
    const size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + name.size() + 2));
  }

  testing::TempDir dir_;
  std::unique_ptr<DevBroker> broker_;
};

TEST_F(ReplicasTest, ARequestAheadIsAnsweredOnceTheEventItNeedsIsProduced) {
  auto tally = Serve("one", {"--position-wait-ms", "20000"});
  const uint16_t port = PortOf(*tally);
  ASSERT_NE(port, 0) << tally->Output();
  Produce(1, 3, 0);
  ASSERT_TRUE(WaitCount(port, 3, 30s)) << tally->Output();
  const HttpResult now = Records(port);
  auto position = ParsePosition(now.header("x-tally-position"), "task-actions");
  ASSERT_TRUE(position) << now.header("x-tally-position");
  ASSERT_FALSE(position->empty());
  EXPECT_EQ(position->front(), (PartitionNext{Partition{0}, Offset{3}}));
  // One more message of partition 1 than it has: the request waits for it.
  const std::vector<PartitionNext> ahead = {{Partition{0}, Offset{3}}, {Partition{1}, Offset{1}}};
  auto answer = std::async(std::launch::async, [&] { return Records(port, EncodePosition("task-actions", ahead)); });
  ASSERT_TRUE(testing::WaitFor([&] { return Metric(port, "tally_http_position_waiters") == 1; }, 20s));
  EXPECT_EQ(answer.wait_for(200ms), std::future_status::timeout);
  Produce(100, 1, 1);
  ASSERT_EQ(answer.wait_for(20s), std::future_status::ready);
  const HttpResult r = answer.get();
  EXPECT_EQ(CountOf(r), 4) << r.body;
  auto answered_at = ParsePosition(r.header("x-tally-position"), "task-actions");
  ASSERT_TRUE(answered_at);
  EXPECT_TRUE(Reaches(*answered_at, ahead));
  tally->Signal(SIGTERM);
  EXPECT_TRUE(testing::ExitedWith(tally->Wait(30s), 0)) << tally->Output();
}

TEST_F(ReplicasTest, ThroughNginxPositionsNeverGoBackAndWithoutThemCountsCan) {
  const std::string nginx = NginxBinary();
  if (nginx.empty()) GTEST_SKIP() << "nginx is not installed (scripts/setup installs it): no load balancer to test";
  auto a = Serve("a", {"--position-wait-ms", "10000"});
  auto b = Serve("b", {"--position-wait-ms", "10000"});
  const uint16_t port_a = PortOf(*a);
  const uint16_t port_b = PortOf(*b);
  ASSERT_NE(port_a, 0) << a->Output();
  ASSERT_NE(port_b, 0) << b->Output();

  // nginx: round-robin over the two, no retries elsewhere (a paused replica's
  // request waits for it), its files in the temp dir; a free port found by
  // binding port 0 first.
  uint16_t port_lb = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port_lb = probe.local_endpoint().port();
  }
  const std::filesystem::path prefix = dir_ / "nginx";
  std::filesystem::create_directories(prefix / "logs");
  const std::filesystem::path conf = prefix / "nginx.conf";
  std::ofstream(conf) << "worker_processes 1;\n"
                      << "error_log " << (prefix / "logs/error.log").string() << " info;\n"
                      << "pid " << (prefix / "nginx.pid").string() << ";\n"
                      << "events { worker_connections 64; }\n"
                      << "http {\n"
                      << "  access_log " << (prefix / "logs/access.log").string() << ";\n"
                      << "  client_body_temp_path " << (prefix / "body").string() << ";\n"
                      << "  proxy_temp_path " << (prefix / "proxy").string() << ";\n"
                      << "  fastcgi_temp_path " << (prefix / "fastcgi").string() << ";\n"
                      << "  uwsgi_temp_path " << (prefix / "uwsgi").string() << ";\n"
                      << "  scgi_temp_path " << (prefix / "scgi").string() << ";\n"
                      << "  upstream tally {\n"
                      << "    server 127.0.0.1:" << port_a << " max_fails=0;\n"
                      << "    server 127.0.0.1:" << port_b << " max_fails=0;\n"
                      << "  }\n"
                      << "  server {\n"
                      << "    listen 127.0.0.1:" << port_lb << ";\n"
                      << "    location / {\n"
                      << "      proxy_pass http://tally;\n"
                      << "      proxy_next_upstream off;\n"
                      << "      proxy_read_timeout 30s;\n"
                      << "    }\n"
                      << "  }\n"
                      << "}\n";
  {
    ChildProcess check({nginx, "-t", "-c", conf.string(), "-p", prefix.string()}, dir_ / "nginx-t.log");
    ASSERT_TRUE(testing::ExitedWith(check.Wait(20s), 0)) << check.Output();
  }
  ChildProcess lb({nginx, "-c", conf.string(), "-p", prefix.string(), "-g", "daemon off;"}, dir_ / "nginx.log");
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        try {
          return HttpClient(port_lb).Get("/healthz").status == 200;
        } catch (const std::exception&) {
          return false;  // not listening yet
        }
      },
      20s))
      << lb.Output();

  Produce(1, 5, 0);
  ASSERT_TRUE(WaitCount(port_a, 5, 30s)) << a->Output();
  ASSERT_TRUE(WaitCount(port_b, 5, 30s)) << b->Output();

  // Each round: B paused, events produced, A has them. A poller then makes two
  // requests in a row through nginx; round-robin sends them to different
  // replicas. When the first lands on A (fresh), the second lands on the
  // paused B, which is resumed once the request waits in its socket: it
  // answers before applying the new events, unless it catches up first — and,
  // given the position A's answer carried, it waits for them. Even rounds poll
  // without positions, odd rounds send back the last one received.
  int64_t expected = 5;
  int next_id = 100;
  int decreases_without = 0, decreases_with = 0, rounds_a_then_b_with = 0;
  std::string last_position;  // the with-positions poller's, across rounds
  for (int round = 0; round < 16 && (decreases_without == 0 || rounds_a_then_b_with < 2); ++round) {
    const bool with_positions = round % 2 == 1;
    b->Signal(SIGSTOP);
    Produce(next_id, 3, round % kPartitions);
    next_id += 3;
    expected += 3;
    ASSERT_TRUE(WaitCount(port_a, expected, 30s)) << a->Output();
    auto poll = [&] { return Records(port_lb, with_positions ? last_position : ""); };
    auto first = std::async(std::launch::async, poll);
    std::vector<HttpResult> answers;
    bool a_then_b = false;
    if (first.wait_for(1s) == std::future_status::ready) {  // on A; the next one goes to B
      answers.push_back(first.get());
      if (with_positions && answers.back().has("x-tally-position")) last_position = answers.back().header("x-tally-position");
      auto second = std::async(std::launch::async, poll);
      std::this_thread::sleep_for(200ms);  // it reaches B's socket
      b->Signal(SIGCONT);
      answers.push_back(second.get());
      a_then_b = true;
    } else {  // on the paused B: resumed, it answers; the next goes to A
      b->Signal(SIGCONT);
      answers.push_back(first.get());
      if (with_positions && answers.back().has("x-tally-position")) last_position = answers.back().header("x-tally-position");
      answers.push_back(poll());
      // One more request through nginx (to B), so that the next round starts on A.
      HttpClient(port_lb).Get("/healthz");
    }
    if (with_positions && answers.back().has("x-tally-position")) last_position = answers.back().header("x-tally-position");
    ASSERT_GE(CountOf(answers[0]), 0) << answers[0].status << " " << answers[0].body;
    ASSERT_GE(CountOf(answers[1]), 0) << answers[1].status << " " << answers[1].body;
    if (CountOf(answers[1]) < CountOf(answers[0])) ++(with_positions ? decreases_with : decreases_without);
    if (with_positions && a_then_b) ++rounds_a_then_b_with;
    ASSERT_TRUE(WaitCount(port_b, expected, 30s)) << b->Output();
  }
  EXPECT_GE(rounds_a_then_b_with, 1) << "no round sent a position from A to the paused B";
  EXPECT_EQ(decreases_with, 0) << "a poller sending back its position saw the count go down";
  EXPECT_GT(decreases_without, 0) << "without positions the paused replica never answered with fewer records";
  lb.Signal(SIGTERM);
  EXPECT_TRUE(lb.Wait(20s).has_value());
  for (auto* replica : {a.get(), b.get()}) {
    replica->Signal(SIGCONT);
    replica->Signal(SIGTERM);
    EXPECT_TRUE(testing::ExitedWith(replica->Wait(30s), 0)) << replica->Output();
  }
}

}  // namespace
}  // namespace tally
