#pragma once

// PositionWaiters: the requests waiting for ingestion to reach the position an
// X-Tally-Min-Position named (position.h). No thread waits: a waiting request
// is a Wake callback here (it posts to its session's strand, which re-runs the
// query) plus a timer in its session for --position-wait-ms. The apply thread
// calls Advanced after each durable batch; the waiters whose position that
// reaches are woken (outside the lock). Each waiter is filed under one
// partition it still waits for, so a batch looks only at the waiters of the
// partitions it advanced, not at every waiter. Any thread; one mutex.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/position.h"

namespace tally {

class PositionWaiters {
 public:
  using Wake = std::function<void()>;

  // Waits for `min` (ascending). `seen` is the position of the snapshot that
  // was found behind: it fills in partitions no batch has named since the
  // start. Returns the waiter's id (> 0); 0 if it should not wait (stopping,
  // or the position is reached already: no batch will come to wake it), and
  // `wake` is then not kept.
  uint64_t Add(std::vector<PartitionNext> min, std::span<const PartitionNext> seen, Wake wake);

  // Forgets a waiter (its time is up). Nothing if it has been woken already.
  void Remove(uint64_t id);

  // A batch with these next offsets is durable and readable (the apply thread):
  // wakes the waiters whose position is now reached.
  void Advanced(std::span<const PartitionNext> offsets);

  // Shutdown: wakes every waiter, and Add refuses from now on.
  void WakeAll();

  size_t size() const;

 private:
  // The partition a waiter waits for and the next offset it needs there.
  using BlockedKey = std::pair<int32_t, int64_t>;
  using Blocked = std::multimap<BlockedKey, uint64_t>;
  struct Waiter {
    std::vector<PartitionNext> min;
    Wake wake;
    Blocked::iterator blocked;  // its entry in blocked_
  };
  // Files waiter `id` under the first partition of its minimum that applied_
  // has not reached; false if it has reached all (it should be woken).
  bool FileLocked(uint64_t id, Waiter& waiter);
  // Files again (or moves to *woken) the waiters filed under the partitions of
  // `changed` at an offset applied_ now reaches there.
  void RefileLocked(std::span<const PartitionNext> changed, std::vector<Wake>* woken);
  // Merges `offsets` into applied_: replacing (a batch's), or only filling in
  // partitions not there (a snapshot's, possibly older than a batch).
  void MergeLocked(std::span<const PartitionNext> offsets, bool replace);

  mutable std::mutex mutex_;
  std::vector<PartitionNext> applied_;  // ascending; by mutex_
  std::unordered_map<uint64_t, Waiter> waiters_;  // by mutex_
  Blocked blocked_;                               // by mutex_: waiter ids by what they wait for
  uint64_t next_id_ = 1;                          // by mutex_
  bool stopping_ = false;                         // by mutex_
};

}  // namespace tally
