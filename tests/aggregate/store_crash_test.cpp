// Crash safety: a child process applying a stream is killed with SIGKILL at
// random moments (and, some runs, between building a batch and writing it),
// restarted on the same data dir each time, and finally run to the end. The
// store must then answer exactly as a reference built from the stream: nothing
// lost, nothing counted twice.

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "aggregate/store.h"
#include "tests/aggregate/crash_stream.h"
#include "tests/aggregate/model_check.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace tally {
namespace {

pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  return pid;
}

TEST(StoreCrashTest, SigkillAtRandomMomentsLosesAndDoublesNothing) {
  testing::TempDir dir;
  const std::string data = dir / "data";
  std::mt19937_64 rng(2026);
  int killed = 0, before_write = 0;
  // The whole stream takes a child ~40 batches and, on an idle machine, well
  // under 100 ms: a few runs killed from outside can finish it, and a child
  // told to die at its n-th batch then never builds one. So the first runs
  // die early by their own hand (at most 4 batches written each), which puts
  // at least 6 kills right before a write whatever the machine's speed.
  for (int attempt = 0; attempt < 200 && killed < 24; ++attempt) {
    const bool early = attempt < 6;
    const bool self_kill = early || attempt % 3 == 0;
    std::vector<std::string> args = {TALLY_CRASH_CHILD, data};
    if (self_kill) args.push_back(std::to_string(1 + rng() % (early ? 5 : 20)));
    const pid_t pid = Spawn(args);
    ASSERT_GT(pid, 0);
    if (!self_kill) {
      std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 40000));
      kill(pid, SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      ++killed;
      before_write += self_kill;
    } else {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child failed on its own";
    }
  }
  ASSERT_GE(killed, 20);
  ASSERT_GE(before_write, 5);

  const pid_t last = Spawn({TALLY_CRASH_CHILD, data});
  int status = 0;
  ASSERT_EQ(waitpid(last, &status, 0), last);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  testing::ReferenceModel model;
  size_t poison = 0;
  for (const auto& m : testing::CrashStream()) {
    if (m.action) model.Deliver(*m.action);
    poison += m.rejection.has_value();
  }
  auto store = Store::Open(StoreOptions{data, size_t{32} << 20, false, {}});
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ(testing::CheckStoreMatches(**store, model, {7, 1000}), "");
  auto rejections = (*store)->Rejections((*store)->Snapshot(), 100000);
  ASSERT_TRUE(rejections);
  EXPECT_EQ(rejections->size(), poison);
  // Counted exactly once, however often the child was killed.
  auto counts = (*store)->RejectionCounts((*store)->Snapshot());
  ASSERT_TRUE(counts);
  uint64_t counted = 0;
  for (const PartitionRejections& p : *counts) {
    for (uint64_t n : p.by_reason) counted += n;
  }
  EXPECT_EQ(counted, poison);
  std::cout << "killed the child " << killed << " times (" << before_write << " between build and write)\n";
}

}  // namespace
}  // namespace tally
