#include "api/connection_table.h"

namespace tally {

std::list<ConnectionTable::Entry>& ConnectionTable::ListOf(int list) {
  switch (list) {
    case kIdleOrder: return idle_;
    case kBusyList: return busy_;
    case kReserveList: return reserve_;
    case kHeldList: return held_;
    default: return leaving_;
  }
}

ConnectionTable::Kind ConnectionTable::Admit(size_t cap, size_t reserve, std::shared_ptr<Connection>* victim) {
  std::lock_guard lock(mutex_);
  if (idle_.size() + busy_.size() < cap) return Kind::kRegular;
  if (!idle_.empty()) {
    Handle oldest = idle_.begin();
    oldest->list = kLeaving;
    leaving_.splice(leaving_.end(), idle_, oldest);
    // One that cannot be locked is being destroyed: it leaves by itself.
    *victim = oldest->connection.lock();
    return Kind::kRegular;
  }
  return reserve_.size() < reserve ? Kind::kReserve : Kind::kRefused;
}

ConnectionTable::Handle ConnectionTable::Add(std::weak_ptr<Connection> connection, Kind kind) {
  std::lock_guard lock(mutex_);
  std::list<Entry>& list = kind == Kind::kReserve ? reserve_ : idle_;
  list.push_back(Entry{std::move(connection), kind == Kind::kReserve ? kReserveList : kIdleOrder});
  return std::prev(list.end());
}

void ConnectionTable::Remove(Handle handle) {
  std::lock_guard lock(mutex_);
  ListOf(handle->list).erase(handle);
  if (EmptyLocked()) empty_.notify_all();
}

bool ConnectionTable::EmptyLocked() const {
  return idle_.empty() && busy_.empty() && reserve_.empty() && leaving_.empty() && held_.empty();
}

void ConnectionTable::Idle(Handle handle) {
  std::lock_guard lock(mutex_);
  if (handle->list != kIdleOrder && handle->list != kBusyList && handle->list != kHeldList) {
    return;  // reserve, or leaving
  }
  idle_.splice(idle_.end(), ListOf(handle->list), handle);
  handle->list = kIdleOrder;
}

void ConnectionTable::Busy(Handle handle) {
  std::lock_guard lock(mutex_);
  if (handle->list != kIdleOrder && handle->list != kHeldList) return;
  busy_.splice(busy_.end(), ListOf(handle->list), handle);
  handle->list = kBusyList;
}

void ConnectionTable::Held(Handle handle) {
  std::lock_guard lock(mutex_);
  if (handle->list != kBusyList) return;  // reserve, or leaving
  held_.splice(held_.end(), busy_, handle);
  handle->list = kHeldList;
}

std::vector<std::shared_ptr<Connection>> ConnectionTable::TakeLongestIdle(size_t n) {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(mutex_);
  while (out.size() < n && !idle_.empty()) {
    Handle oldest = idle_.begin();
    oldest->list = kLeaving;
    leaving_.splice(leaving_.end(), idle_, oldest);
    if (auto c = oldest->connection.lock()) out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::shared_ptr<Connection>> ConnectionTable::All() {
  std::vector<std::shared_ptr<Connection>> out;
  std::lock_guard lock(mutex_);
  for (std::list<Entry>* list : {&idle_, &busy_, &reserve_, &leaving_, &held_}) {
    for (const Entry& e : *list) {
      if (auto c = e.connection.lock()) out.push_back(std::move(c));
    }
  }
  return out;
}

bool ConnectionTable::WaitEmpty(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return empty_.wait_for(lock, timeout, [this] { return EmptyLocked(); });
}

size_t ConnectionTable::size() {
  std::lock_guard lock(mutex_);
  return idle_.size() + busy_.size() + reserve_.size() + leaving_.size() + held_.size();
}

}  // namespace tally
