// The store's benchmarks, as steps that bench/store_bench.sh runs and reports:
//
//   store_bench record EVENTS.ndjson BATCHES MEMORY_MB
//       replays the events into a scratch store, saving every WriteBatch it
//       writes (untimed: this only prepares the ceiling).
//   store_bench ceiling BATCHES EVENTS DATA_DIR MEMORY_MB [SAMPLES]
//       the ceiling: writes those batches as they are into a fresh store, with no
//       reads and none of apply's work, and prints events/s. SAMPLES: a CSV of
//       seconds,events,bytes about every second, as `tally replay --samples`
//       writes (seconds of writes; events counted pro rata of the bytes written).
//   store_bench queries DATA_DIR MEMORY_MB
//       builds a store with a request of 1,000,000 records and nine more, then
//       times page 1 and page 1000 (limit 1000) of it and merged pages of all
//       ten: p50/p99 over 1000 queries each, also written as
//       store_bench_queries.csv and .svg (bench/csv_out.h).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "aggregate/store.h"
#include "bench/csv_out.h"
#include "ingest/replay.h"

namespace {

using namespace tally;
using Clock = std::chrono::steady_clock;

std::unique_ptr<Store> OpenStore(const std::string& path, size_t memory_mb,
                                 std::function<void(std::string_view)> sink = {}) {
  StoreOptions options;
  options.path = path;
  options.memory_bytes = memory_mb << 20;
  options.batch_sink = std::move(sink);
  auto store = Store::Open(options);
  if (!store) {
    std::fprintf(stderr, "store_bench: %s\n", store.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(*store);
}

int Record(const char* events_path, const char* batches_path, size_t memory_mb) {
  const std::string scratch = std::string(batches_path) + ".store";
  std::filesystem::remove_all(scratch);
  std::FILE* out = std::fopen(batches_path, "wb");
  std::FILE* in = std::fopen(events_path, "rb");
  if (!out || !in) return 1;
  uint64_t batches = 0;
  auto store = OpenStore(scratch, memory_mb, [&](std::string_view batch) {
    const uint64_t n = batch.size();
    std::fwrite(&n, sizeof(n), 1, out);
    std::fwrite(batch.data(), 1, batch.size(), out);
    ++batches;
  });
  auto done = Replay(in, store.get(), ReplayOptions{});
  std::fclose(in);
  std::fclose(out);
  store.reset();
  std::filesystem::remove_all(scratch);
  if (!done) return 1;
  std::printf("recorded %llu batches of %llu events\n", static_cast<unsigned long long>(batches),
              static_cast<unsigned long long>(done->events));
  return 0;
}

int Ceiling(const char* batches_path, uint64_t events, const char* dir, size_t memory_mb, const char* samples_path) {
  std::filesystem::remove_all(dir);
  std::FILE* in = std::fopen(batches_path, "rb");
  if (!in) return 1;
  std::FILE* samples = samples_path ? std::fopen(samples_path, "w") : nullptr;
  if (samples_path && !samples) return 1;
  if (samples) std::fprintf(samples, "seconds,events,bytes\n");
  const double file_bytes = static_cast<double>(std::filesystem::file_size(batches_path));
  auto store = OpenStore(dir, memory_mb);
  std::string batch;
  uint64_t keys_bytes = 0, batches = 0;
  double seconds = 0, sampled = 0;
  auto sample = [&] {
    std::fprintf(samples, "%.3f,%.0f,%llu\n", seconds,
                 static_cast<double>(events) * static_cast<double>(keys_bytes) / file_bytes,
                 static_cast<unsigned long long>(keys_bytes));
    sampled = seconds;
  };
  for (uint64_t n; std::fread(&n, sizeof(n), 1, in) == 1;) {
    batch.resize(n);
    if (std::fread(batch.data(), 1, n, in) != n) return 1;
    const auto t0 = Clock::now();  // reading the file is not the store's time
    if (Status s = store->WriteRawBatch(batch); !s.ok()) {
      std::fprintf(stderr, "store_bench: %s\n", s.ToString().c_str());
      return 1;
    }
    seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    keys_bytes += n;
    ++batches;
    if (samples && seconds - sampled >= 1) sample();
  }
  std::fclose(in);
  if (samples) {
    sample();
    std::fclose(samples);
  }
  std::printf("ceiling %.0f events/s (%llu batches, %.1f MB, %.2f s of writes)\n",
              static_cast<double>(events) / seconds, static_cast<unsigned long long>(batches),
              static_cast<double>(keys_bytes) / 1e6, seconds);
  return 0;
}

const Id kTaskBase = *Id::FromDigits("234234123133374715904");

TaskAction Record(uint64_t id, const std::string& request) {
  TaskAction a;
  a.id = Id(1'900'000'000'000'000'000ULL + id);
  a.annotation_request_id = request;
  a.campaign_id = "8c2f1e4a-0b7d-4c39-9e15-2a6f3d8b1c07";
  a.scene_id = "scene-" + std::to_string(id % 5000);
  a.task_id = Id::FromRep(kTaskBase.value() + id / 10 % 5000);  // the big request's ids are multiples of 10
  a.project_id = Id(1042);
  a.pool_id = Id(10421);
  a.pool_name = "CO 1042-Annotation Pool";
  a.alice_name = "li.wei";
  a.pool_type = PoolType::kAnnotation;
  a.status = TaskStatus::kAtWork;
  a.action_type = ActionType::kSubmitAnnotation;
  a.created_time = Timestamp{1'743'494'400'000 + static_cast<int64_t>(id) * 250};
  a.instance_info = InstanceInfo{{"box2d-car", 12}, {"polygon-lane", 3}};
  a.modify_instance_num = 15;
  a.instance_sum = 40;
  return a;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

int Queries(const char* dir, size_t memory_mb) {
  std::filesystem::remove_all(dir);
  auto store = OpenStore(dir, memory_mb);
  // The big request's records arrive out of order, interleaved with nine others.
  std::vector<uint64_t> ids(1'000'000);
  for (uint64_t i = 0; i < ids.size(); ++i) ids[i] = i * 10;
  std::mt19937_64 rng(3);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<TaskAction> batch;
  auto flush = [&] {
    if (auto r = store->Apply(ApplyBatch{batch, {}, {}, {}}); !r) std::exit(1);
    batch.clear();
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    batch.push_back(Record(ids[i], "big"));
    if (i % 10 == 0) batch.push_back(Record(i + 1 + (i % 9), "small-" + std::to_string(i % 9)));
    if (batch.size() >= 10'000) flush();
  }
  flush();
  const std::vector<std::string> big = {"big"};
  std::vector<std::string> ten = {"big"};
  for (int i = 0; i < 9; ++i) ten.push_back("small-" + std::to_string(i));

  bench::CsvOut csv("store_bench_queries", "endpoint,percentile,tally_ms,ceiling_ms");
  auto time = [&](const char* what, auto&& query) {
    std::vector<double> us;
    for (int k = 0; k < 1000; ++k) {
      const auto t0 = Clock::now();
      query();
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    const double p50 = Percentile(us, 0.5), p99 = Percentile(us, 0.99);
    std::printf("  %-44s p50 %8.0f us   p99 %8.0f us\n", what, p50, p99);
    const std::string label(what, std::string_view(what).find(" (limit"));  // every query's limit is 1000
    csv.Latency(label, "p50", p50 / 1000, -1);  // no ceiling measured for these
    csv.Latency(label, "p99", p99 / 1000, -1);
    return p50;
  };
  auto records = [&](const std::vector<std::string>& requests, uint64_t page) {
    return [&, page] {
      auto r = store->Records(store->Snapshot(), requests, Page{page, 1000});
      if (!r || r->read.size() != 1000) std::exit(1);
      TaskAction record;  // decoded as the API does, one after the other
      for (size_t i = 0; i < r->read.size(); ++i) {
        if (!r->Decode(i, requests, &record).ok()) std::exit(1);
      }
    };
  };
  std::printf("queries on %llu records:\n", static_cast<unsigned long long>(store->totals().records));
  const double first = time("one request, page 1 (limit 1000)", records(big, 1));
  const double deep = time("one request, page 1000 (limit 1000)", records(big, 1000));
  time("10 requests merged, page 1 (limit 1000)", records(ten, 1));
  time("10 requests merged, page 1000 (limit 1000)", records(ten, 1000));
  time("tasks of one request, page 5 (limit 1000)", [&] {
    auto r = store->Tasks(store->Snapshot(), "big", Page{5, 1000});
    if (!r || !*r || (*r)->size() != 1000) {
      std::fprintf(stderr, "store_bench: page 5 of the tasks of \"big\": %s\n",
                   !r ? r.error().ToString().c_str()
                      : !*r ? "unknown request" : (std::to_string((*r)->size()) + " tasks, not 1000").c_str());
      std::exit(1);
    }
  });
  std::printf("  deep page / first page: %.2f (target <= 2)\n", deep / first);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "record" && argc == 5) return Record(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10));
  if (mode == "ceiling" && (argc == 6 || argc == 7)) {
    return Ceiling(argv[2], std::strtoull(argv[3], nullptr, 10), argv[4], std::strtoull(argv[5], nullptr, 10),
                   argc == 7 ? argv[6] : nullptr);
  }
  if (mode == "queries" && argc == 4) return Queries(argv[2], std::strtoull(argv[3], nullptr, 10));
  std::fprintf(stderr, "usage: see the comment at the top of bench/store_bench.cpp\n");
  return 2;
}
