// Long polls and conditional requests at scale (bench/http/README.md, issue 12):
//
//   long_poll_bench [--waiters N] [--requests R] [--wakes W] [--probes P]
//       forks a server (a store of R requests, ApiServer with --max-waiters N and
//       room for N + 1000 connections, long polls woken by the store) and, in the
//       parent, a client on one thread that:
//         1. measures /healthz and an ordinary /statistics query (P sequential
//            requests each, one connection): p50/p99 at idle;
//         2. parks N long polls (If-None-Match + Prefer: wait=60), spread evenly
//            over the R requests, and waits until tally_http_waiters says N;
//         3. reports the server's RSS growth (VmRSS before the polls and with them held);
//         4. measures /healthz and the query again while they are held;
//         5. applies W records, one at a time, each to another request, and
//            measures for every woken poll the time from the apply (Store::Apply
//            returned in the server; both processes read CLOCK_MONOTONIC) to its
//            200 arriving; each woken poll is parked again with its new tag.
//   long_poll_bench serve [--requests R]
//       serves such a store and prints "port P", "target T" and "etag E" (the
//       current tag of T), for wrk (not_modified_bench.sh); stops on SIGTERM.
//
// The open-file limit: each process raises its soft limit to the hard one
// (N connections need N descriptors on each side; `ulimit -Hn` must exceed N + 1100).

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aggregate/store.h"
#include "bench/csv_out.h"
#include "api/server.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace tally;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

int64_t NowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

std::string RequestName(size_t i) { return "req-" + std::to_string(i); }

TaskAction Record(uint64_t id, size_t request, uint64_t task) {
  TaskAction a;
  a.id = Id(id);
  a.annotation_request_id = RequestName(request);
  a.campaign_id = "camp";
  a.task_id = Id(task);
  a.scene_id = "scene-" + std::to_string(task);
  a.project_id = Id(7);
  a.created_time = Timestamp{1'743'494'400'000 + static_cast<int64_t>(id)};
  a.instance_info = InstanceInfo{{"box", 1}};
  return a;
}

void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The store: R requests of 20 tasks, 2 records each.
std::unique_ptr<Store> LoadStore(const std::string& dir, size_t requests, uint64_t* next_id) {
  auto store = Store::Open(StoreOptions{dir, size_t{128} << 20, false, {}});
  if (!store) {
    std::fprintf(stderr, "long_poll_bench: %s\n", store.error().ToString().c_str());
    std::exit(1);
  }
  uint64_t id = 1;
  std::vector<TaskAction> batch;
  for (size_t r = 0; r < requests; ++r) {
    for (uint64_t t = 1; t <= 20; ++t) {
      batch.push_back(Record(id++, r, t));
      batch.push_back(Record(id++, r, t));
    }
    if (batch.size() >= 4000 || r + 1 == requests) {
      if (!(*store)->Apply(ApplyBatch{batch, {}, "t", {}})) std::exit(1);
      batch.clear();
    }
  }
  *next_id = id;
  return std::move(*store);
}

std::unique_ptr<ApiServer> StartServer(Store* store, size_t waiters) {
  ApiOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  options.max_waiters = waiters;
  options.max_connections = waiters + 1000;
  auto server = ApiServer::Start(options, store, IngestSource{});
  if (!server) {
    std::fprintf(stderr, "long_poll_bench: %s\n", server.error().ToString().c_str());
    std::exit(1);
  }
  store->SetChangeListener([s = server->get()](std::span<const std::string> r) { s->RequestsChanged(r); });
  return std::move(*server);
}

// The server process: port out on `out`; "apply K" lines in on `in`, each
// answered "K BEFORE_NS AFTER_NS".
[[noreturn]] void RunServer(int in, int out, size_t requests, size_t waiters) {
  RaiseFileLimit();
  testing::TempDir dir;
  uint64_t next_id = 0;
  auto store = LoadStore(dir.path(), requests, &next_id);
  auto server = StartServer(store.get(), waiters);
  FILE* to = fdopen(out, "w");
  std::fprintf(to, "%u\n", server->port());
  std::fflush(to);
  FILE* from = fdopen(in, "r");
  char line[64];
  while (std::fgets(line, sizeof(line), from)) {
    size_t request = 0;
    if (std::sscanf(line, "apply %zu", &request) != 1) break;
    const uint64_t id = next_id++;
    std::vector<TaskAction> one = {Record(id, request, 1000 + id)};
    const int64_t before = NowNs();
    if (!store->Apply(ApplyBatch{one, {}, "t", {}})) std::exit(1);
    const int64_t after = NowNs();
    std::fprintf(to, "%zu %lld %lld\n", request, static_cast<long long>(before), static_cast<long long>(after));
    std::fflush(to);
  }
  store->SetChangeListener(nullptr);
  server->Stop();
  std::_Exit(0);
}

