#include "api/response_cache.h"

#include <algorithm>
#include <functional>

namespace tally {
namespace {

size_t SizeOf(const std::string& key, const ResponseCache::Entry& e) {
  return key.size() + e.data.size() + e.outcome.message.size() + e.etag.size() +
         e.versions.size() * sizeof(uint64_t) + sizeof(e);
}

// Versions only grow: of two answers for the same key, the one of the larger
// sum was computed later.
uint64_t SumOf(std::span<const uint64_t> versions) {
  uint64_t sum = 0;
  for (const uint64_t v : versions) sum += v;
  return sum;
}

}  // namespace

ResponseCache::ResponseCache(size_t max_entries)
    : shard_count_(std::clamp<size_t>(max_entries, 1, kMaxShards)),
      entries_per_shard_(std::max<size_t>(1, max_entries / shard_count_)),
      shards_(new Shard[shard_count_]) {}

ResponseCache::Shard& ResponseCache::ShardOf(std::string_view key) {
  return shards_[std::hash<std::string_view>()(key) % shard_count_];
}

std::shared_ptr<const ResponseCache::Entry> ResponseCache::Find(std::string_view key,
                                                               std::span<const uint64_t> versions) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) return nullptr;
  const std::vector<uint64_t>& kept = it->second->second->versions;
  if (!std::equal(kept.begin(), kept.end(), versions.begin(), versions.end())) return nullptr;
  shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
  return it->second->second;
}

void ResponseCache::Insert(std::string key, std::shared_ptr<const Entry> entry) {
  const size_t size = SizeOf(key, *entry);
  if (size > kMaxEntryBytes) return;
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mutex);
  if (auto it = shard.index.find(key); it != shard.index.end()) {
    auto node = it->second;
    if (SumOf(node->second->versions) > SumOf(entry->versions)) return;  // a newer answer is there already
    shard.bytes -= SizeOf(node->first, *node->second);
    shard.index.erase(it);
    shard.lru.erase(node);
  }
  shard.lru.emplace_front(std::move(key), std::move(entry));
  shard.index.emplace(shard.lru.front().first, shard.lru.begin());
  shard.bytes += size;
  while (shard.lru.size() > entries_per_shard_ || shard.bytes > kMaxBytes / shard_count_) {
    auto& last = shard.lru.back();
    shard.bytes -= SizeOf(last.first, *last.second);
    shard.index.erase(last.first);
    shard.lru.pop_back();
  }
}

}  // namespace tally
