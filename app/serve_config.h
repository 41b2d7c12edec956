#pragma once

// The settings of `tally serve` (docs/configuration.md) and where they come from: a flag
// beats the environment (TALLY_*), which beats the config file (--config FILE,
// CLI11's format: `key = value` lines named like the long flags, an optional
// [serve] section). A repeated flag (--api-key, --kafka) replaces the
// environment's list; it does not add to it.

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "aggregate/backup_service.h"
#include "aggregate/status.h"
#include "api/server.h"
#include "ingest/decode.h"

namespace tally {

// Ranges shared by `serve` and `replay`.
inline constexpr size_t kMinMemoryMb = 16;
inline constexpr size_t kMaxMemoryMb = size_t{1} << 20;
inline constexpr size_t kMaxBatchEvents = 1'000'000;
// --ingest-nice's default (README, "Queries while ingesting").
inline constexpr int kDefaultIngestNice = 0;

struct ServeConfig {
  std::string brokers;  // empty: the embedded development broker
  std::string topic = "task-actions";
  std::string group = "tally";
  std::string data_dir = "./tally-data";
  std::string listen = "127.0.0.1:8080";
  int threads = 0;  // HTTP threads; 0: the core count
  std::vector<std::string> api_keys;
  std::string view_url_base = "https://localhost";
  std::string dead_letter_topic;
  std::vector<std::string> kafka;  // PROP=VALUE
  size_t memory_mb = 512;
  int partitions = 8;  // of the topic the embedded broker creates
  size_t batch_events = kBatchEvents;
  std::chrono::milliseconds batch_wait{100};
  std::chrono::seconds idle_timeout{30};
  size_t max_connections = 10000;
  int query_threads = 0;  // 0: the core count
  size_t query_queue = 256;
  size_t response_cache_entries = kDefaultResponseCacheEntries;  // 0: no response cache
  size_t max_waiters = kDefaultMaxWaiters;  // long polls held at once
  // Nice steps by which the ingest and store-writer threads lower their priority.
  int ingest_nice = kDefaultIngestNice;
  std::chrono::milliseconds position_wait = kDefaultPositionWait;  // X-Tally-Min-Position's wait
  std::string backup_dir;  // empty: no backups (the admin endpoints answer 4005)
  std::chrono::seconds backup_every{0};  // 0: on demand only (POST /admin/backup)
  uint32_t backup_keep = kDefaultBackupKeep;
  uint32_t backup_rate_mb = 0;  // MiB/s a backup writes at most; 0: no cap
  std::string restore_from;  // a backup dir: bootstrap the empty data dir from its latest backup first
};

// The flags of `serve` on a CLI11 subcommand, and their resolution.
class ServeSettings {
 public:
  // Adds every setting's flag (and --config) to `command`; --help lists them all
  // with their environment variables and defaults.
  explicit ServeSettings(CLI::App* command);
  ~ServeSettings();

  // After parsing: the configuration from the flags, the environment and the
  // config file. A bad value is an InvalidArgument naming the setting as it was
  // given ("--threads", "TALLY_THREADS", "config.ini: threads").
  Result<ServeConfig> Resolve() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
