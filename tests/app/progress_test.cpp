// The progress line of `tally replay` and `tally produce` (app/progress.h): its
// formatting with an injected clock, and as processes: silent when stderr is a
// file, a line rewritten with \r when stderr is a terminal (a pty).

#include "app/progress.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

using namespace std::chrono_literals;

TEST(ProgressFormat, CountsInThreeSignificantDigits) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1000), "1.00k");
  EXPECT_EQ(FormatCount(12345), "12.3k");
  EXPECT_EQ(FormatCount(152000), "152k");
  EXPECT_EQ(FormatCount(999999), "1.00M");
  EXPECT_EQ(FormatCount(4'560'000), "4.56M");
  EXPECT_EQ(FormatCount(7.89e9), "7.89G");
}

TEST(ProgressFormat, DurationsAsClockTimes) {
  EXPECT_EQ(FormatDuration(0), "0:00");
  EXPECT_EQ(FormatDuration(7.4), "0:07");
  EXPECT_EQ(FormatDuration(754), "12:34");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatDuration(1.0 / 0.0), "?");
}

TEST(ProgressFormat, RateAlwaysEtaOnlyWithATotal) {
  // 300,000 events in 2 s; 40 % done: the rest takes 3 s at that pace.
  EXPECT_EQ(FormatProgress("replay", 300'000, 2, 0.4), "replay: 300k events, 150k events/s, 40% (ETA 0:03)");
  EXPECT_EQ(FormatProgress("produce", 1'234'567, 10, -1), "produce: 1.23M events, 123k events/s");
  // Nothing done yet: no ETA to give; past the end (read ahead): 100 %, ETA 0.
  EXPECT_EQ(FormatProgress("replay", 0, 0, 0), "replay: 0 events, 0 events/s, 0% (ETA ?)");
  EXPECT_EQ(FormatProgress("replay", 10, 1, 1.2), "replay: 10 events, 10 events/s, 100% (ETA 0:00)");
}

// What a ProgressLine writes, on a clock the test moves.
class ProgressLineTest : public ::testing::Test {
 protected:
  void SetUp() override { out_ = open_memstream(&buffer_, &size_); }
  void TearDown() override {
    std::fclose(out_);
    std::free(buffer_);
  }
  std::string Written() {
    std::fflush(out_);
    return std::string(buffer_, size_);
  }
  double now_ = 100;
  std::FILE* out_ = nullptr;
  char* buffer_ = nullptr;
  size_t size_ = 0;
};

TEST_F(ProgressLineTest, RewritesOneLineAFewTimesASecond) {
  ProgressLine line("replay", out_, true, [&] { return now_; });
  line.Update(10, 0.1);  // at the start: too soon
  EXPECT_EQ(Written(), "");
  now_ += 0.5;
  line.Update(100'000, 0.25);
  EXPECT_EQ(Written(), "\rreplay: 100k events, 200k events/s, 25% (ETA 0:02)");
  now_ += 0.1;  // within ProgressLine::kInterval of the last print: nothing
  line.Update(120'000, 0.3);
  EXPECT_EQ(Written(), "\rreplay: 100k events, 200k events/s, 25% (ETA 0:02)");
  now_ += 0.4;  // 1 s in: a shorter line is padded over the longer one before it
  line.Update(150'000);
  const std::string first = "\rreplay: 100k events, 200k events/s, 25% (ETA 0:02)";
  const std::string second = "replay: 150k events, 150k events/s";
  EXPECT_EQ(Written(), first + "\r" + second + std::string(first.size() - 1 - second.size(), ' '));
  EXPECT_EQ(Written().find('\n'), std::string::npos);
  // Clear blanks the line and returns to its start, for the final report.
  const size_t before = Written().size();
  line.Clear();
  EXPECT_EQ(Written().substr(before), "\r" + std::string(second.size(), ' ') + "\r");
  line.Clear();  // nothing on screen any more
  EXPECT_EQ(Written().size(), before + second.size() + 2);
}

TEST_F(ProgressLineTest, DisabledWritesNothing) {
  ProgressLine line("produce", out_, false, [&] { return now_; });
  for (int i = 0; i < 10; ++i) {
    now_ += 1;
    line.Update(static_cast<uint64_t>(i) * 1000, 0.1 * i);
  }
  line.Clear();
  EXPECT_EQ(Written(), "");
  EXPECT_FALSE(line.enabled());
}

// --- as processes ---------------------------------------------------------------

class ProgressProcessTest : public ::testing::Test {
 protected:
  // A stream of ~365,000 events: over a second of replay at ~300,000 events/s (a
  // quiet 2-core machine), so several progress intervals (0.25 s). ~90,000 were
  // replayed in 0.3 s once replay got faster, and the progress line came or not.
  void SetUp() override {
    testing::ChildProcess produce({TALLY_BINARY, "produce", "--output", Path("events.ndjson"), "--requests", "200",
                                   "--tasks-per-request", "200"},
                                  Path("produce.log"));
    ASSERT_TRUE(testing::ExitedWith(produce.Wait(60s), 0)) << produce.Output();
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  // Runs `args` with stderr (and stdout) on a new pty, reading everything it prints
  // until it exits; kills it by PID after `timeout`. The exit status in *status.
  std::string RunOnTerminal(const std::vector<std::string>& args, int* status,
                            std::chrono::seconds timeout = 60s) {
    int master = -1, slave = -1;
    if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
      ADD_FAILURE() << "openpty: " << std::strerror(errno);
      return "";
    }
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      setsid();
      dup2(slave, STDOUT_FILENO);
      dup2(slave, STDERR_FILENO);
      close(master);
      close(slave);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(slave);
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool exited = false;
    *status = -1;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{master, POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        char buffer[4096];
        const ssize_t n = read(master, buffer, sizeof buffer);
        if (n > 0) {
          out.append(buffer, static_cast<size_t>(n));
          continue;
        }
        if (exited) break;  // EIO: the child's side is closed and drained
      }
      if (!exited && waitpid(pid, status, WNOHANG) == pid) exited = true;
      if (exited && poll(&p, 1, 0) <= 0) break;
    }
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, status, 0);
      ADD_FAILURE() << args[1] << " did not finish within " << timeout.count() << " s";
    }
    close(master);
    return out;
  }

  testing::TempDir dir_;
};

TEST_F(ProgressProcessTest, ReplayIsSilentWhenStderrIsAFile) {
  // The same run that shows progress on a terminal (next test) lasts over a second.
  testing::ChildProcess replay({TALLY_BINARY, "replay", "--batch", "1000", "--data-dir", Path("store"),
                                Path("events.ndjson")},
                               Path("replay.log"));
  ASSERT_TRUE(testing::ExitedWith(replay.Wait(60s), 0)) << replay.Output();
  const std::string out = replay.Output();
  EXPECT_TRUE(std::regex_match(out, std::regex("replay: done: [0-9]+ events in .* rejected\n"))) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
}

TEST_F(ProgressProcessTest, ProduceIsSilentWhenStderrIsAFile) {
  // ~9,000 events at 1,200/s: over seven seconds, past the interval of any progress report.
  testing::ChildProcess produce({TALLY_BINARY, "produce", "--output", Path("paced.ndjson"), "--requests", "10",
                                 "--tasks-per-request", "100", "--rate", "1200"},
                                Path("paced.log"));
  ASSERT_TRUE(testing::ExitedWith(produce.Wait(60s), 0)) << produce.Output();
  const std::string out = produce.Output();
  EXPECT_TRUE(std::regex_match(out, std::regex("produce: done: [0-9]+ events .* to .*paced.ndjson\n"))) << out;
}

TEST_F(ProgressProcessTest, ReplayShowsProgressAndEtaOnATerminal) {
  int status = 0;
  const std::string out = RunOnTerminal(
      {TALLY_BINARY, "replay", "--batch", "1000", "--data-dir", Path("store"), Path("events.ndjson")}, &status);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  // The file's size is known: percent and ETA; the line ends in \r, not \n, and is
  // blanked before the final report.
  EXPECT_TRUE(std::regex_search(out, std::regex("\rreplay: [0-9.]+k? events, [0-9.]+k? events/s, [0-9]+% \\(ETA "
                                                "[0-9?:]+\\)")))
      << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("\r +\rreplay: done: "))) << out;
}

