#pragma once

// API keys: a business route answers only a request that carries one of the
// configured keys, as `Authorization: Bearer <key>` or `X-API-Key: <key>`; with
// no keys configured the API is open. Pure functions; any thread.

#include <string>
#include <string_view>
#include <vector>

#include "api/answer.h"

namespace tally {

// True if `keys` is empty or the request carries one of them.
bool Authorized(const HttpRequest& request, const std::vector<std::string>& keys);

// True if `given` equals one of `keys`, in time independent of where they differ.
bool KeyMatches(std::string_view given, const std::vector<std::string>& keys);

// What a refused request is told (code 4001, with WWW-Authenticate: Bearer).
inline constexpr std::string_view kUnauthorizedMessage =
    "Unauthorized: send a valid API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'";

}  // namespace tally
