#pragma once

// The route table: every path the server answers, each with its kind and its
// handler, in one table (kRoutes in routes.cpp). The router dispatches on it;
// the kind decides the API key, the thread, the cache and the envelope; the
// metrics and the access log label requests with the path; a test checks the
// paths against schemas/openapi.yaml (both ways).
//
// Adding an endpoint touches: its row in kRoutes; its parameters (params.h: a
// struct, its Parse*, its AppendCacheKey); its handler (handlers.h); and its
// documentation (schemas/openapi.yaml, docs/http-api.md — both checked by tests).
// Constants; any thread.

#include <cstddef>
#include <span>
#include <string_view>

#include "aggregate/status.h"

namespace tally {

struct ApiContext;
struct PlainAnswer;
struct BusinessQuery;
struct BusinessAnswer;

enum class RouteKind : unsigned char {
  // Helix's endpoints: need an API key (when keys are set); their store query
  // runs on a query thread (query_pool.h), never on an I/O thread; answers are
  // cached (response_cache.h) and wrapped in the envelope with X-Tally-Lag; a
  // connection admitted over the cap gets 503 for them.
  kBusiness,
  // The operations endpoints (ops_endpoints.h): open, answered on the I/O thread
  // from the server's context alone, never cached, no envelope.
  kOps,
  // The admin endpoints (admin_endpoints.h, /admin/*): need an API key (when
  // keys are set) like the business ones; envelope and X-Tally-Lag, never
  // cached; a backup runs on the backup service's thread.
  kAdmin,
};

// A business route's handler: parses the request's parameters by the route's
// rules, then finds the answer in the cache or computes it (business_query.h).
// An error Status is the request's fault (its parameters: 4005).
using BusinessHandler = Status (*)(const BusinessQuery& query, BusinessAnswer* answer);
// An operations route's handler (ops_endpoints.h).
using OpsHandler = PlainAnswer (*)(const ApiContext& context);

struct RouteInfo {
  std::string_view path;  // matched exactly, without the query; also the metrics label and the access log's route
  RouteKind kind;
  BusinessHandler business = nullptr;  // set for kBusiness only
  OpsHandler ops = nullptr;            // set for kOps only
};

// Every route takes these methods; others get 405 with Allow.
inline constexpr std::string_view kAllowedMethods = "GET, POST";

// The table, in its order.
std::span<const RouteInfo> Routes();

// The route of a path (exact match, no query); null if there is none.
const RouteInfo* RouteOf(std::string_view path);

// The route's position in Routes(); Routes().size() for null (no route). For
// tables indexed by route, such as the metrics'.
size_t RouteIndex(const RouteInfo* route);

// The metrics label and access log route: the route's path, or "other" for null.
std::string_view RouteLabel(const RouteInfo* route);

inline bool IsBusiness(const RouteInfo* route) { return route != nullptr && route->kind == RouteKind::kBusiness; }

}  // namespace tally
