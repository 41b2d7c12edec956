// Backups, restore and new replicas (README "Backups and new replicas") with
// `tally serve`, `tally backup` and `tally restore` as processes, on an
// embedded broker the test hosts: a replica restored from a backup answers as
// the original did at the backup's position, consumes only what came after,
// and converges with it; backups taken while ingesting and serving hold
// exactly their positions; kill -9 during a backup leaves a complete backup or
// none, and the next one works; the admin endpoints' keys and 4005; the
// offline commands refuse a store in use and a non-empty target.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <future>
#include <regex>
#include <thread>

#include "aggregate/store.h"
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
namespace fs = std::filesystem;

constexpr int kPartitions = 2;
constexpr int kRequests = 5;
constexpr char kKey[] = "backup-test-key";

std::string Request(int id) { return "req-" + std::to_string(id % kRequests); }

std::string EventJson(int id) {
  return R"({"id":)" + std::to_string(id) + R"(,"annotationRequestId":")" + Request(id) +
         R"(","campaignId":"c-1","sceneId":"s-)" + std::to_string(id % 40) + R"(","taskId":)" +
         std::to_string(id % 40 + 1) + R"(,"projectId":7,"poolType":)" + std::to_string(id % 4) +
         R"(,"status":)" + std::to_string(id % 9 + 1) + R"(,"actionType":)" + std::to_string(id % 11) +
         R"(,"aliceName":"alice-)" + std::to_string(id % 6) + R"(","instanceInfo":{"box":)" +
         std::to_string(id % 3) + R"(},"createdTime":"2025-04-01 08:)" + std::to_string(10 + id % 50) + ":" +
         std::to_string(10 + id % 40) + R"("})";
}

std::vector<std::pair<std::string, std::string>> Auth() { return {{"Authorization", std::string("Bearer ") + kKey}}; }

