// Freshness: how long after an event reaches Kafka it is visible through tally's
// HTTP API, beside the floor measured in the same run: a bare librdkafka
// consumer's produce -> consumed latency for the same events.
//
// The bench hosts the embedded broker and runs `tally serve` as a child process
// on it (as a deployment would run it, default settings). A background producer
// sends single-event messages at a fixed rate; every ~100 ms a probe event of an
// annotation request of its own is produced (by a producer of its own, linger 0).
// Its time to visible is from just before rd_kafka_producev until the first
// `/statistics/record?annotationRequestId=<probe's>&limit=1` answering 2000
// (polled over one keep-alive connection, every outstanding probe each ~1 ms);
// the floor is from the same instant until a bare consumer in this process
// (tally's fetch settings and poll loop, its own group) takes the probe from its
// queue; the broker's acknowledgement of the probe (its delivery report) is
// printed too, so that a stall before the broker shows as such.
// Set FRESHNESS_DUMP=1 to print each probe's three latencies on stderr.
//
// Rates: 5,000 events/s, then half of tally's maximum ingest rate, measured
// first in the same run (a flood of kFloodEvents, produced no further than
// kFloodWindow events ahead of what /readyz reports applied, so the embedded
// broker, which keeps ~5 MiB a partition, drops nothing) or given.
//
// Usage: freshness_bench [seconds per rate=15] [max ingest events/s=0: measure]
// Every wait is bounded; tally is stopped by PID (SIGTERM, then SIGKILL).

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/csv_out.h"
#include "ingest/consumer.h"
#include "ingest/delivery.h"
#include "ingest/dev_broker.h"
#include "ingest/event_json.h"
#include "ingest/workload.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/support/child_process.h"

