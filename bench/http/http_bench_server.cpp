// The API side of the HTTP benchmark (bench/http/http_bench.sh):
//
//   http_bench_server load DIR RECORDS
//       fills the store in DIR with generated events (ingest/workload.h) until it
//       holds RECORDS records (adds none if it already does), then compacts it
//       (Store::CompactAll), so that serving starts from a settled store.
//   http_bench_server serve DIR [--threads N] [--query-threads N] [--ingest-rate EVENTS_PER_S] [--ingest-nice N]
//                           [--no-cache] [--compactions low|normal]
//       serves the store with ApiServer on a free 127.0.0.1 port and prints
//       "port N", then the three benchmarked requests ("statistics TARGET",
//       "record TARGET", "task BODY"). With --ingest-rate, a thread applies new
//       events (another workload, record ids that do not collide) at that rate
//       while it serves: "ingestion running". Stops on SIGTERM/SIGINT and prints
//       on stderr how many events it applied. --no-cache turns the response
//       cache off, to measure every request reading the store. --compactions
//       normal keeps RocksDB's flushes and compactions at normal CPU priority
//       (the store lowers them by default), to measure what that does. Also printed:
//       "ids ID,...", 100 loaded annotation request ids.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "aggregate/store.h"
#include "api/server.h"
#include "ingest/workload.h"

