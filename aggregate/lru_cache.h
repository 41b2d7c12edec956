#pragma once

// LruCache holds decoded objects the apply thread reuses between batches (task
// views, requests), bounded by an approximate byte charge. Eviction only happens
// in Trim(), and only of entries its caller says may go, so objects changed by
// batches not yet written are never evicted. Not thread-safe: the apply
// thread's alone. Private to aggregate/.

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace tally {

template <class V>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity) {}

  // The value under `key`, now the most recently used; nullptr if absent.
  V* Find(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return &it->second->value;
  }

  // Inserts (or replaces) `key`; `charge` is its approximate size in bytes.
  V& Insert(std::string key, V value, size_t charge) {
    Erase(key);
    lru_.push_front(Node{std::move(key), std::move(value), charge});
    index_.emplace(lru_.front().key, lru_.begin());
    used_ += charge;
    return lru_.front().value;
  }

  // Updates the charge of `key` after its value grew or shrank.
  void Recharge(std::string_view key, size_t charge) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    used_ = used_ - it->second->charge + charge;
    it->second->charge = charge;
  }

  void Erase(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    used_ -= it->second->charge;
    auto node = it->second;
    index_.erase(it);
    lru_.erase(node);
  }

  // Evicts least recently used entries for which evictable(value) holds until
  // the charges fit the capacity.
  template <class Evictable>
  void Trim(Evictable evictable) {
    auto it = lru_.end();
    while (used_ > capacity_ && it != lru_.begin()) {
      --it;
      if (!evictable(it->value)) continue;
      used_ -= it->charge;
      index_.erase(it->key);
      it = lru_.erase(it);
    }
  }

  void Clear() {
    index_.clear();
    lru_.clear();
    used_ = 0;
  }

  size_t size() const { return index_.size(); }
  size_t used() const { return used_; }

 private:
  struct Node {
    std::string key;
    V value;
    size_t charge;
  };
  size_t capacity_;
  size_t used_ = 0;
  std::list<Node> lru_;  // most recent first; nodes never move, so keys stay put
  std::unordered_map<std::string_view, typename std::list<Node>::iterator> index_;
};

}  // namespace tally
