#pragma once

// Conditional requests and long polls (docs/http-api.md "Polling"): the ETag
// of a business answer, whether an If-None-Match header names it, and how long
// a `Prefer: wait=N` asks to hold the answer. Pure functions; any thread.
//
// An ETag is a function of the route, the effective parameters (the response
// cache key: after defaults and clamping), what else the answer depends on (the
// view URL base of /task/get) and the versions of the named annotation requests
// (Store::Versions): "<sum of the versions>-<16 hex digits>", the digits the
// FNV-1a 64 hash (a published, build-independent function) of those inputs.
// So the tag is the same after a restart and on every replica that applied the
// same records, and it changes whenever a record is applied to a named request
// (the sum grows: no hash collision can hide a change).

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tally {

// Longest wait a `Prefer: wait=N` gets; larger values count as this.
inline constexpr std::chrono::seconds kMaxPollWait{60};

// FNV-1a, 64 bits (http://www.isthe.com/chongo/tech/comp/fnv/), continuing from `hash`.
inline constexpr uint64_t kFnv64Offset = 14695981039346656037ull;
uint64_t Fnv1a64(std::string_view bytes, uint64_t hash = kFnv64Offset);

// The quoted strong ETag ("\"12-0123456789abcdef\"") of an answer: `cache_key`
// (the route's byte and the parameters, ResponseCache's key), `salt` (other
// settings the answer depends on, or empty) and the named requests' versions.
std::string MakeETag(std::string_view cache_key, std::string_view salt, std::span<const uint64_t> versions);

// Whether an If-None-Match value names `quoted_tag` (with its quotes): a
// comma-separated list of entity tags, each maybe with a weak prefix W/ (weak
// comparison, RFC 9110 §13.1.2). `*` is not special here: it names no tag.
bool IfNoneMatchHas(std::string_view header, std::string_view quoted_tag);

// The wait a Prefer header asks for with `wait=N` (RFC 7240: N whole seconds;
// above kMaxPollWait counts as kMaxPollWait); nullopt when it asks for none (no
// header, no wait preference, 0, or a malformed value).
std::optional<std::chrono::seconds> PreferredWait(std::string_view prefer);

}  // namespace tally