// A blocking client on one connection (probes, /metrics, tags).
class Probe {
 public:
  explicit Probe(uint16_t port) : socket_(io_) { socket_.connect({asio::ip::make_address("127.0.0.1"), port}); }
  http::response<http::string_body> Get(const std::string& target,
                                        const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [n, v] : headers) req.set(n, v);
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    return res;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Sequential requests on one connection: p50 and p99 in ms.
std::pair<double, double> Latency(Probe& probe, const std::string& target, int n) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    auto r = probe.Get(target);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (r.result_int() != 200) std::fprintf(stderr, "probe %s: %u\n", target.c_str(), r.result_int());
  }
  return {Percentile(ms, 0.5), Percentile(ms, 0.99)};
}

long RssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double Metric(Probe& probe, const std::string& name) {
  const std::string body = probe.Get("/metrics").body();
  const size_t at = body.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(body.substr(at + name.size() + 2));
}

// One held poll: its connection, parked again after each answer.
struct Poller {
  Poller(asio::io_context& io, size_t r) : socket(io), request(r) {}
  tcp::socket socket;
  size_t request;
  std::string wire;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;
};

class Polls {
 public:
  Polls(uint16_t port, size_t requests) : port_(port), requests_(requests), tags_(requests) {}

  void SetTag(size_t request, std::string tag) { tags_[request] = std::move(tag); }

  void Open(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      auto p = std::make_unique<Poller>(io_, i % requests_);
      p->socket.connect({asio::ip::make_address("127.0.0.1"), port_});
      Send(*p);
      pollers_.push_back(std::move(p));
    }
  }

  // Runs the client until `count` answers came back (or `timeout`); each
  // answer's arrival time (ns) goes to `arrivals` by request.
  void Run(size_t count, std::chrono::seconds timeout, std::vector<std::pair<size_t, int64_t>>* arrivals) {
    arrivals_ = arrivals;
    wanted_ = count;
    io_.restart();
    io_.run_for(timeout);
  }
  void Poll() {
    io_.restart();
    io_.poll();
  }
  size_t errors() const { return errors_; }

 private:
  void Send(Poller& p) {
    p.wire = "GET /statistics?annotationRequestId=" + RequestName(p.request) +
             " HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: " + tags_[p.request] + "\r\nPrefer: wait=60\r\n\r\n";
    asio::async_write(p.socket, asio::buffer(p.wire), [this, &p](beast::error_code ec, size_t) {
      if (ec) {
        ++errors_;
        return;
      }
      p.parser.emplace();
      p.parser->body_limit(1 << 20);
      http::async_read(p.socket, p.buffer, *p.parser, [this, &p](beast::error_code ec2, size_t) { OnAnswer(p, ec2); });
    });
  }

  void OnAnswer(Poller& p, beast::error_code ec) {
    const int64_t now = NowNs();
    if (ec) {
      ++errors_;
      return;
    }
    auto& res = p.parser->get();
    if (res.result_int() == 200) {
      tags_[p.request] = std::string(res[http::field::etag]);
      if (arrivals_) arrivals_->emplace_back(p.request, now);
    }
    Send(p);  // parked again
    if (arrivals_ && arrivals_->size() >= wanted_) io_.stop();
  }

  asio::io_context io_;
  uint16_t port_;
  size_t requests_;
  std::vector<std::string> tags_;
  std::vector<std::unique_ptr<Poller>> pollers_;
  std::vector<std::pair<size_t, int64_t>>* arrivals_ = nullptr;
  size_t wanted_ = 0;
  size_t errors_ = 0;
};

