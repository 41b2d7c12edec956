#pragma once

// The contract's answer codes (CONTRACT §3), their HTTP statuses, and the one
// place a store Status becomes a code. Constants and pure functions; any thread.

#include <string_view>

#include "aggregate/status.h"

namespace tally {

enum class ApiCode : int {
  kSuccess = 2000,
  kInvalidParameter = 4005,  // also 405 (method not allowed), CONTRACT §5
  kUnauthorized = 4001,
  kNotFound = 4004,
  kTooLarge = 4013,
  kCampaignNotFound = 51008,
  kRequestNotFound = 53003,
  kSceneNotFound = 56001,
  kInternal = 5000,  // 500, or 503 while the store is not open
};

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

inline constexpr std::string_view kSuccessMessage = "Success";
inline constexpr std::string_view kInternalMessage = "Service hiccuped, please try again later.";
inline constexpr std::string_view kCampaignNotFoundMessage = "Campaign not exists.";
inline constexpr std::string_view kRequestNotFoundMessage = "Annotation request has not exists.";
inline constexpr std::string_view kSceneNotFoundMessage = "SceneId is not exists.";

}  // namespace tally
