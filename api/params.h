#pragma once

// Request parameters (docs/http-api.md, "Parameters"): where they come
// from (a JSON object body, else the percent-decoded query string), how each type
// is read (strings, whole numbers as numbers or digit strings, string arrays in
// repeated / bracket / comma form), and each endpoint's table of rules, checked
// in the table's order. Every failure is an InvalidArgument whose message names
// the parameter and says why; the router answers it with code 4005.
// Plain values and pure functions: any thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/status.h"
#include "aggregate/store.h"

namespace tally {

// Parameter values as they arrived, before any endpoint's rules are applied.
class ParamSource {
 public:
  // One occurrence of a parameter.
  struct Value {
    enum class Kind {
      kString,       // a query value, or a JSON string
      kInteger,      // a JSON number with no fraction or exponent; text = its digits
      kNumber,       // any other JSON number (2.0, 1e3)
      kBool,
      kNull,
      kArray,        // a JSON array, or a query name written name[]
      kObject,
      kBadEncoding,  // a query value with a malformed %-escape
    };
    Kind kind = Kind::kString;
    std::string text;          // kString, kInteger (with a leading '-' if negative)
    std::vector<Value> items;  // kArray
  };

  // The body if it holds anything but whitespace (then it must be a JSON object),
  // else the query string (without the '?'). Errors: InvalidArgument for a body
  // that is not JSON or not an object.
  static Result<ParamSource> FromRequest(std::string_view query, std::string_view body);
  static ParamSource FromQuery(std::string_view query);
  static Result<ParamSource> FromJsonBody(std::string_view body);

  // A string; nullopt when absent or null. Errors: given twice, not a string.
  Result<std::optional<std::string>> String(std::string_view name) const;
  // A whole number >= 1 (values beyond 2^64-1 saturate); nullopt when absent or
  // null. Errors: given twice, an array, empty, zero, a sign, a fraction, an
  // exponent, anything but digits.
  Result<std::optional<uint64_t>> PositiveInteger(std::string_view name) const;
  // A string array in any accepted form, in the order given, with duplicates;
  // nullopt when absent or null. In a query, a lone plain value is split at
  // commas; repeated values and name[] values are one element each. In a body,
  // an array of strings or a lone string. Errors: an element that is not a
  // string, a body key given twice.
  Result<std::optional<std::vector<std::string>>> StringArray(std::string_view name) const;

  bool from_body() const { return from_body_; }

 private:
  std::map<std::string, std::vector<Value>, std::less<>> values_;
  bool from_body_ = false;
};

// Decodes %XX escapes and '+' (a space); nullopt if an escape is malformed.
std::optional<std::string> PercentDecode(std::string_view text);

// The message of every 4005: "Invalid parameter: <name> <why>".
Status InvalidParameter(std::string_view name, std::string_view why);

inline constexpr uint32_t kMaxPageSize = 1000;
inline constexpr size_t kMaxRecordRequests = 100;

struct StatisticsParams {
  std::string annotation_request_id;
  Page page;
};

// GET /statistics/summary.
struct SummaryParams {
  std::string annotation_request_id;
};

// GET /statistics/labelers pages like /statistics: the same parameters and rules.
using LabelersParams = StatisticsParams;

struct RecordParams {
  std::vector<std::string> annotation_request_ids;  // 1..100, distinct, in first-given order
  Page page;
};

struct TaskGetParams {
  std::string campaign_id;
  std::string annotation_request_id;
  std::string scene_id;
};

// Each endpoint's table of docs/http-api.md, rule by rule in the table's order; the
// first broken rule is the error.
Result<StatisticsParams> ParseStatisticsParams(const ParamSource& source);
Result<SummaryParams> ParseSummaryParams(const ParamSource& source);
Result<RecordParams> ParseRecordParams(const ParamSource& source);
Result<TaskGetParams> ParseTaskGetParams(const ParamSource& source);

// Each endpoint's part of its response cache key (response_cache.h): every field
// that changes the answer, each string with its length in front, so that no two
// different parameter sets share a key. Adding a field to the parameters means
// adding it here.
void AppendCacheKey(const StatisticsParams& params, std::string* key);
void AppendCacheKey(const SummaryParams& params, std::string* key);
void AppendCacheKey(const RecordParams& params, std::string* key);
void AppendCacheKey(const TaskGetParams& params, std::string* key);

}  // namespace tally
