#pragma once

// The operations endpoints (docs/http-api.md "Operations endpoints"): /healthz,
// /readyz, /metrics, /openapi.yaml, and the status page (status_page.h). Open
// (no API key), no envelope, answered on the I/O thread: each is a function of
// the server's context alone, cheap and never waiting for a store query. Any
// thread.

#include <string>
#include <string_view>

#include "api/api_context.h"

namespace tally {

// An operations endpoint's answer before the headers every answer gets.
struct PlainAnswer {
  int http_status = 200;
  std::string_view content_type;
  std::string body;
};

// 200 "ok": the process serves HTTP.
PlainAnswer AnswerHealthz(const ApiContext& context);
// {"ready","lag","eventsApplied"}: 200 once the store is open and the consumer
// has joined its group with an assignment, else 503.
PlainAnswer AnswerReadyz(const ApiContext& context);
// The Prometheus page (metrics.h).
PlainAnswer AnswerMetrics(const ApiContext& context);
// schemas/openapi.yaml as built.
PlainAnswer AnswerOpenApi(const ApiContext& context);

// The embedded schemas/openapi.yaml (generated at build time by embed_file.cmake).
std::string_view OpenApiYaml();

}  // namespace tally
