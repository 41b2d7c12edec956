#include <cerrno>
#include <cstdio>
#include <cstring>

#include "aggregate/store.h"
#include "app/commands.h"
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
  ReplayOptions replay;
  replay.batch_events = flags.batch;
  replay.progress = [](const ReplayProgress& p) { Report("so far", p); };
  Result<ReplayProgress> done = Replay(in, store->get(), replay);
  if (in != stdin) std::fclose(in);
  if (!done) {
    std::fprintf(stderr, "tally replay: %s\n", done.error().message().c_str());
    return kExitRuntime;
  }
  Report("done:", *done);
  return kExitOk;
}

}  // namespace tally
