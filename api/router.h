#pragma once

// HandleRequest is the whole answer to one HTTP request, as a pure function of
// the request and the server's context (Beast's handle_request): size limits
// aside (the session enforces them while reading and answers with
// LimitExceeded), it checks in the contract's order — route (4004), method (405,
// code 4005, Allow), API key (4001, business routes), parameters (4005),
// existence (51008, 53003, 56001) — and runs the route's handler from the route
// table (routes.h): an operations endpoint's at once, a business endpoint's from
// the response cache or on one store snapshot, wrapped in the envelope
// (envelope.h). Then it frames the answer (answer.h: length, chunks, gzip). No
// socket: tests call it directly. Any thread.

#include <optional>
#include <string_view>

#include "api/answer.h"
#include "api/api_context.h"

namespace tally {

Answer HandleRequest(const HttpRequest& request, const ApiContext& context);

// HandleRequest's answer when it needs no store query (operations endpoints,
// errors found before the query, answers in the response cache); nullopt when
// it does: the server then runs HandleRequest on a query thread.
std::optional<Answer> AnswerWithoutQuery(const HttpRequest& request, const ApiContext& context);

// True if the request's target routes to a business endpoint (RouteKind::kBusiness).
bool IsBusinessRequest(const HttpRequest& request);

// The 4013 answer to a request whose headers (`headers_too_large`) or body broke
// the size limits; `request` holds whatever header was read (maybe nothing).
Answer LimitExceeded(const HttpRequest& request, bool headers_too_large, const ApiContext& context);

// The 400 answer (code 4005, Connection: close) to a request whose framing or
// syntax is refused; `message` says what is wrong.
Answer BadRequest(const HttpRequest& request, std::string_view message, const ApiContext& context);

// The 503 answer (code 5000, Retry-After: 1) when the server is overloaded: the
// query queue is full, or a connection over the cap asks for a business route.
// `close` ends the connection after it.
Answer Overloaded(const HttpRequest& request, const ApiContext& context, bool close);

}  // namespace tally
