#include "api/router.h"

#include "api/admin_endpoints.h"
#include "api/api_keys.h"
#include "api/business_query.h"
#include "api/envelope.h"
#include "api/etag.h"
#include "api/http_framing.h"
#include "api/metrics.h"
#include "api/not_modified_memo.h"
#include "api/ops_endpoints.h"
#include "api/params.h"
#include "api/request_id.h"
#include "api/routes.h"

namespace tally {
namespace http = boost::beast::http;

namespace {

boost::beast::string_view BeastView(std::string_view s) { return {s.data(), s.size()}; }

const RouteInfo* RouteOfTarget(const HttpRequest& request) {
  return RouteOf(SplitTarget(std::string_view(request.target().data(), request.target().size())).path);
}

Answer OpsAnswer(const HttpRequest& request, const RouteInfo& route, const ApiContext& context,
                 std::string request_id) {
  PlainAnswer plain = route.ops(context);
  Answer answer;
  answer.route = &route;
  answer.response = StartResponse(request, plain.http_status, request_id, plain.content_type);
  answer.response.body() = std::move(plain.body);
  answer.request_id = std::move(request_id);
  return answer;
}

// The answer of a business route; nullopt, when `may_query` is false, if it
// needs a store query (it is not in the cache).
std::optional<Answer> BusinessAnswerOf(const HttpRequest& request, const RouteInfo& route, std::string_view query,
                                       const ApiContext& context, std::string& request_id, bool may_query) {
  std::string if_none_match_lines;  // only when the list comes in several lines
  const std::string_view if_none_match = HeaderList(request, "If-None-Match", &if_none_match_lines);
  // Without a cache or a condition there is nothing to find before the query:
  // it all runs on a query thread.
  if (!may_query && context.cache == nullptr && if_none_match.empty() && context.store != nullptr) {
    return std::nullopt;
  }
  const int64_t lag = LagOf(context);
  if (context.store == nullptr) {
    return ErrorAnswer(request, &route, Status::Unavailable("the store is not open yet"), Fault::kServer,
                       std::move(request_id), lag);
  }
  // With a matching If-None-Match, Prefer: wait=N asks to hold the answer.
  std::string prefer_lines;
  const std::optional<std::chrono::seconds> wait =
      if_none_match.empty() ? std::nullopt : PreferredWait(HeaderList(request, "Prefer", &prefer_lines));
  std::optional<std::string_view> min_position;
  if (auto it = request.find(BeastView(kMinPositionHeader)); it != request.end()) {
    min_position = std::string_view(it->value().data(), it->value().size());
  }
  // A poll that repeats itself on an I/O thread while nothing was written gets
  // the 304 it got before (not_modified_memo.h). Long polls are left out: they
  // are held, not answered at once.
  NotModifiedMemo* memo = may_query || if_none_match.empty() || wait ? nullptr : context.not_modified;
  uint64_t state = 0;
  thread_local std::string memo_key;
  if (memo != nullptr) {
    state = context.store->StateNumber();
    if (!NotModifiedMemo::MakeKey(RouteIndex(&route), query, request.body(), if_none_match, min_position, &memo_key)) {
      memo = nullptr;
    } else {
      std::optional<Answer> again;
      memo->Find(memo_key, state, [&](std::string_view etag, std::string_view position) {
        again = NotModifiedAnswer(request, &route, etag, std::move(request_id), lag);
        if (!position.empty()) again->response.insert(BeastView(kPositionHeader), BeastView(position));
        again->repeat_state = state;
      });
      if (again) return again;
    }
  }
  auto source = ParamSource::FromRequest(query, request.body());
  if (!source) return ErrorAnswer(request, &route, source.error(), Fault::kRequest, std::move(request_id), lag);
  BusinessAnswer found;
  if (Status invalid = route.business(BusinessQuery{*source, context, RouteIndex(&route), may_query, if_none_match,
                                                    wait.has_value(), min_position},
                                      &found);
      !invalid.ok()) {
    return ErrorAnswer(request, &route, invalid, Fault::kRequest, std::move(request_id), lag);
  }
  const bool repeatable = memo != nullptr && found.not_modified && context.store->StateNumber() == state;
  if (repeatable) memo->Put(memo_key, state, found.etag, found.position);
  if (found.behind) {
    // Answered as is when the wait is over (or there is none); the session
    // parks the request until then (position_waiters.h).
    Answer answer = EnvelopeAnswer(request, &route, ApiCode::kInternal, kBehindPositionMessage, {},
                                   std::move(request_id), lag, 503);
    answer.response.set(http::field::retry_after, "1");
    answer.behind = std::move(found.behind);
    return answer;
  }
  // The 304 and the 200 below are the two business answers that carry the
  // freshness headers (ETag, X-Tally-Lag, X-Tally-Position).
  if (found.not_modified) {
    Answer answer = NotModifiedAnswer(request, &route, found.etag, std::move(request_id), lag);
    if (!found.position.empty()) answer.response.insert(BeastView(kPositionHeader), found.position);
    if (wait) answer.long_poll = LongPoll{*wait, std::move(found.named)};
    if (repeatable) answer.repeat_state = state;
    return answer;
  }
  if (found.entry == nullptr) return std::nullopt;
  // Counted once per request: a lookup on an I/O thread that misses is repeated on the query thread.
  if (context.metrics != nullptr) {
    if (found.from_cache) {
      context.metrics->CacheHit();
    } else {
      context.metrics->CacheMiss();
    }
  }
  const Outcome& outcome = found.entry->outcome;
  Answer answer = EnvelopeAnswer(request, &route, outcome.code, outcome.message, found.entry->data,
                                 std::move(request_id), lag);
  if (outcome.total_count) answer.response.set("X-Total-Count", std::to_string(*outcome.total_count));
  if (!found.entry->etag.empty()) {
    answer.response.set(http::field::etag, boost::beast::string_view(found.entry->etag.data(), found.entry->etag.size()));
  }
  if (!found.entry->position.empty()) answer.response.set(BeastView(kPositionHeader), found.entry->position);
  if (found.rest) StreamEnvelope(found.entry->data, std::move(found.rest), outcome.code, outcome.message, &answer);
  return answer;
}

std::optional<Answer> Handle(const HttpRequest& request, const ApiContext& context, bool may_query) {
  std::string request_id = RequestIdOf(request);
  const TargetParts target = SplitTarget(std::string_view(request.target().data(), request.target().size()));
  const std::string_view path = target.path;

  Answer answer;
  const RouteInfo* route = RouteOf(path);
  if (route == nullptr) {
    answer = ErrorAnswer(request, nullptr, Status::NotFound("Not found: no route " + std::string(path.substr(0, 200))),
                         Fault::kRequest, std::move(request_id), LagOf(context));
  } else if (request.method() != http::verb::get && request.method() != http::verb::post) {
    // 405 with the code of an invalid parameter (docs/http-api.md): not a Status, the router's own answer.
    answer = EnvelopeAnswer(request, route, ApiCode::kInvalidParameter,
                            "Method not allowed: " + std::string(request.method_string()) + " " + std::string(path) +
                                " takes GET or POST",
                            {}, std::move(request_id), LagOf(context), 405);
    answer.response.set(http::field::allow, boost::beast::string_view(kAllowedMethods.data(), kAllowedMethods.size()));
  } else if (route->kind == RouteKind::kOps) {
    answer = OpsAnswer(request, *route, context, std::move(request_id));
  } else if (!Authorized(request, context.api_keys)) {
    answer = EnvelopeAnswer(request, route, ApiCode::kUnauthorized, kUnauthorizedMessage, {}, std::move(request_id),
                            LagOf(context));
    answer.response.set(http::field::www_authenticate, "Bearer");
  } else if (route->kind == RouteKind::kAdmin) {
    std::optional<Answer> admin = AdminAnswer(request, *route, context, std::move(request_id), may_query);
    if (!admin) return std::nullopt;
    answer = std::move(*admin);
  } else {
    std::optional<Answer> business = BusinessAnswerOf(request, *route, target.query, context, request_id, may_query);
    if (!business) return std::nullopt;
    answer = std::move(*business);
  }
  FinishAnswer(request, &answer);
  return answer;
}

// "16 KiB", "1 MiB": a limit as the 413 answer says it.
std::string SizeText(size_t bytes) {
  return bytes % (size_t{1} << 20) == 0 ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes >> 10) + " KiB";
}

}  // namespace

