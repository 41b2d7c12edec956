// The store's faults as an operator meets them, through `tally replay` and
// `tally serve` (on an embedded broker the test hosts):
// - the data dir on a small filesystem that fills up during ingestion: exit 1
//   with one line naming the path and the error, never an abort (librocksdb 7.8
//   is built with assertions; it aborted in most runs), and after space is
//   freed a restart ends with exactly the stream: nothing lost or doubled;
// - a damaged store (bad CURRENT, MANIFEST checksum): refused, exit 1, saying so;
// - a flipped byte in the live WAL: the restart says what recovery dropped and
//   from where ingestion resumes, and Kafka delivers it again.
// The small filesystem is a tmpfs: mounting needs root (the tests run as root);
// elsewhere those cases are skipped.

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "aggregate/store.h"
#include "ingest/dev_broker.h"
#include "tests/aggregate/model_check.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_broker.h"

namespace tally {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ChildProcess;

constexpr int kPartitions = 4;

// A tmpfs of a few MiB mounted on a fresh directory; unmounted when it goes.
class SmallDisk {
 public:
  SmallDisk(const std::string& path, int mib) : path_(path) {
    fs::create_directories(path);
    const std::string size = "size=" + std::to_string(mib) + "m";
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, size.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  // Frees space the way an operator would: a bigger filesystem.
  bool Grow(int mib) {
    const std::string size = "size=" + std::to_string(mib) + "m";
    return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT, size.c_str()) == 0;
  }
  // An empty filesystem again, for the next run.
  void Clear() {
    for (const auto& e : fs::directory_iterator(path_)) fs::remove_all(e.path());
  }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A run that hit the full disk: exit 1 (not a signal), and exactly one line
// about it, naming the data dir and the error.
void ExpectOneLineDiskFull(const std::optional<int>& status, const std::string& output, const std::string& data) {
  ASSERT_TRUE(status.has_value()) << "still running:\n" << output;
  EXPECT_FALSE(WIFSIGNALED(*status)) << "killed by signal " << WTERMSIG(*status) << ":\n" << output;
  EXPECT_TRUE(testing::ExitedWith(status, 1)) << output;
  EXPECT_EQ(output.find("Assertion"), std::string::npos) << output;
  size_t about = 0;
  for (const std::string& line : Lines(output)) {
    if (line.find("No space left on device") == std::string::npos) continue;
    ++about;
    EXPECT_NE(line.find("the store in " + data + " failed"), std::string::npos) << line;
  }
  EXPECT_EQ(about, 1u) << output;
}

class StoreFaultsTest : public ::testing::Test {
 protected:
  // The stream as NDJSON, a message a line (what `tally replay` reads).
  std::string WriteNdjson(const testing::TestStream& stream) {
    const std::string path = dir_ / "events.ndjson";
    std::ofstream out(path);
    for (const auto& m : stream.messages) out << m.value << "\n";
    return path;
  }
  // A small memory budget makes memtables flush often (a full disk can hit a
  // flush as well as the WAL); a big one keeps every batch in the live WAL.
  std::unique_ptr<ChildProcess> Replay(const std::string& data, const std::string& input, const std::string& log,
                                       const std::string& memory_mb = "16") {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{TALLY_BINARY, "replay", "--data-dir", data, "--memory-mb", memory_mb, "--batch",
                                 "2000", input},
        dir_ / log);
  }
  std::unique_ptr<ChildProcess> Serve(const std::string& brokers, const std::string& data, const std::string& log,
                                      const std::string& memory_mb = "16") {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{TALLY_BINARY, "serve", "--brokers", brokers, "--data-dir", data, "--listen",
                                 "127.0.0.1:0", "--batch-wait-ms", "20", "--batch-events", "2000", "--memory-mb",
                                 memory_mb, "--kafka", "session.timeout.ms=6000", "--kafka",
                                 "heartbeat.interval.ms=500"},
        dir_ / log);
  }
  static uint16_t PortOf(ChildProcess& child) {
    auto port = child.WaitForOutput("serving http://127\\.0\\.0\\.1:([0-9]+)", 20s);
    return port ? static_cast<uint16_t>(std::stoi(*port)) : 0;
  }
  // Until /readyz says lag 0 twice in a row.
  static bool WaitCaughtUp(uint16_t port, std::chrono::seconds timeout) {
    int zeros = 0;
    return testing::WaitFor(
        [&] {
          const testing::HttpReply r = testing::HttpGet(port, "/readyz");
          zeros = r.status == 200 && r.body.find("\"lag\":0,") != std::string::npos ? zeros + 1 : 0;
          return zeros >= 2;
        },
        timeout);
  }
  static std::string CheckStore(const std::string& data, const testing::TestStream& stream) {
    auto store = Store::Open(StoreOptions{data, size_t{64} << 20, false, {}});
    if (!store) return store.error().ToString();
    return testing::CheckStoreMatches(**store, stream.model, {1000});
  }