int RunBench(size_t waiters, size_t requests, size_t wakes, int probes) {
  RaiseFileLimit();
  int to_server[2], from_server[2];
  if (pipe(to_server) != 0 || pipe(from_server) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    close(to_server[1]);
    close(from_server[0]);
    RunServer(to_server[0], from_server[1], requests, waiters);
  }
  close(to_server[0]);
  close(from_server[1]);
  FILE* from = fdopen(from_server[0], "r");
  FILE* to = fdopen(to_server[1], "w");
  unsigned port = 0;
  if (std::fscanf(from, "%u", &port) != 1) return 1;

  Probe probe(static_cast<uint16_t>(port));
  const std::string query = "/statistics?annotationRequestId=" + RequestName(requests / 2) + "&pageSize=5";
  Latency(probe, "/healthz", 200);  // warm up
  Latency(probe, query, 200);
  const auto idle_health = Latency(probe, "/healthz", probes);
  const auto idle_query = Latency(probe, query, probes);
  const long rss_before = RssKib(child);

  Polls polls(static_cast<uint16_t>(port), requests);
  for (size_t r = 0; r < requests; ++r) {
    polls.SetTag(r, std::string(probe.Get("/statistics?annotationRequestId=" + RequestName(r))[http::field::etag]));
  }
  const auto open_start = Clock::now();
  polls.Open(waiters);
  double held = 0;
  for (int i = 0; i < 600 && held < static_cast<double>(waiters); ++i) {
    polls.Poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    held = Metric(probe, "tally_http_waiters");
  }
  const double open_seconds = std::chrono::duration<double>(Clock::now() - open_start).count();
  const long rss_held = RssKib(child);
  const auto held_health = Latency(probe, "/healthz", probes);
  const auto held_query = Latency(probe, query, probes);

  // Wake-ups: one apply at a time, to a different request each time.
  std::vector<double> wake_ms, wake_ms_from_start;
  const size_t per_request = waiters / requests;
  for (size_t w = 0; w < wakes; ++w) {
    const size_t request = (w * 7919) % requests;
    std::fprintf(to, "apply %zu\n", request);
    std::fflush(to);
    std::vector<std::pair<size_t, int64_t>> arrivals;
    // The apply's times come back on the pipe while the answers arrive.
    polls.Run(per_request, std::chrono::seconds(10), &arrivals);
    size_t applied = 0;
    long long before = 0, after = 0;
    if (std::fscanf(from, "%zu %lld %lld", &applied, &before, &after) != 3) return 1;
    for (const auto& [r, at] : arrivals) {
      wake_ms.push_back(static_cast<double>(at - after) / 1e6);
      wake_ms_from_start.push_back(static_cast<double>(at - before) / 1e6);
    }
  }
  const double held_after = Metric(probe, "tally_http_waiters");

  std::printf("long polls held: %.0f of %zu over %zu requests (opened in %.1f s); errors %zu\n", held, waiters,
              requests, open_seconds, polls.errors());
  std::printf("server RSS: %.1f MiB before, %.1f MiB with them held: growth %.1f MiB\n", rss_before / 1024.0,
              rss_held / 1024.0, (rss_held - rss_before) / 1024.0);
  std::printf("/healthz p50/p99 ms: idle %.3f / %.3f, held %.3f / %.3f (p99 ratio %.2f)\n", idle_health.first,
              idle_health.second, held_health.first, held_health.second, held_health.second / idle_health.second);
  std::printf("/statistics p50/p99 ms: idle %.3f / %.3f, held %.3f / %.3f (p99 ratio %.2f)\n", idle_query.first,
              idle_query.second, held_query.first, held_query.second, held_query.second / idle_query.second);
  std::printf("wake-ups: %zu answers for %zu applies; from Apply returned p50 %.2f p99 %.2f max %.2f ms; "
              "from Apply called p99 %.2f ms\n",
              wake_ms.size(), wakes, Percentile(wake_ms, 0.5), Percentile(wake_ms, 0.99),
              wake_ms.empty() ? 0 : *std::max_element(wake_ms.begin(), wake_ms.end()),
              Percentile(wake_ms_from_start, 0.99));
  std::printf("held after the wake-ups: %.0f\n", held_after);
  {
    // As CSV and SVG (bench/csv_out.h): each probe with the polls held beside idle.
    bench::CsvOut csv("long_poll_bench_latency", "endpoint,percentile,tally_ms,idle_ms");
    csv.Latency("/healthz polls held", "p50", held_health.first, idle_health.first);
    csv.Latency("/healthz polls held", "p99", held_health.second, idle_health.second);
    csv.Latency("/statistics polls held", "p50", held_query.first, idle_query.first);
    csv.Latency("/statistics polls held", "p99", held_query.second, idle_query.second);
    csv.Latency("wake-up after Apply", "p50", Percentile(wake_ms, 0.5), -1);
    csv.Latency("wake-up after Apply", "p99", Percentile(wake_ms, 0.99), -1);
  }
  std::fclose(to);
  int status = 0;
  kill(child, SIGTERM);
  waitpid(child, &status, 0);
  return 0;
}

int RunServe(size_t requests) {
  RaiseFileLimit();
  testing::TempDir dir;
  uint64_t next_id = 0;
  auto store = LoadStore(dir.path(), requests, &next_id);
  auto server = StartServer(store.get(), kDefaultMaxWaiters);
  const std::string target = "/statistics?annotationRequestId=" + RequestName(requests / 2) + "&pageSize=10";
  Probe probe(server->port());
  std::printf("port %u\ntarget %s\netag %s\n", server->port(), target.c_str(),
              std::string(probe.Get(target)[http::field::etag]).c_str());
  std::fflush(stdout);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  int signal = 0;
  sigwait(&stop, &signal);
  store->SetChangeListener(nullptr);
  server->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  size_t waiters = 10000, requests = 1000, wakes = 200;
  int probes = 2000;
  bool serve = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&] { return i + 1 < argc ? std::stoul(argv[++i]) : 0ul; };
    if (arg == "serve") serve = true;
    else if (arg == "--waiters") waiters = next();
    else if (arg == "--requests") requests = next();
    else if (arg == "--wakes") wakes = next();
    else if (arg == "--probes") probes = static_cast<int>(next());
    else {
      std::fprintf(stderr, "usage: long_poll_bench [serve] [--waiters N] [--requests R] [--wakes W] [--probes P]\n");
      return 2;
    }
  }
  if (serve) {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before the server's threads exist
    return RunServe(requests);
  }
  return RunBench(waiters, requests, wakes, probes);
}
