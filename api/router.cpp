#include "api/router.h"

#include <chrono>
#include <random>
#include <thread>

#include "aggregate/json_writer.h"
#include "aggregate/timestamp.h"
#include "api/gzip.h"
#include "api/handlers.h"
#include "api/http_framing.h"
#include "api/params.h"

namespace tally {
namespace http = boost::beast::http;

namespace {

constexpr char kHex[] = "0123456789abcdef";

boost::beast::string_view beast_sv(std::string_view s) { return {s.data(), s.size()}; }

std::string FreshRequestId() {
  thread_local std::mt19937_64 rng([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       static_cast<unsigned>(std::hash<std::thread::id>()(std::this_thread::get_id()))};
    return std::mt19937_64(seed);
  }());
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = rng();
    for (int i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = kHex[bits & 15];
  }
  return id;
}

bool ValidCallerId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool Authorized(const HttpRequest& request, const std::vector<std::string>& keys) {
  if (keys.empty()) return true;
  bool ok = false;
  if (auto it = request.find(http::field::authorization); it != request.end()) {
    std::string_view value = Trim(std::string_view(it->value().data(), it->value().size()));
    constexpr std::string_view kBearer = "bearer ";
    if (value.size() > kBearer.size()) {
      bool scheme = true;
      for (size_t i = 0; i < kBearer.size(); ++i) {
        scheme &= static_cast<char>(std::tolower(static_cast<unsigned char>(value[i]))) == kBearer[i];
      }
      if (scheme) ok |= KeyMatches(Trim(value.substr(kBearer.size())), keys);
    }
  }
  if (auto it = request.find("X-API-Key"); it != request.end()) {
    ok |= KeyMatches(Trim(std::string_view(it->value().data(), it->value().size())), keys);
  }
  return ok;
}

std::string_view Header(const HttpRequest& request, http::field field) {
  auto it = request.find(field);
  if (it == request.end()) return {};
  return {it->value().data(), it->value().size()};
}

std::string_view CallerRequestId(const HttpRequest& request) {
  auto it = request.find("X-Request-Id");
  if (it == request.end()) return {};
  return {it->value().data(), it->value().size()};
}

void AppendNow(std::string* out) {
  const auto now = std::chrono::system_clock::now();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  AppendTimestamp(Timestamp{ms}, out);
}

int64_t LagOf(const ApiContext& context) {
  return context.ingest.lag ? context.ingest.lag() : -1;
}

// Starts a response to `request` with the headers every response carries.
HttpResponse Begin(const HttpRequest& request, int status, const std::string& request_id,
                   std::string_view content_type) {
  HttpResponse response{static_cast<http::status>(status), request.version() == 10 ? 10u : 11u};
  response.set(http::field::content_type, beast_sv(content_type));
  response.set("X-Request-Id", request_id);
  response.keep_alive(request.keep_alive());
  return response;
}

// A streamed answer's pieces, gzipped as they come.
class GzippedRest final : public BodyStream {
 public:
  explicit GzippedRest(std::unique_ptr<BodyStream> plain) : plain_(std::move(plain)) {}

  GzipStream& gzip() { return gzip_; }
  std::unique_ptr<BodyStream>& plain() { return plain_; }

  Result<bool> Next(std::string* out) override {
    piece_.clear();
    Result<bool> more = plain_->Next(&piece_);
    if (!more) return more;
    if (!gzip_.Add(piece_, !*more, out)) return Status::IOError("zlib failed to gzip a streamed answer");
    return more;
  }