  testing::TempDir dir_;
};

TEST_F(StoreFaultsTest, ReplayOnAFullDiskExitsOneWithOneLineAndResumesAfterSpaceIsFreed) {
  SmallDisk disk(dir_ / "disk", 6);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a 6 MiB tmpfs (needs root): " << disk.error();
  const testing::TestStream stream = testing::MakeStream(31, kPartitions, 30, 60);
  const std::string input = WriteNdjson(stream);
  const std::string data = dir_ / "disk/data";
  // It aborted in most runs: several runs, each from an empty disk.
  for (int run = 0; run < 4; ++run) {
    disk.Clear();
    auto tally = Replay(data, input, "replay-full-" + std::to_string(run) + ".log");
    const auto status = tally->Wait(60s);
    ExpectOneLineDiskFull(status, tally->Output(), data);
  }
  // Space freed: a restart applies the rest; the store holds the stream exactly.
  ASSERT_TRUE(disk.Grow(512));
  auto tally = Replay(data, input, "replay-after.log");
  ASSERT_TRUE(testing::ExitedWith(tally->Wait(60s), 0)) << tally->Output();
  EXPECT_EQ(CheckStore(data, stream), "");
}

TEST_F(StoreFaultsTest, ServeOnAFullDiskExitsOneWithOneLineAndResumesAfterSpaceIsFreed) {
  SmallDisk disk(dir_ / "disk", 6);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a 6 MiB tmpfs (needs root): " << disk.error();
  auto broker = testing::BrokerWithTopic(kPartitions);
  ASSERT_TRUE(broker);
  const testing::TestStream stream = testing::MakeStream(32, kPartitions, 30, 60);
  {
    testing::TestProducer producer(broker->bootstrap());
    for (const auto& m : stream.messages) producer.Send("task-actions", m);
    producer.Flush();
  }
  const std::string data = dir_ / "disk/data";
  for (int run = 0; run < 3; ++run) {
    disk.Clear();
    auto tally = Serve(broker->bootstrap(), data, "serve-full-" + std::to_string(run) + ".log");
    const auto status = tally->Wait(60s);
    ExpectOneLineDiskFull(status, tally->Output(), data);
  }
  ASSERT_TRUE(disk.Grow(512));
  auto tally = Serve(broker->bootstrap(), data, "serve-after.log");
  const uint16_t port = PortOf(*tally);
  ASSERT_NE(port, 0) << tally->Output();
  ASSERT_TRUE(WaitCaughtUp(port, 60s)) << tally->Output();
  tally->Signal(SIGTERM);
  ASSERT_TRUE(testing::ExitedWith(tally->Wait(10s), 0)) << tally->Output();
  EXPECT_EQ(CheckStore(data, stream), "");
}

// A store written by replay, then damaged by `damage`; both commands that open
// it refuse it with exit 1 and a line saying it is damaged and what is wrong.
void ExpectRefused(const std::string& data, const std::string& what, const testing::TempDir& dir) {
  const std::vector<std::vector<std::string>> commands = {
      {TALLY_BINARY, "replay", "--data-dir", data, "/dev/null"},
      {TALLY_BINARY, "serve", "--brokers", "127.0.0.1:1", "--data-dir", data, "--listen", "127.0.0.1:0"},
  };
  for (const auto& args : commands) {
    ChildProcess tally(args, dir / "refused.log");
    const auto status = tally.Wait(20s);
    EXPECT_TRUE(testing::ExitedWith(status, 1)) << args[1] << ": " << tally.Output();
    const std::string out = tally.Output();
    EXPECT_NE(out.find("the store in " + data + " is damaged and was not opened"), std::string::npos)
        << args[1] << ": " << out;
    EXPECT_NE(out.find(what), std::string::npos) << args[1] << ": " << out;
    EXPECT_EQ(Lines(out).size(), 1u) << args[1] << ": " << out;
  }
}

