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

bool PositionWaiters::FileLocked(uint64_t id, Waiter& waiter) {
  size_t a = 0;
  for (const PartitionNext& m : waiter.min) {  // as Reaches, stopping at the first partition short
    while (a < applied_.size() && Raw(applied_[a].partition) < Raw(m.partition)) ++a;
    const Offset have = a < applied_.size() && applied_[a].partition == m.partition ? applied_[a].next : kFirstOffset;
    if (have < m.next) {
      waiter.blocked = blocked_.emplace(BlockedKey{Raw(m.partition), Raw(m.next)}, id);
      return true;
    }
  }
  return false;
}

void PositionWaiters::RefileLocked(std::span<const PartitionNext> changed, std::vector<Wake>* woken) {
  // The waiters filed under a changed partition at an offset it now reaches;
  // each is filed again under its next partition short, or woken.
  std::vector<uint64_t> moved;
  for (const PartitionNext& c : changed) {
    auto at = std::lower_bound(applied_.begin(), applied_.end(), c.partition,
                               [](const PartitionNext& a, Partition p) { return Raw(a.partition) < Raw(p); });
    auto first = blocked_.lower_bound(BlockedKey{Raw(c.partition), INT64_MIN});
    auto last = blocked_.upper_bound(BlockedKey{Raw(c.partition), Raw(at->next)});
    for (auto it = first; it != last; ++it) moved.push_back(it->second);
    blocked_.erase(first, last);
  }
  for (const uint64_t id : moved) {
    auto it = waiters_.find(id);
    if (FileLocked(id, it->second)) continue;
    woken->push_back(std::move(it->second.wake));
    waiters_.erase(it);
  }
}

uint64_t PositionWaiters::Add(std::vector<PartitionNext> min, std::span<const PartitionNext> seen, Wake wake) {
  std::vector<Wake> woken;
  uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return 0;
    // A partition `seen` fills in may complete another waiter's position.
    MergeLocked(seen, /*replace=*/false);
    RefileLocked(seen, &woken);
    Waiter waiter{std::move(min), std::move(wake), blocked_.end()};
    // Not filed: a batch that reached it landed between the snapshot and now.
    if (FileLocked(next_id_, waiter)) {
      id = next_id_++;
      waiters_.emplace(id, std::move(waiter));
    }
  }
  for (Wake& w : woken) w();
  return id;
}

void PositionWaiters::Remove(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  blocked_.erase(it->second.blocked);
  waiters_.erase(it);
}

void PositionWaiters::Advanced(std::span<const PartitionNext> offsets) {
  std::vector<Wake> woken;
  {
    std::lock_guard lock(mutex_);
    // Sorted, as MergeLocked's inserts keep applied_ ascending whatever the order.
    MergeLocked(offsets, /*replace=*/true);
    RefileLocked(offsets, &woken);
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
    blocked_.clear();
  }
  for (Wake& wake : woken) wake();
}

size_t PositionWaiters::size() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

}  // namespace tally
