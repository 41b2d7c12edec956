// `tally produce` as a process: the same seed gives the same bytes, Kafka gets
// exactly the messages a file gets, unreachable brokers and bad flags fail
// with the documented exit codes.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "ingest/dev_broker.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_broker.h"

namespace tally {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

const std::vector<std::string> kWorkload = {"--requests", "3",    "--tasks-per-request", "20",  "--seed",
                                            "9",          "--duplicates", "0.1",          "--out-of-order", "10",
                                            "--array",    "2"};

class ProduceTest : public ::testing::Test {
 protected:
  // Runs tally produce with `args` to completion (30 s at most); its exit status.
  std::optional<int> Produce(std::vector<std::string> args, const std::string& log) {
    args.insert(args.begin(), {TALLY_BINARY, "produce"});
    ChildProcess produce(args, dir_ / log);
    const std::optional<int> status = produce.Wait(30s);
    output_ = produce.Output();
    return status;
  }

  std::string Read(const std::string& name) {
    std::ifstream in(dir_ / name, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  testing::TempDir dir_;
  std::string output_;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(ProduceTest, SameSeedGivesTheSameBytesAnotherSeedOthers) {
  auto run = [&](const std::string& seed, const std::string& file) {
    std::vector<std::string> args = kWorkload;
    args[5] = seed;
    args.insert(args.end(), {"--output", dir_ / file});
    EXPECT_TRUE(testing::ExitedWith(Produce(args, file + ".log"), 0)) << output_;
    return Read(file);
  };
  const std::string a = run("9", "a.ndjson");
  EXPECT_GT(Lines(a).size(), 100u);
  EXPECT_EQ(a, run("9", "b.ndjson"));
  EXPECT_NE(a, run("10", "c.ndjson"));
}

TEST_F(ProduceTest, KafkaGetsTheMessagesAFileGets) {
  auto broker = testing::BrokerWithTopic(4, "produced");
  ASSERT_TRUE(broker);
  std::vector<std::string> to_kafka = kWorkload;
  to_kafka.insert(to_kafka.end(), {"--brokers", broker->bootstrap(), "--topic", "produced"});
  ASSERT_TRUE(testing::ExitedWith(Produce(to_kafka, "kafka.log"), 0)) << output_;
  EXPECT_NE(output_.find("done:"), std::string::npos) << output_;
  std::vector<std::string> to_file = kWorkload;
  to_file.insert(to_file.end(), {"--output", dir_ / "file.ndjson"});
  ASSERT_TRUE(testing::ExitedWith(Produce(to_file, "file.log"), 0)) << output_;

  std::vector<std::string> expected = Lines(Read("file.ndjson"));
  std::vector<std::string> got;
  for (auto& m : testing::ReadTopic(broker->bootstrap(), "produced", expected.size(), 30s)) got.push_back(m.value);
  std::sort(expected.begin(), expected.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
}

TEST_F(ProduceTest, RateHoldsTheProducerBack) {
  // 1,000 events at 4,000/s take at least a quarter second; unlimited, far less
  // (only the lower bound is asserted: a loaded machine only makes it slower).
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::ExitedWith(
      Produce({"--output", dir_ / "paced.ndjson", "--events", "1000", "--rate", "4000"}, "paced.log"), 0))
      << output_;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 240ms);
  EXPECT_EQ(Lines(Read("paced.ndjson")).size(), 1000u);
}

TEST_F(ProduceTest, UnreachableBrokersExitOneSayingWhat) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(testing::ExitedWith(Produce({"--brokers", "127.0.0.1:1", "--events", "50", "--kafka",
                                           "message.timeout.ms=1500"},
                                          "down.log"),
                                  1))
      << output_;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 25s);
  EXPECT_NE(output_.find("not delivered"), std::string::npos) << output_;
}

TEST_F(ProduceTest, BadFlagsExitTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string named;
  };
  const std::vector<Case> cases = {
      {{}, "--brokers"},
      {{"--brokers", "127.0.0.1:1", "--output", "-"}, "--output"},
      {{"--output", "-", "--array", "0"}, "--array"},
      {{"--output", "-", "--duplicates", "1.5"}, "--duplicates"},
      {{"--output", "-", "--requests", "many"}, "--requests"},
      {{"--output", "-", "--rate", "-3"}, "--rate"},
      {{"--brokers", "127.0.0.1:1", "--kafka", "no.such.property=1"}, "no.such.property"},
      {{"--brokers", "127.0.0.1:1", "--kafka", "linger.ms"}, "--kafka"},
      {{"--output", dir_ / "no-such-dir/x"}, "--output"},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(testing::ExitedWith(Produce(c.args, "bad.log"), 2)) << c.named << ": " << output_;
    EXPECT_NE(output_.find(c.named), std::string::npos) << output_;
  }
}

}  // namespace
}  // namespace tally
