// tally: turns the annotation platform's TaskAction stream into the statistics
// Helix polls. main only parses the command line and hands over to a command.

#include <CLI/CLI.hpp>

#include <cstdio>

#include "aggregate/store.h"
#include "app/commands.h"

namespace {

// The decoder is compiled for AVX2 (see TALLY_ARCH in CMakeLists.txt); say so
// clearly instead of dying on an illegal instruction.
bool CpuSupported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("pclmul");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tally;
  if (!CpuSupported()) {
    std::fprintf(stderr, "tally: this CPU lacks AVX2/BMI/PCLMUL; rebuild with -DTALLY_ARCH=<your -march>\n");
    return kExitRuntime;
  }
  ConfigureAllocatorForStore();
  CLI::App app{"tally: exact, fast statistics of annotation task actions for Helix"};
  app.set_version_flag("--version", TALLY_VERSION);
  app.require_subcommand(1);

  ReplayFlags replay;
  CLI::App* replay_cmd =
      app.add_subcommand("replay", "Apply TaskAction messages from an NDJSON file (one per line), no Kafka");
  replay_cmd->add_option("--data-dir", replay.data_dir, "Store directory (created if missing)")->required();
  replay_cmd->add_option("file", replay.file, "FILE.ndjson, or - for standard input")->required();
  replay_cmd->add_option("--memory-mb", replay.memory_mb, "Memory budget of the store, MiB")
      ->check(CLI::Range(size_t{16}, size_t{1} << 20))
      ->capture_default_str();
  replay_cmd->add_option("--batch", replay.batch, "Events per applied batch")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();

  CLI::App* serve_cmd =
      app.add_subcommand("serve", "Consume TaskAction events from Kafka into the store and serve the HTTP API");
  ServeSettings serve(serve_cmd);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (*replay_cmd) return RunReplay(replay);
  if (*serve_cmd) {
    Result<ServeConfig> config = serve.Resolve();
    if (!config) {
      std::fprintf(stderr, "tally serve: %s\n", config.error().message().c_str());
      return kExitUsage;
    }
    return RunServe(*config);
  }
  return kExitUsage;
}
