#pragma once

// The standard process metrics every Prometheus client library exports
// (process_cpu_seconds_total, process_resident_memory_bytes, ...), read from
// /proc/self on each scrape, so the dashboard's memory and CPU panels need no
// node_exporter. Linux only; a figure /proc does not give is left out rather
// than written as 0. Any thread.

#include <string>

namespace tally {

void AppendProcessMetrics(std::string* out);

}  // namespace tally