// The answer without what differs between any two answers (date, requestId).
std::string Comparable(const HttpResult& r) {
  static const std::regex varying(R"("date":"[^"]*","requestId":"[0-9a-f]*")");
  return std::to_string(r.status) + " " + r.header("etag") + " " + r.header("x-tally-position") + " " +
         std::regex_replace(r.body, varying, "");
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::BrokerWithTopic(kPartitions);
    ASSERT_TRUE(broker_);
  }

  std::unique_ptr<ChildProcess> Serve(const std::string& name, std::vector<std::string> extra = {},
                                      const std::string& data = "") {
    std::vector<std::string> args = {TALLY_BINARY, "serve", "--brokers", broker_->bootstrap(), "--group",
                                     "group-" + name, "--data-dir", data.empty() ? dir_ / name : data,
                                     "--listen", "127.0.0.1:0", "--batch-wait-ms", "5", "--memory-mb", "64",
                                     "--threads", "2", "--query-threads", "2", "--api-key", kKey,
                                     "--kafka", "session.timeout.ms=6000", "--kafka", "fetch.wait.max.ms=20"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(args, dir_ / (name + "-" + std::to_string(serial_++) + ".log"));
  }

  ChildProcess Run(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), TALLY_BINARY);
    return ChildProcess(args, dir_ / (name + ".log"));
  }

  static uint16_t PortOf(ChildProcess& child) {
    auto port = child.WaitForOutput("serving http://127\\.0\\.0\\.1:([0-9]+)", 30s);
    return port ? static_cast<uint16_t>(std::stoi(*port)) : 0;
  }

  void Produce(int first_id, int count) {
    testing::TestProducer producer(broker_->bootstrap());
    for (int id = first_id; id < first_id + count; ++id) {
      producer.Send("task-actions", {id % kPartitions, Request(id), EventJson(id)});
      if ((id - first_id) % 2000 == 1999) producer.Flush();
    }
    producer.Flush();
  }

  static std::string AllRequests() {
    std::string list;
    for (int r = 0; r < kRequests; ++r) list += (r ? "," : "") + std::string("req-") + std::to_string(r);
    return list;
  }

  // Distinct records over every request; -1 for anything but a 200.
  static int64_t Count(uint16_t port) {
    const HttpResult r = HttpClient(port).Get("/statistics/record?limit=1&annotationRequestId=" + AllRequests(), Auth());
    std::smatch m;
    if (r.status != 200 || !std::regex_search(r.body, m, std::regex(R"("count":([0-9]+))"))) return -1;
    return std::stoll(m[1]);
  }

  static bool WaitCount(uint16_t port, int64_t count, std::chrono::seconds timeout = 60s) {
    return testing::WaitFor([&] { return Count(port) == count; }, timeout);
  }

  // Every business endpoint, as comparable text.
  static std::vector<std::string> Answers(uint16_t port) {
    std::vector<std::string> out;
    for (int r = 0; r < kRequests; ++r) {
      const std::string q = "annotationRequestId=req-" + std::to_string(r);
      for (const std::string& target : {"/statistics?pageSize=1000&" + q, "/statistics/summary?" + q,
                                       "/statistics/labelers?" + q, "/statistics/record?limit=1000&" + q}) {
        out.push_back(target + " -> " + Comparable(HttpClient(port).Get(target, Auth())));
      }
      out.push_back("task/get " + Comparable(HttpClient(port).Post(
                                      "/task/get", R"({"campaignId":"c-1","annotationRequestId":"req-)" +
                                                       std::to_string(r) + R"(","sceneId":"s-)" +
                                                       std::to_string(r) + R"("})",
                                      Auth())));
    }
    out.push_back("all -> " +
                  Comparable(HttpClient(port).Get("/statistics/record?limit=1000&annotationRequestId=" + AllRequests(),
                                                  Auth())));
    return out;
  }

  static int64_t Metric(uint16_t port, const std::string& name) {
    const std::string text = HttpClient(port).Get("/metrics").body;
    const size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + name.size() + 2));
  }

  static std::string Field(const std::string& body, const std::string& name) {
    std::smatch m;
    if (!std::regex_search(body, m, std::regex("\"" + name + "\":\"?([^\",}]*)"))) return "";
    return m[1];
  }

  // Restores backup `id` (0: the latest) with `tally restore` into `target`
  // and returns the restored store's record count and offsets; -1 if the
  // restore failed.
  std::pair<int64_t, std::vector<PartitionOffset>> RestoreAndRead(uint32_t id, const std::string& target) {
    std::vector<std::string> args = {"restore", "--backup-dir", dir_ / "backups", "--data-dir", target};
    if (id > 0) args.insert(args.end(), {"--backup-id", std::to_string(id)});
    ChildProcess restore = Run("restore-" + fs::path(target).filename().string(), args);
    const auto status = restore.Wait(60s);
    EXPECT_TRUE(testing::ExitedWith(status, 0)) << restore.Output();
    if (!testing::ExitedWith(status, 0)) return {-1, {}};
    StoreOptions options;
    options.path = target;
    options.memory_bytes = size_t{32} << 20;
    auto store = Store::Open(options);
    EXPECT_TRUE(store) << store.error().ToString();
    if (!store) return {-1, {}};
    auto offsets = (*store)->Offsets("task-actions");
    EXPECT_TRUE(offsets);
    return {static_cast<int64_t>((*store)->totals().records), offsets ? *offsets : std::vector<PartitionOffset>{}};
  }

  testing::TempDir dir_;
  std::unique_ptr<DevBroker> broker_;
  int serial_ = 0;
};

