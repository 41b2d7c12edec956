#pragma once

// Request ids (X-Request-Id and the envelope's requestId): the caller's, when it
// sends a usable one, else a fresh random one. Any thread (each has its own
// generator).

#include <string>
#include <string_view>

#include "api/answer.h"

namespace tally {

// The caller's X-Request-Id if it is 1..64 characters of [A-Za-z0-9_-], else a
// fresh 32-character lowercase hex id.
std::string RequestIdFor(std::string_view header);

// RequestIdFor the request's X-Request-Id header.
std::string RequestIdOf(const HttpRequest& request);

}  // namespace tally
