#pragma once

// The handlers of the business endpoints (docs/http-api.md), one plain function
// each: validated parameters and one store snapshot in, an outcome out, with the
// response's `data` JSON appended to *data on success. No sockets, no envelope,
// no headers, no cache: the router adds those. Any thread; the store is only read.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aggregate/store.h"
#include "api/api_code.h"
#include "api/body_stream.h"
#include "api/params.h"

namespace tally {

struct Outcome {
  ApiCode code = ApiCode::kSuccess;
  std::string message{kSuccessMessage};
  std::optional<uint64_t> total_count;  // the X-Total-Count header, when set

  static Outcome Error(ApiCode code, std::string message) {
    Outcome o;
    o.code = code;
    o.message = std::move(message);
    return o;
  }
  // A failed store query: the server's fault (ContractErrorOf), logged.
  static Outcome StoreFailure(const Status& status);
};

// What a handler reads besides its parameters: the store through one snapshot,
// and the server's settings.
struct HandlerInput {
  const Store& store;
  ReadView view;                   // moved into a streamed answer's rest, which keeps the snapshot
  std::string_view view_url_base;  // /task/get's viewUrl; without a trailing slash
};

// Every handler has this shape, which the route table (routes.cpp) relies on.
// With `rest` given, *data stops once it reaches kInlineBodyBytes, and if there
// is more, *rest is set to a stream of the remainder, which keeps the snapshot
// (body_stream.h); without, all of it goes to *data. On an error *data is left
// to the caller to discard.

// GET /statistics: a page of the request's tasks by task id, X-Total-Count the
// number of its tasks; 53003 if the request is unknown; 5000 if the store fails.
Outcome HandleStatistics(const StatisticsParams& params, HandlerInput input, std::string* data,
                         std::unique_ptr<BodyStream>* rest = nullptr);

// GET /statistics/record: {"count", "data"} over the listed requests, merged by
// record id; 53003 naming the unknown ids if any is unknown; 5000 if the store fails.
Outcome HandleStatisticsRecord(const RecordParams& params, HandlerInput input, std::string* data,
                               std::unique_ptr<BodyStream>* rest = nullptr);

// POST /task/get: {"viewUrl", "status"} of the task of (campaign, request,
// scene); 51008, 53003, 56001 in that order; 5000 if the store fails. viewUrl
// is null when the task's project is unknown. Always whole: `rest` is not used.
Outcome HandleTaskGet(const TaskGetParams& params, HandlerInput input, std::string* data,
                      std::unique_ptr<BodyStream>* rest = nullptr);

// GET /statistics/summary: the request's summary (docs/http-api.md); 53003 if
// the request is unknown; 5000 if the store fails. Its instanceInfo streams
// like a task's.
Outcome HandleSummary(const SummaryParams& params, HandlerInput input, std::string* data,
                      std::unique_ptr<BodyStream>* rest = nullptr);

// GET /statistics/labelers: a page of the request's labelers by aliceName,
// X-Total-Count the number of its labelers; 53003 if the request is unknown;
// 5000 if the store fails. Always whole (at most 1000 small objects).
Outcome HandleLabelers(const LabelersParams& params, HandlerInput input, std::string* data,
                       std::unique_ptr<BodyStream>* rest = nullptr);

// Appends one record in the seed's shape (exactly its fifteen fields): `id`
// and its other fields (RecordFields::Of a TaskAction, or a page's record read
// in place).
void AppendRecordJson(Id id, const RecordFields& record, std::string* out);
// Appends one task in the seed's shape (exactly seven fields).
void AppendTaskJson(const TaskFields& task, std::string* out);

}  // namespace tally
