// `tally serve` as a process, against an embedded broker hosted by the test (so
// that killing tally does not kill the broker): kill -9 at random moments of a
// stream, SIGTERM under load, a broker outage seen on /readyz, bad settings.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "aggregate/store.h"
#include "ingest/dev_broker.h"
#include "tests/aggregate/model_check.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_broker.h"
#include "tests/support/thread_nice.h"

namespace tally {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

constexpr int kPartitions = 8;

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::BrokerWithTopic(kPartitions);
    ASSERT_TRUE(broker_);
  }

  // Starts tally serve on the test's broker; short group timeouts let a
  // restarted instance take its partitions back quickly.
  std::unique_ptr<ChildProcess> Serve(const std::string& name, std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--kafka", "session.timeout.ms=6000", "--kafka", "heartbeat.interval.ms=500"});
    return ServeWithDefaultTimeouts(name, extra);
  }
  // The same with tally's own group timeouts.
  std::unique_ptr<ChildProcess> ServeWithDefaultTimeouts(const std::string& name,
                                                         const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {TALLY_BINARY,     "serve",
                                     "--brokers",      broker_->bootstrap(),
                                     "--data-dir",     dir_ / "data",
                                     "--listen",       "127.0.0.1:0",
                                     "--batch-wait-ms", "20",
                                     "--memory-mb",    "64"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(args, dir_ / (name + ".log"));
  }

  static uint16_t PortOf(ChildProcess& child) {
    auto port = child.WaitForOutput("serving http://127\\.0\\.0\\.1:([0-9]+)", 20s);
    return port ? static_cast<uint16_t>(std::stoi(*port)) : 0;
  }

  // A /readyz field ("lag", "eventsApplied") as a number; nullopt without an answer.
  static std::optional<int64_t> ReadyField(uint16_t port, const std::string& field, int* status = nullptr) {
    const testing::HttpReply r = testing::HttpGet(port, "/readyz");
    if (status) *status = r.status;
    std::smatch m;
    if (!std::regex_search(r.body, m, std::regex("\"" + field + "\":(-?[0-9]+)"))) return std::nullopt;
    return std::stoll(m[1]);
  }

  // Waits until the instance has applied everything produced (lag 0, twice in a row).
  static bool WaitCaughtUp(uint16_t port, std::chrono::seconds timeout) {
    int zeros = 0;
    return testing::WaitFor(
        [&] {
          const auto lag = ReadyField(port, "lag");
          zeros = lag && *lag == 0 ? zeros + 1 : 0;
          return zeros >= 2;
        },
        timeout);
  }

  void Produce(const testing::TestStream& stream) {
    testing::TestProducer producer(broker_->bootstrap());
    for (const auto& m : stream.messages) producer.Send("task-actions", m);
  }

  testing::TempDir dir_;
  std::unique_ptr<DevBroker> broker_;
};

TEST_F(ServeTest, KillNineAtRandomMomentsLosesAndDoublesNothing) {
  const testing::TestStream stream = testing::MakeStream(7, kPartitions, 20, 50);
  // The stream is produced over several seconds while tally is killed and restarted.
  std::atomic<bool> produced{false};
  std::thread producer([&] {
    testing::TestProducer p(broker_->bootstrap());
    for (size_t i = 0; i < stream.messages.size(); ++i) {
      p.Send("task-actions", stream.messages[i]);
      if (i % 200 == 0) std::this_thread::sleep_for(30ms);
    }
    p.Flush();
    produced = true;
  });
  std::mt19937_64 rng(11);
  int kills = 0;
  for (int run = 0; run < 12; ++run) {
    auto tally = Serve("run-" + std::to_string(run));
    ASSERT_NE(PortOf(*tally), 0) << tally->Output();
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1500));
    tally->Signal(SIGKILL);
    const auto status = tally->Wait(10s);
    ASSERT_TRUE(status && WIFSIGNALED(*status)) << tally->Output();
    ++kills;
  }
  producer.join();
  ASSERT_TRUE(produced);
  EXPECT_GE(kills, 10);

  // The last run catches up and stops cleanly.
  {
    auto tally = Serve("final");
    const uint16_t port = PortOf(*tally);
    ASSERT_NE(port, 0) << tally->Output();
    ASSERT_TRUE(WaitCaughtUp(port, 60s)) << tally->Output();
    tally->Signal(SIGTERM);
    ASSERT_TRUE(testing::ExitedWith(tally->Wait(10s), 0)) << tally->Output();
  }
  {
    auto store = Store::Open(StoreOptions{dir_ / "data", size_t{64} << 20, false, {}});
    ASSERT_TRUE(store) << store.error().ToString();
    EXPECT_EQ(testing::CheckStoreMatches(**store, stream.model, {1000}), "");
    EXPECT_EQ((*store)->Rejections((*store)->Snapshot(), 100000)->size(), stream.rejected);
  }
  // Nothing applied is consumed again: a restart finds nothing to apply and no
  // duplicate of anything.
  auto tally = Serve("again");
  const uint16_t port = PortOf(*tally);
  ASSERT_NE(port, 0);
  ASSERT_TRUE(WaitCaughtUp(port, 30s));
  const std::string metrics = testing::HttpGet(port, "/metrics").body;
  EXPECT_NE(metrics.find("\ntally_events_applied_total 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\ntally_events_duplicate_total 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\ntally_events_consumed_total 0\n"), std::string::npos) << metrics;
  // Every stored position checked out against the same cluster.
  EXPECT_NE(metrics.find("\ntally_offset_resets_total 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\ntally_offsets_skipped_total 0\n"), std::string::npos) << metrics;
  tally->Signal(SIGTERM);
  EXPECT_TRUE(testing::ExitedWith(tally->Wait(10s), 0));
}

