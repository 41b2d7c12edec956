#pragma once

// Lowering one thread's CPU priority, for the threads that apply and write
// events (`tally serve --ingest-nice`): the HTTP threads then go first when the
// cores are busy. Call it from the thread to lower.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace tally {

// Adds `steps` (0..19) to the calling thread's nice value, up to 19. On Linux
// nice is per thread, so the rest of the process keeps its priority; threads
// this one starts later inherit the lowered one. Lowering needs no privilege;
// on a failure the thread keeps its priority (slower ingestion under load,
// nothing else).
inline void LowerThisThreadPriority(int steps) {
  if (steps <= 0) return;
  const auto self = static_cast<id_t>(gettid());
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, self);
  if (now == -1 && errno != 0) return;
  setpriority(PRIO_PROCESS, self, std::min(19, now + steps));
}

}  // namespace tally
