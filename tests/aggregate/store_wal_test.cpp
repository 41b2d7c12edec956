// WAL recovery: one flipped byte in the middle of the live write-ahead log. The
// store opens as it was after the last intact batch before the damage (offsets
// included), says what it dropped (bytes, batches, records, where), and a
// consumer that resumes from the stored offsets ends with exactly the full
// stream: nothing lost, nothing doubled.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "aggregate/store.h"
#include "tests/aggregate/crash_stream.h"
#include "tests/aggregate/model_check.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

namespace fs = std::filesystem;

StoreOptions Options(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.memory_bytes = size_t{64} << 20;  // no memtable fills up: the WAL holds every batch
  return o;
}

// Applies the crash stream from the stored offsets to the end, 40 messages per
// partition per batch, as a consumer resuming would.
void ApplyFromStoredOffsets(Store& store, const std::vector<testing::CrashMessage>& stream) {
  auto stored = store.Offsets(testing::kCrashTopic);
  ASSERT_TRUE(stored) << stored.error().ToString();
  std::map<int32_t, int64_t> next;
  for (const PartitionOffset& o : *stored) next[Raw(o.partition)] = Raw(o.next);
  for (;;) {
    std::vector<TaskAction> actions;
    std::vector<Rejection> rejections;
    std::vector<PartitionOffset> offsets;
    for (int32_t p = 0; p < testing::kCrashPartitions; ++p) {
      int64_t& offset = next[p];
      for (int k = 0; k < 40; ++k) {
        const size_t i = static_cast<size_t>(offset) * testing::kCrashPartitions + static_cast<size_t>(p);
        if (i >= stream.size()) break;
        if (stream[i].action) actions.push_back(*stream[i].action);
        if (stream[i].rejection) rejections.push_back(*stream[i].rejection);
        ++offset;
      }
      offsets.push_back({Partition{p}, Offset{offset}});
    }
    if (actions.empty() && rejections.empty()) return;
    auto r = store.Apply(ApplyBatch{actions, rejections, testing::kCrashTopic, offsets});
    ASSERT_TRUE(r) << r.error().ToString();
  }
}

// The model of the messages below the stored offsets.
testing::ReferenceModel ModelUpTo(Store& store, const std::vector<testing::CrashMessage>& stream) {
  std::map<int32_t, int64_t> next;
  const Result<std::vector<PartitionOffset>> stored = store.Offsets(testing::kCrashTopic);
  EXPECT_TRUE(stored);
  if (stored) {
    for (const PartitionOffset& o : stored.value()) next[Raw(o.partition)] = Raw(o.next);
  }
  testing::ReferenceModel model;
  for (size_t i = 0; i < stream.size(); ++i) {
    const auto p = static_cast<int32_t>(i % testing::kCrashPartitions);
    if (static_cast<int64_t>(i / testing::kCrashPartitions) < next[p] && stream[i].action) {
      model.Deliver(*stream[i].action);
    }
  }
  return model;
}

TEST(StoreWalRecoveryTest, FlippedByteDropsTheRestLoudlyAndResumingFromOffsetsRestoresIt) {
  testing::TempDir dir;
  const std::string data = dir / "data";
  const std::vector<testing::CrashMessage> stream = testing::CrashStream();
  testing::ReferenceModel full;
  for (const auto& m : stream) {
    if (m.action) full.Deliver(*m.action);
  }
  {
    auto store = Store::Open(Options(data));
    ASSERT_TRUE(store) << store.error().ToString();
    ApplyFromStoredOffsets(**store, stream);
    ASSERT_EQ((*store)->totals().records, full.distinct());
  }
  {
    // An intact WAL: nothing dropped, nothing said. (On a copy: recovery moves
    // the WAL's data into tables.)
    fs::copy(data, dir / "intact", fs::copy_options::recursive);
    auto store = Store::Open(Options(dir / "intact"));
    ASSERT_TRUE(store) << store.error().ToString();
    EXPECT_EQ((*store)->recovery().dropped_bytes, 0u) << (*store)->recovery().ToString();
    EXPECT_EQ((*store)->recovery().ToString(), "");
    EXPECT_EQ((*store)->totals().records, full.distinct());
  }

  // The live WAL (the largest .log) holds the batches: flip a byte in its middle.
  fs::path wal;
  for (const auto& e : fs::directory_iterator(data)) {
    if (e.path().extension() == ".log" && (wal.empty() || e.file_size() > fs::file_size(wal))) wal = e.path();
  }
  ASSERT_FALSE(wal.empty());
  const uint64_t size = fs::file_size(wal);
  ASSERT_GT(size, 200u * 1024) << "the WAL should hold the whole stream";
  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(size / 2));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put(static_cast<char>(c ^ 0x20));
  }

  auto store = Store::Open(Options(data));
  ASSERT_TRUE(store) << store.error().ToString();
  const WalRecovery& dropped = (*store)->recovery();
  // Replay stopped at the damaged batch, which holds the flipped byte.
  EXPECT_TRUE(dropped.damaged);
  EXPECT_EQ(dropped.wal, wal.string());
  EXPECT_LE(dropped.from_byte, size / 2);
  EXPECT_GT(dropped.from_byte, size / 4);
  EXPECT_EQ(dropped.dropped_bytes, size - dropped.from_byte);
  // About half the stream's batches follow it; every record they held is counted.
  EXPECT_GE(dropped.dropped_batches, 5u);
  const uint64_t kept = (*store)->totals().records;
  EXPECT_LT(kept, full.distinct());
  EXPECT_GT(dropped.dropped_records, 0u);
  EXPECT_LT(kept + dropped.dropped_records, full.distinct()) << "the damaged batch held records too";
  const std::string said = dropped.ToString();
  EXPECT_NE(said.find("damaged record (byte " + std::to_string(dropped.from_byte) + " of " + wal.string()),
            std::string::npos)
      << said;
  EXPECT_NE(said.find(std::to_string(dropped.dropped_batches) + " intact batch(es) holding " +
                      std::to_string(dropped.dropped_records) + " new record(s)"),
            std::string::npos)
      << said;

  std::cout << "reopened: " << said << "\n";
  // A consistent prefix: exactly the messages below the stored offsets.
  EXPECT_EQ(testing::CheckStoreMatches(**store, ModelUpTo(**store, stream), {7}), "");
  // Resuming from the stored offsets (Kafka re-reads them) restores everything, once.
  ApplyFromStoredOffsets(**store, stream);
  EXPECT_EQ(testing::CheckStoreMatches(**store, full, {7, 1000}), "");
}

}  // namespace
}  // namespace tally
