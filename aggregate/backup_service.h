#pragma once

// BackupService takes the backups of a running store (`tally serve
// --backup-dir`, README "Backups and new replicas") on a thread of its own
// ("tally:backup"), never on an HTTP or ingest thread: on demand (Request) and,
// if `every` is set, every `every` from the end of the last one; after each it
// keeps the latest `keep`. One backup at a time: a request made while one runs
// waits for it to end and is answered by the next, which starts right after
// and serves every request that waited meanwhile (so an answer always holds
// what was applied before it was asked for). A failure is logged once (a line
// through `log`), counted, and left for the next backup to clean up; the store
// is never touched by it.
//
// Lifecycle: Start after the store is open; Stop (or the destructor) before
// the store closes. Threads: Request, List and stats from any thread; `done`
// and `log` are called on the backup thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aggregate/status.h"
#include "aggregate/store.h"
#include "aggregate/store_backup.h"

namespace tally {

// --backup-keep's default.
inline constexpr uint32_t kDefaultBackupKeep = 5;

// For /metrics (docs/operations.md).
struct BackupStats {
  double last_success_unix_s = 0;  // 0: none yet in this process
  double last_duration_s = 0;      // of the last successful backup
  uint64_t successes = 0;
  uint64_t failures = 0;
};

struct BackupServiceOptions {
  std::string dir;
  std::chrono::seconds every{0};  // 0: on demand only
  uint32_t keep = kDefaultBackupKeep;
  uint64_t rate_bytes_per_s = 0;  // 0: as fast as the disks go
  std::function<void(const std::string& line)> log;  // one line per backup taken or failed
};

class BackupService {
 public:
  // Opens the backup dir (StoreBackups::Open's errors) and starts the thread.
  static Result<std::unique_ptr<BackupService>> Start(Store* store, BackupServiceOptions options);
  ~BackupService();

  using Done = std::function<void(const Result<BackupEntry>& outcome)>;
  // Asks for a backup; `done` gets its outcome (Unavailable if the service
  // stops first).
  void Request(Done done);
  // Request, waiting for the outcome.
  Result<BackupEntry> TakeNow();

  // The backups in the dir, oldest first; never waits for a backup in progress.
  std::vector<BackupEntry> List() const;
  BackupStats stats() const;
  const std::string& dir() const;

  // Lets a backup in progress end, answers the requests still waiting
  // (Unavailable), joins the thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit BackupService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
