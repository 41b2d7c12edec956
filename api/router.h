#pragma once

// HandleRequest is the whole answer to one HTTP request, as a pure function of
// the request and the server's context (Beast's handle_request): size limits
// aside (the session enforces them while reading and answers with
// LimitExceeded), it checks in the contract's order — route (4004), method (405,
// code 4005, Allow), auth (4001), parameters (4005), existence (51008, 53003,
// 56001) — runs the endpoint's handler on one store snapshot, wraps business
// answers in the envelope, sets X-Request-Id, X-Tally-Lag, X-Total-Count, and
// gzips large bodies for clients that accept it. No socket: tests call it
// directly. Any thread.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/store.h"
#include "api/api_code.h"
#include "api/body_stream.h"
#include "api/metrics.h"
#include "api/response_cache.h"
#include "api/routes.h"
#include "api/server.h"

namespace tally {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// What answers depend on besides the request. Constant while the server runs.
struct ApiContext {
  const Store* store = nullptr;  // null: not open yet (503 on business routes)
  IngestSource ingest;
  std::vector<std::string> api_keys;  // empty: open
  std::string view_url_base;          // without a trailing slash
  const HttpMetrics* metrics = nullptr;
  ResponseCache* cache = nullptr;  // null: every answer is computed
};

struct Answer {
  // With `stream` set, the body is the answer's first part, the stream yields
  // the rest, and the response is chunked (Transfer-Encoding; with HTTP/1.0 it
  // ends with the connection).
  HttpResponse response;
  std::unique_ptr<BodyStream> stream;
  Route route = Route::kOther;
  int code = 0;  // the envelope's code; 0 for ops endpoints
  std::string request_id;
};

Answer HandleRequest(const HttpRequest& request, const ApiContext& context);

// The 4013 answer to a request whose headers (`headers_too_large`) or body broke
// the size limits; `request` holds whatever header was read (maybe nothing).
Answer LimitExceeded(const HttpRequest& request, bool headers_too_large, const ApiContext& context);

// HandleRequest's answer when it needs no store query (operations endpoints,
// errors found before the query, answers in the response cache); nullopt when
// it does: the server then runs HandleRequest on a query thread.
std::optional<Answer> AnswerWithoutQuery(const HttpRequest& request, const ApiContext& context);

// True if the request's target routes to a business endpoint.
bool IsBusinessRequest(const HttpRequest& request);

// The 400 answer (code 4005, Connection: close) to a request whose framing or
// syntax is refused; `message` says what is wrong.
Answer BadRequest(const HttpRequest& request, std::string_view message, const ApiContext& context);

// The 503 answer (code 5000, Retry-After: 1) when the server is overloaded: the
// query queue is full, or a connection over the cap asks for a business route.
// `close` ends the connection after it.
Answer Overloaded(const HttpRequest& request, const ApiContext& context, bool close);

// The caller's X-Request-Id if it is 1..64 characters of [A-Za-z0-9_-], else a
// fresh 32-character lowercase hex id.
std::string RequestIdFor(std::string_view header);

// True if `given` equals one of `keys`, in time independent of where they differ.
bool KeyMatches(std::string_view given, const std::vector<std::string>& keys);

// The embedded schemas/openapi.yaml (generated at build time).
std::string_view OpenApiYaml();

}  // namespace tally
