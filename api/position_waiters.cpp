#include "api/position_waiters.h"

#include <algorithm>

namespace tally {

void PositionWaiters::MergeLocked(std::span<const PartitionNext> offsets, bool replace) {
  for (const PartitionNext& o : offsets) {
    auto it = std::lower_bound(applied_.begin(), applied_.end(), o.partition,
                               [](const PartitionNext& a, Partition p) { return Raw(a.partition) < Raw(p); });
    if (it != applied_.end() && it->partition == o.partition) {
      if (replace) it->next = o.next;  // a rewound partition goes back, too
    } else {
      applied_.insert(it, o);
    }
  }
}

uint64_t PositionWaiters::Add(std::vector<PartitionNext> min, std::span<const PartitionNext> seen, Wake wake) {
  std::lock_guard lock(mutex_);
  if (stopping_) return 0;
  MergeLocked(seen, /*replace=*/false);
  // A batch that reached it landed between the snapshot and now.
  if (Reaches(applied_, min)) return 0;
  const uint64_t id = next_id_++;
  waiters_.emplace(id, Waiter{std::move(min), std::move(wake)});
  return id;
}

void PositionWaiters::Remove(uint64_t id) {
  std::lock_guard lock(mutex_);
  waiters_.erase(id);
}

void PositionWaiters::Advanced(std::span<const PartitionNext> offsets) {
  std::vector<Wake> woken;
  {
    std::lock_guard lock(mutex_);
    // Sorted, as MergeLocked's inserts keep applied_ ascending whatever the order.
    MergeLocked(offsets, /*replace=*/true);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (Reaches(applied_, it->second.min)) {
        woken.push_back(std::move(it->second.wake));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Wake& wake : woken) wake();
}

void PositionWaiters::WakeAll() {
  std::vector<Wake> woken;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [id, waiter] : waiters_) woken.push_back(std::move(waiter.wake));
    waiters_.clear();
  }
  for (Wake& wake : woken) wake();
}

size_t PositionWaiters::size() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

}  // namespace tally
