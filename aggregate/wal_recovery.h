#pragma once

// What recovery of the write-ahead log dropped, measured. Private to aggregate/
// (the store).
//
// The store opens with WALRecoveryMode::kPointInTimeRecovery: replay stops at
// the first damaged record, so the store is exactly as it was after some batch
// (each batch is written atomically with its Kafka offsets) and ingestion
// resumes from that batch's offsets. RocksDB says nothing about what it left
// out, so WalRecoveryWatch measures it: before the open it notes the WAL files
// and their sizes (and keeps them open: recovery deletes them), during the open
// it sees every batch replayed (a WalFilter), and after it reads what lies past
// the last replayed batch of each WAL: the bytes, the complete batches (checked
// with their checksums) and the records they held.
//
// Threads: the one that opens the store.

#include <rocksdb/wal_filter.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "aggregate/store.h"

namespace tally {

class WalRecoveryWatch : public rocksdb::WalFilter {
 public:
  // Notes the WAL files in `dir` (the store's data dir, where its WALs are).
  explicit WalRecoveryWatch(const std::string& dir);
  ~WalRecoveryWatch() override;
  WalRecoveryWatch(const WalRecoveryWatch&) = delete;
  WalRecoveryWatch& operator=(const WalRecoveryWatch&) = delete;

  const char* Name() const override { return "tally.WalRecoveryWatch"; }
  void ColumnFamilyLogNumberMap(const std::map<uint32_t, uint64_t>& log_numbers,
                                const std::map<std::string, uint32_t>& family_ids) override;
  WalProcessingOption LogRecordFound(unsigned long long log_number, const std::string& log_file_name,
                                     const rocksdb::WriteBatch& batch, rocksdb::WriteBatch* new_batch,
                                     bool* batch_changed) override;

  // After the open: what recovery left out, `records_family` the name of the
  // column family whose puts are records. Closes the WAL files.
  WalRecovery Dropped(const std::string& records_family);

 private:
  struct Log {
    std::string path;
    std::FILE* file = nullptr;  // open since before recovery
    uint64_t size = 0;
    uint64_t replayed_end = 0;  // where the last batch replayed from it ends
  };
  std::map<uint64_t, Log> logs_;  // by number
  uint64_t first_needed_ = 0;     // older WALs hold only flushed data: not replayed
  std::map<std::string, uint32_t> family_ids_;
};

}  // namespace tally
