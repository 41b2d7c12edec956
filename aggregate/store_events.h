#pragma once

// What RocksDB tells the store while it runs: its log lines and its background
// errors. Private to aggregate/ (the store's sources).
//
// StoreHealth holds the store's first write error (a failed batch write, or a
// failed flush or compaction in the background): once set the store refuses
// every further batch and the caller stops (Store::failure()). Any thread.
//
// RocksDB's own log goes to stderr (errors only, rate-limited; its warnings
// are about what the store reports itself, such as a full disk or WAL damage),
// never to a LOG file in the data dir: Debian's librocksdb 7.8 is built with
// assertions, and after one failed write to that file (a full disk) its next
// log line aborts the process (WritableFileWriter::Append asserts
// `sync_without_flush_called_`), usually from the thread that polls for free
// space after a background error.

#include <rocksdb/env.h>
#include <rocksdb/listener.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "aggregate/status.h"

namespace tally {

class StoreHealth {
 public:
  // Keeps the first error; later ones are consequences of it.
  void Fail(const Status& status);
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // OK, or the first error.
  Status failure() const;

 private:
  std::atomic<bool> failed_{false};
  mutable std::mutex mutex_;
  Status first_;  // guarded by mutex_
};

// Records background errors in `health` and keeps RocksDB from resuming by
// itself after one: tally stops on a write error (a restart recovers), and the
// auto-resume thread is what logged into the full disk.
class StoreListener : public rocksdb::EventListener {
 public:
  StoreListener(std::shared_ptr<StoreHealth> health, std::string path)
      : health_(std::move(health)), path_(std::move(path)) {}
  const char* Name() const override { return "tally.StoreListener"; }
  void OnBackgroundError(rocksdb::BackgroundErrorReason reason, rocksdb::Status* error) override;
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason reason, rocksdb::Status error,
                            bool* auto_recovery) override;

 private:
  std::shared_ptr<StoreHealth> health_;
  std::string path_;
};

// RocksDB's errors on stderr, "tally: rocksdb: ...", at most
// kBurst lines per kWindow (then a count of those left out); silent once the
// store has failed, so that the failure is reported in one line by the caller.
class StderrLogger : public rocksdb::Logger {
 public:
  explicit StderrLogger(std::shared_ptr<const StoreHealth> health)
      : rocksdb::Logger(rocksdb::InfoLogLevel::ERROR_LEVEL), health_(std::move(health)) {}
  using rocksdb::Logger::Logv;
  void Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }

 private:
  static constexpr int kBurst = 10;
  static constexpr std::chrono::seconds kWindow{10};
  std::shared_ptr<const StoreHealth> health_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point window_start_;  // guarded by mutex_
  int lines_ = 0;                                       // guarded by mutex_
  int left_out_ = 0;                                    // guarded by mutex_
};

}  // namespace tally