TEST_F(ProgressProcessTest, ReplayFromAPipeShowsNoEta) {
  int status = 0;
  const std::string command = "cat '" + Path("events.ndjson") + "' | " + TALLY_BINARY +
                              " replay --batch 1000 --data-dir '" + Path("piped") + "' -";
  const std::string out = RunOnTerminal({"/bin/sh", "-c", command}, &status);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("\rreplay: [0-9.]+k? events, [0-9.]+k? events/s"))) << out;
  EXPECT_EQ(out.find("ETA"), std::string::npos) << out;
  EXPECT_NE(out.find("replay: done: "), std::string::npos) << out;
}

TEST_F(ProgressProcessTest, ProduceShowsProgressOnATerminal) {
  int status = 0;
  const std::string out = RunOnTerminal({TALLY_BINARY, "produce", "--output", Path("paced.ndjson"), "--requests",
                                         "10", "--tasks-per-request", "100", "--rate", "6000"},
                                        &status);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  // The workload's share of finished tasks gives the ETA.
  EXPECT_TRUE(std::regex_search(out, std::regex("\rproduce: [0-9.]+k? events, [0-9.]+k? events/s, [0-9]+% \\(ETA "
                                                "[0-9?:]+\\)")))
      << out;
  EXPECT_NE(out.find("produce: done: "), std::string::npos) << out;
}

}  // namespace
}  // namespace tally
