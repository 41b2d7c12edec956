#pragma once

// The routes the server answers, in one table: the router dispatches on it, the
// metrics label requests with it, and a test checks it against the paths of
// schemas/openapi.yaml (both ways). Constants; any thread.

#include <array>
#include <string_view>

namespace tally {

enum class Route : int {
  kStatistics = 0,
  kStatisticsRecord,
  kTaskGet,
  kHealthz,
  kReadyz,
  kMetrics,
  kOpenApi,
  kOther,  // no such route (404); also the metrics label of requests never routed
};

struct RouteInfo {
  Route route;
  std::string_view path;
  bool business;  // Helix's endpoints: envelope, auth, X-Tally-Lag
};

inline constexpr std::array<RouteInfo, 7> kRoutes = {{
    {Route::kStatistics, "/statistics", true},
    {Route::kStatisticsRecord, "/statistics/record", true},
    {Route::kTaskGet, "/task/get", true},
    {Route::kHealthz, "/healthz", false},
    {Route::kReadyz, "/readyz", false},
    {Route::kMetrics, "/metrics", false},
    {Route::kOpenApi, "/openapi.yaml", false},
}};

inline constexpr size_t kRouteCount = kRoutes.size() + 1;  // with kOther

// Every route takes these methods (CONTRACT §5); others get 405 with Allow.
inline constexpr std::string_view kAllowedMethods = "GET, POST";

// The route of a path (exact match, no query), or kOther.
inline Route RouteOf(std::string_view path) {
  for (const RouteInfo& r : kRoutes) {
    if (r.path == path) return r.route;
  }
  return Route::kOther;
}

// The metrics label: the route's path, or "other".
inline std::string_view RouteLabel(Route route) {
  for (const RouteInfo& r : kRoutes) {
    if (r.route == route) return r.path;
  }
  return "other";
}

inline bool IsBusiness(Route route) {
  return route == Route::kStatistics || route == Route::kStatisticsRecord || route == Route::kTaskGet;
}

}  // namespace tally
