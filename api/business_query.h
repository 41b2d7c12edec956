#pragma once

// How a business route's answer is found: the request's parameters parsed by
// the route's rules; then the response cache asked, keyed by the route and the
// parameters (response_cache.h); then, when the caller may run a store query,
// the route's handler run on one snapshot and its answer kept for the next
// caller. AnswerBusiness<Parse, Handle> makes a route's BusinessHandler
// (routes.h) of its parser and handler (params.h, handlers.h); routes.cpp
// instantiates it once per business route. Any thread.

#include <memory>
#include <string>

#include "api/api_code.h"
#include "api/api_context.h"
#include "api/body_stream.h"
#include "api/handlers.h"
#include "api/params.h"
#include "api/response_cache.h"

namespace tally {

struct BusinessQuery {
  const ParamSource& source;
  const ApiContext& context;  // its store is open
  size_t route_index;         // RouteIndex(route): the first byte of the cache key
  bool may_query;             // false: from the cache only (the caller is an I/O thread)
};

struct BusinessAnswer {
  std::shared_ptr<const ResponseCache::Entry> entry;  // null: not in the cache, and !may_query
  std::unique_ptr<BodyStream> rest;  // the rest of a large answer's data (never cached)
  bool from_cache = false;           // entry was found in the response cache, not computed
};

// Errors: the parameters' (InvalidArgument naming the parameter). A store
// failure is not an error here but the answer's outcome (5000), never cached.
template <auto Parse, auto Handle>
Status AnswerBusiness(const BusinessQuery& query, BusinessAnswer* out) {
  auto params = Parse(query.source);
  if (!params) return params.error();
  std::string key;
  key.reserve(64);
  key.push_back(static_cast<char>(query.route_index));
  AppendCacheKey(*params, &key);
  const Store& store = *query.context.store;
  ResponseCache* cache = query.context.cache;
  // Served from the cache while the store's record count is unchanged.
  const uint64_t version = store.totals().records;
  if (cache != nullptr && (out->entry = cache->Find(key, version))) {
    out->from_cache = true;
    return Status::OK();
  }
  if (!query.may_query) return Status::OK();
  auto fresh = std::make_shared<ResponseCache::Entry>();
  fresh->version = version;
  fresh->outcome = Handle(*params, HandlerInput{store, store.Snapshot(), query.context.view_url_base},
                          &fresh->data, &out->rest);
  if (fresh->outcome.code != ApiCode::kSuccess) {
    fresh->data.clear();
    out->rest.reset();
  }
  out->entry = fresh;
  if (cache != nullptr && fresh->outcome.code != ApiCode::kInternal && !out->rest) {
    cache->Insert(std::move(key), std::move(fresh));
  }
  return Status::OK();
}

}  // namespace tally
