#include "api/ops_endpoints.h"

#include <cstdio>
#include <utility>

#include "aggregate/json_writer.h"
#include "api/metrics.h"

namespace tally {

PlainAnswer AnswerHealthz(const ApiContext&) { return {200, "text/plain; charset=utf-8", "ok\n"}; }

PlainAnswer AnswerReadyz(const ApiContext& context) {
  const IngestStatus status = context.ingest.status ? context.ingest.status() : IngestStatus{};
  const bool ready = context.store != nullptr && status.ready;
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("ready");
  w.Bool(ready);
  w.Key("lag");
  w.Int(status.lag);
  w.Key("eventsApplied");
  w.Uint(status.applied);
  // Freshness of the events applied since start (p50, p99 estimated from the
  // histogram's buckets, as Prometheus' histogram_quantile does); null before any.
  w.Key("freshnessSeconds");
  if (status.event_freshness_seconds.count() == 0) {
    w.Null();
  } else {
    w.BeginObject();
    char number[32];
    for (const auto& [name, q] : {std::pair{JsonName("p50"), 0.5}, std::pair{JsonName("p99"), 0.99}}) {
      std::snprintf(number, sizeof number, "%.6f", status.event_freshness_seconds.Quantile(q));
      w.Key(name);
      w.Raw(number);
    }
    w.EndObject();
  }
  w.EndObject();
  return {ready ? 200 : 503, "application/json; charset=utf-8", std::move(body)};
}

PlainAnswer AnswerMetrics(const ApiContext& context) {
  const IngestStatus status = context.ingest.status ? context.ingest.status() : IngestStatus{};
  StoreTotals totals;
  StoreDisk disk;
  if (context.store != nullptr) {
    totals = context.store->totals();
    disk = context.store->disk();
  }
  static const HttpMetrics kNoMetrics;
  const bool open = context.store != nullptr;
  BackupStats backups;
  if (context.backups != nullptr) backups = context.backups->stats();
  return {200, "text/plain; version=0.0.4; charset=utf-8",
          RenderMetrics(context.metrics ? *context.metrics : kNoMetrics, status, open ? &totals : nullptr,
                        open ? &disk : nullptr, &backups)};
}

PlainAnswer AnswerOpenApi(const ApiContext&) {
  return {200, "application/yaml; charset=utf-8", std::string(OpenApiYaml())};
}

}  // namespace tally
