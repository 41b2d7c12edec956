// Backups of a live store (aggregate/store_backup.h): a backup taken while
// batches are being written holds one atomic point, whose offsets its metadata
// records exactly (nothing lost, nothing doubled); a restore refuses a damaged
// file or a non-empty target, and gives the new store an instance id of its
// own; a backup dir that fills up fails the backup, not the store.

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "aggregate/backup_service.h"
#include "aggregate/store.h"
#include "aggregate/store_backup.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

constexpr char kTopic[] = "task-actions";
constexpr int kRequests = 7;

std::unique_ptr<Store> Open(const std::string& path) {
  StoreOptions options;
  options.path = path;
  options.memory_bytes = size_t{32} << 20;
  auto store = Store::Open(options);
  EXPECT_TRUE(store) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

// Event n (from 0) is the message at offset n of partition n % 2; its request
// is one of kRequests.
TaskAction Event(uint64_t n) {
  TaskAction a;
  a.id = Id(n + 1);
  a.annotation_request_id = "req-" + std::to_string(n % kRequests);
  a.campaign_id = "camp";
  a.task_id = Id(n % 50 + 1);
  a.created_time = Timestamp{1'743'494'400'000 + static_cast<int64_t>(n)};
  return a;
}

// Applies events [from, to) as batches of `batch`, partitions 0 and 1 taking
// turns (offset of event n in its partition: n / 2).
void ApplyRange(Store& store, uint64_t from, uint64_t to, uint64_t batch) {
  for (uint64_t start = from; start < to; start += batch) {
    const uint64_t end = std::min(to, start + batch);
    std::vector<TaskAction> actions;
    for (uint64_t n = start; n < end; ++n) actions.push_back(Event(n));
    const std::vector<PartitionOffset> next = {{Partition{0}, Offset{static_cast<int64_t>((end + 1) / 2)}},
                                               {Partition{1}, Offset{static_cast<int64_t>(end / 2)}}};
    ASSERT_TRUE(store.Apply(ApplyBatch{actions, {}, kTopic, next}));
  }
}

uint64_t Total(const std::vector<PartitionOffset>& offsets) {
  uint64_t n = 0;
  for (const PartitionOffset& o : offsets) n += static_cast<uint64_t>(Raw(o.next));
  return n;
}

// The distinct records of every request, read by queries (not the totals).
uint64_t RecordsOf(const Store& store) {
  std::vector<std::string> requests;
  for (int r = 0; r < kRequests; ++r) requests.push_back("req-" + std::to_string(r));
  std::vector<uint64_t> versions;
  EXPECT_TRUE(store.Versions(VersionRead{}, requests, &versions).ok());
  uint64_t n = 0;
  for (uint64_t v : versions) n += v;
  ReadView view = store.Snapshot();
  auto page = store.Records(view, requests, Page{1, 1});
  EXPECT_TRUE(page);
  if (page) {
    EXPECT_EQ(page->total, n);
  }
  return n;
}

TEST(StoreBackupTest, BackupsTakenWhileBatchesAreWrittenHoldExactlyTheirOffsets) {
  TempDir dir;
  auto store = Open(dir / "live");
  ASSERT_TRUE(store);
  ApplyRange(*store, 0, 2000, 100);
  auto backups = StoreBackups::Open(dir / "backups");
  ASSERT_TRUE(backups) << backups.error().ToString();

  // Writes go on, small batches, while backups are taken.
  constexpr uint64_t kEvents = 60'000;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    ApplyRange(*store, 2000, kEvents, 20);
    writing = false;
  });
  std::vector<BackupEntry> taken;
  while (writing.load() && taken.size() < 6) {
    auto entry = (*backups)->Create(*store, /*keep=*/0);
    ASSERT_TRUE(entry) << entry.error().ToString();
    taken.push_back(*entry);
  }
  writer.join();
  ASSERT_GE(taken.size(), 2u);
  EXPECT_EQ(RecordsOf(*store), kEvents);

  // Each restored store is exactly the store at its recorded offsets: as many
  // records as messages before them, no more, no fewer.
  uint64_t previous = 0;
  for (const BackupEntry& entry : taken) {
    const std::vector<PartitionOffset> recorded = entry.OffsetsOf(kTopic);
    ASSERT_EQ(recorded.size(), 2u);
    EXPECT_GE(Total(recorded), previous);
    previous = Total(recorded);
    const std::string target = dir / ("restored-" + std::to_string(entry.id));
    auto restored = StoreBackups::Restore(dir / "backups", target, entry.id);
    ASSERT_TRUE(restored) << restored.error().ToString();
    EXPECT_EQ(restored->OffsetsOf(kTopic), recorded);
    auto copy = Open(target);
    ASSERT_TRUE(copy);
    auto offsets = copy->Offsets(kTopic);
    ASSERT_TRUE(offsets);
    ASSERT_EQ(offsets->size(), 2u);
    for (size_t p = 0; p < 2; ++p) {
      EXPECT_EQ((*offsets)[p].partition, recorded[p].partition);
      EXPECT_EQ((*offsets)[p].next, recorded[p].next) << "backup " << entry.id;
    }
    EXPECT_EQ(RecordsOf(*copy), Total(recorded)) << "backup " << entry.id;
    EXPECT_EQ(copy->totals().records, Total(recorded));
    // Catching up from there (the same events again: duplicates of what it
    // holds are ignored) converges with the live store.
    ApplyRange(*copy, Total(recorded), kEvents, 5000);
    EXPECT_EQ(RecordsOf(*copy), kEvents);
  }
  // Listed oldest first, with their offsets.
  const std::vector<BackupEntry> listed = (*backups)->List();
  ASSERT_EQ(listed.size(), taken.size());
  for (size_t i = 0; i < listed.size(); ++i) {
    EXPECT_EQ(listed[i].id, taken[i].id);
    EXPECT_EQ(listed[i].offsets, taken[i].offsets);
    EXPECT_EQ(listed[i].bytes, taken[i].bytes);
  }
}

