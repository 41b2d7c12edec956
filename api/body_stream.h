#pragma once

// BodyStream is a response body produced a piece at a time, for answers too large
// to build whole (a page of tasks with hundreds of thousands of instance keys
// each, a page of records as large): the server writes each piece as an HTTP/1.1
// chunk before asking for the next, so such a response holds about one piece in
// memory whatever its size. Small answers never use it: they are one buffer with
// a Content-Length, and may be cached. A stream owns what it reads (its store
// snapshot). One thread at a time (the connection's).

#include <cstddef>
#include <string>

#include "aggregate/status.h"

namespace tally {

// An answer whose body reaches this many bytes is streamed, the rest of it in
// pieces of about kBodyPieceBytes (a piece ends at the first item boundary past
// it; an instance count or a record is an item).
inline constexpr size_t kInlineBodyBytes = size_t{1} << 20;
inline constexpr size_t kBodyPieceBytes = size_t{256} << 10;

class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Appends the next piece to *out. Returns true while more pieces follow,
  // false with the last one. On an error the response cannot be finished: the
  // server drops the connection, so the client sees it incomplete.
  virtual Result<bool> Next(std::string* out) = 0;
};

}  // namespace tally
