// Where a request's time goes without sockets: the store query alone, then the
// whole HandleRequest (parameters, snapshot, query, JSON, envelope), for the
// benchmarked /statistics request, one thread. Usage: handler_profile DIR TARGET
#include <chrono>
#include <cstdio>

#include "aggregate/store.h"
#include "api/params.h"
#include "api/router.h"

int main(int argc, char** argv) {
  using namespace tally;
  using Clock = std::chrono::steady_clock;
  if (argc < 3) return 2;
  auto store = Store::Open(StoreOptions{argv[1], size_t{256} << 20, false, {}});
  if (!store) return 1;
  std::string target = argv[2];
  auto params = ParseStatisticsParams(ParamSource::FromQuery(target.substr(target.find('?') + 1)));
  if (!params) return 1;
  constexpr int kN = 20000;
  auto t0 = Clock::now();
  for (int i = 0; i < kN; ++i) {
    auto page = (*store)->Tasks((*store)->Snapshot(), params->annotation_request_id, params->page);
    if (!page) return 1;
  }
  auto t1 = Clock::now();
  ApiContext context;
  context.store = store->get();
  HttpRequest request{boost::beast::http::verb::get, target, 11};
  size_t bytes = 0;
  for (int i = 0; i < kN; ++i) bytes += HandleRequest(request, context).response.body().size();
  auto t2 = Clock::now();
  auto us = [](auto d) { return std::chrono::duration<double, std::micro>(d).count() / kN; };
  std::printf("store query %.1f us, HandleRequest %.1f us (%zu bytes)\n", us(t1 - t0), us(t2 - t1), bytes / kN);
}