TEST_F(StoreFaultsTest, DamagedStoreIsRefusedWithExitOneByReplayAndServe) {
  const testing::TestStream stream = testing::MakeStream(33, kPartitions, 4, 20);
  const std::string input = WriteNdjson(stream);
  for (const std::string damage : {"CURRENT", "MANIFEST"}) {
    const std::string data = dir_ / ("data-" + damage);
    {
      auto tally = Replay(data, input, "write.log");
      ASSERT_TRUE(testing::ExitedWith(tally->Wait(60s), 0)) << tally->Output();
    }
    if (damage == "CURRENT") {
      std::ofstream(data + "/CURRENT", std::ios::trunc) << "garbage";
      ExpectRefused(data, "Corruption: CURRENT file", dir_);
    } else {
      fs::path manifest;
      for (const auto& e : fs::directory_iterator(data)) {
        if (e.path().filename().string().rfind("MANIFEST-", 0) == 0) manifest = e.path();
      }
      ASSERT_FALSE(manifest.empty());
      const auto size = static_cast<std::streamoff>(fs::file_size(manifest));
      std::fstream f(manifest, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(size / 2);
      char c = 0;
      f.get(c);
      f.seekp(size / 2);
      f.put(static_cast<char>(c ^ 0x40));
      f.close();
      ExpectRefused(data, "checksum mismatch in file " + manifest.string(), dir_);
    }
  }
}

// The largest WAL of `data` with one byte flipped in its middle; its path.
std::string FlipByteInLiveWal(const std::string& data) {
  fs::path wal;
  for (const auto& e : fs::directory_iterator(data)) {
    if (e.path().extension() == ".log" && (wal.empty() || e.file_size() > fs::file_size(wal))) wal = e.path();
  }
  if (wal.empty()) return "";
  const auto size = static_cast<std::streamoff>(fs::file_size(wal));
  std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(size / 2);
  char c = 0;
  f.get(c);
  f.seekp(size / 2);
  f.put(static_cast<char>(c ^ 0x08));
  return wal.string();
}

TEST_F(StoreFaultsTest, ReplaySaysWhatWalRecoveryDroppedAndReplayingAgainRestoresIt) {
  const testing::TestStream stream = testing::MakeStream(34, kPartitions, 20, 60);
  const std::string input = WriteNdjson(stream);
  const std::string data = dir_ / "data";
  {
    auto tally = Replay(data, input, "replay-1.log", "256");
    ASSERT_TRUE(testing::ExitedWith(tally->Wait(60s), 0)) << tally->Output();
  }
  const std::string wal = FlipByteInLiveWal(data);
  ASSERT_FALSE(wal.empty());
  auto tally = Replay(data, input, "replay-2.log", "256");
  ASSERT_TRUE(testing::ExitedWith(tally->Wait(60s), 0)) << tally->Output();
  const std::string out = tally->Output();
  const std::regex said("tally replay: WARNING: recovery of the write-ahead log stopped at a damaged record \\(byte "
                        "[0-9]+ of " + wal + "\\) and DROPPED everything after it: [0-9]+ bytes, ([0-9]+) intact "
                        "batch\\(es\\) holding ([0-9]+) new record\\(s\\)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, said)) << out;
  EXPECT_GT(std::stoull(m[2]), 0u) << out;
  // Replaying the input again restored what was dropped: applied again, not doubled.
  std::smatch applied;
  ASSERT_TRUE(std::regex_search(out, applied, std::regex("replay: done: .* ([0-9]+) applied"))) << out;
  EXPECT_GT(std::stoull(applied[1]), std::stoull(m[2])) << "the dropped batches and the damaged one";
  EXPECT_EQ(CheckStore(data, stream), "");
}

TEST_F(StoreFaultsTest, ServeSaysWhatWalRecoveryDroppedAndKafkaDeliversItAgain) {
  auto broker = testing::BrokerWithTopic(kPartitions);
  ASSERT_TRUE(broker);
  const testing::TestStream stream = testing::MakeStream(35, kPartitions, 20, 60);
  {
    testing::TestProducer producer(broker->bootstrap());
    for (const auto& m : stream.messages) producer.Send("task-actions", m);
    producer.Flush();
  }
  const std::string data = dir_ / "data";
  {
    auto tally = Serve(broker->bootstrap(), data, "serve-1.log", "256");
    const uint16_t port = PortOf(*tally);
    ASSERT_NE(port, 0) << tally->Output();
    ASSERT_TRUE(WaitCaughtUp(port, 60s)) << tally->Output();
    tally->Signal(SIGTERM);
    ASSERT_TRUE(testing::ExitedWith(tally->Wait(10s), 0)) << tally->Output();
  }
  const std::string wal = FlipByteInLiveWal(data);
  ASSERT_FALSE(wal.empty());
  auto tally = Serve(broker->bootstrap(), data, "serve-2.log", "256");
  const uint16_t port = PortOf(*tally);
  ASSERT_NE(port, 0) << tally->Output();
  const std::string out = tally->Output();
  EXPECT_NE(out.find("tally serve: WARNING: recovery of the write-ahead log stopped at a damaged record (byte "),
            std::string::npos)
      << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("resumes from the stored offsets \\(partition:offset\\)( [0-9]+:[0-9]+)+"
                                                ": Kafka delivers the dropped events again")))
      << out;
  ASSERT_TRUE(WaitCaughtUp(port, 60s)) << tally->Output();
  tally->Signal(SIGTERM);
  ASSERT_TRUE(testing::ExitedWith(tally->Wait(10s), 0)) << tally->Output();
  EXPECT_EQ(CheckStore(data, stream), "");
}

}  // namespace
}  // namespace tally
