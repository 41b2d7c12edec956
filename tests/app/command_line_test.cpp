// The `tally` command line as a process: what it does not understand is named
// in the message, with exit code 2 (bad command line).

#include <gtest/gtest.h>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

struct Outcome {
  std::optional<int> status;
  std::string output;  // stdout and stderr together
};

Outcome RunTally(const std::vector<std::string>& args) {
  testing::TempDir dir;
  std::vector<std::string> argv = {TALLY_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess tally(argv, dir / "output");
  Outcome outcome;
  outcome.status = tally.Wait(30s);
  outcome.output = tally.Output();
  return outcome;
}

TEST(CommandLine, UnknownCommandIsNamedExit2) {
  const Outcome run = RunTally({"frobnicate"});
  EXPECT_TRUE(testing::ExitedWith(run.status, 2)) << run.output;
  EXPECT_NE(run.output.find("frobnicate"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("A subcommand is required"), std::string::npos) << run.output;
}

TEST(CommandLine, UnknownTopLevelFlagIsNamedExit2) {
  const Outcome run = RunTally({"--no-such-flag"});
  EXPECT_TRUE(testing::ExitedWith(run.status, 2)) << run.output;
  EXPECT_NE(run.output.find("--no-such-flag"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("A subcommand is required"), std::string::npos) << run.output;
}

TEST(CommandLine, UnknownFlagOfACommandIsNamedExit2) {
  const Outcome run = RunTally({"serve", "--no-such-flag"});
  EXPECT_TRUE(testing::ExitedWith(run.status, 2)) << run.output;
  EXPECT_NE(run.output.find("--no-such-flag"), std::string::npos) << run.output;
}

TEST(CommandLine, BadResponseCacheEntriesIsNamedExit2) {
  for (const char* bad : {"-1", "lots", "99999999999"}) {
    const Outcome run = RunTally({"serve", "--response-cache-entries", bad});
    EXPECT_TRUE(testing::ExitedWith(run.status, 2)) << bad << ": " << run.output;
    EXPECT_NE(run.output.find("--response-cache-entries"), std::string::npos) << run.output;
  }
}

TEST(CommandLine, BadPositionWaitIsNamedExit2) {
  for (const char* bad : {"-1", "soon", "60001"}) {
    const Outcome run = RunTally({"serve", "--position-wait-ms", bad});
    EXPECT_TRUE(testing::ExitedWith(run.status, 2)) << bad << ": " << run.output;
    EXPECT_NE(run.output.find("--position-wait-ms"), std::string::npos) << run.output;
  }
}

TEST(CommandLine, NoCommandSaysOneIsRequiredExit2) {
  const Outcome run = RunTally({});
  EXPECT_TRUE(testing::ExitedWith(run.status, 2)) << run.output;
  EXPECT_NE(run.output.find("A subcommand is required"), std::string::npos) << run.output;
}

TEST(CommandLine, VersionAndHelpExit0) {
  const Outcome version = RunTally({"--version"});
  EXPECT_TRUE(testing::ExitedWith(version.status, 0)) << version.output;
  EXPECT_FALSE(version.output.empty());
  const Outcome help = RunTally({"--help"});
  EXPECT_TRUE(testing::ExitedWith(help.status, 0)) << help.output;
  for (const char* command : {"serve", "demo", "produce", "replay"}) {
    EXPECT_NE(help.output.find(command), std::string::npos) << command << "\n" << help.output;
  }
}

}  // namespace
}  // namespace tally
