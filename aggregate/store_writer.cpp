#include "aggregate/store_writer.h"

#include "aggregate/thread_priority.h"

#include <pthread.h>

#include <chrono>

namespace tally {

BatchWriter::BatchWriter(Store::Impl* store) : store_(store), thread_([this] { Loop(); }) {}

BatchWriter::~BatchWriter() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return done_; });
  stopping_ = true;
  changed_.notify_all();
  lock.unlock();
  thread_.join();
}

void BatchWriter::Start(rocksdb::WriteBatch* batch, const std::vector<std::string>* changed) {
  std::lock_guard lock(mutex_);
  to_write_ = batch;
  changed_requests_ = changed;
  done_ = false;
  done_flag_.store(false, std::memory_order_release);
  changed_.notify_all();
}

BatchWriter::Outcome BatchWriter::Wait() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return done_; });
  return outcome_;
}

void BatchWriter::Loop() {
  pthread_setname_np(pthread_self(), "tally:write");  // for top -H and profilers
  LowerThisThreadPriority(store_->options.writer_nice);
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || to_write_ != nullptr; });
    if (!to_write_) return;
    rocksdb::WriteBatch* batch = to_write_;
    const std::vector<std::string>* changed = changed_requests_;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    if (store_->options.batch_sink) store_->options.batch_sink(batch->Data());
    // After a background error (a failed flush) RocksDB refuses writes
    // anyway; the store's first error is the one to report.
    Status s = store_->health->failure();
    if (s.ok()) {
      rocksdb::WriteOptions write_options;
      write_options.sync = store_->options.sync;
      rocksdb::Status written;
      {
        std::lock_guard gate(store_->write_gate);
        written = store_->db->Write(write_options, batch);
      }
      if (!written.ok()) {
        store_->health->Fail(
            Status::IOError("the store in " + store_->options.path + " failed writing a batch: " + written.ToString()));
        s = store_->health->failure();
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Readable now: long polls of these requests wake up (the listener only hands the work on).
    if (s.ok() && changed != nullptr && !changed->empty()) store_->NotifyChanged(*changed);
    lock.lock();
    to_write_ = nullptr;
    done_ = true;
    outcome_ = Outcome{std::move(s), seconds};
    done_flag_.store(true, std::memory_order_release);
    changed_.notify_all();
  }
}

}  // namespace tally