TEST_F(BackupTest, ARestoredReplicaAnswersAsTheOriginalAtTheBackupThenConsumesOnlyWhatCameAfter) {
  auto a = Serve("a", {"--backup-dir", dir_ / "backups"});
  const uint16_t port_a = PortOf(*a);
  ASSERT_NE(port_a, 0) << a->Output();
  Produce(1, 600);
  ASSERT_TRUE(WaitCount(port_a, 600)) << a->Output();

  const HttpResult taken = HttpClient(port_a, 60).Post("/admin/backup", "", Auth());
  ASSERT_EQ(taken.status, 200) << taken.body;
  EXPECT_EQ(taken.header("cache-control"), "no-store");
  const std::string position = Field(taken.body, "position");
  ASSERT_TRUE(ParsePosition(position, "task-actions")) << taken.body;
  EXPECT_EQ(Field(taken.body, "backupId"), "1");
  EXPECT_GT(std::stoll(Field(taken.body, "bytes")), 0);
  const std::vector<std::string> at_backup = Answers(port_a);
  // Nothing produced since: the original is still at the backup's position.
  EXPECT_NE(at_backup[0].find(position), std::string::npos) << at_backup[0];
  const HttpResult listed = HttpClient(port_a).Get("/admin/backups", Auth());
  ASSERT_EQ(listed.status, 200);
  EXPECT_NE(listed.body.find(R"("backupId":1,"position":")" + position + "\""), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find("\"createdTime\":\"20"), std::string::npos) << listed.body;
  EXPECT_GT(Metric(port_a, "tally_backup_last_success_timestamp_seconds"), 1'700'000'000);
  EXPECT_EQ(Metric(port_a, "tally_backup_failures_total"), 0);

  // A new replica from the backup: the same answers, byte for byte (but the
  // date and request id), having consumed nothing.
  auto b = Serve("b", {"--restore-from", dir_ / "backups"});
  const uint16_t port_b = PortOf(*b);
  ASSERT_NE(port_b, 0) << b->Output();
  EXPECT_NE(b->Output().find("restored backup 1"), std::string::npos) << b->Output();
  ASSERT_TRUE(testing::WaitFor([&] { return HttpClient(port_b).Get("/readyz").status == 200; }, 30s));
  EXPECT_EQ(Answers(port_b), at_backup);
  EXPECT_EQ(Metric(port_b, "tally_events_consumed_total"), 0);

  // What comes after: both apply it, and agree again.
  Produce(601, 300);
  ASSERT_TRUE(WaitCount(port_a, 900)) << a->Output();
  ASSERT_TRUE(WaitCount(port_b, 900)) << b->Output();
  EXPECT_EQ(Answers(port_b), Answers(port_a));
  EXPECT_EQ(Metric(port_b, "tally_events_consumed_total"), 300);

  for (auto* p : {a.get(), b.get()}) {
    p->Signal(SIGTERM);
    EXPECT_TRUE(testing::ExitedWith(p->Wait(30s), 0)) << p->Output();
  }
}

