// The server flooded (issue 9, "Flooded clients must not take it down"): more
// connections than its cap, more than its file descriptors, more heavy queries
// than its query threads. Whatever the flood, the operations endpoints answer.
// Behaviour is checked structurally (who is closed, who answers, what is
// logged); the latency figures are in bench/http/heavy_query_bench.sh.

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "api/server.h"
#include "tests/api/api_test_support.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace tally::testing {
namespace {

using namespace std::chrono_literals;

// A gate that the first `to_block` business requests wait at while they read
// the lag (the first thing a business answer reads, on a query thread); later
// ones (the 503 answers read it too, on an I/O thread) pass.
struct LagGate {
  explicit LagGate(int n) : to_block(n) {}
  std::mutex mutex;
  std::condition_variable changed;
  int to_block;
  bool closed = true;
  int waiting = 0;

  int64_t Pass() {
    std::unique_lock lock(mutex);
    if (!closed || to_block == 0) return 0;
    --to_block;
    ++waiting;
    changed.notify_all();
    changed.wait(lock, [this] { return !closed; });
    --waiting;
    return 0;
  }
  bool WaitForWaiting(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return waiting >= n; });
  }
  void Open() {
    {
      std::lock_guard lock(mutex);
      closed = false;
    }
    changed.notify_all();
  }
};

std::unique_ptr<ApiServer> StartServer(ApiOptions options, IngestSource ingest = {}) {
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  auto server = ApiServer::Start(options, SharedStore::Get(), std::move(ingest));
  EXPECT_TRUE(server) << server.error().ToString();
  return server ? std::move(*server) : nullptr;
}

// The value of an unlabelled metric on /metrics, -1 if absent.
int64_t Metric(uint16_t port, const std::string& name) {
  const std::string body = HttpClient(port).Get("/metrics").body;
  std::smatch m;
  if (!std::regex_search(body, m, std::regex("\n" + name + " (-?[0-9]+)\n"))) return -1;
  return std::stoll(m[1]);
}

// ---- item 6: the connection cap ------------------------------------------------------

// How many of `clients` the server has closed, waiting up to `timeout` for at
// least `at_least` of them (without reading: a closed one polls readable, and
// a peek reads nothing).
size_t ClosedCount(std::vector<std::unique_ptr<HttpClient>>& clients, size_t at_least,
                   std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t closed = 0;
    for (auto& c : clients) {
      pollfd p{c->socket().native_handle(), POLLIN, 0};
      char byte;
      closed += ::poll(&p, 1, 0) > 0 && ::recv(p.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
    }
    if (closed >= at_least || std::chrono::steady_clock::now() > deadline) return closed;
    std::this_thread::sleep_for(10ms);
  }
}

TEST(ApiOverloadTest, AtTheCapTheLongestIdleConnectionMakesRoom) {
  ApiOptions options;
  options.max_connections = 20;
  auto server = StartServer(options);
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  // 20 idle keep-alive connections, each answered once: ten older, ten newer.
  std::vector<std::unique_ptr<HttpClient>> older, newer;
  for (auto* group : {&older, &newer}) {
    for (int i = 0; i < 10; ++i) {
      group->push_back(std::make_unique<HttpClient>(port));
      ASSERT_EQ(group->back()->Get("/healthz").status, 200) << i;
    }
    std::this_thread::sleep_for(200ms);
  }
  // A new client at the cap is served, and one of the longest-idle connections closed.
  HttpClient probe(port);
  auto r = probe.Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(ClosedCount(older, 1, 5s), 1u);
  EXPECT_EQ(ClosedCount(newer, 0, 0ms), 0u);
  // Each newcomer makes room the same way; the other ops endpoints answer too.
  EXPECT_EQ(HttpClient(port).Get("/readyz").status, 503);  // answered: no consumer here
  EXPECT_EQ(ClosedCount(older, 2, 5s), 2u);
  EXPECT_EQ(newer.back()->Get("/healthz").status, 200);
  EXPECT_EQ(probe.Get("/healthz").status, 200);
  EXPECT_GE(Metric(port, "tally_http_connections_evicted_total"), 2);
  EXPECT_EQ(Metric(port, "tally_http_connections_refused_total"), 0);
  EXPECT_EQ(ClosedCount(newer, 0, 0ms), 0u);
  server->Stop();
}

