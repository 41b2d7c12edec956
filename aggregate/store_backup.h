#pragma once

// Backups of the store with RocksDB's BackupEngine (README "Backups and new
// replicas"): incremental (table files already in the backup dir are not copied
// again) and checksummed. A backup is one atomic point of the store: views and
// Kafka offsets are written in the same batches, and the backup is taken while
// the store's writer is held for the moment RocksDB lists the live files, so the
// offsets it records (BackupEntry::offsets, kept in the backup's metadata) are
// exactly those it holds. Ingestion and queries go on meanwhile: only that
// moment (milliseconds) holds the writer, not the copying.
//
// Restore verifies every file's checksum first, and gives the restored store an
// instance id of its own (a new replica must not take the static group
// membership of the store it came from).
//
// Threads: StoreBackups is safe from any thread; its operations run one at a
// time (a second waits for the first). No Kafka, no HTTP: app/ and api/ build
// on it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aggregate/status.h"
#include "aggregate/store.h"

namespace tally {

// One backup in a backup dir.
struct BackupEntry {
  uint32_t id = 0;
  int64_t created_unix_s = 0;  // when it was taken
  uint64_t bytes = 0;          // its files' sizes (files shared with other backups included)
  uint64_t millis = 0;         // how long taking it took (Create's answer only; 0 when listed)
  // The stored offsets of every topic at the backup's point, topics in
  // bytewise order, partitions ascending: where a store restored from it
  // resumes consuming.
  std::vector<std::pair<std::string, std::vector<PartitionOffset>>> offsets;

  // The offsets of `topic` (empty if the backup holds none).
  std::vector<PartitionOffset> OffsetsOf(std::string_view topic) const;
};

class StoreBackups {
 public:
  // Opens (creating it if missing) the backup dir. Errors name the dir:
  // InvalidArgument if it cannot be a directory, IOError if unreadable.
  // `rate_bytes_per_s` caps how fast backups write (0: no cap), so that a
  // backup leaves the disk to the live store.
  static Result<std::unique_ptr<StoreBackups>> Open(const std::string& backup_dir, uint64_t rate_bytes_per_s = 0);
  ~StoreBackups();

  // Backs `store` up now, while it runs; then keeps only the latest `keep`
  // backups (0: all). IOError naming the backup dir on failure (a full disk):
  // what was half-written is left for the next backup to clean up, the store
  // is untouched.
  Result<BackupEntry> Create(Store& store, uint32_t keep);

  // The backups, oldest first (as of the last Open or Create: another process
  // writing the same dir is not seen).
  std::vector<BackupEntry> List() const;

  // Restores backup `id` (the latest if nullopt) of `backup_dir` into
  // `data_dir`, which must be missing or empty (InvalidArgument naming it
  // otherwise), after verifying the checksums of all its files (Corruption
  // naming the backup and what is damaged). NotFound if there is no such
  // backup (or none). The restored store gets a new instance id.
  static Result<BackupEntry> Restore(const std::string& backup_dir, const std::string& data_dir,
                                     std::optional<uint32_t> id);

  const std::string& dir() const;

  struct Impl;

 private:
  explicit StoreBackups(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True if `dir` is missing or an empty directory (where a restore may go).
bool IsMissingOrEmptyDir(const std::string& dir);

}  // namespace tally
