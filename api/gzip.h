#pragma once

// gzip for response bodies (zlib): whether a client accepts it, and compressing
// a body. Pure functions; any thread.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct z_stream_s;

namespace tally {

// Bodies larger than this are compressed when the client accepts gzip.
inline constexpr size_t kGzipMinBytes = 1024;

// True if an Accept-Encoding header value accepts gzip: it names gzip or * with
// a q-value above 0 (RFC 9110 §12.5.3), and does not refuse gzip with q=0.
bool AcceptsGzip(std::string_view accept_encoding);

// The gzip stream of `data`; nullopt if zlib fails (then send it as it is).
std::optional<std::string> Gzip(std::string_view data);

// One gzip stream over data given in pieces (a streamed answer): holds zlib's
// state (about 300 KiB), not the data. One thread at a time.
class GzipStream {
 public:
  GzipStream();
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  // Compresses the next piece of the data and appends what zlib gives out (maybe
  // nothing yet) to *out; `last` ends the stream. False if zlib fails.
  bool Add(std::string_view data, bool last, std::string* out);

 private:
  std::unique_ptr<z_stream_s> z_;
  bool ok_ = false;
};

}  // namespace tally
