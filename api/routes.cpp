#include "api/routes.h"

#include <array>

#include "api/business_query.h"
#include "api/handlers.h"
#include "api/ops_endpoints.h"
#include "api/params.h"
#include "api/status_page.h"

namespace tally {
namespace {

constexpr std::array kRoutes = {
    RouteInfo{"/statistics", RouteKind::kBusiness, &AnswerBusiness<ParseStatisticsParams, HandleStatistics>},
    RouteInfo{"/statistics/record", RouteKind::kBusiness,
              &AnswerBusiness<ParseRecordParams, HandleStatisticsRecord>},
    RouteInfo{"/task/get", RouteKind::kBusiness, &AnswerBusiness<ParseTaskGetParams, HandleTaskGet>},
    RouteInfo{"/statistics/summary", RouteKind::kBusiness, &AnswerBusiness<ParseSummaryParams, HandleSummary>},
    RouteInfo{"/statistics/labelers", RouteKind::kBusiness,
              &AnswerBusiness<ParseStatisticsParams, HandleLabelers>},
    RouteInfo{"/healthz", RouteKind::kOps, nullptr, &AnswerHealthz},
    RouteInfo{"/readyz", RouteKind::kOps, nullptr, &AnswerReadyz},
    RouteInfo{"/metrics", RouteKind::kOps, nullptr, &AnswerMetrics},
    RouteInfo{"/openapi.yaml", RouteKind::kOps, nullptr, &AnswerOpenApi},
    RouteInfo{"/admin/backup", RouteKind::kAdmin},
    RouteInfo{"/admin/backups", RouteKind::kAdmin},
    RouteInfo{"/", RouteKind::kOps, nullptr, &AnswerStatus},
    RouteInfo{"/status", RouteKind::kOps, nullptr, &AnswerStatus},
};

// Each row has the handler of its kind and no other, and a path of its own.
constexpr bool EveryRowIsWhole() {
  for (size_t i = 0; i < kRoutes.size(); ++i) {
    const RouteInfo& r = kRoutes[i];
    if (r.path.empty() || r.path[0] != '/') return false;
    if ((r.kind == RouteKind::kBusiness) != (r.business != nullptr)) return false;
    if ((r.kind == RouteKind::kOps) != (r.ops != nullptr)) return false;
    for (size_t j = 0; j < i; ++j) {
      if (kRoutes[j].path == r.path) return false;
    }
  }
  return true;
}
static_assert(EveryRowIsWhole());
// The route's index is the first byte of its cache keys.
static_assert(kRoutes.size() < 256);

}  // namespace

std::span<const RouteInfo> Routes() { return kRoutes; }

const RouteInfo* RouteOf(std::string_view path) {
  for (const RouteInfo& r : kRoutes) {
    if (r.path == path) return &r;
  }
  return nullptr;
}

size_t RouteIndex(const RouteInfo* route) {
  return route == nullptr ? kRoutes.size() : static_cast<size_t>(route - kRoutes.data());
}

std::string_view RouteLabel(const RouteInfo* route) { return route == nullptr ? "other" : route->path; }

}  // namespace tally
