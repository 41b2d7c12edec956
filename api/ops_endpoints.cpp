#include "api/ops_endpoints.h"

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
  w.EndObject();
  return {ready ? 200 : 503, "application/json; charset=utf-8", std::move(body)};
}

PlainAnswer AnswerMetrics(const ApiContext& context) {
  const IngestStatus status = context.ingest.status ? context.ingest.status() : IngestStatus{};
  StoreTotals totals;
  if (context.store != nullptr) totals = context.store->totals();
  static const HttpMetrics kNoMetrics;
  return {200, "text/plain; version=0.0.4; charset=utf-8",
          RenderMetrics(context.metrics ? *context.metrics : kNoMetrics, status,
                        context.store != nullptr ? &totals : nullptr)};
}

PlainAnswer AnswerOpenApi(const ApiContext&) {
  return {200, "application/yaml; charset=utf-8", std::string(OpenApiYaml())};
}

}  // namespace tally
