#pragma once

// ApiContext: what answers depend on besides the request — the store, the
// ingest source, the API keys, the settings, the server's metrics and response
// cache. Filled once by ApiServer::Start; constant while the server runs, read
// by every thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "aggregate/store.h"
#include "api/server.h"

namespace tally {

class BackupService;
class HttpMetrics;
class NotModifiedMemo;
class ResponseCache;
class StatusHistory;

struct ApiContext {
  const Store* store = nullptr;  // null: not open yet (503 on business routes)
  IngestSource ingest;
  std::vector<std::string> api_keys;  // empty: open
  std::string view_url_base;          // without a trailing slash
  HttpMetrics* metrics = nullptr;  // null: nothing counted (tests)
  ResponseCache* cache = nullptr;  // null: every answer is computed
  NotModifiedMemo* not_modified = nullptr;  // null: every 304 is found again (not_modified_memo.h)
  std::string topic = "task-actions";  // the topic consumed: what X-Tally-Position tokens name
  BackupService* backups = nullptr;     // null: no --backup-dir (the admin endpoints answer 4005)
  // For the status page: tally's version, when the server started, and the
  // last minute of counters (null: no rates shown).
  std::string version;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  const StatusHistory* history = nullptr;
};

// The X-Tally-Lag of an answer: the consumer's lag, -1 when unknown.
inline int64_t LagOf(const ApiContext& context) { return context.ingest.lag ? context.ingest.lag() : -1; }

}  // namespace tally