TEST(StoreBackupTest, ARestoredStoreGetsAnInstanceIdOfItsOwn) {
  TempDir dir;
  auto store = Open(dir / "live");
  ASSERT_TRUE(store);
  auto id = store->InstanceId();
  ASSERT_TRUE(id);
  ApplyRange(*store, 0, 100, 50);
  auto backups = StoreBackups::Open(dir / "backups");
  ASSERT_TRUE(backups);
  ASSERT_TRUE((*backups)->Create(*store, 0));
  ASSERT_TRUE(StoreBackups::Restore(dir / "backups", dir / "copy", std::nullopt));
  auto copy = Open(dir / "copy");
  ASSERT_TRUE(copy);
  auto copy_id = copy->InstanceId();
  ASSERT_TRUE(copy_id);
  EXPECT_NE(*copy_id, *id);
  EXPECT_EQ(RecordsOf(*copy), 100u);
}

TEST(StoreBackupTest, KeepsTheLatestKAndTheOthersStayRestorable) {
  TempDir dir;
  auto store = Open(dir / "live");
  ASSERT_TRUE(store);
  auto backups = StoreBackups::Open(dir / "backups");
  ASSERT_TRUE(backups);
  for (uint64_t i = 0; i < 5; ++i) {
    ApplyRange(*store, i * 100, (i + 1) * 100, 100);
    ASSERT_TRUE((*backups)->Create(*store, /*keep=*/3));
  }
  const std::vector<BackupEntry> listed = (*backups)->List();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].id, 3u);
  EXPECT_EQ(listed[2].id, 5u);
  auto oldest = StoreBackups::Restore(dir / "backups", dir / "copy", 3);
  ASSERT_TRUE(oldest) << oldest.error().ToString();
  EXPECT_EQ(Total(oldest->OffsetsOf(kTopic)), 300u);
  auto gone = StoreBackups::Restore(dir / "backups", dir / "copy2", 1);
  ASSERT_FALSE(gone);
  EXPECT_TRUE(gone.error().IsNotFound()) << gone.error().ToString();
  EXPECT_NE(gone.error().message().find("no backup 1"), std::string::npos) << gone.error().message();
}

TEST(StoreBackupTest, ADamagedFileIsRefusedNamingItAndNothingIsRestored) {
  TempDir dir;
  auto store = Open(dir / "live");
  ASSERT_TRUE(store);
  ApplyRange(*store, 0, 3000, 500);
  auto backups = StoreBackups::Open(dir / "backups");
  ASSERT_TRUE(backups);
  ASSERT_TRUE((*backups)->Create(*store, 0));
  // One byte of the backup's largest file flipped (a table file, or the
  // write-ahead log while the data is all in memtables).
  fs::path largest;
  for (const auto& e : fs::recursive_directory_iterator(dir / "backups")) {
    if (!e.is_regular_file() || e.path().parent_path().filename() == "meta") continue;
    if (largest.empty() || e.file_size() > fs::file_size(largest)) largest = e.path();
  }
  ASSERT_FALSE(largest.empty());
  {
    std::fstream f(largest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c = 0;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(100);
    f.write(&c, 1);
  }
  auto restored = StoreBackups::Restore(dir / "backups", dir / "copy", std::nullopt);
  ASSERT_FALSE(restored);
  EXPECT_EQ(restored.error().code(), Status::Code::kCorruption);
  EXPECT_NE(restored.error().message().find("backup 1"), std::string::npos) << restored.error().message();
  EXPECT_NE(restored.error().message().find(largest.filename().string()), std::string::npos)
      << restored.error().message();
  EXPECT_TRUE(IsMissingOrEmptyDir(dir / "copy"));
}

TEST(StoreBackupTest, ARestoreGoesOnlyIntoAMissingOrEmptyDir) {
  TempDir dir;
  auto store = Open(dir / "live");
  ASSERT_TRUE(store);
  auto backups = StoreBackups::Open(dir / "backups");
  ASSERT_TRUE(backups);
  ASSERT_TRUE((*backups)->Create(*store, 0));
  fs::create_directories(dir / "full");
  std::ofstream(dir / "full/keep-me") << "data";
  auto refused = StoreBackups::Restore(dir / "backups", dir / "full", std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().IsInvalidArgument());
  EXPECT_NE(refused.error().message().find("not empty"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "full/keep-me"));
  fs::create_directories(dir / "empty");
  EXPECT_TRUE(StoreBackups::Restore(dir / "backups", dir / "empty", std::nullopt));
  auto none = StoreBackups::Restore(dir / "nothing-here", dir / "other", std::nullopt);
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.error().IsNotFound());
}

