#pragma once

// The contract's answer codes (docs/http-api.md), their HTTP statuses, the
// seeds' messages, and ContractErrorOf: the one place a Status becomes a code
// and an HTTP status. Constants and pure functions; any thread.

#include <string_view>

#include "aggregate/status.h"

namespace tally {

enum class ApiCode : int {
  kSuccess = 2000,
  kInvalidParameter = 4005,  // also 405 (method not allowed)
  kUnauthorized = 4001,
  kNotFound = 4004,
  kTooLarge = 4013,
  kCampaignNotFound = 51008,
  kRequestNotFound = 53003,
  kSceneNotFound = 56001,
  kInternal = 5000,  // 500, or 503 while the store is not open
};

// The HTTP status a code is answered with, but for the two codes that have two:
// 4005 is also 405 (the router's method check), 5000 also 503 (ContractErrorOf).
inline int HttpStatusOf(ApiCode code) {
  switch (code) {
    case ApiCode::kSuccess: return 200;
    case ApiCode::kInvalidParameter: return 400;
    case ApiCode::kUnauthorized: return 401;
    case ApiCode::kNotFound:
    case ApiCode::kCampaignNotFound:
    case ApiCode::kRequestNotFound:
    case ApiCode::kSceneNotFound: return 404;
    case ApiCode::kTooLarge: return 413;
    case ApiCode::kInternal: return 500;
  }
  return 500;
}

// Whose failure a Status reports. The request's (its route, its parameters): the
// caller can fix it. The server's (a store query, the server's threads): the
// caller can only try again, whatever the Status's kind.
enum class Fault { kRequest, kServer };

// What a failed Status tells the caller.
struct ContractError {
  ApiCode code;
  int http_status;
  std::string_view message;  // the Status's own message, or a constant: valid while the Status is
};

inline constexpr std::string_view kSuccessMessage = "Success";
inline constexpr std::string_view kInternalMessage = "Service hiccuped, please try again later.";
// 503 to a request whose X-Tally-Min-Position was not reached within --position-wait-ms.
inline constexpr std::string_view kBehindPositionMessage = "Behind the requested position; try again";
inline constexpr std::string_view kCampaignNotFoundMessage = "Campaign not exists.";
inline constexpr std::string_view kRequestNotFoundMessage = "Annotation request has not exists.";
inline constexpr std::string_view kSceneNotFoundMessage = "SceneId is not exists.";

// The one mapping of a (not OK) Status to the contract: Unavailable (the store
// not open yet, the query queue full) is 5000 with HTTP 503; a request's
// InvalidArgument is 4005 (400) and its NotFound 4004 (404), each with the
// Status's message; anything else, and every server fault, is 5000 (500) with
// the seeds' message, which tells nothing of the server's insides.
inline ContractError ContractErrorOf(const Status& status, Fault fault) {
  auto with_message = [&status](ApiCode code) { return ContractError{code, HttpStatusOf(code), status.message()}; };
  if (status.code() == Status::Code::kUnavailable) return {ApiCode::kInternal, 503, kInternalMessage};
  if (fault == Fault::kRequest && status.IsInvalidArgument()) return with_message(ApiCode::kInvalidParameter);
  if (fault == Fault::kRequest && status.IsNotFound()) return with_message(ApiCode::kNotFound);
  return {ApiCode::kInternal, HttpStatusOf(ApiCode::kInternal), kInternalMessage};
}

}  // namespace tally
