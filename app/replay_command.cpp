#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "aggregate/store.h"
#include "app/commands.h"
#include "app/progress.h"
#include "ingest/replay.h"

namespace tally {
namespace {

void Report(const char* what, const ReplayProgress& p) {
  const double rate = p.seconds > 0 ? static_cast<double>(p.events) / p.seconds : 0;
  std::fprintf(stderr,
               "replay: %s %llu events in %.1f s (%.0f events/s): %llu applied, %llu duplicates "
               "(%llu conflicting), %llu rejected\n",
               what, static_cast<unsigned long long>(p.events), p.seconds, rate,
               static_cast<unsigned long long>(p.applied), static_cast<unsigned long long>(p.duplicates),
               static_cast<unsigned long long>(p.conflicts), static_cast<unsigned long long>(p.rejected));
}

// The input's size if it is a regular file (a file or `< file`), else 0: unknown.
uint64_t InputSize(std::FILE* in) {
  struct stat st;
  if (fstat(fileno(in), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  const long at = std::ftell(in);
  return st.st_size > at && at >= 0 ? static_cast<uint64_t>(st.st_size - at) : 0;
}

}  // namespace

int RunReplay(const ReplayFlags& flags) {
  std::FILE* in = stdin;
  if (flags.file != "-") {
    in = std::fopen(flags.file.c_str(), "rb");
    if (!in) {
      std::fprintf(stderr, "tally replay: cannot read %s: %s\n", flags.file.c_str(), std::strerror(errno));
      return kExitUsage;
    }
  }
  StoreOptions options;
  options.path = flags.data_dir;
  options.memory_bytes = flags.memory_mb << 20;
  options.summary_views = !flags.no_summary_views;
  Result<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store) {
    // A bad setting names it; a store that cannot be opened names its path.
    const bool usage = store.error().IsInvalidArgument();
    std::fprintf(stderr, "tally replay: %s%s\n", usage ? "--data-dir: " : "", store.error().message().c_str());
    if (in != stdin) std::fclose(in);
    return usage ? kExitUsage : kExitRuntime;
  }
  if (const WalRecovery& dropped = (*store)->recovery(); dropped.dropped_bytes > 0) {
    // Replay keeps no offsets: what was dropped comes back only if given again.
    std::fprintf(stderr,
                 "tally replay: WARNING: %s. Replay the input that was being applied again to restore it "
                 "(what is stored counts as duplicates).\n",
                 dropped.ToString().c_str());
  }
  std::FILE* samples = nullptr;  // benchmark only: seconds,events,bytes about every second
  if (!flags.samples.empty() && !(samples = std::fopen(flags.samples.c_str(), "w"))) {
    std::fprintf(stderr, "tally replay: cannot write %s: %s\n", flags.samples.c_str(), std::strerror(errno));
    if (in != stdin) std::fclose(in);
    return kExitUsage;
  }
  if (samples) std::fprintf(samples, "seconds,events,bytes\n");
  double last_sample = 0;
  ProgressLine line = ProgressLine::ForStderr("replay");
  const uint64_t size = InputSize(in);
  ReplayOptions replay;
  replay.batch_events = flags.batch;
  replay.progress_every = std::chrono::milliseconds(100);
  replay.progress = [&](const ReplayProgress& p) {
    line.Update(p.events, size > 0 ? static_cast<double>(p.bytes) / static_cast<double>(size) : -1);
    if (samples && p.seconds - last_sample >= 1) {
      last_sample = p.seconds;
      std::fprintf(samples, "%.3f,%llu,%llu\n", p.seconds, static_cast<unsigned long long>(p.events),
                   static_cast<unsigned long long>(p.bytes));
    }
  };
  Result<ReplayProgress> done = Replay(in, store->get(), replay);
  line.Clear();
  if (in != stdin) std::fclose(in);
  if (samples) {
    if (done) {
      std::fprintf(samples, "%.3f,%llu,%llu\n", done->seconds, static_cast<unsigned long long>(done->events),
                   static_cast<unsigned long long>(done->bytes));
    }
    std::fclose(samples);
  }
  if (!done) {
    std::fprintf(stderr, "tally replay: %s\n", done.error().message().c_str());
    return kExitRuntime;
  }
  Report("done:", *done);
  return kExitOk;
}

}  // namespace tally
