#pragma once

// The admin endpoints (docs/http-api.md "Backups"): POST /admin/backup takes a
// backup of the store now, GET /admin/backups lists the backups. They need an
// API key whenever keys are configured (like the business endpoints), answer in
// the envelope with X-Tally-Lag, are never cached (Cache-Control: no-store),
// and without --backup-dir answer 4005 naming it. A backup runs on the backup
// service's thread (aggregate/backup_service.h), never on an I/O thread: the
// session hands the request over (StartBackup) and writes the answer when it
// comes back. Listing reads the service's copy of the list, on the I/O thread.
// Pure functions of the request and the context; any thread.

#include <functional>
#include <optional>
#include <string>

#include "aggregate/store_backup.h"
#include "api/answer.h"
#include "api/api_context.h"

namespace tally {

// The answer of an admin route, after the route, method and key checks;
// nullopt for a backup to take when `may_wait` is false (the caller then uses
// StartBackup). With `may_wait`, a backup is taken on the backup thread while
// this thread waits (for tests and tools: the server never waits so).
std::optional<Answer> AdminAnswer(const HttpRequest& request, const RouteInfo& route, const ApiContext& context,
                                  std::string request_id, bool may_wait);

// True when the request is one AdminAnswer leaves to StartBackup.
bool IsBackupRequest(const HttpRequest& request);

// Asks the backup service for a backup; `deliver` gets the finished answer, on
// the backup thread.
void StartBackup(const HttpRequest& request, const ApiContext& context, std::function<void(Answer)> deliver);

}  // namespace tally
