#include "api/admin_endpoints.h"

#include <future>
#include <memory>

#include "aggregate/backup_service.h"
#include "aggregate/json_writer.h"
#include "aggregate/timestamp.h"
#include "api/envelope.h"
#include "api/http_framing.h"
#include "api/position.h"
#include "api/request_id.h"
#include "api/routes.h"

namespace tally {
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kBackupPath = "/admin/backup";
constexpr std::string_view kNoBackupDirMessage =
    "Backups are off: start tally serve with --backup-dir DIR (or TALLY_BACKUP_DIR) to take them";

std::string PositionTokenOf(const BackupEntry& entry, const std::string& topic) {
  const std::vector<PartitionOffset> offsets = entry.OffsetsOf(topic);
  return EncodePosition(topic, PositionOf(offsets));
}

// Admin answers change with every backup: no cache may keep them.
Answer NoStore(Answer answer) {
  answer.response.set(http::field::cache_control, "no-store");
  return answer;
}

Answer Finish(const HttpRequest& request, Answer answer) {
  answer = NoStore(std::move(answer));
  FinishAnswer(request, &answer);
  return answer;
}

// {"backupId","position","bytes","millis"}, or the failure.
Answer BackupTaken(const HttpRequest& request, const RouteInfo* route, const ApiContext& context,
                   const Result<BackupEntry>& outcome, std::string request_id) {
  if (!outcome) {
    return ErrorAnswer(request, route, outcome.error(), Fault::kServer, std::move(request_id), LagOf(context));
  }
  std::string data;
  JsonWriter json(&data);
  json.BeginObject();
  json.Key("backupId");
  json.Uint(outcome->id);
  json.Key("position");
  json.String(PositionTokenOf(*outcome, context.topic));
  json.Key("bytes");
  json.Uint(outcome->bytes);
  json.Key("millis");
  json.Uint(outcome->millis);
  json.EndObject();
  return EnvelopeAnswer(request, route, ApiCode::kSuccess, kSuccessMessage, data, std::move(request_id),
                        LagOf(context));
}

// [{"backupId","position","bytes","createdTime"}], oldest first.
Answer BackupList(const HttpRequest& request, const RouteInfo* route, const ApiContext& context,
                  std::string request_id) {
  std::string data;
  JsonWriter json(&data);
  json.BeginArray();
  for (const BackupEntry& entry : context.backups->List()) {
    json.BeginObject();
    json.Key("backupId");
    json.Uint(entry.id);
    json.Key("position");
    json.String(PositionTokenOf(entry, context.topic));
    json.Key("bytes");
    json.Uint(entry.bytes);
    json.Key("createdTime");
    json.String(FormatTimestamp(Timestamp{entry.created_unix_s * 1000}));
    json.EndObject();
  }
  json.EndArray();
  return EnvelopeAnswer(request, route, ApiCode::kSuccess, kSuccessMessage, data, std::move(request_id),
                        LagOf(context));
}

}  // namespace

bool IsBackupRequest(const HttpRequest& request) {
  return SplitTarget(std::string_view(request.target().data(), request.target().size())).path == kBackupPath;
}

std::optional<Answer> AdminAnswer(const HttpRequest& request, const RouteInfo& route, const ApiContext& context,
                                  std::string request_id, bool may_wait) {
  if (context.backups == nullptr) {
    return NoStore(ErrorAnswer(request, &route, Status::InvalidArgument(std::string(kNoBackupDirMessage)),
                               Fault::kRequest, std::move(request_id), LagOf(context)));
  }
  if (route.path != kBackupPath) return NoStore(BackupList(request, &route, context, std::move(request_id)));
  if (!may_wait) return std::nullopt;
  Result<BackupEntry> outcome = context.backups->TakeNow();
  return NoStore(BackupTaken(request, &route, context, outcome, std::move(request_id)));
}

void StartBackup(const HttpRequest& request, const ApiContext& context, std::function<void(Answer)> deliver) {
  const RouteInfo* route = RouteOf(kBackupPath);
  // The request lives in the session until the answer is delivered; what the
  // answer needs of it is copied now all the same (HTTP version, keep-alive,
  // Accept-Encoding are read when it is finished).
  auto copy = std::make_shared<HttpRequest>(request.base(), std::string());
  context.backups->Request([copy, route, &context, request_id = RequestIdOf(request),
                            deliver = std::move(deliver)](const Result<BackupEntry>& outcome) {
    deliver(Finish(*copy, BackupTaken(*copy, route, context, outcome, request_id)));
  });
}

}  // namespace tally
