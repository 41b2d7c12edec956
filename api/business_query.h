#pragma once

// How a business route's answer is found: the request's parameters parsed by
// the route's rules; the versions of the annotation requests they name read
// (Store::Versions), which make the answer's ETag (etag.h): an If-None-Match
// that names it is answered 304 at once; then the response cache asked, keyed
// by the route and the parameters and valid for those versions
// (response_cache.h); then, when the caller may run a store query, the route's
// handler run on one snapshot and its answer kept for the next caller. A
// request with X-Tally-Min-Position (position.h) is answered only from a state
// (a cached answer's snapshot, the latest offsets for a 304, or a new snapshot)
// that reached that position; one that has not comes back `behind`, for the
// session to wait. Every answer carries the position of the state it was read
// from, never one ahead of it. AnswerBusiness<Parse, Handle> makes a route's BusinessHandler
// (routes.h) of its parser and handler (params.h, handlers.h); routes.cpp
// instantiates it once per business route. Any thread.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/api_code.h"
#include "api/api_context.h"
#include "api/body_stream.h"
#include "api/etag.h"
#include "api/handlers.h"
#include "api/params.h"
#include "api/position.h"
#include "api/response_cache.h"

namespace tally {

struct BusinessQuery {
  const ParamSource& source;
  const ApiContext& context;  // its store is open
  size_t route_index;         // RouteIndex(route): the first byte of the cache key
  bool may_query;             // false: from the cache only (the caller is an I/O thread)
  std::string_view if_none_match;  // the request's If-None-Match header; empty if none
  bool may_wait = false;           // it asks to wait (Prefer: wait=N): a 304 names its requests
  // The request's X-Tally-Min-Position header; nullopt if it has none.
  std::optional<std::string_view> min_position;
};

struct BusinessAnswer {
  std::shared_ptr<const ResponseCache::Entry> entry;  // null: not in the cache, and !may_query
  std::unique_ptr<BodyStream> rest;  // the rest of a large answer's data (never cached)
  bool from_cache = false;           // entry was found in the response cache, not computed
  // The If-None-Match named the current ETag: answer 304 (entry is null).
  bool not_modified = false;
  std::string etag;                // of a 304 (a 200's is entry->etag)
  std::vector<std::string> named;  // the requests a 304 depends on, to wait for (when may_wait)
  std::string position;            // of a 304 (a 200's is entry->position)
  // The latest snapshot was behind the X-Tally-Min-Position (entry is null).
  std::optional<PositionWait> behind;
};

// The annotation requests an answer depends on: their versions make its ETag.
inline std::span<const std::string> NamedRequests(const StatisticsParams& p) { return {&p.annotation_request_id, 1}; }
inline std::span<const std::string> NamedRequests(const RecordParams& p) { return p.annotation_request_ids; }
inline std::span<const std::string> NamedRequests(const TaskGetParams& p) { return {&p.annotation_request_id, 1}; }
// /statistics/labelers takes StatisticsParams (LabelersParams) and names its one request.
inline std::span<const std::string> NamedRequests(const SummaryParams& p) { return {&p.annotation_request_id, 1}; }

// What else than its parameters and the versions an answer depends on: the
// server's settings (the same on every replica).
inline std::string_view ETagSalt(const StatisticsParams&, const ApiContext&) { return {}; }
inline std::string_view ETagSalt(const RecordParams&, const ApiContext&) { return {}; }
inline std::string_view ETagSalt(const TaskGetParams&, const ApiContext& context) { return context.view_url_base; }
inline std::string_view ETagSalt(const SummaryParams&, const ApiContext&) { return {}; }

// True when every version is known (> 0): only then can an answer be a 200,
// and only then may an If-None-Match be answered 304 (an unknown request's
// answer is an error, never a 304).
inline bool AllKnown(std::span<const uint64_t> versions) {
  for (const uint64_t v : versions) {
    if (v == 0) return false;
  }
  return !versions.empty();
}

// Errors: the parameters', then the X-Tally-Min-Position's (InvalidArgument
// naming the parameter or the header), before anything is read. A store
// failure is not an error here but the answer's outcome (5000), never cached.
template <auto Parse, auto Handle>
Status AnswerBusiness(const BusinessQuery& query, BusinessAnswer* out) {
  auto params = Parse(query.source);
  if (!params) return params.error();
  std::optional<std::vector<PartitionNext>> min;
  if (query.min_position) {
    auto parsed = ParsePosition(*query.min_position, query.context.topic);
    if (!parsed) return parsed.error();
    min = std::move(*parsed);
  }
  std::string key;
  key.reserve(64);
  key.push_back(static_cast<char>(query.route_index));
  AppendCacheKey(*params, &key);
  const Store& store = *query.context.store;
  ResponseCache* cache = query.context.cache;
  const std::span<const std::string> named = NamedRequests(*params);
  const std::string_view salt = ETagSalt(*params, query.context);
  if (!query.may_query) {
    // An I/O thread: the latest offsets, then versions, only from memory (else
    // the query thread answers, from its snapshot). Offsets read before the
    // versions never claim more than the state the versions are of.
    if (cache == nullptr && query.if_none_match.empty()) return Status::OK();
    std::optional<std::vector<PartitionNext>> latest;
    if (!query.if_none_match.empty()) {
      if (auto offsets = store.LatestOffsets(query.context.topic, true)) latest = PositionOf(*offsets);
    }
    std::vector<uint64_t> versions;
    if (!store.Versions(VersionRead{nullptr, true}, named, &versions).ok()) return Status::OK();
    // A 304 from the latest state needs its position, reaching the minimum.
    if (!query.if_none_match.empty() && AllKnown(versions) && latest && (!min || Reaches(*latest, *min))) {
      std::string etag = MakeETag(key, salt, versions);
      if (IfNoneMatchHas(query.if_none_match, etag)) {
        out->not_modified = true;
        out->etag = std::move(etag);
        out->position = EncodePosition(query.context.topic, *latest);
        if (query.may_wait) out->named.assign(named.begin(), named.end());
        return Status::OK();
      }
    }
    if (cache != nullptr) {
      std::shared_ptr<const ResponseCache::Entry> entry = cache->Find(key, versions);
      // One older than the client has seen: a newer snapshot may do.
      if (entry && (!min || Reaches(entry->applied, *min))) {
        out->entry = std::move(entry);
        out->from_cache = true;
      }
    }
    return Status::OK();
  }
  // A query thread: the offsets and versions are read once, from the snapshot
  // that answers, for the 304, the cache and a new answer alike.
  auto fresh = std::make_shared<ResponseCache::Entry>();
  ReadView view = store.Snapshot();
  // The offsets written with the views this snapshot shows: the position claims
  // exactly what the answer reflects.
  auto offsets = store.Offsets(view, query.context.topic);
  if (!offsets) {
    fresh->outcome = Outcome::StoreFailure(offsets.error());
  } else if (fresh->applied = PositionOf(*offsets); min && !Reaches(fresh->applied, *min)) {
    out->behind = PositionWait{std::move(*min), std::move(fresh->applied)};
    return Status::OK();
  } else if (Status read = store.Versions(VersionRead{&view, false}, named, &fresh->versions); !read.ok()) {
    fresh->outcome = Outcome::StoreFailure(read);
  } else {
    fresh->position = EncodePosition(query.context.topic, fresh->applied);
    if (!query.if_none_match.empty() && AllKnown(fresh->versions)) {
      std::string etag = MakeETag(key, salt, fresh->versions);
      if (IfNoneMatchHas(query.if_none_match, etag)) {
        out->not_modified = true;
        out->etag = std::move(etag);
        out->position = fresh->position;
        if (query.may_wait) out->named.assign(named.begin(), named.end());
        return Status::OK();
      }
    }
    if (cache != nullptr) {
      std::shared_ptr<const ResponseCache::Entry> entry = cache->Find(key, fresh->versions);
      if (entry && (!min || Reaches(entry->applied, *min))) {
        out->entry = std::move(entry);
        out->from_cache = true;
        return Status::OK();
      }
    }
    fresh->outcome = Handle(*params, HandlerInput{store, std::move(view), query.context.view_url_base},
                            &fresh->data, &out->rest);
  }
  if (fresh->outcome.code != ApiCode::kSuccess) {
    fresh->data.clear();
    out->rest.reset();
  } else {
    fresh->etag = MakeETag(key, salt, fresh->versions);
  }
  out->entry = fresh;
  if (cache != nullptr && fresh->outcome.code != ApiCode::kInternal && !out->rest) {
    cache->Insert(std::move(key), std::move(fresh));
  }
  return Status::OK();
}

}  // namespace tally
