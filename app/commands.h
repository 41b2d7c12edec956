#pragma once

// The subcommands of `tally`, each run after main has parsed its flags. Each
// returns the process exit code (docs/configuration.md: 0 clean, 1 runtime failure,
// 2 bad command line or configuration).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "aggregate/status.h"
#include "app/serve_config.h"
#include "ingest/delivery.h"

namespace tally {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

struct ReplayFlags {
  std::string data_dir;
  std::string file;  // "-" for stdin
  size_t memory_mb = 512;
  size_t batch = kBatchEvents;
  bool no_summary_views = false;  // benchmark only: StoreOptions::summary_views off
  std::string samples;  // benchmark only: a CSV of seconds,events,bytes about every second
};

int RunReplay(const ReplayFlags& flags);

struct BackupFlags {
  std::string data_dir;
  std::string backup_dir;
  uint32_t keep = kDefaultBackupKeep;  // 0: all
};

// `tally backup`: a backup of a store no process has open (exit 1 if one has).
int RunBackup(const BackupFlags& flags);

struct RestoreFlags {
  std::string backup_dir;
  std::string data_dir;
  uint32_t backup_id = 0;  // 0: the latest
};

// `tally restore`: verifies the backup's checksums and restores it into a
// missing or empty data dir (exit 2 if it is not empty).
int RunRestore(const RestoreFlags& flags);

struct ProduceFlags {
  std::string brokers;  // or output
  std::string output;   // FILE or "-": NDJSON, a message a line, instead of Kafka
  std::string topic = "task-actions";
  WorkloadOptions workload;
  DeliveryOptions delivery;
  double rate = 0;  // events/s; 0: as fast as the sink takes them
  std::vector<std::string> kafka;  // PROP=VALUE
};

struct ProduceTotals {
  uint64_t messages = 0;
  uint64_t events = 0;    // sent, duplicates included
  uint64_t distinct = 0;  // taken from the workload
  double seconds = 0;
};

// How a caller steers Produce: `stop` ends it early (checked between messages);
// `pace`, if set, is called before each message with the distinct events taken
// so far and may block to hold the producer back; `progress` prints a progress
// line on stderr while it runs if stderr is a terminal (app/progress.h).
struct ProduceControl {
  const std::atomic<bool>* stop = nullptr;
  std::function<void(uint64_t distinct)> pace;
  bool progress = true;
};

// Generates the flags' workload and sends it. Errors name what failed: a bad
// --kafka property or an unwritable --output (InvalidArgument), undelivered
// messages (IOError).
Result<ProduceTotals> Produce(const ProduceFlags& flags, const ProduceControl& control);

// `tally produce`.
int RunProduce(const ProduceFlags& flags);

struct DemoFlags {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir;  // empty: a temporary directory, removed at exit
  uint64_t events = 20'000;
  uint64_t seed = 1;
};

// `tally demo`: serve on the embedded broker, produce a workload into it, print
// curl commands once it is applied, serve until SIGINT/SIGTERM.
int RunDemo(const DemoFlags& flags);

class Store;

// Where `demo` joins `serve`: the brokers' address once known, then the HTTP
// port and the store once serving, and once on the way out (on every path after
// on_broker, when the consumer and the HTTP server have stopped but the store
// and the broker are still up). Called on the thread running RunServe.
struct ServeHooks {
  std::function<void(const std::string& brokers)> on_broker;
  std::function<void(uint16_t port, const Store& store)> on_serving;
  std::function<void()> on_stopping;
};

// Runs until SIGINT or SIGTERM (exit 0 after a clean stop) or until ingestion
// fails (exit 1); bad settings exit 2 with a line naming the setting.
int RunServe(const ServeConfig& config, const ServeHooks& hooks = {});

}  // namespace tally