// The service: concurrent requests wait for the backup in progress and are
// answered by the next one; its counters.
TEST(StoreBackupTest, ServiceAnswersConcurrentRequestsAfterTheBackupInProgress) {
  TempDir dir;
  auto store = Open(dir / "live");
  ASSERT_TRUE(store);
  ApplyRange(*store, 0, 2000, 500);
  BackupServiceOptions options;
  options.dir = dir / "backups";
  options.keep = 0;
  auto service = BackupService::Start(store.get(), options);
  ASSERT_TRUE(service) << service.error().ToString();
  std::vector<std::thread> threads;
  std::vector<Result<BackupEntry>> outcomes(4, Status::Unavailable("not yet"));
  for (size_t i = 0; i < outcomes.size(); ++i) {
    threads.emplace_back([&, i] { outcomes[i] = (*service)->TakeNow(); });
  }
  for (auto& t : threads) t.join();
  std::set<uint32_t> ids;
  for (const auto& outcome : outcomes) {
    ASSERT_TRUE(outcome) << outcome.error().ToString();
    ids.insert(outcome->id);
  }
  // Never one backup per request at once: at most one runs, the rest share the next.
  EXPECT_LE(ids.size(), 2u);
  EXPECT_EQ((*service)->List().size(), ids.size());
  const BackupStats stats = (*service)->stats();
  EXPECT_EQ(stats.successes, ids.size());
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_GT(stats.last_success_unix_s, 1.7e9);
  (*service)->Stop();
  auto late = (*service)->TakeNow();
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code(), Status::Code::kUnavailable);
}

// A tmpfs of `mib` MiB on `path` (needs root); unmounted when it goes.
class SmallDisk {
 public:
  SmallDisk(const std::string& path, int mib) : path_(path) {
    fs::create_directories(path);
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + std::to_string(mib) + "m").c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  bool Resize(int mib) {
    return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT, ("size=" + std::to_string(mib) + "m").c_str()) == 0;
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

TEST(StoreBackupTest, AFullBackupDiskFailsTheBackupNotTheStoreAndTheNextBackupWorks) {
  TempDir dir;
  SmallDisk disk(dir / "backups", 1);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a 1 MiB tmpfs (needs root)";
  auto store = Open(dir / "live");
  ASSERT_TRUE(store);
  // Views of random-ish requests compress poorly: a few MiB.
  ApplyRange(*store, 0, 40'000, 2000);
  auto backups = StoreBackups::Open(dir / "backups");
  ASSERT_TRUE(backups) << backups.error().ToString();
  auto failed = (*backups)->Create(*store, 0);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), Status::Code::kIOError);
  EXPECT_NE(failed.error().message().find(dir / "backups"), std::string::npos) << failed.error().message();
  EXPECT_TRUE((*backups)->List().empty());
  // The store goes on.
  EXPECT_TRUE(store->failure().ok());
  ApplyRange(*store, 40'000, 41'000, 500);
  EXPECT_EQ(RecordsOf(*store), 41'000u);
  // Room again: the next backup cleans up and works.
  ASSERT_TRUE(disk.Resize(256));
  auto taken = (*backups)->Create(*store, 0);
  ASSERT_TRUE(taken) << taken.error().ToString();
  auto restored = StoreBackups::Restore(dir / "backups", dir / "copy", std::nullopt);
  ASSERT_TRUE(restored) << restored.error().ToString();
  auto copy = Open(dir / "copy");
  ASSERT_TRUE(copy);
  EXPECT_EQ(RecordsOf(*copy), 41'000u);
}

}  // namespace
}  // namespace tally
