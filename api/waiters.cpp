#include "api/waiters.h"

namespace tally {

std::optional<WaiterRegistry::Ticket> WaiterRegistry::Add(std::span<const std::string> requests,
                                                          std::weak_ptr<Waiter> waiter) {
  std::lock_guard lock(mutex_);
  if (ended_ || size_.load() >= cap_) return std::nullopt;
  const Ticket ticket = next_ticket_++;
  for (const std::string& request : requests) by_request_[request].emplace(ticket, waiter);
  size_.fetch_add(1);
  return ticket;
}

void WaiterRegistry::Remove(Ticket ticket, std::span<const std::string> requests) {
  std::lock_guard lock(mutex_);
  bool held = false;
  for (const std::string& request : requests) {
    auto it = by_request_.find(request);
    if (it == by_request_.end()) continue;
    held |= it->second.erase(ticket) > 0;
    if (it->second.empty()) by_request_.erase(it);
  }
  if (held) size_.fetch_sub(1);
}

bool WaiterRegistry::Changed() {
  sequence_.fetch_add(1);  // seq_cst: ordered before the read of size_ (see the header)
  return size_.load() > 0;
}

void WaiterRegistry::Wake(std::span<const std::string> requests) {
  std::vector<std::shared_ptr<Waiter>> woken;
  {
    std::lock_guard lock(mutex_);
    for (const std::string& request : requests) {
      auto it = by_request_.find(request);
      if (it == by_request_.end()) continue;
      for (const auto& [ticket, waiter] : it->second) {
        if (auto w = waiter.lock()) woken.push_back(std::move(w));
      }
    }
  }
  // A waiter of several of the requests is woken more than once: harmless (it checks again).
  for (const auto& w : woken) w->Wake();
}

void WaiterRegistry::EndAll() {
  std::vector<std::shared_ptr<Waiter>> held;
  {
    std::lock_guard lock(mutex_);
    ended_ = true;
    for (const auto& [request, waiters] : by_request_) {
      for (const auto& [ticket, waiter] : waiters) {
        if (auto w = waiter.lock()) held.push_back(std::move(w));
      }
    }
  }
  for (const auto& w : held) w->EndNow();
}

}  // namespace tally
