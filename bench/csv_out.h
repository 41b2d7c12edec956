#pragma once

// Where a benchmark writes its figures: `<name>.csv` in $TALLY_BENCH_OUT (default
// build/bench-results), then bench/plot/plot.sh renders `<name>.svg` beside it.
// The header line picks the chart (bench/README.md, "Figures as CSV and plots").
// One CsvOut per file, used from one thread; rows are written as they come, so a
// run that stops early still leaves what it measured.

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tally::bench {

inline std::string BenchOutDir() {
  const char* dir = std::getenv("TALLY_BENCH_OUT");
  return dir && *dir ? dir : TALLY_BENCH_RESULTS_DIR;
}

// A CSV field: the text without commas (and a double quote made '\''), so that
// plot.sh and gnuplot split rows on commas with no quoting rules.
inline std::string CsvField(std::string_view text) {
  std::string field;
  for (char c : text) {
    if (c == ',') continue;
    field += c == '"' ? '\'' : c == '\n' ? ' ' : c;
  }
  return field;
}

inline std::string CsvNumber(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

class CsvOut {
 public:
  // Opens `<dir>/<name>.csv` (the directory is created) and writes `header`.
  CsvOut(const std::string& name, std::string_view header) : path_(BenchOutDir() + "/" + name + ".csv") {
    ::mkdir(BenchOutDir().c_str(), 0755);  // its parent (build/) exists; an error shows at fopen
    file_ = std::fopen(path_.c_str(), "w");
    if (!file_) {
      std::fprintf(stderr, "bench: cannot write %s (TALLY_BENCH_OUT)\n", path_.c_str());
      return;
    }
    std::fprintf(file_, "%.*s\n", static_cast<int>(header.size()), header.data());
  }
  CsvOut(const CsvOut&) = delete;
  CsvOut& operator=(const CsvOut&) = delete;
  ~CsvOut() { Plot(); }

  // One row of fields, already formatted (CsvField, CsvNumber).
  void Row(std::initializer_list<std::string> fields) {
    if (!file_) return;
    std::string line;
    for (const std::string& f : fields) line += (line.empty() ? "" : ",") + f;
    std::fprintf(file_, "%s\n", line.c_str());
    std::fflush(file_);
  }
  // The row of a `series,seconds,UNIT` file.
  void Sample(std::string_view series, double seconds, double value) {
    Row({CsvField(series), CsvNumber(seconds), CsvNumber(value)});
  }
  // The row of a `figure,tally,ceiling,unit` file.
  void Ratio(std::string_view figure, double tally, double ceiling, std::string_view unit) {
    Row({CsvField(figure), CsvNumber(tally), CsvNumber(ceiling), CsvField(unit)});
  }
  // The row of an `endpoint,percentile,tally_ms,ceiling_ms` file (ceiling < 0: none).
  void Latency(std::string_view endpoint, std::string_view percentile, double tally_ms, double ceiling_ms) {
    Row({CsvField(endpoint), CsvField(percentile), CsvNumber(tally_ms), ceiling_ms < 0 ? "" : CsvNumber(ceiling_ms)});
  }

  // Closes the file and renders its SVG (once; the destructor calls it too).
  void Plot() {
    if (!file_) return;
    std::fclose(file_);
    file_ = nullptr;
    const std::string command = std::string("'") + TALLY_PLOT_SCRIPT + "' '" + path_ + "' >/dev/null";
    if (std::system(command.c_str()) != 0) {
      std::fprintf(stderr, "bench: %s written, its plot failed (is gnuplot installed?)\n", path_.c_str());
      return;
    }
    std::fprintf(stderr, "bench: wrote %s and its .svg\n", path_.c_str());
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Throughput over time for a `series,seconds,UNIT` file: Tick(count so far) as
// often as convenient (it reads the clock only), a row per `every` seconds with the
// rate over that interval, and Finish() for the last part. One thread.
class RateSampler {
 public:
  RateSampler(CsvOut* csv, std::string series, double every = 0.25)
      : csv_(csv), series_(std::move(series)), every_(every), start_(Clock::now()), last_(start_) {}

  // Time 0 of the series: when the measured part begins (the constructor's time otherwise).
  void Start() {
    start_ = last_ = Clock::now();
    last_count_ = 0;
  }
  void Tick(uint64_t count) {
    const auto now = Clock::now();
    if (std::chrono::duration<double>(now - last_).count() >= every_) Row(now, count);
  }
  void Finish(uint64_t count) {
    if (count != last_count_) Row(Clock::now(), count);
  }

 private:
  using Clock = std::chrono::steady_clock;
  void Row(Clock::time_point now, uint64_t count) {
    const double interval = std::chrono::duration<double>(now - last_).count();
    if (csv_ && interval > 0) {
      csv_->Sample(series_, std::chrono::duration<double>(now - start_).count(),
                   static_cast<double>(count - last_count_) / interval);
    }
    last_ = now;
    last_count_ = count;
  }

  CsvOut* csv_;
  std::string series_;
  double every_;
  Clock::time_point start_, last_;
  uint64_t last_count_ = 0;
};

}  // namespace tally::bench
