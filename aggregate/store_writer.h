#pragma once

// BatchWriter is the store's writer thread ("tally:write"): the apply thread
// hands it one finished WriteBatch at a time and goes on building the next
// while RocksDB writes it. Private to aggregate/ (the store's sources).
//
// Threads: Start and Wait from the apply thread only, alternately (Start, Wait,
// Start, ...); the writer thread only runs the batch sink and RocksDB's Write.

#include <rocksdb/write_batch.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aggregate/store_impl.h"

namespace tally {

class BatchWriter {
 public:
  explicit BatchWriter(Store::Impl* store);
  // Waits for a write in flight, then stops the thread.
  ~BatchWriter();

  // Starts writing `batch`, which stays untouched until Wait returns, as do
  // `changed`: the requests whose versions the batch changes, told to the
  // store's change listener once the batch is written.
  void Start(rocksdb::WriteBatch* batch, const std::vector<std::string>* changed);

  struct Outcome {
    Status status;       // the store's first failure, if it has one
    double seconds = 0;  // of the write
  };
  // Waits for the write Start began.
  Outcome Wait();
  // Whether Wait would return at once. Any thread.
  bool Done() const { return done_flag_.load(std::memory_order_acquire); }

 private:
  void Loop();

  Store::Impl* store_;
  std::mutex mutex_;
  std::condition_variable changed_;
  rocksdb::WriteBatch* to_write_ = nullptr;  // guarded by mutex_
  const std::vector<std::string>* changed_requests_ = nullptr;  // guarded by mutex_
  bool done_ = true;                         // guarded by mutex_
  Outcome outcome_;                          // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  std::atomic<bool> done_flag_{true};        // done_, readable without the lock
  std::thread thread_;                       // last: starts once the rest is set
};

}  // namespace tally