 private:
  std::unique_ptr<BodyStream> plain_;
  GzipStream gzip_;
  std::string piece_;
};

// Sets the length, and gzips bodies over 1 KiB for clients that accept it. A
// streamed answer goes in chunks (HTTP/1.0: until the connection closes).
void Finish(const HttpRequest& request, Answer* answer) {
  HttpResponse* response = &answer->response;
  if (answer->stream) {
    if (request.version() >= 11) {
      response->chunked(true);
    } else {
      response->keep_alive(false);
    }
    response->set(http::field::vary, "Accept-Encoding");
    if (AcceptsGzip(Header(request, http::field::accept_encoding))) {
      auto gzipped = std::make_unique<GzippedRest>(std::move(answer->stream));
      std::string first;
      if (gzipped->gzip().Add(response->body(), false, &first)) {
        response->body() = std::move(first);
        response->set(http::field::content_encoding, "gzip");
        answer->stream = std::move(gzipped);
      } else {
        answer->stream = std::move(gzipped->plain());
      }
    }
    return;
  }
  if (response->body().size() > kGzipMinBytes) {
    response->set(http::field::vary, "Accept-Encoding");
    if (AcceptsGzip(Header(request, http::field::accept_encoding))) {
      if (auto gz = Gzip(response->body())) {
        response->body() = std::move(*gz);
        response->set(http::field::content_encoding, "gzip");
      }
    }
  }
  response->prepare_payload();
}

// The envelope {"code","message","data","date","requestId","success"} around
// `data`: its text before and after the data.
void AppendEnvelopeHead(ApiCode code, std::string_view message, std::string* out) {
  out->append("{\"code\":");
  out->append(std::to_string(static_cast<int>(code)));
  out->append(",\"message\":");
  AppendJsonString(message, out);
  out->append(",\"data\":");
}

void AppendEnvelopeTail(ApiCode code, std::string_view request_id, std::string* out) {
  out->append(",\"date\":\"");
  AppendNow(out);
  out->append("\",\"requestId\":");
  AppendJsonString(request_id, out);
  out->append(code == ApiCode::kSuccess ? ",\"success\":true}" : ",\"success\":false}");
}

// An envelope answer.
Answer Envelope(const HttpRequest& request, Route route, ApiCode code, std::string_view message,
                std::string_view data, std::string request_id, int64_t lag, int http_status = 0) {
  Answer answer;
  answer.route = route;
  answer.code = static_cast<int>(code);
  answer.response = Begin(request, http_status ? http_status : HttpStatusOf(code), request_id,
                          "application/json; charset=utf-8");
  std::string& body = answer.response.body();
  body.reserve(data.size() + message.size() + 160);
  AppendEnvelopeHead(code, message, &body);
  body.append(data.empty() ? std::string_view("null") : data);
  AppendEnvelopeTail(code, request_id, &body);
  answer.response.set("X-Tally-Lag", std::to_string(lag));
  answer.request_id = std::move(request_id);
  return answer;
}

// The rest of a streamed envelope answer: the data's remaining pieces, then the
// envelope's tail.
class EnvelopeRest final : public BodyStream {
 public:
  EnvelopeRest(std::unique_ptr<BodyStream> data, std::string tail) : data_(std::move(data)), tail_(std::move(tail)) {}

  Result<bool> Next(std::string* out) override {
    if (data_) {
      Result<bool> more = data_->Next(out);
      if (!more || *more) return more;
      data_.reset();  // its snapshot goes with it
    }
    out->append(tail_);
    return false;
  }

