#include "aggregate/store_events.h"

#include <cstdarg>
#include <cstdio>

namespace tally {
namespace {

const char* ReasonName(rocksdb::BackgroundErrorReason reason) {
  switch (reason) {
    case rocksdb::BackgroundErrorReason::kFlush:
    case rocksdb::BackgroundErrorReason::kFlushNoWAL:
      return "flushing a memtable";
    case rocksdb::BackgroundErrorReason::kCompaction:
      return "compacting";
    case rocksdb::BackgroundErrorReason::kWriteCallback:
      return "writing a batch";
    case rocksdb::BackgroundErrorReason::kMemTable:
      return "writing a memtable";
    case rocksdb::BackgroundErrorReason::kManifestWrite:
    case rocksdb::BackgroundErrorReason::kManifestWriteNoWAL:
      return "writing the MANIFEST";
  }
  return "in the background";
}

}  // namespace

void StoreHealth::Fail(const Status& status) {
  std::lock_guard lock(mutex_);
  if (failed_.load(std::memory_order_relaxed)) return;
  first_ = status;
  failed_.store(true, std::memory_order_release);
}

Status StoreHealth::failure() const {
  if (!failed()) return Status::OK();
  std::lock_guard lock(mutex_);
  return first_;
}

void StoreListener::OnBackgroundError(rocksdb::BackgroundErrorReason reason, rocksdb::Status* error) {
  if (error == nullptr || error->ok()) return;
  // RocksDB's messages name the file (under the data dir) and the OS error.
  health_->Fail(Status::IOError(std::string("the store in ") + path_ + " failed " + ReasonName(reason) + ": " +
                                error->ToString()));
}

void StoreListener::OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status error,
                                         bool* auto_recovery) {
  error.PermitUncheckedError();
  if (auto_recovery) *auto_recovery = false;
}

void StderrLogger::Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
  if (health_->failed()) return;
  char line[1024];
  std::vsnprintf(line, sizeof(line), format, ap);
  int left_out = 0;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= kWindow) {
      window_start_ = now;
      lines_ = 0;
      left_out = left_out_;
      left_out_ = 0;
    }
    if (++lines_ > kBurst) {
      ++left_out_;
      return;
    }
  }
  if (left_out > 0) std::fprintf(stderr, "tally: rocksdb: (%d more lines left out)\n", left_out);
  std::fprintf(stderr, "tally: rocksdb: %s\n", line);
}

}  // namespace tally
