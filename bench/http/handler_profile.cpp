// Where a request's time goes without sockets: for each TARGET, the whole
// HandleRequest (parameters, snapshot, query, JSON, envelope) N times on one thread,
// and for a /statistics target also the store query alone. Deterministic enough to
// compare builds under `valgrind --tool=callgrind` (instruction counts), which a
// shared machine's noise does not move.
// Usage: handler_profile DIR TARGET [TARGET...]   (N: env HANDLER_PROFILE_N, 20000)
// With env HANDLER_PROFILE_MIX=1, the targets (GETs only) are answered in turn, N in all, and
// one figure is printed: a mix of pages as wrk's random script asks for them
// (bench/http/read_path_bench.sh), whose reads do not all hit the CPU's caches.
// A TARGET is a GET's target (`/statistics?...`), or `POST PATH BODY` (one
// argument) for a POST with that JSON body, sent as wrk sends it in the HTTP
// benches (Content-Type: application/json, Content-Length), e.g.
//   handler_profile DIR 'POST /task/get {"campaignId":"...","annotationRequestId":"...","sceneId":"..."}'
// (http_bench_server serve prints the benchmarked body on its "task" line).
// With env HANDLER_PROFILE_CONDITIONAL=1, each target is also answered from the
// response cache (200) and with an If-None-Match naming its ETag (304): the two
// paths of bench/http/not_modified_bench.sh without sockets.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "aggregate/store.h"
#include "api/not_modified_memo.h"
#include "api/params.h"
#include "api/response_cache.h"
#include "api/router.h"

int main(int argc, char** argv) {
  using namespace tally;
  using Clock = std::chrono::steady_clock;
  if (argc < 3) {
    std::fprintf(stderr, "usage: handler_profile DIR TARGET [TARGET...]\n");
    return 2;
  }
  auto store = Store::Open(StoreOptions{argv[1], size_t{256} << 20, false, {}});
  if (!store) {
    std::fprintf(stderr, "handler_profile: %s\n", store.error().ToString().c_str());
    return 1;
  }
  const char* n_env = std::getenv("HANDLER_PROFILE_N");
  const int n = n_env ? std::atoi(n_env) : 20000;
  auto us = [n](auto d) { return std::chrono::duration<double, std::micro>(d).count() / n; };
  ApiContext context;
  context.store = store->get();
  if (std::getenv("HANDLER_PROFILE_MIX") != nullptr) {
    std::vector<HttpRequest> all;
    for (int a = 2; a < argc; ++a) all.push_back(HttpRequest{boost::beast::http::verb::get, argv[a], 11});
    size_t bytes = 0;
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) bytes += HandleRequest(all[i % all.size()], context).response.body().size();
    std::printf("mix of %zu: HandleRequest %.1f us (%zu bytes)\n", all.size(), us(Clock::now() - t0), bytes / n);
    return 0;
  }
  for (int a = 2; a < argc; ++a) {
    const std::string target = argv[a];
    HttpRequest request{boost::beast::http::verb::get, target, 11};
    if (target.starts_with("POST ")) {
      const size_t path_end = target.find(' ', 5);
      request.method(boost::beast::http::verb::post);
      request.target(target.substr(5, path_end == std::string::npos ? std::string::npos : path_end - 5));
      if (path_end != std::string::npos) request.body() = target.substr(path_end + 1);
      request.set(boost::beast::http::field::content_type, "application/json");
      request.prepare_payload();
    }
    if (target.starts_with("/statistics?")) {
      auto params = ParseStatisticsParams(ParamSource::FromQuery(target.substr(target.find('?') + 1)));
      if (!params) return 1;
      auto t0 = Clock::now();
      for (int i = 0; i < n; ++i) {
        auto page = (*store)->Tasks((*store)->Snapshot(), params->annotation_request_id, params->page);
        if (!page) return 1;
      }
      std::printf("%s: store query %.1f us\n", target.c_str(), us(Clock::now() - t0));
    }
    size_t bytes = 0;
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) bytes += HandleRequest(request, context).response.body().size();
    std::printf("%s: HandleRequest %.1f us (%zu bytes)\n", target.c_str(), us(Clock::now() - t0), bytes / n);
    if (std::getenv("HANDLER_PROFILE_CONDITIONAL") != nullptr) {
      ResponseCache cache;
      NotModifiedMemo memo;
      ApiContext cached = context;
      cached.cache = &cache;
      cached.not_modified = &memo;
      // As the server answers: from an I/O thread when it can (cache, 304),
      // else on a query thread.
      auto serve = [&cached](const HttpRequest& r) {
        std::optional<Answer> answer = AnswerWithoutQuery(r, cached);
        return answer ? std::move(*answer) : HandleRequest(r, cached);
      };
      const Answer first = HandleRequest(request, cached);
      const std::string etag(first.response[boost::beast::http::field::etag]);
      t0 = Clock::now();
      for (int i = 0; i < n; ++i) bytes += serve(request).response.body().size();
      std::printf("%s: cached 200 %.2f us\n", target.c_str(), us(Clock::now() - t0));
      HttpRequest conditional = request;
      conditional.set(boost::beast::http::field::if_none_match, etag);
      int not_modified = 0;
      t0 = Clock::now();
      for (int i = 0; i < n; ++i) not_modified += serve(conditional).response.result_int() == 304;
      std::printf("%s: 304 %.2f us (%d of %d were 304)\n", target.c_str(), us(Clock::now() - t0), not_modified, n);
    }
  }
}
