// RocksDB's background threads as the store configures them: compactions at the
// lowest CPU priority (StoreOptions::low_priority_compactions), so that queries
// and the apply thread go first on busy cores. Its own process: the priority is
// process-wide (RocksDB's default Env) and one-way.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "aggregate/store.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

// The nice value of each thread of this process named `name` (/proc/self/task/*/comm); -100 if none.
int NiceOfThread(const std::string& name) {
  int nice = -100;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string comm;
    std::getline(std::ifstream(task.path() / "comm"), comm);
    if (comm != name) continue;
    std::string stat;
    std::getline(std::ifstream(task.path() / "stat"), stat);
    // Fields after the ")" that ends comm: state is field 3, nice field 19.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i) {
    }
    nice = std::max(nice, std::stoi(field));
  }
  return nice;
}

TEST(StoreBackgroundTest, CompactionsRunAtTheLowestCpuPriority) {
  testing::TempDir dir;
  StoreOptions options{dir.path(), size_t{16} << 20, false, {}};  // 1 MiB memtables: flushes and compactions soon
  ASSERT_TRUE(options.low_priority_compactions);                   // the default
  auto store = Store::Open(options);
  ASSERT_TRUE(store) << store.error().ToString();
  // The priority takes effect when a compaction thread takes its next job:
  // write until one has (a few level-0 files of one family), bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  uint64_t id = 1;
  int nice = NiceOfThread("rocksdb:low");
  for (int batch = 0; batch < 400 && nice != 19 && std::chrono::steady_clock::now() < deadline; ++batch) {
    std::vector<TaskAction> actions(1000);
    for (TaskAction& a : actions) {
      a.id = Id(id);
      a.annotation_request_id = "req-" + std::to_string(id % 97);
      a.campaign_id = "camp";
      a.task_id = Id(id / 3 + 1);
      a.created_time = Timestamp{1'743'500'000'000 + static_cast<int64_t>(id)};
      ++id;
    }
    auto applied = (*store)->Apply(ApplyBatch{actions, {}, "task-actions", {}});
    ASSERT_TRUE(applied) << applied.error().ToString();
    nice = NiceOfThread("rocksdb:low");
  }
  EXPECT_EQ(nice, 19) << "after " << id - 1 << " events: no compaction thread at nice 19 (-100: none started)";
  // Flushes keep the normal priority: a late flush would stall the writes.
  EXPECT_LE(NiceOfThread("rocksdb:high"), 0);
}

}  // namespace
}  // namespace tally