 private:
  std::unique_ptr<BodyStream> data_;
  std::string tail_;
};

Answer Plain(const HttpRequest& request, Route route, int status, std::string_view content_type,
             std::string body, std::string request_id) {
  Answer answer;
  answer.route = route;
  answer.response = Begin(request, status, request_id, content_type);
  answer.response.body() = std::move(body);
  answer.request_id = std::move(request_id);
  return answer;
}

Answer Ops(const HttpRequest& request, Route route, const ApiContext& context, std::string request_id) {
  switch (route) {
    case Route::kHealthz:
      return Plain(request, route, 200, "text/plain; charset=utf-8", "ok\n", std::move(request_id));
    case Route::kReadyz: {
      const IngestStatus status = context.ingest.status ? context.ingest.status() : IngestStatus{};
      const bool ready = context.store != nullptr && status.ready;
      std::string body;
      JsonWriter w(&body);
      w.BeginObject();
      w.Key("ready");
      w.Bool(ready);
      w.Key("lag");
      w.Int(status.lag);
      w.Key("eventsApplied");
      w.Uint(status.applied);
      w.EndObject();
      return Plain(request, route, ready ? 200 : 503, "application/json; charset=utf-8", std::move(body),
                   std::move(request_id));
    }
    case Route::kMetrics: {
      const IngestStatus status = context.ingest.status ? context.ingest.status() : IngestStatus{};
      StoreTotals totals;
      if (context.store != nullptr) totals = context.store->totals();
      static const HttpMetrics kNoMetrics;
      return Plain(request, route, 200, "text/plain; version=0.0.4; charset=utf-8",
                   RenderMetrics(context.metrics ? *context.metrics : kNoMetrics, status,
                                 context.store != nullptr ? &totals : nullptr),
                   std::move(request_id));
    }
    case Route::kOpenApi:
      return Plain(request, route, 200, "application/yaml; charset=utf-8", std::string(OpenApiYaml()),
                   std::move(request_id));
    default: break;
  }
  return Plain(request, route, 500, "text/plain; charset=utf-8", "unrouted\n", std::move(request_id));
}

// A cache key that no two different requests share: the route, the page, and
// each string with its length in front.
std::string CacheKey(char route, Page page, const std::vector<std::string>& parts) {
  std::string key(1, route);
  key += std::to_string(page.number) + "/" + std::to_string(page.size);
  for (const std::string& part : parts) key += "/" + std::to_string(part.size()) + ":" + part;
  return key;
}

// The answer of a business route; nullopt, when `may_query` is false, if it
// needs a store query (it is not in the cache).
std::optional<Answer> Business(const HttpRequest& request, Route route, std::string_view query,
                               const ApiContext& context, std::string& request_id, bool may_query) {
  if (!may_query && context.cache == nullptr && context.store != nullptr) return std::nullopt;
  const int64_t lag = LagOf(context);
  if (context.store == nullptr) {
    return Envelope(request, route, ApiCode::kInternal, kInternalMessage, {}, std::move(request_id), lag, 503);
  }
  auto source = ParamSource::FromRequest(query, request.body());
  if (!source) {
    return Envelope(request, route, ApiCode::kInvalidParameter, source.error().message(), {},
                    std::move(request_id), lag);
  }
  const Store& store = *context.store;
  std::shared_ptr<const ResponseCache::Entry> answer;
  std::unique_ptr<BodyStream> rest;  // the rest of a large answer's data (body_stream.h)
  // Answers from the cache while the store's record count is unchanged (see
  // response_cache.h), else from one snapshot. Large answers are streamed and
  // never cached.
  auto run = [&](auto parse, auto key_of, auto handle) -> Status {
    auto params = parse(*source);
    if (!params) return params.error();
    std::string key = key_of(*params);
    const uint64_t version = store.totals().records;
    if (context.cache != nullptr && (answer = context.cache->Find(key, version))) return Status::OK();
    if (!may_query) return Status::OK();  // answer stays null: a query thread computes it
    auto fresh = std::make_shared<ResponseCache::Entry>();
    fresh->version = version;
    fresh->outcome = handle(*params, store.Snapshot(), &fresh->data, &rest);
    if (fresh->outcome.code != ApiCode::kSuccess) {
      fresh->data.clear();
      rest.reset();
    }
    answer = fresh;
    if (context.cache != nullptr && fresh->outcome.code != ApiCode::kInternal && !rest) {
      context.cache->Insert(std::move(key), std::move(fresh));
    }
    return Status::OK();
  };
  Status invalid;
  switch (route) {
    case Route::kStatistics:
      invalid = run(
          ParseStatisticsParams,
          [](const StatisticsParams& p) {
            return CacheKey('s', p.page, {p.annotation_request_id});
          },
          [&](const StatisticsParams& p, ReadView v, std::string* data, std::unique_ptr<BodyStream>* more) {
            return HandleStatistics(p, store, std::move(v), data, more);
          });
      break;
    case Route::kStatisticsRecord:
      invalid = run(
          ParseRecordParams,
          [](const RecordParams& p) {
            return CacheKey('r', p.page, p.annotation_request_ids);
          },
          [&](const RecordParams& p, ReadView v, std::string* data, std::unique_ptr<BodyStream>* more) {
            return HandleStatisticsRecord(p, store, std::move(v), data, more);
          });
      break;
    case Route::kTaskGet:
      invalid = run(
          ParseTaskGetParams,
          [](const TaskGetParams& p) {
            return CacheKey('t', Page{}, {p.campaign_id, p.annotation_request_id, p.scene_id});
          },
          [&](const TaskGetParams& p, ReadView v, std::string* data, std::unique_ptr<BodyStream>*) {
            return HandleTaskGet(p, store, v, context.view_url_base, data);
          });
      break;
    default: break;
  }
  if (!invalid.ok()) {
    return Envelope(request, route, ApiCode::kInvalidParameter, invalid.message(), {}, std::move(request_id), lag);
  }
  if (answer == nullptr) return std::nullopt;
  const Outcome& outcome = answer->outcome;
  Answer result = Envelope(request, route, outcome.code, outcome.message, answer->data, std::move(request_id), lag);
  if (outcome.total_count) result.response.set("X-Total-Count", std::to_string(*outcome.total_count));
  if (rest) {
    // The body so far is the envelope's head and the data's first part; the
    // tail follows the data's last piece.
    std::string& body = result.response.body();
    body.clear();
    AppendEnvelopeHead(outcome.code, outcome.message, &body);
    body.append(answer->data);
    std::string tail;
    AppendEnvelopeTail(outcome.code, result.request_id, &tail);
    result.stream = std::make_unique<EnvelopeRest>(std::move(rest), std::move(tail));
  }
  return result;
}

}  // namespace