Answer HandleRequest(const HttpRequest& request, const ApiContext& context) {
  return *Handle(request, context, true);
}

std::optional<Answer> AnswerWithoutQuery(const HttpRequest& request, const ApiContext& context) {
  return Handle(request, context, false);
}

bool IsBusinessRequest(const HttpRequest& request) { return IsBusiness(RouteOfTarget(request)); }

Answer BadRequest(const HttpRequest& request, std::string_view message, const ApiContext& context) {
  Answer answer = ErrorAnswer(request, nullptr, Status::InvalidArgument(std::string(message)), Fault::kRequest,
                              RequestIdOf(request), LagOf(context));
  answer.response.keep_alive(false);
  FinishAnswer(request, &answer);
  return answer;
}

Answer LimitExceeded(const HttpRequest& request, bool headers_too_large, const ApiContext& context) {
  const RouteInfo* route = headers_too_large ? nullptr : RouteOfTarget(request);
  const std::string message = headers_too_large
                                  ? "Request headers too large: the limit is " + SizeText(kMaxHeaderBytes)
                                  : "Request body too large: the limit is " + SizeText(kMaxBodyBytes);
  Answer answer = EnvelopeAnswer(request, route, ApiCode::kTooLarge, message, {}, RequestIdOf(request),
                                 LagOf(context));
  answer.response.keep_alive(false);
  FinishAnswer(request, &answer);
  return answer;
}

Answer Overloaded(const HttpRequest& request, const ApiContext& context, bool close) {
  Answer answer = ErrorAnswer(request, RouteOfTarget(request), Status::Unavailable("overloaded"), Fault::kServer,
                              RequestIdOf(request), LagOf(context));
  if (close) answer.response.keep_alive(false);
  answer.response.set(http::field::retry_after, "1");
  FinishAnswer(request, &answer);
  return answer;
}

}  // namespace tally
