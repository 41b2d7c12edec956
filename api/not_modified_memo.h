#pragma once

// NotModifiedMemo remembers the conditional requests last answered 304 from the
// latest state: the request as it came (route, query, body, If-None-Match,
// X-Tally-Min-Position) with the store's state number (Store::StateNumber) of
// that answer, and what the 304 carried (ETag, position). Helix polls the same
// URL with the same ETag again and again; while nothing is written, the same
// request gets the same 304, so a repeat skips parsing the parameters, reading
// versions and offsets, and making the ETag and the position. A write changes
// the state number and every entry misses at once (a StateMemo,
// aggregate/state_memo.h). Only a 304 found between two equal state numbers is
// kept (the reads in between saw exactly that state).
//
// kSlots entries; requests longer than kMaxKeyBytes are not kept, so memory
// stays bounded whatever is asked. Owned by the server (ApiContext::not_modified),
// for one store; thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aggregate/state_memo.h"

namespace tally {

class NotModifiedMemo {
 public:
  static constexpr size_t kSlots = 512;
  static constexpr size_t kMaxKeyBytes = 2048;

  // Builds the key of a conditional request in `*key` (a reused buffer); false
  // if the request is too long to be kept.
  static bool MakeKey(size_t route_index, std::string_view query, std::string_view body,
                      std::string_view if_none_match, std::optional<std::string_view> min_position, std::string* key);

  // If the 304 to `key` in the state numbered `state` is remembered, calls
  // `use(etag, position)` with what it carried (valid during the call only)
  // and returns true.
  template <class Use>
  bool Find(std::string_view key, uint64_t state, Use&& use) const {
    return memo_.Find(state, key, [&](const NotModified& kept) { use(kept.etag, kept.position); });
  }

  // Remembers the 304 answered to `key` from the state numbered `state` (read
  // before and after the answer was found, and equal).
  void Put(std::string_view key, uint64_t state, std::string_view etag, std::string_view position) {
    memo_.Put(state, key, [&](NotModified& kept) {
      kept.etag.assign(etag);
      kept.position.assign(position);
    });
  }

 private:
  struct NotModified {
    std::string etag, position;
  };
  StateMemo<NotModified, kSlots> memo_;
};

}  // namespace tally
