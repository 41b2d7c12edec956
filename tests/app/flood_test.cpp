// Rejection floods: messages that are huge arrays of rejected elements
// (`[[],[],...]`) and huge arrays of valid events, through `tally replay` and
// `tally serve` as processes. Peak memory stays under --memory-mb + 256 MiB
// (the documented bound, + 320 MiB, also allows for a full 128 MiB Kafka fetch
// queue, which these floods, on an embedded broker that keeps ~5 MiB a
// partition, cannot fill),
// the store keeps the latest kKeptRejections per partition and exact counts,
// and reading the flood again (replay twice, kill -9 mid-message) counts
// nothing twice.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "aggregate/store.h"
#include "ingest/decode.h"
#include "ingest/dev_broker.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_broker.h"

namespace tally {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

constexpr size_t kMemoryMb = 64;
constexpr uint64_t kRssLimit = (kMemoryMb + 256) << 20;

// `[[],[],...,[]]` of `elements` elements (3 bytes each).
std::string EmptyArrays(size_t elements) {
  std::string s = "[";
  for (size_t i = 0; i < elements; ++i) s += i ? ",[]" : "[]";
  s += "]";
  return s;
}

// An array of `events` valid events with ids from `first`.
std::string ValidEvents(uint64_t first, size_t events) {
  std::string s = "[";
  for (size_t i = 0; i < events; ++i) {
    if (i) s += ",";
    s += R"({"id":)" + std::to_string(first + i) +
         R"(,"annotationRequestId":"flood","campaignId":"c","taskId":)" + std::to_string(i % 1000) +
         R"(,"poolType":1,"status":1,"actionType":0,"createdTime":"2025-04-01 10:00:00"})";
  }
  s += "]";
  return s;
}

// The largest peak RSS of the children this process has waited for.
uint64_t ChildrenPeakRss() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  return static_cast<uint64_t>(usage.ru_maxrss) << 10;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

uint64_t Counted(const std::vector<PartitionRejections>& counts, RejectReason reason) {
  uint64_t n = 0;
  for (const PartitionRejections& p : counts) n += p.by_reason[static_cast<size_t>(reason)];
  return n;
}

TEST(FloodTest, ReplayOfHugeArraysStaysWithinMemoryAndKeepsBoundedExactRejections) {
  testing::TempDir dir;
  const std::string input = dir / "flood.ndjson";
  // Four messages just under 8 MiB of rejected elements, one of valid events,
  // and one large array that turns out not to be JSON at its very end.
  const size_t elements = (Decoder::kMaxMessageBytes - 16) / 3;
  const size_t valid = 50'000;
  {
    std::ofstream out(input);
    const std::string flood = EmptyArrays(elements);
    for (int i = 0; i < 4; ++i) out << flood << "\n";
    const std::string events = ValidEvents(1, valid);
    ASSERT_LT(events.size(), Decoder::kMaxMessageBytes);
    out << events << "\n";
    out << EmptyArrays(500'000) << ",\n";
  }
  const std::string data = dir / "data";
  for (int run = 0; run < 2; ++run) {  // the second reads it all again
    ChildProcess replay({TALLY_BINARY, "replay", "--data-dir", data, "--memory-mb", std::to_string(kMemoryMb), input},
                        dir / ("replay-" + std::to_string(run) + ".log"));
    const auto status = replay.Wait(120s);
    ASSERT_TRUE(testing::ExitedWith(status, 0)) << replay.Output();
    EXPECT_LE(ChildrenPeakRss(), kRssLimit) << "peak RSS of tally replay, run " << run;
  }
  EXPECT_LE(DirBytes(data), uint64_t{48} << 20) << "store size";

  auto store = Store::Open(StoreOptions{data, size_t{kMemoryMb} << 20, false, {}});
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ((*store)->totals().records, valid);
  auto kept = (*store)->Rejections((*store)->Snapshot(), 100'000);
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), kKeptRejections);
  EXPECT_EQ(kept->back().origin, (Origin{kReplayPartition, Offset{6}}));  // the invalid message, the latest
  EXPECT_EQ(kept->back().reason, RejectReason::kInvalidJson);
  EXPECT_EQ((*kept)[0].origin, (Origin{kReplayPartition, Offset{4}}));
  EXPECT_EQ((*kept)[0].element, std::optional<uint32_t>(elements - (kKeptRejections - 1)));
  auto counts = (*store)->RejectionCounts((*store)->Snapshot());
  ASSERT_TRUE(counts);
  EXPECT_EQ(Counted(*counts, RejectReason::kWrongType), 4 * elements);
  EXPECT_EQ(Counted(*counts, RejectReason::kInvalidJson), 1u);
}

class FloodServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::BrokerWithTopic(2);
    ASSERT_TRUE(broker_);
  }

  std::unique_ptr<ChildProcess> Serve(const std::string& name) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{TALLY_BINARY, "serve", "--brokers", broker_->bootstrap(), "--data-dir",
                                 dir_ / "data", "--listen", "127.0.0.1:0", "--batch-wait-ms", "20", "--kafka",
                                 "session.timeout.ms=6000", "--kafka", "heartbeat.interval.ms=500",
                                 "--memory-mb", std::to_string(kMemoryMb)},
        dir_ / (name + ".log"));
  }

  static uint16_t PortOf(ChildProcess& child) {
    auto port = child.WaitForOutput("serving http://127\\.0\\.0\\.1:([0-9]+)", 20s);
    return port ? static_cast<uint16_t>(std::stoi(*port)) : 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<DevBroker> broker_;
};

