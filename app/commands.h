#pragma once

// The subcommands of `tally`, each run after main has parsed its flags. Each
// returns the process exit code (CONTRACT §4: 0 clean, 1 runtime failure,
// 2 bad command line or configuration).

#include <cstddef>
#include <string>

namespace tally {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

struct ReplayFlags {
  std::string data_dir;
  std::string file;  // "-" for stdin
  size_t memory_mb = 512;
  size_t batch = 10'000;
};

int RunReplay(const ReplayFlags& flags);

}  // namespace tally
