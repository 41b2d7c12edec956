#include "api/open_file_limit.h"

#include <sys/resource.h>

#include <fstream>

namespace tally {

uint64_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  rlim_t target = limit.rlim_max;
  if (target == RLIM_INFINITY) {
    // Linux refuses a soft limit above fs.nr_open even when the hard one is unlimited.
    std::ifstream nr_open("/proc/sys/fs/nr_open");
    unsigned long long n = 0;
    target = nr_open >> n ? static_cast<rlim_t>(n) : limit.rlim_cur;
  }
  if (target > limit.rlim_cur) {
    const rlimit raised{target, limit.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit.rlim_cur = target;
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace tally
