#pragma once

// gzip for response bodies (zlib): whether a client accepts it, and compressing
// a body. Pure functions; any thread.

#include <optional>
#include <string>
#include <string_view>

namespace tally {

// Bodies larger than this are compressed when the client accepts gzip.
inline constexpr size_t kGzipMinBytes = 1024;

// True if an Accept-Encoding header value accepts gzip: it names gzip or * with
// a q-value above 0 (RFC 9110 §12.5.3), and does not refuse gzip with q=0.
bool AcceptsGzip(std::string_view accept_encoding);

// The gzip stream of `data`; nullopt if zlib fails (then send it as it is).
std::optional<std::string> Gzip(std::string_view data);

}  // namespace tally