TEST_F(ServeTest, SigtermUnderLoadExitsZeroWithinFiveSecondsAndCommitsOffsets) {
  const testing::TestStream stream = testing::MakeStream(8, kPartitions, 20, 60);
  auto tally = Serve("load");
  const uint16_t port = PortOf(*tally);
  ASSERT_NE(port, 0) << tally->Output();
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    testing::TestProducer p(broker_->bootstrap());
    for (size_t i = 0; i < stream.messages.size() && !stop; ++i) p.Send("task-actions", stream.messages[i]);
    p.Flush();
  });
  ASSERT_TRUE(testing::WaitFor([&] { return ReadyField(port, "eventsApplied").value_or(0) > 1000; }, 30s));
  const auto start = std::chrono::steady_clock::now();
  tally->Signal(SIGTERM);
  const auto status = tally->Wait(10s);
  const auto took = std::chrono::steady_clock::now() - start;
  stop = true;
  producer.join();
  ASSERT_TRUE(testing::ExitedWith(status, 0)) << tally->Output();
  EXPECT_LT(took, 5s);

  // The group's committed offsets are the store's.
  std::map<int32_t, int64_t> stored;
  {
    auto store = Store::Open(StoreOptions{dir_ / "data", size_t{64} << 20, false, {}});
    ASSERT_TRUE(store);
    auto offsets = (*store)->Offsets("task-actions");
    ASSERT_TRUE(offsets);
    for (const auto& o : *offsets) stored[Raw(o.partition)] = Raw(o.next);
  }
  ASSERT_FALSE(stored.empty());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", broker_->bootstrap().c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "group.id", "tally", nullptr, 0);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, nullptr, 0);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(kPartitions);
  for (int p = 0; p < kPartitions; ++p) rd_kafka_topic_partition_list_add(list, "task-actions", p);
  ASSERT_EQ(rd_kafka_committed(reader, list, 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int i = 0; i < list->cnt; ++i) {
    const auto& p = list->elems[i];
    if (stored.count(p.partition)) {
      EXPECT_EQ(p.offset, stored[p.partition]) << "partition " << p.partition;
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(reader);
}

TEST_F(ServeTest, ReadyzAndLagShowABrokerOutage) {
  const testing::TestStream stream = testing::MakeStream(9, kPartitions, 6, 30);
  auto tally = Serve("outage");
  const uint16_t port = PortOf(*tally);
  ASSERT_NE(port, 0) << tally->Output();
  testing::TestProducer producer(broker_->bootstrap());
  const size_t half = stream.messages.size() / 2;
  for (size_t i = 0; i < half; ++i) producer.Send("task-actions", stream.messages[i]);
  producer.Flush();
  ASSERT_TRUE(WaitCaughtUp(port, 30s));

  ASSERT_EQ(rd_kafka_mock_broker_set_down(broker_->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  int status = 0;
  ASSERT_TRUE(testing::WaitFor(
      [&] { return ReadyField(port, "lag", &status) == -1 && status == 503; }, 30s));
  ASSERT_EQ(rd_kafka_mock_broker_set_up(broker_->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (size_t i = half; i < stream.messages.size(); ++i) producer.Send("task-actions", stream.messages[i]);
  producer.Flush();
  ASSERT_TRUE(WaitCaughtUp(port, 60s)) << tally->Output();
  EXPECT_EQ(testing::HttpGet(port, "/readyz").status, 200);
  tally->Signal(SIGTERM);
  ASSERT_TRUE(testing::ExitedWith(tally->Wait(10s), 0));
  // The outage was logged when it began and when it ended, not per retry.
  const std::string log = tally->Output();
  size_t downs = 0;
  for (size_t at = 0; (at = log.find("all brokers are down", at)) != std::string::npos; ++at) ++downs;
  EXPECT_GE(downs, 1u);
  EXPECT_LE(downs, 2u) << log;
  auto store = Store::Open(StoreOptions{dir_ / "data", size_t{64} << 20, false, {}});
  ASSERT_TRUE(store);
  EXPECT_EQ(testing::CheckStoreMatches(**store, stream.model, {1000}), "");
}

// A replica restarted in the same group (same data dir) after kill -9 or
// SIGTERM takes its partitions back within seconds, not after the old member's
// session (librdkafka's default: 45 s) has run out.
TEST_F(ServeTest, RestartInTheSameGroupIsReadyInSecondsAfterKillNineOrSigterm) {
  const testing::TestStream stream = testing::MakeStream(10, kPartitions, 4, 20);
  Produce(stream);
  std::set<std::string> instance_ids;  // the static member id: one per data dir
  auto ready_after = [&](const std::string& name) -> std::optional<std::chrono::milliseconds> {
    auto tally = ServeWithDefaultTimeouts(name);
    const uint16_t port = PortOf(*tally);
    if (port == 0) return std::nullopt;
    instance_ids.insert(tally->WaitForOutput("group\\.instance\\.id (tally-[0-9a-f]+)\\)", 1s).value_or("none"));
    const auto start = std::chrono::steady_clock::now();
    if (!testing::WaitFor([&] { return testing::HttpGet(port, "/readyz").status == 200; }, 20s)) {
      ADD_FAILURE() << name << " not ready within 20 s: " << tally->Output();
      return std::nullopt;
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::cerr << name << ": ready " << took.count() << " ms after listening\n";
    if (name == "first") {
      tally->Signal(SIGKILL);
      EXPECT_TRUE(tally->Wait(10s));
    } else if (name == "after-kill") {
      tally->Signal(SIGTERM);
      EXPECT_TRUE(testing::ExitedWith(tally->Wait(10s), 0)) << tally->Output();
    } else {
      EXPECT_TRUE(WaitCaughtUp(port, 30s));
      tally->Signal(SIGTERM);
      EXPECT_TRUE(testing::ExitedWith(tally->Wait(10s), 0)) << tally->Output();
    }
    return took;
  };
  ASSERT_TRUE(ready_after("first"));
  ASSERT_TRUE(ready_after("after-kill"));
  ASSERT_TRUE(ready_after("after-sigterm"));
  EXPECT_EQ(instance_ids.size(), 1u);
  EXPECT_EQ(instance_ids.count("none"), 0u);
  auto store = Store::Open(StoreOptions{dir_ / "data", size_t{64} << 20, false, {}});
  ASSERT_TRUE(store);
  EXPECT_EQ(testing::CheckStoreMatches(**store, stream.model, {1000}), "");
}

TEST_F(ServeTest, IngestNiceLowersTheIngestAndWriterThreadsOnly) {
  auto tally = Serve("nice", {"--ingest-nice", "7"});
  const uint16_t port = PortOf(*tally);
  ASSERT_NE(port, 0) << tally->Output();
  // One event through the store: the ingest and writer threads have started.
  const testing::TestStream stream = testing::MakeStream(10, kPartitions, 1, 2);
  Produce(stream);
  ASSERT_TRUE(WaitCaughtUp(port, 30s)) << tally->Output();
  const int base = testing::NiceOfThread("tally", tally->pid());  // the main and HTTP threads
  ASSERT_NE(base, -100);
  EXPECT_EQ(testing::NiceOfThread("tally:ingest", tally->pid()), std::min(19, base + 7));
  EXPECT_EQ(testing::NiceOfThread("tally:write", tally->pid()), std::min(19, base + 7));
  EXPECT_LE(testing::NiceOfThread("rocksdb:high", tally->pid()), base) << "flushes keep the process's priority";
  tally->Signal(SIGTERM);
  EXPECT_TRUE(testing::ExitedWith(tally->Wait(20s), 0)) << tally->Output();
}

TEST_F(ServeTest, BadSettingsExitTwoNamingTheSetting) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string named;
  };
  std::ofstream(dir_ / "bad.toml") << "[serve]\nthreads = \"x\"\n";
  const std::vector<Case> cases = {
      {{"--config", dir_ / "bad.toml"}, {}, "bad.toml: threads: 'x' is not a whole number"},
      {{"--config", dir_ / "missing.toml"}, {}, "--config: cannot read"},
      {{}, {"TALLY_LISTEN=nonsense:80"}, "TALLY_LISTEN"},
      {{"--listen", "nonsense"}, {}, "--listen"},
      {{"--kafka", "no.such.property=1"}, {}, "no.such.property"},
      {{"--kafka", "fetch.wait.max.ms"}, {}, "--kafka"},
      {{}, {"TALLY_THREADS=lots"}, "TALLY_THREADS"},
      {{"--threads", "0"}, {}, "--threads"},
      {{"--ingest-nice", "20"}, {}, "--ingest-nice"},
      {{"--data-dir", "/proc/version"}, {}, "--data-dir"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {TALLY_BINARY, "serve", "--brokers", broker_->bootstrap(), "--data-dir",
                                     dir_ / "bad"};
    // A free port, unless the case sets the address itself (a flag would beat its environment).
    if (c.named != "TALLY_LISTEN") args.insert(args.end(), {"--listen", "127.0.0.1:0"});
    args.insert(args.end(), c.args.begin(), c.args.end());
    ChildProcess tally(args, dir_ / "bad.log", c.env);
    EXPECT_TRUE(testing::ExitedWith(tally.Wait(20s), 2)) << c.named << ": " << tally.Output();
    EXPECT_NE(tally.Output().find(c.named), std::string::npos) << tally.Output();
  }
}

}  // namespace
}  // namespace tally
