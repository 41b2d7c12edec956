#pragma once

// The process's open-file limit: a server holds one descriptor per connection,
// and the usual soft default (1024) is far below the connection cap, so the
// server raises the soft limit to the hard one when it starts.
// Process-wide: call from the controlling thread.

#include <cstdint>

namespace tally {

// Raises the soft RLIMIT_NOFILE to the hard limit (when the hard limit is
// unlimited, as far as the kernel allows). Returns the soft limit in force
// afterwards, 0 if it cannot be read.
uint64_t RaiseOpenFileLimit();

}  // namespace tally