TEST_F(BackupTest, BackupsWhileIngestingAndServingHoldExactlyTheirPositions) {
  auto a = Serve("a", {"--backup-dir", dir_ / "backups", "--backup-keep", "0"});
  const uint16_t port_a = PortOf(*a);
  ASSERT_NE(port_a, 0) << a->Output();
  constexpr int kEvents = 30'000;
  std::thread producer([&] { Produce(1, kEvents); });
  // While tally ingests (until it has applied everything): queries, and backups.
  std::atomic<bool> ingesting{true};
  std::atomic<int64_t> queries{0};
  std::thread reader([&] {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (ingesting.load() && std::chrono::steady_clock::now() < deadline) {
      const int64_t count = Count(port_a);
      if (count >= 0) ++queries;
      if (count == kEvents) ingesting = false;
    }
  });
  std::vector<std::string> positions;
  while (ingesting.load() && positions.size() < 8) {
    // Two at once: the second waits for the first and is answered after it.
    auto second = std::async(std::launch::async, [&] { return HttpClient(port_a, 60).Post("/admin/backup", "", Auth()); });
    const HttpResult first = HttpClient(port_a, 60).Post("/admin/backup", "", Auth());
    const HttpResult other = second.get();
    ASSERT_EQ(first.status, 200) << first.body;
    ASSERT_EQ(other.status, 200) << other.body;
    positions.push_back(Field(first.body, "position"));
    positions.push_back(Field(other.body, "position"));
  }
  producer.join();
  reader.join();
  EXPECT_GE(positions.size(), 2u);
  ASSERT_TRUE(WaitCount(port_a, kEvents)) << a->Output();
  EXPECT_GT(queries.load(), 0);
  const HttpResult listed = HttpClient(port_a).Get("/admin/backups", Auth());
  ASSERT_EQ(listed.status, 200);
  a->Signal(SIGTERM);
  ASSERT_TRUE(testing::ExitedWith(a->Wait(30s), 0)) << a->Output();

  // Every backup listed: restored, it holds exactly as many records as
  // messages before its position (every message is one new record).
  std::smatch m;
  std::string rest = listed.body;
  int restored = 0;
  const std::regex entry(R"re(\{"backupId":([0-9]+),"position":"([^"]+)")re");
  while (std::regex_search(rest, m, entry)) {
    const auto id = static_cast<uint32_t>(std::stoul(m[1]));
    auto position = ParsePosition(m[2].str(), "task-actions");
    ASSERT_TRUE(position);
    int64_t messages = 0;
    for (const PartitionNext& p : *position) messages += Raw(p.next);
    auto [records, offsets] = RestoreAndRead(id, dir_ / ("r" + std::to_string(id)));
    EXPECT_EQ(records, messages) << "backup " << id;
    EXPECT_EQ(PositionOf(offsets), *position) << "backup " << id;
    ++restored;
    rest = m.suffix();
  }
  EXPECT_GE(restored, 2);
  EXPECT_LE(static_cast<size_t>(restored), positions.size());
}

TEST_F(BackupTest, KillNineDuringABackupLeavesACompleteBackupOrNoneAndTheNextOneWorks) {
  // 1 MiB/s: the backup of a few MiB takes seconds, time to kill it midway.
  auto a = Serve("a", {"--backup-dir", dir_ / "backups", "--backup-rate-mb", "1"}, dir_ / "data");
  const uint16_t port_a = PortOf(*a);
  ASSERT_NE(port_a, 0) << a->Output();
  constexpr int kEvents = 30'000;
  Produce(1, kEvents);
  ASSERT_TRUE(WaitCount(port_a, kEvents)) << a->Output();
  auto pending = std::async(std::launch::async, [&] {
    try {
      return HttpClient(port_a, 60).Post("/admin/backup", "", Auth()).status;
    } catch (const std::exception&) {
      return 0;  // killed before answering
    }
  });
  // Under way: its private dir made, its metadata (written last) not yet.
  ASSERT_TRUE(testing::WaitFor(
      [&] { return fs::exists(dir_ / "backups/private/1") && !fs::exists(dir_ / "backups/meta/1"); }, 30s));
  std::this_thread::sleep_for(300ms);
  a->Signal(SIGKILL);
  a->Wait(10s);
  const int answered = pending.get();

  ChildProcess restore = Run("restore-after-kill", {"restore", "--backup-dir", dir_ / "backups", "--data-dir",
                                                    dir_ / "after-kill"});
  const auto status = restore.Wait(60s);
  if (answered == 200) {
    EXPECT_TRUE(testing::ExitedWith(status, 0)) << restore.Output();  // complete and verified
  } else {
    // None: the half-written backup is not one.
    EXPECT_TRUE(testing::ExitedWith(status, 2) || testing::ExitedWith(status, 0)) << restore.Output();
    if (testing::ExitedWith(status, 2)) {
      EXPECT_NE(restore.Output().find("no backup"), std::string::npos) << restore.Output();
    }
  }

  // Restarted, the next backup works, and restores whole.
  auto again = Serve("a", {"--backup-dir", dir_ / "backups"}, dir_ / "data");
  const uint16_t port = PortOf(*again);
  ASSERT_NE(port, 0) << again->Output();
  ASSERT_TRUE(WaitCount(port, kEvents)) << again->Output();
  const HttpResult taken = HttpClient(port, 60).Post("/admin/backup", "", Auth());
  ASSERT_EQ(taken.status, 200) << taken.body;
  // Nothing of the killed backup is left behind.
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "backups")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
  again->Signal(SIGTERM);
  EXPECT_TRUE(testing::ExitedWith(again->Wait(30s), 0)) << again->Output();
  auto [records, offsets] = RestoreAndRead(0, dir_ / "restored");
  EXPECT_EQ(records, kEvents);
  int64_t messages = 0;
  for (const PartitionOffset& o : offsets) messages += Raw(o.next);
  EXPECT_EQ(messages, kEvents);
}

TEST_F(BackupTest, AdminEndpointsNeedTheKeyAndABackupDir) {
  auto a = Serve("a");
  const uint16_t port = PortOf(*a);
  ASSERT_NE(port, 0) << a->Output();
  for (const char* path : {"/admin/backup", "/admin/backups"}) {
    const HttpResult anonymous = HttpClient(port).Post(path, "");
    EXPECT_EQ(anonymous.status, 401) << path;
    EXPECT_NE(anonymous.body.find("\"code\":4001"), std::string::npos) << anonymous.body;
    const HttpResult wrong = HttpClient(port).Get(path, {{"X-API-Key", "not-the-key"}});
    EXPECT_EQ(wrong.status, 401) << path;
    const HttpResult keyed = HttpClient(port).Post(path, "", Auth());
    EXPECT_EQ(keyed.status, 400) << path;
    EXPECT_NE(keyed.body.find("\"code\":4005"), std::string::npos) << keyed.body;
    EXPECT_NE(keyed.body.find("--backup-dir"), std::string::npos) << keyed.body;
    EXPECT_EQ(keyed.header("cache-control"), "no-store");
    EXPECT_TRUE(keyed.has("x-tally-lag"));
  }
  EXPECT_EQ(Metric(port, "tally_backup_failures_total"), 0);
  EXPECT_EQ(Metric(port, "tally_backup_last_success_timestamp_seconds"), 0);
  a->Signal(SIGTERM);
  EXPECT_TRUE(testing::ExitedWith(a->Wait(30s), 0)) << a->Output();
}

TEST_F(BackupTest, OfflineCommandsRefuseAStoreInUseAndANonEmptyTarget) {
  auto a = Serve("a", {"--backup-dir", dir_ / "backups"}, dir_ / "data");
  const uint16_t port = PortOf(*a);
  ASSERT_NE(port, 0) << a->Output();
  Produce(1, 50);
  ASSERT_TRUE(WaitCount(port, 50)) << a->Output();
  ASSERT_EQ(HttpClient(port, 60).Post("/admin/backup", "", Auth()).status, 200);

  ChildProcess in_use = Run("backup-in-use", {"backup", "--data-dir", dir_ / "data", "--backup-dir", dir_ / "other"});
  EXPECT_TRUE(testing::ExitedWith(in_use.Wait(30s), 1)) << in_use.Output();
  EXPECT_NE(in_use.Output().find("in use"), std::string::npos) << in_use.Output();

  ChildProcess into_full = Run("restore-full", {"restore", "--backup-dir", dir_ / "backups", "--data-dir", dir_ / "data"});
  EXPECT_TRUE(testing::ExitedWith(into_full.Wait(30s), 2)) << into_full.Output();
  EXPECT_NE(into_full.Output().find("not empty"), std::string::npos) << into_full.Output();

  auto replica = Serve("b", {"--restore-from", dir_ / "backups"}, dir_ / "data");
  EXPECT_TRUE(testing::ExitedWith(replica->Wait(30s), 2)) << replica->Output();
  EXPECT_NE(replica->Output().find("--restore-from"), std::string::npos) << replica->Output();

  a->Signal(SIGTERM);
  ASSERT_TRUE(testing::ExitedWith(a->Wait(30s), 0)) << a->Output();
  // Stopped, the store backs up offline, incrementally, and restores.
  ChildProcess offline = Run("backup-offline", {"backup", "--data-dir", dir_ / "data", "--backup-dir", dir_ / "backups"});
  EXPECT_TRUE(testing::ExitedWith(offline.Wait(30s), 0)) << offline.Output();
  EXPECT_NE(offline.Output().find("backup 2"), std::string::npos) << offline.Output();
  auto [records, offsets] = RestoreAndRead(2, dir_ / "restored");
  EXPECT_EQ(records, 50);
}

}  // namespace
}  // namespace tally