std::string RequestIdFor(std::string_view header) {
  return ValidCallerId(header) ? std::string(header) : FreshRequestId();
}

bool KeyMatches(std::string_view given, const std::vector<std::string>& keys) {
  // Every key is compared in full, whatever matched before: the time depends on
  // the keys' lengths only, never on how much of a guess was right.
  unsigned matched = 0;
  for (const std::string& key : keys) {
    size_t diff = given.size() ^ key.size();
    for (size_t i = 0; i < key.size(); ++i) {
      const char g = i < given.size() ? given[i] : 0;
      diff |= static_cast<unsigned char>(g ^ key[i]);
    }
    matched |= static_cast<unsigned>(diff == 0);
  }
  return matched != 0;
}

namespace {

std::optional<Answer> Handle(const HttpRequest& request, const ApiContext& context, bool may_query) {
  std::string request_id = RequestIdFor(CallerRequestId(request));
  const TargetParts target = SplitTarget(std::string_view(request.target().data(), request.target().size()));
  const std::string_view path = target.path;

  Answer answer;
  const Route route = RouteOf(path);
  if (route == Route::kOther) {
    answer = Envelope(request, route, ApiCode::kNotFound,
                      "Not found: no route " + std::string(path.substr(0, 200)), {}, std::move(request_id),
                      LagOf(context));
  } else if (request.method() != http::verb::get && request.method() != http::verb::post) {
    answer = Envelope(request, route, ApiCode::kInvalidParameter,
                      "Method not allowed: " + std::string(request.method_string()) + " " + std::string(path) +
                          " takes GET or POST",
                      {}, std::move(request_id), LagOf(context), 405);
    answer.response.set(http::field::allow, beast_sv(kAllowedMethods));
  } else if (!IsBusiness(route)) {
    answer = Ops(request, route, context, std::move(request_id));
  } else if (!Authorized(request, context.api_keys)) {
    answer = Envelope(request, route, ApiCode::kUnauthorized,
                      "Unauthorized: send a valid API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                      {}, std::move(request_id), LagOf(context));
    answer.response.set(http::field::www_authenticate, "Bearer");
  } else {
    std::optional<Answer> business = Business(request, route, target.query, context, request_id, may_query);
    if (!business) return std::nullopt;
    answer = std::move(*business);
  }
  Finish(request, &answer);
  return answer;
}

Route RouteOfTarget(const HttpRequest& request) {
  return RouteOf(SplitTarget(std::string_view(request.target().data(), request.target().size())).path);
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
  Answer answer = Envelope(request, Route::kOther, ApiCode::kInvalidParameter, message, {},
                           RequestIdFor(CallerRequestId(request)), LagOf(context));
  answer.response.keep_alive(false);
  Finish(request, &answer);
  return answer;
}

Answer LimitExceeded(const HttpRequest& request, bool headers_too_large, const ApiContext& context) {
  const Route route = headers_too_large ? Route::kOther : RouteOfTarget(request);
  std::string request_id = RequestIdFor(CallerRequestId(request));
  Answer answer = Envelope(request, route, ApiCode::kTooLarge,
                           headers_too_large ? "Request headers too large: the limit is 16 KiB"
                                             : "Request body too large: the limit is 1 MiB",
                           {}, std::move(request_id), LagOf(context));
  answer.response.keep_alive(false);
  Finish(request, &answer);
  return answer;
}

Answer Overloaded(const HttpRequest& request, const ApiContext& context, bool close) {
  std::string request_id = RequestIdFor(CallerRequestId(request));
  Answer answer = Envelope(request, RouteOfTarget(request), ApiCode::kInternal, kInternalMessage, {},
                           std::move(request_id), LagOf(context), 503);
  if (close) answer.response.keep_alive(false);
  answer.response.set(http::field::retry_after, "1");
  Finish(request, &answer);
  return answer;
}

}  // namespace tally
