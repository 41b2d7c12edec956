// tally: turns the annotation platform's TaskAction stream into the statistics
// Helix polls. main only parses the command line and wires the modules together.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

namespace {

// Exit codes of CONTRACT.md §4.
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

// The decoder is compiled for AVX2 (see TALLY_ARCH in CMakeLists.txt); say so
// clearly instead of dying on an illegal instruction.
bool CpuSupported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("pclmul");
}

}  // namespace

int main(int argc, char** argv) {
  if (!CpuSupported()) {
    std::fprintf(stderr,
                 "tally: this CPU lacks AVX2/BMI/PCLMUL; rebuild with -DTALLY_ARCH=<your -march>\n");
    return kExitRuntime;
  }
  CLI::App app{"tally: exact, fast statistics of annotation task actions for Helix"};
  app.set_version_flag("--version", TALLY_VERSION);
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  if (argc == 1) {
    std::fputs(app.help().c_str(), stdout);
  }
  return 0;
}
