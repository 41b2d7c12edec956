#include "api/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <vector>

namespace tally {
namespace {

void Metric(std::string_view name, std::string_view type, std::string_view help, double value, std::string* out) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;  // 32 bytes hold any double's shortest form
  out->append(name).append(" ").append(buf, end).append("\n");
}

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The fields of /proc/self/stat after "pid (comm)", from field 3 (state) on:
// comm may hold spaces and parentheses, so the split starts after the last ')'.
std::vector<std::string> StatFields() {
  const std::string stat = ReadFile("/proc/self/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return {};
  std::istringstream rest(stat.substr(paren + 1));
  return {std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
}

bool ToDouble(const std::string& s, double* v) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && end == s.data() + s.size();
}

// The boot time (seconds since the epoch), from /proc/stat's btime line.
bool BootTime(double* seconds) {
  std::istringstream in(ReadFile("/proc/stat"));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("btime ")) return ToDouble(line.substr(6), seconds);
  }
  return false;
}

}  // namespace

void AppendProcessMetrics(std::string* out) {
  // proc(5) numbers the fields from 1 (pid); StatFields() starts at 3 (state).
  const std::vector<std::string> f = StatFields();
  auto field = [&f](size_t number, double* v) { return number >= 3 && number - 3 < f.size() && ToDouble(f[number - 3], v); };
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  double utime = 0, stime = 0, start = 0, vsize = 0, rss = 0, boot = 0;
  if (ticks > 0 && field(14, &utime) && field(15, &stime)) {
    Metric("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
           (utime + stime) / ticks, out);
  }
  if (page > 0 && field(24, &rss)) {
    Metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss * page, out);
  }
  if (field(23, &vsize)) {
    Metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize, out);
  }
  if (ticks > 0 && field(22, &start) && BootTime(&boot)) {
    Metric("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.",
           boot + start / ticks, out);
  }
  std::error_code error;
  double fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++fds;
  }
  if (!error) Metric("process_open_fds", "gauge", "Open file descriptors.", fds, out);
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    Metric("process_max_fds", "gauge", "The soft limit of open file descriptors.",
           static_cast<double>(limit.rlim_cur), out);
  }
}

}  // namespace tally
