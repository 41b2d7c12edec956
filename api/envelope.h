#pragma once

// The envelope every answer of a business route (and every 404, 405, 413, 400
// and 503) is wrapped in: {"code","message","data","date","requestId","success"}
// with the X-Tally-Lag header. Pure functions; any thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/answer.h"
#include "api/api_code.h"
#include "api/body_stream.h"

namespace tally {

// An envelope answer around `data` (JSON; empty: null), with the code's HTTP
// status unless `http_status` is given. Not yet finished (FinishAnswer).
Answer EnvelopeAnswer(const HttpRequest& request, const RouteInfo* route, ApiCode code, std::string_view message,
                      std::string_view data, std::string request_id, int64_t lag, int http_status = 0);

// 304 Not Modified for a conditional request whose If-None-Match names the
// current `etag` (quoted): no body, the headers ETag, X-Request-Id and X-Tally-Lag.
Answer NotModifiedAnswer(const HttpRequest& request, const RouteInfo* route, std::string_view etag,
                         std::string request_id, int64_t lag);

// The envelope answer of a failed Status (ContractErrorOf).
Answer ErrorAnswer(const HttpRequest& request, const RouteInfo* route, const Status& status, Fault fault,
                   std::string request_id, int64_t lag);

// Turns a success envelope answer whose data is only the first part of its
// data into a streamed one: `data_rest` yields the data's remaining pieces, the
// envelope's tail follows the last.
void StreamEnvelope(std::string_view data_start, std::unique_ptr<BodyStream> data_rest, ApiCode code,
                    std::string_view message, Answer* answer);

}  // namespace tally
