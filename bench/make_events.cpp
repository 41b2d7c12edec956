// Writes a generated TaskAction stream as NDJSON (one event per line) to stdout,
// for replay benchmarks. Usage: make_events EVENTS [REQUESTS] [TASKS_PER_REQUEST] [SEED]

#include <cstdio>
#include <cstdlib>
#include <string>

#include "ingest/event_json.h"
#include "ingest/workload.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_events EVENTS [REQUESTS] [TASKS_PER_REQUEST] [SEED]\n");
    return 2;
  }
  const unsigned long long events = std::strtoull(argv[1], nullptr, 10);
  tally::WorkloadOptions options;
  options.requests = argc > 2 ? static_cast<uint32_t>(std::atoi(argv[2])) : 1000;
  options.tasks_per_request = argc > 3 ? static_cast<uint32_t>(std::atoi(argv[3])) : 200;
  options.seed = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 1;
  options.campaigns = 20;
  tally::Workload workload(options);
  tally::TaskAction action;
  std::string line;
  for (unsigned long long i = 0; i < events && workload.Next(&action); ++i) {
    line.clear();
    tally::AppendEventJson(action, &line);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  return 0;
}
