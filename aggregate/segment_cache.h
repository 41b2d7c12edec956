#pragma once

// SegmentCache keeps the ids of rank index segments (rank_index.h) for the
// queries that page through requests: with them, the ids a deep page skips are
// counted in memory instead of being walked in RocksDB one entry at a time (a
// step there costs ~1.6k instructions, a step here a few).
//
// An entry never goes stale: ids are only ever added, never removed, so the ids
// of one request's family within [start, end) are fixed by how many there are.
// The key is (family, request, start, end, count), and any snapshot whose rank
// index shows that segment may use the entry. Bounded by an approximate byte
// charge, least recently used first out. Thread-safe (one mutex: a query looks
// up a handful of segments). Private to aggregate/.

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aggregate/id.h"
#include "aggregate/keys.h"
#include "aggregate/lru_cache.h"

namespace tally {

class SegmentCache {
 public:
  using Ids = std::shared_ptr<const std::vector<Id>>;

  explicit SegmentCache(size_t capacity_bytes) : cache_(capacity_bytes) {}

  static std::string Key(keys::Family family, RequestNo no, Id start, std::optional<Id> end, uint32_t count) {
    std::string key;
    key.push_back(static_cast<char>(family));
    keys::AppendRequest(no, &key);
    start.AppendKey(&key);  // an id's encoding says its own length
    key.push_back(end ? 1 : 0);
    if (end) end->AppendKey(&key);
    PutFixed32BE(count, &key);
    return key;
  }

  Ids Find(const std::string& key) {
    std::lock_guard lock(mutex_);
    const Ids* ids = cache_.Find(key);
    return ids ? *ids : nullptr;
  }

  void Insert(std::string key, Ids ids) {
    const size_t charge = ids->size() * sizeof(Id) + key.size() + 96;  // the vector, the key, the nodes
    std::lock_guard lock(mutex_);
    cache_.Insert(std::move(key), std::move(ids), charge);
    cache_.Trim([](const Ids&) { return true; });
  }

 private:
  std::mutex mutex_;
  LruCache<Ids> cache_;
};

}  // namespace tally