TEST(ApiOverloadTest, AtTheCapWithEveryConnectionAnsweringProbesStillGetIn) {
  // Two connections, both with a query in flight (not idle, so not closed): a
  // probe gets one of the reserve connections, which answer the operations
  // endpoints (and 503 to business requests) and close.
  LagGate gate(2);
  ApiOptions options;
  options.max_connections = 2;
  options.response_cache_entries = 0;
  options.query_threads = 2;
  auto server = StartServer(options, IngestSource{[&gate] { return gate.Pass(); }, {}});
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  HttpClient a(port), b(port);
  a.WriteRaw("GET /statistics?annotationRequestId=req-1 HTTP/1.1\r\nHost: x\r\n\r\n");
  b.WriteRaw("GET /statistics?annotationRequestId=req-1 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(gate.WaitForWaiting(2));
  HttpClient probe(port);
  auto health = probe.Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_FALSE(health.keep_alive);
  HttpClient business(port);
  auto refused = business.Get("/statistics?annotationRequestId=req-1");
  ExpectEnvelope(refused, 503, 5000);
  EXPECT_EQ(refused.header("retry-after"), "1");
  gate.Open();
  auto ra = a.Read(), rb = b.Read();
  ASSERT_TRUE(ra && rb);
  EXPECT_EQ(ra->status, 200);
  EXPECT_EQ(rb->status, 200);
  server->Stop();
}

// ---- item 7: heavy queries -------------------------------------------------------------

TEST(ApiOverloadTest, QueriesWaitInABoundedQueueAndNeverHoldTheOperationsEndpoints) {
  LagGate gate(1);
  ApiOptions options;
  options.response_cache_entries = 0;  // every business request needs a query
  options.query_threads = 1;
  options.query_queue = 1;
  auto server = StartServer(options, IngestSource{[&gate] { return gate.Pass(); }, {}});
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  // One query runs (blocked at the gate), one waits in the queue.
  HttpClient running(port), queued(port);
  running.WriteRaw("GET /statistics?annotationRequestId=req-1 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(gate.WaitForWaiting(1));
  queued.WriteRaw("GET /statistics/record?annotationRequestId=req-1 HTTP/1.1\r\nHost: x\r\n\r\n");
  bool waiting = false;
  for (int i = 0; i < 200 && !waiting; ++i) {
    waiting = Metric(port, "tally_http_queries_in_flight") == 2;
    if (!waiting) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(waiting);
  // The operations endpoints answer at once, on the I/O threads.
  for (int i = 0; i < 10; ++i) {
    HttpClient ops(port);
    EXPECT_EQ(ops.Get("/healthz").status, 200);
    EXPECT_EQ(ops.Get("/metrics").status, 200);
  }
  // The next business request finds the queue full: 503, 5000, Retry-After,
  // and its connection stays usable.
  HttpClient late(port);
  auto r = late.Get("/statistics?annotationRequestId=req-1", {{"X-Request-Id", "late-1"}});
  auto json = ExpectEnvelope(r, 503, 5000);
  EXPECT_EQ(Str((*json)["message"]), "Service hiccuped, please try again later.");
  EXPECT_EQ(Str((*json)["requestId"]), "late-1");
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(late.Get("/healthz").status, 200);
  EXPECT_EQ(Metric(port, "tally_http_queries_rejected_total"), 1);
  // Released, both queued answers arrive.
  gate.Open();
  auto first = running.Read();
  auto second = queued.Read();
  ASSERT_TRUE(first && second);
  ExpectEnvelope(*first, 200, 2000);
  ExpectEnvelope(*second, 200, 2000);
  EXPECT_EQ(late.Get("/statistics?annotationRequestId=req-1").status, 200);
  server->Stop();
}

// ---- item 5: out of file descriptors ----------------------------------------------

// The CPU time (user + system) of a process so far, seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

size_t CountLines(const std::string& text, const std::string& needle) {
  size_t n = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) n += line.find(needle) != std::string::npos;
  return n;
}

TEST(ApiOverloadTest, OutOfFileDescriptorsBacksOffLogsRarelyAndStillAnswers) {
  TempDir dir;
  ChildProcess server({API_TEST_SERVER, dir.path() + "/store", "--max-fds", "96"}, dir.path() + "/server.log");
  const auto port_text = server.WaitForOutput("port ([0-9]+)", 20s);
  ASSERT_TRUE(port_text) << server.Output();
  const auto port = static_cast<uint16_t>(std::stoi(*port_text));
  ASSERT_EQ(HttpClient(port).Get("/healthz").status, 200);

  // Three times more connections than the server has descriptors, all silent:
  // the kernel queues what the server cannot accept.
  asio::io_context ioc;
  std::vector<tcp::socket> flood;
  for (int i = 0; i < 300; ++i) {
    flood.emplace_back(ioc);
    flood.back().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  std::this_thread::sleep_for(300ms);
  const double cpu_before = CpuSeconds(server.pid());
  std::this_thread::sleep_for(2s);
  const double cpu = CpuSeconds(server.pid()) - cpu_before;
  // Spinning on accept would burn a whole core: ~2 s of CPU in these 2 s.
  EXPECT_LT(cpu, 0.5) << "the accept loop spins";

  // A probe gets an answer while the flood is still connected: idle connections
  // are closed to make room (each 50 ms, a few), the queue drains to the probe.
  bool answered = false;
  for (int attempt = 0; attempt < 3 && !answered; ++attempt) {
    try {
      HttpClient probe(port, 15);
      answered = probe.Get("/healthz").status == 200;
    } catch (const std::exception&) {
    }
  }
  EXPECT_TRUE(answered);
  const std::string log = server.Output();
  const size_t accept_lines = CountLines(log, "accept failed");
  EXPECT_GE(accept_lines, 1u) << "the failures are logged";
  EXPECT_LE(accept_lines, 40u) << "at most one line a second";
  EXPECT_NE(log.find("failures since the last such line"), std::string::npos);
  flood.clear();
  EXPECT_EQ(HttpClient(port).Get("/healthz").status, 200);
  EXPECT_GT(Metric(port, "tally_http_accept_failures_total"), 0);
  EXPECT_GT(Metric(port, "tally_http_connections_evicted_total"), 0);
  server.Signal(SIGTERM);
  EXPECT_TRUE(ExitedWith(server.Wait(20s), 0));
}

TEST(ApiOverloadTest, StartRaisesTheSoftOpenFileLimitToTheHardOne) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max <= 512) {
    GTEST_SKIP() << "the hard open-file limit (" << limit.rlim_max << ") leaves nothing to raise";
  }
  const rlimit lowered{256, limit.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  auto server = StartServer(ApiOptions{});
  ASSERT_TRUE(server);
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_GT(now.rlim_cur, 256u);
  if (limit.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(now.rlim_cur, limit.rlim_max);
  }
  server->Stop();
}

}  // namespace
}  // namespace tally::testing
