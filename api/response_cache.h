#pragma once

// ResponseCache keeps the answers of recent business requests (the handler's
// outcome, `data` JSON and ETag, never the envelope's date or requestId), keyed
// by the route and the validated parameters, and tagged with the versions of
// the annotation requests they name (Store::Versions) when they were computed.
// Helix polls the same requests over and over; until a record is applied to
// one of them the answer cannot change, whatever is applied to other requests.
//
// Why the versions are sound: an answer depends only on the records of the
// requests it names (docs/views.md: views are a function of the set of
// distinct records, per request), records are never removed or changed, so
// that set changes exactly when a named request's version grows. The versions
// are read from the same snapshot as the answer, and it is served only while
// the latest versions are still those.
//
// Bounded: at most max_entries answers (`tally serve --response-cache-entries`)
// and kMaxBytes of data; answers larger than kMaxEntryBytes are not kept. Least
// recently used entries go first. A server configured with 0 entries has no
// ResponseCache at all (ApiContext::cache is null).
// Threads: any; sharded, one mutex per shard.

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/handlers.h"
#include "api/position.h"
#include "api/server.h"

namespace tally {

class ResponseCache {
 public:
  static constexpr size_t kMaxShards = 16;
  static constexpr size_t kMaxBytes = size_t{64} << 20;
  static constexpr size_t kMaxEntryBytes = size_t{512} << 10;

  struct Entry {
    std::vector<uint64_t> versions;  // of the named requests, when computed
    std::string etag;                // quoted; empty unless the outcome is a success
    Outcome outcome;
    std::string data;
    // The applied position of the snapshot that answered (position.h), and its
    // X-Tally-Position token; empty if the offsets could not be read.
    std::vector<PartitionNext> applied;
    std::string position;
  };

  // Keeps at most `max_entries` answers (at least 1).
  explicit ResponseCache(size_t max_entries = kDefaultResponseCacheEntries);

  // The answer for `key` computed at `versions`, or null.
  std::shared_ptr<const Entry> Find(std::string_view key, std::span<const uint64_t> versions);
  // Keeps an answer (replacing one computed at lower versions for the key).
  void Insert(std::string key, std::shared_ptr<const Entry> entry);

 private:
  struct Shard {
    std::mutex mutex;
    std::list<std::pair<std::string, std::shared_ptr<const Entry>>> lru;  // front: most recent; guarded by mutex
    std::unordered_map<std::string_view, std::list<std::pair<std::string, std::shared_ptr<const Entry>>>::iterator> index;  // by mutex
    size_t bytes = 0;                                                                                  // by mutex
  };
  Shard& ShardOf(std::string_view key);

  // Fewer shards than kMaxShards when max_entries is small, so that each holds at least one.
  const size_t shard_count_;
  const size_t entries_per_shard_;  // shard_count_ * entries_per_shard_ <= max_entries
  const std::unique_ptr<Shard[]> shards_;
};

}  // namespace tally
