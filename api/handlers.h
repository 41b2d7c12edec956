#pragma once

// The handlers of Helix's three endpoints (CONTRACT §3), one plain function each:
// validated parameters and one store snapshot in, an outcome out, with the
// response's `data` JSON appended to *data on success. No sockets, no envelope,
// no headers: the router adds those. Any thread; the store is only read.

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
};

// GET /statistics: a page of the request's tasks by task id, X-Total-Count the
// number of its tasks; 53003 if the request is unknown; 5000 if the store fails.
// With `rest` given, *data stops once it reaches kInlineBodyBytes, and if there
// is more, *rest is set to a stream of the remainder, which keeps the snapshot
// (body_stream.h); without, all of it goes to *data.
Outcome HandleStatistics(const StatisticsParams& params, const Store& store, ReadView view, std::string* data,
                         std::unique_ptr<BodyStream>* rest = nullptr);

// GET /statistics/record: {"count", "data"} over the listed requests, merged by
// record id; 53003 naming the unknown ids if any is unknown. `rest` as above.
Outcome HandleStatisticsRecord(const RecordParams& params, const Store& store, ReadView view,
                               std::string* data, std::unique_ptr<BodyStream>* rest = nullptr);

// POST /task/get: {"viewUrl", "status"} of the task of (campaign, request,
// scene); 51008, 53003, 56001 in that order. viewUrl is null when the task's
// project is unknown. view_url_base has no trailing slash.
Outcome HandleTaskGet(const TaskGetParams& params, const Store& store, const ReadView& view,
                      std::string_view view_url_base, std::string* data);

// Appends one record in the seed's shape (exactly its fifteen fields).
void AppendRecordJson(const TaskAction& record, std::string* out);
// Appends one task in the seed's shape (exactly seven fields).
void AppendTaskJson(const TaskView& task, std::string* out);

}  // namespace tally