namespace {

using namespace tally;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kPartitions = 8;
constexpr const char* kTopic = "task-actions";
// Long enough for memtables to fill and flush and for compactions to run (as
// they do in a sustained load): a burst into empty memtables (its first
// kBurstEvents, printed beside it) overstates what tally sustains.
constexpr uint64_t kFloodEvents = 1'000'000;
constexpr uint64_t kBurstEvents = 200'000;
// ~480 bytes a message: 40,000 messages are ~2.4 MiB a partition on average.
constexpr uint64_t kFloodWindow = 40'000;
constexpr auto kProbeEvery = 100ms;
// Probes all go to one partition, the only one the bare consumer reads.
constexpr int32_t kProbePartition = 0;
// A probe not visible this long after its production counts as lost: the bench fails.
constexpr auto kProbeLimit = 30s;
// Issue 11, item 5: /statistics p99 while tally ingests this many events/s.
constexpr double kQueryIngestRate = 20'000;

// tally's PID while it runs, so that a failure anywhere stops it.
std::atomic<pid_t> g_tally{-1};

[[noreturn]] void Fail(const std::string& why) {
  std::fprintf(stderr, "freshness_bench: %s\n", why.c_str());
  if (const pid_t pid = g_tally.load(); pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  std::_Exit(1);
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// A keep-alive HTTP/1.1 client for GETs on 127.0.0.1; reconnects after an error.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port) : port_(port) {}

  // The answer's status and body; status 0 if there was none within 5 s.
  std::pair<int, std::string> Get(const std::string& target) {
    namespace http = boost::beast::http;
    for (int attempt = 0; attempt < 2; ++attempt) {
      boost::beast::error_code ec;
      if (!stream_) {
        stream_ = std::make_unique<boost::beast::tcp_stream>(io_);
        stream_->expires_after(5s);
        stream_->connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
        if (ec) {
          stream_.reset();
          continue;
        }
      }
      stream_->expires_after(5s);
      http::request<http::empty_body> request(http::verb::get, target, 11);
      request.set(http::field::host, "127.0.0.1");
      request.keep_alive(true);
      http::write(*stream_, request, ec);
      http::response<http::string_body> response;
      if (!ec) http::read(*stream_, buffer_, response, ec);
      if (ec) {
        stream_.reset();
        buffer_.clear();
        continue;
      }
      if (!response.keep_alive()) stream_.reset();
      return {static_cast<int>(response.result_int()), std::move(response.body())};
    }
    return {0, {}};
  }

 private:
  boost::asio::io_context io_;
  uint16_t port_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

std::optional<int64_t> ReadyField(HttpClient& http, const std::string& field) {
  const auto [status, body] = http.Get("/readyz");
  std::smatch m;
  if (status == 0 || !std::regex_search(body, m, std::regex("\"" + field + "\":(-?[0-9]+)"))) return std::nullopt;
  return std::stoll(m[1]);
}

// A producer that knows kTopic's partitions and leaders before its first message.
// librdkafka looks an unknown topic up about once a second, so the first message
// a new producer sends to a topic waits up to ~1 s for metadata
// (confluentinc/librdkafka#3202): fetching the topic's metadata once at start,
// as the maintainers advise, takes that wait out of what is measured. A live
// deployment's producers are long-lived and pay it once.
// `on_delivery` (may be null) is called from rd_kafka_poll for each message.
rd_kafka_t* NewProducer(const std::string& bootstrap, const char* linger_ms,
                        void (*on_delivery)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "linger.ms", linger_ms, nullptr, 0);
  rd_kafka_conf_set(conf, "batch.num.messages", "10000", nullptr, 0);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  if (on_delivery) rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, nullptr, 0);
  if (!producer) Fail("cannot create a producer");
  rd_kafka_topic_t* topic = rd_kafka_topic_new(producer, kTopic, nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(producer, 0, topic, &metadata, 10'000);
  if (err) Fail(std::string("no metadata for the topic: ") + rd_kafka_err2str(err));
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(topic);
  return producer;
}

void Send(rd_kafka_t* producer, const Message& m, void* opaque = nullptr, int32_t partition = RD_KAFKA_PARTITION_UA) {
  while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(kTopic), RD_KAFKA_V_PARTITION(partition),
                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                           RD_KAFKA_V_OPAQUE(opaque),
                           RD_KAFKA_V_KEY(const_cast<char*>(m.key.data()), m.key.size()),
                           RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
                           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd_kafka_poll(producer, 1);
  }
  rd_kafka_poll(producer, 0);
}

// The background stream: realistic single-event messages. Each phase's are
// made before it starts (Prepare), so that making them (JSON, ~10 % of a core
// at 60,000/s) does not take CPU from tally while it is measured; beyond what
// was prepared (at most kMaxPrepared, ~1.2 GB, whatever SECONDS and the rate
// ask) they are made as they are sent.
class Background {
 public:
  static constexpr uint64_t kMaxPrepared = 2'000'000;

  explicit Background(const std::string& bootstrap)
      : producer_(NewProducer(bootstrap, "5")), source_(MakeWorkload(), DeliveryOptions{}) {}
  ~Background() {
    rd_kafka_flush(producer_, 10'000);
    rd_kafka_destroy(producer_);
  }
  // The next `n` messages (at most kMaxPrepared), made now. What an earlier
  // Prepare left unsent goes first, so that the stream skips no event.
  void Prepare(uint64_t n) {
    prepared_.erase(prepared_.begin(), prepared_.begin() + static_cast<ptrdiff_t>(next_prepared_));
    next_prepared_ = 0;
    const size_t kept = prepared_.size();
    prepared_.resize(std::max(kept, static_cast<size_t>(std::min(n, kMaxPrepared))));
    for (size_t i = kept; i < prepared_.size(); ++i) Make(&prepared_[i]);
  }
  void SendOne() {
    if (next_prepared_ < prepared_.size()) {
      Send(producer_, prepared_[next_prepared_++]);
    } else {
      Make(&message_);
      Send(producer_, message_);
    }
    ++sent_;
  }
  uint64_t sent() const { return sent_; }

 private:
  void Make(Message* m) {
    if (!source_.Next(m)) Fail("the background workload ran out of events");
  }
  static WorkloadOptions MakeWorkload() {
    WorkloadOptions w;
    w.requests = 20'000;  // ~4 M events: more than any run sends
    w.tasks_per_request = 20;
    return w;
  }
  rd_kafka_t* producer_;
  Delivery source_;
  Message message_;
  std::vector<Message> prepared_;
  size_t next_prepared_ = 0;
  uint64_t sent_ = 0;
};

// Probe events: each the first event of a task of an annotation request of its
// own, unknown to tally until the probe is applied.
struct Probe {
  Message message;
  std::string target;                    // the HTTP request that finds it
  std::atomic<int64_t> produced_at{-1};  // NowNs() just before it was produced
  std::atomic<int64_t> consumed_ns{-1};  // bare consumer, since produced_at
  int64_t acked_ns = -1;                 // the broker's acknowledgement (delivery report), since produced_at
  int64_t visible_ns = -1;               // tally, since produced_at
};

std::vector<std::unique_ptr<Probe>> MakeProbes(size_t n) {
  WorkloadOptions options;
  options.seed = 4242;  // request ids apart from the background's
  options.requests = 1;
  options.tasks_per_request = 1;
  Workload ids(options);
  TaskAction base;
  if (!Workload(options).Next(&base)) Fail("no probe event");
  std::vector<std::unique_ptr<Probe>> probes;
  for (size_t k = 0; k < n; ++k) {
    TaskAction a = base;
    a.annotation_request_id = ids.RequestId(static_cast<uint32_t>(1000 + k));
    a.id = Id(uint64_t{1'700'000'000'000'000'000} + k);
    a.task_id = Id(uint64_t{1'600'000'000'000'000'000} + k);
    auto p = std::make_unique<Probe>();
    p->message.key = a.annotation_request_id;
    AppendEventJson(a, &p->message.value);
    p->message.events = 1;
    p->target = "/statistics/record?annotationRequestId=" + a.annotation_request_id + "&limit=1";
    probes.push_back(std::move(p));
  }
  return probes;
}

// The bare consumer: takes every message of the probes' partition from its end
// (as of the start) and stamps probes. Reading the other partitions too would
// not bring a probe sooner, only take CPU from tally on the same two cores.
class BareConsumer {
 public:
  BareConsumer(const std::string& bootstrap, const std::vector<std::unique_ptr<Probe>>& probes) {
    for (const auto& p : probes) by_key_.emplace(p->message.key, p.get());
    consumer_ = testing::AssignBareConsumer(bootstrap, kTopic, kProbePartition, RD_KAFKA_OFFSET_END, ConsumerFetchSettings());
    queue_ = rd_kafka_queue_get_consumer(consumer_);
    thread_ = std::thread([this] { Run(); });
  }
  ~BareConsumer() {
    stop_ = true;
    thread_.join();
    rd_kafka_queue_destroy(queue_);
    rd_kafka_consumer_close(consumer_);
    rd_kafka_destroy(consumer_);
  }

 private:
  void Run() {
    rd_kafka_message_t* batch[1000];
    while (!stop_) {
      // As tally's consumer takes them (ingest/consumer.cpp): what is there
      // without waiting, and only when nothing is, wait for the first message.
      // (rd_kafka_consume_batch_queue waits until the array is full or the
      // time is up, which would add up to that time to the floor.)
      ssize_t n = rd_kafka_consume_batch_queue(queue_, 0, batch, 1000);
      if (n == 0) n = rd_kafka_consume_batch_queue(queue_, 100, batch, 1);
      const int64_t now = NowNs();
      for (ssize_t i = 0; i < n; ++i) {
        rd_kafka_message_t* m = batch[i];
        if (!m->err && m->key) {
          auto it = by_key_.find(std::string(static_cast<const char*>(m->key), m->key_len));
          if (it != by_key_.end()) {
            Probe* p = it->second;
            if (p->consumed_ns < 0) p->consumed_ns = now - p->produced_at;
          }
        }
        rd_kafka_message_destroy(m);
      }
    }
  }

  std::unordered_map<std::string, Probe*> by_key_;
  rd_kafka_t* consumer_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The max ingest rate: a flood of kFloodEvents, timed until /readyz reports it
// applied; also the rate of its first kBurstEvents.
struct MaxIngest {
  double sustained = 0;  // events/s over the whole flood
  double burst = 0;      // events/s over its first kBurstEvents
};
MaxIngest MeasureMaxIngest(Background& background, HttpClient& http) {
  const auto applied_at_start = ReadyField(http, "eventsApplied");
  if (!applied_at_start) Fail("no eventsApplied on /readyz");
  const uint64_t base = static_cast<uint64_t>(*applied_at_start);
  uint64_t applied = 0;
  background.Prepare(kFloodEvents);
  const uint64_t sent_before = background.sent();
  const auto start = Clock::now();
  auto moved = start;
  MaxIngest max;
  auto rate = [&](uint64_t events) {
    return static_cast<double>(events) / std::chrono::duration<double>(Clock::now() - start).count();
  };
  while (applied < kFloodEvents) {
    while (background.sent() - sent_before < kFloodEvents &&
           background.sent() - sent_before < applied + kFloodWindow) {
      background.SendOne();
    }
    std::this_thread::sleep_for(2ms);
    const auto now_applied = ReadyField(http, "eventsApplied");
    if (now_applied && static_cast<uint64_t>(*now_applied) - base != applied) {
      applied = static_cast<uint64_t>(*now_applied) - base;
      moved = Clock::now();
      if (max.burst == 0 && applied >= kBurstEvents) max.burst = rate(applied);
    } else if (Clock::now() - moved > 60s) {
      Fail("tally applied nothing for 60 s during the flood");
    }
  }
  max.sustained = rate(kFloodEvents);
  return max;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// The figures as CSV and SVG (bench/csv_out.h): each rate's produce -> visible
// percentiles beside the bare consumer's produce -> consumed. Written rows stay if
// the bench fails; the plot is drawn at exit.
bench::CsvOut& LatencyCsv() {
  static bench::CsvOut csv("freshness_bench_latency", "endpoint,percentile,tally_ms,bare_consumer_ms");
  return csv;
}

struct Latencies {
  double p50, p95, p99, max;
};
Latencies Summarize(const std::vector<double>& ms) {
  return {Percentile(ms, 0.50), Percentile(ms, 0.95), Percentile(ms, 0.99), Percentile(ms, 1.0)};
}

// One rate: the background stream at `rate` events/s for `seconds`, a probe every
// kProbeEvery (the first after 1 s), then until every probe is seen.
void RunRate(const std::string& label, double rate, int seconds, rd_kafka_t* probe_producer,
             Background& background, HttpClient& http, std::vector<std::unique_ptr<Probe>>& probes,
             size_t* next_probe) {
  const size_t first = *next_probe;
  const size_t count = static_cast<size_t>(seconds * 1000 / kProbeEvery.count());
  if (first + count > probes.size()) Fail("not enough probes");
  std::atomic<bool> stop{false};
  std::atomic<size_t> produced{first};  // probes [first, produced) are out
  // The phase, and a few seconds more while the last probes become visible.
  background.Prepare(static_cast<uint64_t>(rate * (seconds + 5)));
  const uint64_t sent_before = background.sent();
  const auto start = Clock::now();

  // Background and probes on one thread, so probes go out on time and in
  // between background messages, as a live stream would carry them.
  std::thread producer([&] {
    auto next_probe_at = start + 1s;
    while (!stop) {
      const auto now = Clock::now();
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const auto due = static_cast<uint64_t>(elapsed * rate);
      while (background.sent() - sent_before < due) background.SendOne();
      if (now >= next_probe_at && produced < first + count) {
        Probe& p = *probes[produced];
        p.produced_at = NowNs();
        Send(probe_producer, p.message, &p, kProbePartition);
        produced.fetch_add(1);
        next_probe_at += kProbeEvery;
      }
      rd_kafka_poll(probe_producer, 0);
      std::this_thread::sleep_for(1ms);
    }
    rd_kafka_flush(probe_producer, 10'000);  // serves the last delivery reports
  });

  // Poll every outstanding probe about every millisecond.
  size_t seen_up_to = first;  // every probe before it is visible
  while (seen_up_to < first + count) {
    const size_t out = produced.load();
    for (size_t k = seen_up_to; k < out; ++k) {
      Probe& p = *probes[k];
      if (p.visible_ns >= 0) continue;
      const auto [status, body] = http.Get(p.target);
      if (status == 200 && body.find("\"code\":2000") != std::string::npos) {
        p.visible_ns = NowNs() - p.produced_at;
      } else if (NowNs() - p.produced_at > std::chrono::nanoseconds(kProbeLimit).count()) {
        Fail(label + ": probe " + std::to_string(k - first) + " not visible after 30 s (last answer " +
             std::to_string(status) + ")");
      }
    }
    while (seen_up_to < out && probes[seen_up_to]->visible_ns >= 0) ++seen_up_to;
    std::this_thread::sleep_for(1ms);
  }
  const double sent_rate = static_cast<double>(background.sent() - sent_before) /
                           std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  producer.join();
  // The bare consumer has seen every probe long before tally shows it; wait a little anyway.
  for (auto until = Clock::now() + 10s; Clock::now() < until;) {
    bool all = true;
    for (size_t k = first; k < first + count; ++k) all = all && probes[k]->consumed_ns >= 0;
    if (all) break;
    std::this_thread::sleep_for(10ms);
  }
  std::vector<double> tally_ms, bare_ms, acked_ms;
  const bool dump = std::getenv("FRESHNESS_DUMP") != nullptr;
  for (size_t k = first; k < first + count; ++k) {
    const Probe& p = *probes[k];
    tally_ms.push_back(static_cast<double>(p.visible_ns) * 1e-6);
    if (p.consumed_ns >= 0) bare_ms.push_back(static_cast<double>(p.consumed_ns) * 1e-6);
    if (p.acked_ns >= 0) acked_ms.push_back(static_cast<double>(p.acked_ns) * 1e-6);
    if (dump) {
      std::fprintf(stderr, "%s probe %zu: tally %.1f bare %.1f acked %.1f ms\n", label.c_str(), k - first,
                   static_cast<double>(p.visible_ns) * 1e-6, static_cast<double>(p.consumed_ns) * 1e-6,
                   static_cast<double>(p.acked_ns) * 1e-6);
    }
  }
  *next_probe = first + count;
  const Latencies t = Summarize(tally_ms), b = Summarize(bare_ms), a = Summarize(acked_ms);
  std::printf("  %s: %.0f events/s sent (asked %.0f), %zu probes, %zu seen by the bare consumer\n", label.c_str(),
              sent_rate, rate, count, bare_ms.size());
  std::printf("    tally, produce -> visible over HTTP   p50 %7.1f  p95 %7.1f  p99 %7.1f  max %7.1f ms\n", t.p50,
              t.p95, t.p99, t.max);
  std::printf("    bare consumer, produce -> consumed    p50 %7.1f  p95 %7.1f  p99 %7.1f  max %7.1f ms\n", b.p50,
              b.p95, b.p99, b.max);
  std::printf("    broker's ack, produce -> acknowledged p50 %7.1f  p95 %7.1f  p99 %7.1f  max %7.1f ms\n", a.p50,
              a.p95, a.p99, a.max);
  const std::string endpoint = "visible at " + label;
  LatencyCsv().Latency(endpoint, "p50", t.p50, b.p50);
  LatencyCsv().Latency(endpoint, "p95", t.p95, b.p95);
  LatencyCsv().Latency(endpoint, "p99", t.p99, b.p99);
  std::printf("    tally p99 - bare p99 = %.1f ms (target <= 20 ms at 5,000/s); tally p99 %.1f ms (target <= 100 ms "
              "at half of max); p50 ratio %.1f\n",
              t.p99 - b.p99, t.p99, b.p50 > 0 ? t.p50 / b.p50 : 0.0);
  std::fflush(stdout);
}

// Sends the background stream at `rate` events/s on a thread of its own while it lives.
class SteadyStream {
 public:
  SteadyStream(Background& background, double rate) : background_(background) {
    thread_ = std::thread([this, rate] {
      const uint64_t sent_before = background_.sent();
      const auto start = Clock::now();
      while (!stop_) {
        const auto due = static_cast<uint64_t>(std::chrono::duration<double>(Clock::now() - start).count() * rate);
        while (background_.sent() - sent_before < due) background_.SendOne();
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  ~SteadyStream() {
    stop_ = true;
    thread_.join();
  }

 private:
  Background& background_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The first path of `names` that exists.
std::string FindProgram(std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (std::filesystem::exists(n)) return n;
  }
  return {};
}

// Runs `args` to completion (bounded by `limit`) and returns its output.
std::string RunToEnd(const std::vector<std::string>& args, const std::filesystem::path& log,
                     std::chrono::seconds limit) {
  testing::ChildProcess child(args, log.string());
  if (!child.Wait(limit)) Fail(args[0] + " did not finish in " + std::to_string(limit.count()) + " s");
  return child.Output();
}

double Field(const std::string& text, const std::string& pattern, const std::string& what) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) Fail("no " + what + " in:\n" + text);
  return std::stod(m[1]);
}

// wrk's "99%" (or any) latency line in ms.
double WrkMs(const std::string& out, const std::string& percentile) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex("\\s" + percentile + "%\\s+([0-9.]+)(us|ms|s)"))) {
    Fail("no " + percentile + "% latency in wrk's output:\n" + out);
  }
  const double v = std::stod(m[1]);
  return m[2] == "us" ? v / 1000 : m[2] == "s" ? v * 1000 : v;
}

struct RateLoad {
  double offered, answered, p50, p99, max;
};

// Queries while ingesting (issue 11, item 5): `/statistics` on one fixed URL,
// wrk's maximum rate (-t1 -c64, closed loop) and then an open-loop load at half
// of it (rate_load: latency from each request's scheduled time), both idle and
// while the background stream brings `ingest_rate` events/s.
void RunQueries(double ingest_rate, int seconds, uint16_t port, const std::string& target, Background& background,
                HttpClient& http, const std::filesystem::path& dir) {
  const std::string wrk = FindProgram({"/usr/bin/wrk", "/usr/local/bin/wrk"});
  if (wrk.empty()) Fail("wrk not found (apt-get install wrk)");
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + target;
  const std::string duration = std::to_string(seconds) + "s";
  auto max_rate = [&](const std::string& label) {
    const std::string out =
        RunToEnd({wrk, "-t1", "-c64", "-d" + duration, "--latency", url}, dir / "wrk.log", std::chrono::seconds(seconds + 30));
    if (out.find("Non-2xx") != std::string::npos) Fail("wrk got non-2xx answers:\n" + out);
    const double rps = Field(out, "Requests/sec:\\s+([0-9.]+)", "Requests/sec");
    std::printf("    wrk -t1 -c64 %s: %.0f req/s, p50 %.2f p99 %.2f ms\n", label.c_str(), rps, WrkMs(out, "50"),
                WrkMs(out, "99"));
    return rps;
  };
  auto open_loop = [&](double rate) {
    const std::string out = RunToEnd({RATE_LOAD_BINARY, std::to_string(port), std::to_string(static_cast<int>(rate)),
                                      std::to_string(seconds), "64", "GET", target},
                                     dir / "rate_load.log", std::chrono::seconds(seconds + 60));
    RateLoad r;
    r.offered = Field(out, "rate ([0-9.]+)/s offered", "offered rate");
    r.answered = Field(out, "answered \\(([0-9.]+)/s\\)", "answered rate");
    r.p50 = Field(out, "p50 ([0-9.]+)", "p50");
    r.p99 = Field(out, "p99 ([0-9.]+)", "p99");
    r.max = Field(out, "max ([0-9.]+)", "max");
    return r;
  };
  std::printf("  queries while ingesting: GET %s, %d s each\n", target.c_str(), seconds);
  const double idle_max = max_rate("idle");
  const RateLoad idle = open_loop(idle_max / 2);
  std::printf("    open loop at half of it (%.0f req/s), idle: p50 %.2f p99 %.2f max %.2f ms\n", idle.offered, idle.p50,
              idle.p99, idle.max);
  std::fflush(stdout);

  // The stream runs through wrk's run and the open-loop one, and a few seconds more.
  background.Prepare(static_cast<uint64_t>(ingest_rate * (2 * seconds + 10)));
  SteadyStream stream(background, ingest_rate);
  std::this_thread::sleep_for(2s);  // ingestion in its steady state
  const double busy_max = max_rate("while ingesting");
  for (auto until = Clock::now() + 30s; Clock::now() < until; std::this_thread::sleep_for(50ms)) {
    if (ReadyField(http, "lag").value_or(1'000'000) < static_cast<int64_t>(ingest_rate)) break;
  }
  const auto applied_before = ReadyField(http, "eventsApplied");
  const auto start = Clock::now();
  const RateLoad busy = open_loop(busy_max / 2);
  const auto applied_after = ReadyField(http, "eventsApplied");
  const auto lag = ReadyField(http, "lag");
  const double applied_rate =
      applied_before && applied_after
          ? static_cast<double>(*applied_after - *applied_before) / std::chrono::duration<double>(Clock::now() - start).count()
          : 0;
  std::printf("    open loop at half of it (%.0f req/s, %.0f answered/s), ingesting %.0f events/s (applied %.0f/s, lag "
              "%lld at the end): p50 %.2f p99 %.2f max %.2f ms\n",
              busy.offered, busy.answered, ingest_rate, applied_rate, static_cast<long long>(lag.value_or(-1)),
              busy.p50, busy.p99, busy.max);
  std::printf("    /statistics p99 while ingesting %.2f ms (target <= 10 ms), idle %.2f ms\n", busy.p99, idle.p99);
  bench::CsvOut csv("freshness_bench_queries", "endpoint,percentile,tally_ms,idle_ms");
  const std::string endpoint = target.substr(0, target.find('?')) + " while ingesting";
  csv.Latency(endpoint, "p50", busy.p50, idle.p50);
  csv.Latency(endpoint, "p99", busy.p99, idle.p99);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::max(2, std::atoi(argv[1])) : 15;
  double max_rate = argc > 2 ? std::atof(argv[2]) : 0;
  const std::string phases = argc > 3 ? argv[3] : "freshness";
  const bool freshness = phases == "freshness" || phases == "both";
  const bool queries = phases == "queries" || phases == "both";
  if (!freshness && !queries) Fail("phases must be freshness, queries or both, not " + phases);
  std::vector<std::string> serve_flags;  // after "--": given to tally serve
  for (int i = 4; i < argc; ++i) {
    if (i == 4 && std::string(argv[i]) == "--") continue;
    serve_flags.push_back(argv[i]);
  }

  auto broker = DevBroker::Start(1);
  if (!broker) Fail("the embedded broker did not start");
  if (!(*broker)->CreateTopic(kTopic, kPartitions).ok()) Fail("could not create the topic");
  const std::string bootstrap = (*broker)->bootstrap();

  const auto dir = std::filesystem::temp_directory_path() / ("tally-freshness-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  int status = 0;
  {
    std::vector<std::string> serve = {TALLY_BINARY, "serve", "--brokers", bootstrap, "--data-dir",
                                      (dir / "data").string(), "--listen", "127.0.0.1:0"};
    serve.insert(serve.end(), serve_flags.begin(), serve_flags.end());
    testing::ChildProcess tally(serve, (dir / "tally.log").string());
    g_tally = tally.pid();
    const auto port = tally.WaitForOutput("serving http://127\\.0\\.0\\.1:([0-9]+)", 30s);
    if (!port) Fail("tally serve did not start: " + tally.Output());
    HttpClient http(static_cast<uint16_t>(std::stoi(*port)));
    for (auto deadline = Clock::now() + 60s;; std::this_thread::sleep_for(50ms)) {
      if (http.Get("/readyz").first == 200) break;
      if (Clock::now() > deadline) Fail("tally not ready in 60 s: " + tally.Output());
    }
    auto probes = MakeProbes(static_cast<size_t>(2 * seconds * 1000 / kProbeEvery.count()) + 10);
    std::optional<BareConsumer> bare;  // the floor of the freshness phases only
    if (freshness) bare.emplace(bootstrap, probes);
    Background background(bootstrap);
    // One probe producer for the whole run, as a live producer would be.
    rd_kafka_t* probe_producer =
        NewProducer(bootstrap, "0", [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
          auto* p = static_cast<Probe*>(m->_private);
          if (p && !m->err) p->acked_ns = NowNs() - p->produced_at;
        });

    std::string flags;
    for (const auto& f : serve_flags) flags += " " + f;
    std::printf("freshness: tally serve (%s) on the embedded broker, %d partitions, single-event "
                "messages, a probe every %lld ms for %d s per rate\n",
                flags.empty() ? "default settings" : flags.substr(1).c_str(), kPartitions,
                static_cast<long long>(kProbeEvery.count()), seconds);
    if (max_rate <= 0 || queries) {  // the queries need the flood's data
      const MaxIngest max = MeasureMaxIngest(background, http);
      max_rate = max.sustained;
      std::printf("  max ingest, measured: %.0f events/s (%llu events, at most %llu ahead of applied; its first "
                  "%llu: %.0f events/s)\n",
                  max_rate, static_cast<unsigned long long>(kFloodEvents), static_cast<unsigned long long>(kFloodWindow),
                  static_cast<unsigned long long>(kBurstEvents), max.burst);
    } else {
      std::printf("  max ingest, given: %.0f events/s\n", max_rate);
    }
    // Let the flood's last batches settle before measuring.
    for (auto until = Clock::now() + 30s; Clock::now() < until; std::this_thread::sleep_for(50ms)) {
      if (ReadyField(http, "lag") == 0) break;
    }
    size_t next_probe = 0;
    if (freshness) {
      RunRate("5,000 events/s", 5000, seconds, probe_producer, background, http, probes, &next_probe);
      RunRate("half of max", max_rate / 2, seconds, probe_producer, background, http, probes, &next_probe);
    }
    rd_kafka_destroy(probe_producer);
    if (queries) {
      // The flood's last flushes and compactions out of the way.
      std::this_thread::sleep_for(5s);
      // A request of the flood, complete by now: a page of 10 of its 20 tasks.
      WorkloadOptions w;
      w.requests = 20'000;
      const std::string target =
          "/statistics?annotationRequestId=" + Workload(w).RequestId(10) + "&pageNumber=2&pageSize=10";
      if (const auto [code, body] = http.Get(target); code != 200 || body.find("\"code\":2000") == std::string::npos) {
        Fail("GET " + target + " answered " + std::to_string(code) + ": " + body.substr(0, 300));
      }
      RunQueries(kQueryIngestRate, seconds, static_cast<uint16_t>(std::stoi(*port)), target, background, http, dir);
    }

    tally.Signal(SIGTERM);
    const auto exit = tally.Wait(30s);
    if (exit) g_tally = -1;
    if (!exit) {
      std::fprintf(stderr, "freshness_bench: tally did not stop in 30 s after SIGTERM; killed\n");
      status = 1;
    } else if (!testing::ExitedWith(exit, 0)) {
      std::fprintf(stderr, "freshness_bench: tally exited with status %d:\n%s\n", *exit, tally.Output().c_str());
      status = 1;
    }
  }  // ~ChildProcess kills tally by PID if it still runs
  std::filesystem::remove_all(dir);
  return status;
}
