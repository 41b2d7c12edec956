// Decoding throughput on one core, beside its ceiling from the same run.
//
// Figure:  tally's Decoder (full validation, owned TaskActions) over a generated
//          stream of realistic single-event messages.
// Ceiling: simdjson on-demand over the same messages, touching the same fields
//          (every key, every string, every number, every instanceInfo entry) with
//          no validation and no copies beyond simdjson's own.
// Both copy each message into a padded buffer first, as Kafka payloads need.
//
// Usage: decode_bench [events=300000] [rounds=5] [only=ceiling|tally]
// (`only` runs one side, for profiling it alone.) Writes decode_bench.csv and
// .svg (bench/csv_out.h).

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/csv_out.h"
#include "ingest/decode.h"
#include "ingest/event_json.h"
#include "ingest/workload.h"

namespace {

namespace od = simdjson::ondemand;
using Clock = std::chrono::steady_clock;

// The ceiling: read every field of every event, validating nothing, the way
// idiomatic on-demand code does: keys compared raw, values read by their type.
[[gnu::noinline]] size_t RawOnDemand(const std::vector<std::string>& messages) {
  od::parser parser;
  std::vector<char> buffer;
  size_t sink = 0;
  for (const std::string& m : messages) {
    buffer.resize(m.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(buffer.data(), m.data(), m.size());
    od::document doc = parser.iterate(buffer.data(), m.size(), buffer.size());
    for (auto field : doc.get_object()) {
      const od::raw_json_string key = field.key();
      od::value v = field.value();
      if (key == "instanceInfo") {
        for (auto entry : v.get_object()) {
          sink += std::string_view(entry.unescaped_key()).size();
          sink += uint64_t(entry.value().get_uint64());
        }
      } else if (key == "annotationRequestId" || key == "campaignId" || key == "sceneId" ||
                 key == "poolName" || key == "aliceName" || key == "createdTime") {
        sink += std::string_view(v.get_string()).size();
      } else {
        sink += v.raw_json_token().size();  // numbers; ids may exceed 64 bits
      }
    }
  }
  return sink;
}

[[gnu::noinline]] size_t Tally(const std::vector<std::string>& messages) {
  tally::Decoder decoder;
  tally::DecodedEvents events;
  size_t decoded = 0;
  int64_t offset = 0;
  for (const std::string& m : messages) {
    decoder.Decode(m, tally::Origin{tally::Partition{0}, tally::Offset{offset++}}, &events);
    if (events.size() >= 1000) {  // a consumer batch
      decoded += events.actions().size();
      events.clear();
    }
  }
  return decoded + events.actions().size();
}

template <class F>
double BestSeconds(int rounds, F&& f) {
  double best = 1e9;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 300000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string only = argc > 3 ? argv[3] : "";

  tally::WorkloadOptions options;
  options.requests = 1000;
  options.tasks_per_request = 1000;
  tally::Workload workload(options);
  std::vector<std::string> messages;
  messages.reserve(n);
  size_t bytes = 0;
  tally::TaskAction action;
  while (messages.size() < n && workload.Next(&action)) {
    std::string& m = messages.emplace_back();
    tally::AppendEventJson(action, &m);
    bytes += m.size();
  }
  if (Tally(messages) != messages.size()) {
    std::fprintf(stderr, "decode_bench: the decoder rejected generated events\n");
    return 1;
  }
  volatile size_t sink = 0;
  // Interleave the two so that machine noise hits both alike.
  double raw = 1e9, ours = 1e9;
  for (int r = 0; r < rounds; ++r) {
    if (only != "tally") raw = std::min(raw, BestSeconds(1, [&] { sink = sink + RawOnDemand(messages); }));
    if (only != "ceiling") ours = std::min(ours, BestSeconds(1, [&] { sink = sink + Tally(messages); }));
  }
  const double events = static_cast<double>(messages.size());
  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf("decode: %zu events, %.0f bytes/event on average, best of %d rounds, one core\n",
              messages.size(), static_cast<double>(bytes) / events, rounds);
  std::printf("  %-34s %12.0f events/s %8.1f MB/s\n", "ceiling (simdjson on-demand, raw)",
              events / raw, mb / raw);
  std::printf("  %-34s %12.0f events/s %8.1f MB/s\n", "tally Decoder (validating)",
              events / ours, mb / ours);
  std::printf("  ratio to ceiling: %.2f\n", raw / ours);
  if (only.empty()) {
    tally::bench::CsvOut csv("decode_bench", "figure,tally,ceiling,unit");
    csv.Ratio("decode (one core)", events / ours, events / raw, "events/s");
    csv.Ratio("decode bytes (one core)", mb / ours, mb / raw, "MB/s");
  }
  return 0;
}
