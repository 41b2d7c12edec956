#pragma once

// ApiServer is tally's HTTP API (docs/http-api.md): Helix's three endpoints
// (/statistics, /statistics/record, /task/get) and the operations endpoints
// (/healthz, /readyz, /metrics, /openapi.yaml), served by Boost.Beast on an
// io_context run by a pool of threads; store queries run on a bounded pool of
// their own (api/query_pool.h), so the operations endpoints answer whatever the
// business traffic does. Requests are answered by the pure function
// HandleRequest (api/router.h); this class only owns the sockets, the threads,
// the limits and the shutdown.
//
// Lifecycle: Start() binds and serves at once; Stop() (or the destructor) stops
// accepting, lets requests in flight finish (bounded), closes every connection
// and joins the threads. The store and the ingest source's functions must
// outlive the server.
// Threads: Start, port and Stop from one controlling thread. The ingest
// source's functions are called from the HTTP threads, concurrently.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "aggregate/histogram.h"
#include "aggregate/status.h"
#include "aggregate/store.h"

namespace tally {

class BackupService;

// What /readyz, /metrics and the X-Tally-Lag header show of ingestion; app/ fills it
// from the consumer's counters (api/ never includes ingest/).
struct IngestStatus {
  bool ready = false;      // consumer joined its group and has an assignment
  // Why it is not ready, in a sentence for people (the status page); empty
  // when ready, or when nobody said.
  std::string not_ready_reason;
  int64_t lag = -1;        // events in assigned partitions not yet applied; -1 unknown
  // `lag` per assigned partition, in partition order; empty while the lag is unknown.
  std::vector<std::pair<Partition, int64_t>> partition_lag;
  uint64_t consumed = 0, applied = 0, duplicates = 0, conflicts = 0;
  uint64_t offset_resets = 0;  // partitions re-read from the earliest offset (a replaced topic or cluster)
  uint64_t offsets_skipped = 0;  // messages removed by retention before they were read
  uint64_t dead_letters = 0, dead_letters_failed = 0;  // queued for, and lost on the way to, the dead-letter topic
  std::vector<std::pair<std::string, uint64_t>> rejected;  // by reason slug
  Histogram::Snapshot apply_batch_seconds;
  // Per event: its Kafka message's timestamp to its batch being durable.
  Histogram::Snapshot event_freshness_seconds;
};

// Where the API reads the state of ingestion (app/ fills it from the consumer's
// counters). Either may be empty: lag is then unknown (-1), the status default.
struct IngestSource {
  // For X-Tally-Lag on every business response: keep it to an atomic load.
  std::function<int64_t()> lag;
  // For /readyz and /metrics.
  std::function<IngestStatus()> status;
};

// How long a request behind its X-Tally-Min-Position waits by default.
inline constexpr std::chrono::milliseconds kDefaultPositionWait{2000};

// Answers the response cache keeps by default (`tally serve --response-cache-entries`).
inline constexpr size_t kDefaultResponseCacheEntries = 8192;

// Long polls held at once by default (`tally serve --max-waiters`).
inline constexpr size_t kDefaultMaxWaiters = 10000;

struct ApiOptions {
  std::string listen = "127.0.0.1:8080";   // host:port; port 0 picks a free one
  int threads = 0;                          // 0: the core count
  std::vector<std::string> api_keys;        // empty: the API is open
  std::string view_url_base = "https://localhost";
  std::chrono::seconds idle_timeout{30};
  // At the cap a new connection closes the longest-idle one (see README "Operations").
  size_t max_connections = 10000;
  // Store queries of business requests run on their own threads (0: the core
  // count), at most query_queue more wait; past that: 503, code 5000, Retry-After.
  int query_threads = 0;
  size_t query_queue = 256;
  // Answers kept while the store is unchanged (api/response_cache.h), at most;
  // 0: no response cache, every business request reads the store.
  size_t response_cache_entries = kDefaultResponseCacheEntries;
  // Long polls (Prefer: wait) held at once, at most; past that they are answered at once.
  size_t max_waiters = kDefaultMaxWaiters;
  // The topic consumed: what the X-Tally-Position tokens name (api/position.h).
  std::string topic = "task-actions";
  // tally's version, as the status page shows it.
  std::string version;
  // How long a request behind its X-Tally-Min-Position waits for ingestion
  // before its 503 (`tally serve --position-wait-ms`).
  std::chrono::milliseconds position_wait = kDefaultPositionWait;
  // Takes the backups of POST /admin/backup and lists them (null: no
  // --backup-dir). Must outlive the server.
  BackupService* backups = nullptr;
};

class ApiServer {
 public:
  // Binds and starts serving. Errors: a malformed listen address (InvalidArgument
  // naming it), address in use or not bindable (IOError naming it). `store` may be
  // null while the store is not open yet: business endpoints then answer 503 (code
  // 5000) and /readyz is not ready.
  static Result<std::unique_ptr<ApiServer>> Start(const ApiOptions& options, const Store* store,
                                                   IngestSource ingest);

  // The bound port (the chosen one when the options said 0).
  uint16_t port() const;

  // Stops accepting, lets requests in flight finish (bounded by a few seconds),
  // closes connections, joins threads. Idempotent. Held long polls are
  // answered first (EndLongPolls).
  void Stop();

  // Records were applied to `requests` (the store's ChangeListener): wakes the
  // long polls waiting for them. Cheap and never blocks on HTTP: the wake-ups
  // are posted to the server's threads. Any thread, until Stop.
  void RequestsChanged(std::span<const std::string> requests);

  // Answers every held long poll now (304) and holds no new one: the first
  // step of a shutdown, before ingestion stops. Any thread.
  void EndLongPolls();
  // A batch with these next offsets (of the topic consumed) is durable and
  // readable: wakes the requests waiting for that position. Cheap, never
  // blocks on HTTP (the wake-ups are posted to the sessions). The apply
  // thread, until Stop.
  void PositionAdvanced(std::span<const PartitionOffset> offsets);

  ~ApiServer();

  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  struct Impl;

 private:
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