namespace {

using namespace tally;
using Clock = std::chrono::steady_clock;

constexpr size_t kMemoryBytes = size_t{256} << 20;
// The loaded store: 1000 requests over 3 campaigns, ~130 tasks each, ~8 events a task.
WorkloadOptions LoadWorkload() {
  WorkloadOptions w;
  w.seed = 1;
  w.requests = 1000;
  w.tasks_per_request = 130;
  return w;
}

// `low_priority_background`: StoreOptions' (this program's --compactions).
std::unique_ptr<Store> OpenStore(const std::string& dir, bool low_priority_background = true) {
  StoreOptions options{dir, kMemoryBytes, false, {}};
  options.low_priority_background = low_priority_background;
  auto store = Store::Open(options);
  if (!store) {
    std::fprintf(stderr, "http_bench_server: %s\n", store.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(*store);
}

// The store is left compacted (Store::CompactAll), at normal priority (nothing is
// served meanwhile): a freshly loaded store holds several level-0 files per
// family, whose compaction would otherwise run during the measurement, at nice
// 19 (StoreOptions::low_priority_background) where a saturated machine starves
// it, so that a build with low-priority compactions would be measured reading
// level 0 and another on a compacted store (bench/http/README.md).
int Settle(Store& store) {
  if (Status s = store.CompactAll(); !s.ok()) {
    std::fprintf(stderr, "http_bench_server: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

int Load(const std::string& dir, uint64_t records) {
  auto store = OpenStore(dir, /*low_priority_background=*/false);
  if (store->totals().records >= records) {
    std::printf("store holds %llu records already\n", static_cast<unsigned long long>(store->totals().records));
    return Settle(*store);
  }
  Workload workload(LoadWorkload());
  std::vector<TaskAction> batch(10'000);
  uint64_t total = store->totals().records;
  const auto start = Clock::now();
  while (total < records) {
    size_t n = 0;
    while (n < batch.size() && n < records - total && workload.Next(&batch[n])) ++n;
    if (n == 0) break;
    auto r = store->Apply(ApplyBatch{std::span(batch.data(), n), {}, "task-actions", {}});
    if (!r) {
      std::fprintf(stderr, "http_bench_server: %s\n", r.error().ToString().c_str());
      return 1;
    }
    total = store->totals().records;
  }
  std::printf("loaded %llu records, %llu tasks, %llu requests in %.1f s\n",
              static_cast<unsigned long long>(store->totals().records),
              static_cast<unsigned long long>(store->totals().tasks),
              static_cast<unsigned long long>(store->totals().requests),
              std::chrono::duration<double>(Clock::now() - start).count());
  if (total < records) return 1;
  return Settle(*store);
}

// Applies a second workload at `rate` events/s in batches every 100 ms until stopped.
void Ingest(Store* store, double rate, int nice, const std::atomic<bool>* stop, std::atomic<uint64_t>* applied) {
  // A lower priority for the apply thread keeps the HTTP threads' tails short
  // when both want the CPU (what `tally serve` could do for its consumer).
  if (nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice);
  WorkloadOptions options = LoadWorkload();
  options.seed = 2;
  options.requests = 100'000;
  Workload workload(options);
  constexpr Id::Rep kIdOffset = Id::Rep{1'000'000'000'000};  // beyond the loaded records' ids
  const auto tick = std::chrono::milliseconds(100);
  const size_t per_tick = static_cast<size_t>(rate / 10);
  std::vector<TaskAction> batch(per_tick);
  auto next = Clock::now();
  while (!stop->load()) {
    size_t n = 0;
    while (n < per_tick && workload.Next(&batch[n])) {
      batch[n].id = Id::FromRep(batch[n].id.value() + kIdOffset);
      ++n;
    }
    if (n == 0) break;
    auto r = store->Apply(ApplyBatch{std::span(batch.data(), n), {}, "task-actions", {}});
    if (!r) {
      std::fprintf(stderr, "http_bench_server: ingest: %s\n", r.error().ToString().c_str());
      return;
    }
    applied->fetch_add(r->applied);
    next += tick;
    std::this_thread::sleep_until(next);
  }
}

int Serve(const std::string& dir, int threads, int query_threads, double ingest_rate, int ingest_nice,
          size_t cache_entries, bool low_priority_background) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto store = OpenStore(dir, low_priority_background);
  std::atomic<uint64_t> applied{0};
  std::atomic<bool> stop{false};
  ApiOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = threads;
  options.query_threads = query_threads;
  options.response_cache_entries = cache_entries;
  auto server = ApiServer::Start(options, store.get(), IngestSource{[] { return int64_t{0}; }, [&applied] {
                                   IngestStatus s;
                                   s.ready = true;
                                   s.lag = 0;
                                   s.applied = applied.load(std::memory_order_relaxed);
                                   return s;
                                 }});
  if (!server) {
    std::fprintf(stderr, "http_bench_server: %s\n", server.error().ToString().c_str());
    return 1;
  }
  const Workload names(LoadWorkload());
  const uint32_t r = 7;  // a request in the middle of the loaded stream
  std::printf("port %u\n", (*server)->port());
  std::printf("statistics /statistics?annotationRequestId=%s&pageNumber=2&pageSize=10\n", names.RequestId(r).c_str());
  std::printf("record /statistics/record?annotationRequestId=%s&annotationRequestId=%s&annotationRequestId=%s"
              "&offset=3&limit=100\n",
              names.RequestId(r).c_str(), names.RequestId(r + 1).c_str(), names.RequestId(r + 2).c_str());
  const uint64_t task = uint64_t{r} * LoadWorkload().tasks_per_request + 17;
  std::printf("task {\"campaignId\":\"%s\",\"annotationRequestId\":\"%s\",\"sceneId\":\"%s\"}\n",
              names.CampaignId(names.CampaignOf(r)).c_str(), names.RequestId(r).c_str(),
              names.SceneId(task).c_str());
  // 100 loaded requests (the first of the stream), for the heavy-query bench.
  std::string ids;
  for (uint32_t i = 0; i < 100; ++i) ids += (i ? "," : "") + names.RequestId(i);
  std::printf("ids %s\n", ids.c_str());
  std::fflush(stdout);

  std::thread ingest;
  if (ingest_rate > 0) ingest = std::thread(Ingest, store.get(), ingest_rate, ingest_nice, &stop, &applied);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  stop = true;
  if (ingest.joinable()) ingest.join();
  (*server)->Stop();
  std::fprintf(stderr, "http_bench_server: applied %llu events while serving\n",
               static_cast<unsigned long long>(applied.load()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::strcmp(argv[1], "load") == 0) return Load(argv[2], std::strtoull(argv[3], nullptr, 10));
  if (argc >= 3 && std::strcmp(argv[1], "serve") == 0) {
    int threads = 0, query_threads = 0;
    double rate = 0;
    size_t cache_entries = kDefaultResponseCacheEntries;
    int nice = 0;
    bool low_priority_background = true;
    for (int i = 3; i < argc; ++i) {
      if (std::strcmp(argv[i], "--no-cache") == 0) cache_entries = 0;  // as `tally serve --response-cache-entries 0`
      if (i + 1 >= argc) break;
      if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[++i]);
      else if (std::strcmp(argv[i], "--query-threads") == 0) query_threads = std::atoi(argv[++i]);
      else if (std::strcmp(argv[i], "--ingest-rate") == 0) rate = std::atof(argv[++i]);
      else if (std::strcmp(argv[i], "--ingest-nice") == 0) nice = std::atoi(argv[++i]);
      else if (std::strcmp(argv[i], "--compactions") == 0) low_priority_background = std::strcmp(argv[++i], "normal") != 0;
    }
    return Serve(argv[2], threads, query_threads, rate, nice, cache_entries, low_priority_background);
  }
  std::fprintf(stderr, "usage: http_bench_server load DIR RECORDS | serve DIR [--threads N] [--query-threads N] [--ingest-rate R]\n"
               "       [--ingest-nice N] [--no-cache] [--compactions low|normal]\n");
  return 2;
}
