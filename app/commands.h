#pragma once

// The subcommands of `tally`, each run after main has parsed its flags. Each
// returns the process exit code (CONTRACT §4: 0 clean, 1 runtime failure,
// 2 bad command line or configuration).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "app/serve_config.h"

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

class Store;

// Where `demo` joins `serve`: the brokers' address once known, then the HTTP
// port and the store once serving. Called on the thread running RunServe.
struct ServeHooks {
  std::function<void(const std::string& brokers)> on_broker;
  std::function<void(uint16_t port, const Store& store)> on_serving;
};

// Runs until SIGINT or SIGTERM (exit 0 after a clean stop) or until ingestion
// fails (exit 1); bad settings exit 2 with a line naming the setting.
int RunServe(const ServeConfig& config, const ServeHooks& hooks = {});

}  // namespace tally