// Huge arrays through Kafka, with tally killed in the middle of them: the
// messages are applied in parts, and read again from their start after the
// kill, yet every rejection is counted once.
TEST_F(FloodServeTest, HugeArraysAreAppliedInPartsAndCountedOnceAcrossAKill) {
  const size_t elements = 1'000'000;  // 3 MiB a message: the embedded broker keeps little
  {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", broker_->bootstrap().c_str(), nullptr, 0);
    rd_kafka_conf_set(conf, "message.max.bytes", "10000000", nullptr, 0);
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
    rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, nullptr, 0);
    ASSERT_NE(producer, nullptr);
    const std::string flood = EmptyArrays(elements);
    const std::string events = ValidEvents(1, 100);
    for (int32_t partition : {0, 1}) {
      for (const std::string* value : {&flood, &events}) {
        ASSERT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("task-actions"), RD_KAFKA_V_PARTITION(partition),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_VALUE(const_cast<char*>(value->data()), value->size()),
                                    RD_KAFKA_V_END),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
      }
    }
    EXPECT_EQ(rd_kafka_flush(producer, 30'000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(producer);
  }
  {
    // Killed once some parts are applied, before all are.
    auto tally = Serve("killed");
    const uint16_t port = PortOf(*tally);
    ASSERT_NE(port, 0) << tally->Output();
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          const std::string metrics = testing::HttpGet(port, "/metrics").body;
          return metrics.find("tally_events_rejected_total{reason=\"wrong_type\"} 0\n") == std::string::npos;
        },
        30s))
        << tally->Output();
    tally->Signal(SIGKILL);
    ASSERT_TRUE(tally->Wait(10s));
    auto store = Store::Open(StoreOptions{dir_ / "data", size_t{kMemoryMb} << 20, false, {}});
    ASSERT_TRUE(store) << store.error().ToString();
    auto counts = (*store)->RejectionCounts((*store)->Snapshot());
    ASSERT_TRUE(counts);
    std::cout << "killed with " << Counted(*counts, RejectReason::kWrongType) << " of " << 2 * elements
              << " rejections applied\n";
    EXPECT_LT(Counted(*counts, RejectReason::kWrongType), 2 * elements) << "killed too late to test anything";
  }
  {
    auto tally = Serve("final");
    const uint16_t port = PortOf(*tally);
    ASSERT_NE(port, 0) << tally->Output();
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          const testing::HttpReply r = testing::HttpGet(port, "/readyz");
          return r.body.find("\"lag\":0,") != std::string::npos;
        },
        60s))
        << tally->Output();
    tally->Signal(SIGTERM);
    ASSERT_TRUE(testing::ExitedWith(tally->Wait(20s), 0)) << tally->Output();
  }
  EXPECT_LE(ChildrenPeakRss(), kRssLimit) << "peak RSS of tally serve";
  auto store = Store::Open(StoreOptions{dir_ / "data", size_t{kMemoryMb} << 20, false, {}});
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ((*store)->totals().records, 100u);
  auto counts = (*store)->RejectionCounts((*store)->Snapshot());
  ASSERT_TRUE(counts);
  EXPECT_EQ(Counted(*counts, RejectReason::kWrongType), 2 * elements);
  auto kept = (*store)->Rejections((*store)->Snapshot(), 100'000);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->size(), 2 * kKeptRejections);
  auto offsets = (*store)->Offsets("task-actions");
  ASSERT_TRUE(offsets);
  std::vector<std::pair<int32_t, int64_t>> next;  // (the cluster id and fingerprint are checked in consumer_test)
  for (const PartitionOffset& o : *offsets) next.emplace_back(Raw(o.partition), Raw(o.next));
  EXPECT_EQ(next, (std::vector<std::pair<int32_t, int64_t>>{{0, 2}, {1, 2}}));
}

}  // namespace
}  // namespace tally
