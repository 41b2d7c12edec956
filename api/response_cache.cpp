#include "api/response_cache.h"

#include <algorithm>
#include <functional>

namespace tally {
namespace {

size_t SizeOf(const std::string& key, const ResponseCache::Entry& e) {
  return key.size() + e.data.size() + e.outcome.message.size() + sizeof(e);
}

}  // namespace

ResponseCache::ResponseCache(size_t max_entries)
    : shard_count_(std::clamp<size_t>(max_entries, 1, kMaxShards)),
      entries_per_shard_(std::max<size_t>(1, max_entries / shard_count_)),
      shards_(new Shard[shard_count_]) {}

ResponseCache::Shard& ResponseCache::ShardOf(std::string_view key) {
  return shards_[std::hash<std::string_view>()(key) % shard_count_];
}

std::shared_ptr<const ResponseCache::Entry> ResponseCache::Find(std::string_view key, uint64_t version) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.index.find(key);
  if (it == shard.index.end() || it->second->second->version != version) return nullptr;
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
    if (node->second->version > entry->version) return;  // a newer answer is there already
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
