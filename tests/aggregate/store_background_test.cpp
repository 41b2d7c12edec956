// RocksDB's background threads as the store configures them: flushes and
// compactions at the lowest CPU priority (StoreOptions::low_priority_background), so that queries
// and the apply thread go first on busy cores. Its own process: the priority is
// process-wide (RocksDB's default Env) and one-way. Also the store's writer
// thread, lowered by StoreOptions::writer_nice.

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "aggregate/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/thread_nice.h"

namespace tally {
namespace {

using testing::NiceOfThread;

TEST(StoreBackgroundTest, FlushesAndCompactionsRunAtTheLowestCpuPriority) {
  testing::TempDir dir;
  StoreOptions options{dir.path(), size_t{16} << 20, false, {}};  // 1 MiB memtables: flushes and compactions soon
  ASSERT_TRUE(options.low_priority_background);                   // the default
  auto store = Store::Open(options);
  ASSERT_TRUE(store) << store.error().ToString();
  // The priority takes effect when a compaction thread takes its next job:
  // write until one has (a few level-0 files of one family), bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  uint64_t id = 1;
  int nice = NiceOfThread("rocksdb:low");
  int flush_nice = NiceOfThread("rocksdb:high");
  for (int batch = 0; batch < 400 && (nice != 19 || flush_nice != 19) && std::chrono::steady_clock::now() < deadline;
       ++batch) {
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
    flush_nice = NiceOfThread("rocksdb:high");
  }
  EXPECT_EQ(nice, 19) << "after " << id - 1 << " events: no compaction thread at nice 19 (-100: none started)";
  EXPECT_EQ(flush_nice, 19) << "after " << id - 1 << " events: no flush thread at nice 19 (-100: none started)";
}

TEST(StoreBackgroundTest, WriterThreadLowersItsPriorityByWriterNiceAndOnlyItsOwn) {
  testing::TempDir dir;
  const int base = getpriority(PRIO_PROCESS, 0);  // this (main) thread's
  std::vector<TaskAction> one(1);
  one[0].id = Id(1);
  one[0].annotation_request_id = "req";
  one[0].campaign_id = "camp";
  one[0].task_id = Id(1);
  one[0].created_time = Timestamp{1'743'500'000'000};
  {
    auto store = Store::Open(StoreOptions{dir.path(), size_t{16} << 20, false, {}});  // writer_nice 0: the default
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->Apply(ApplyBatch{one, {}, "task-actions", {}}));  // the writer has run
    EXPECT_EQ(NiceOfThread("tally:write"), base);
  }
  StoreOptions options{dir.path(), size_t{16} << 20, false, {}};
  options.writer_nice = 7;
  auto store = Store::Open(options);
  ASSERT_TRUE(store) << store.error().ToString();
  one[0].id = Id(2);
  ASSERT_TRUE((*store)->Apply(ApplyBatch{one, {}, "task-actions", {}}));
  EXPECT_EQ(NiceOfThread("tally:write"), std::min(19, base + 7));
  EXPECT_EQ(getpriority(PRIO_PROCESS, 0), base) << "the thread that opened the store keeps its priority";
}

}  // namespace
}  // namespace tally
