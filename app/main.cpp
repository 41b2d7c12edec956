// tally: turns the annotation platform's TaskAction stream into the statistics
// Helix polls. main only parses the command line and hands over to a command.

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "aggregate/store.h"
#include "app/commands.h"

int main(int argc, char** argv) {
  using namespace tally;
  // Logs (and access logs) go to stderr: stdout is for what a command outputs
  // (produce --output -, demo's curl commands).
  spdlog::set_default_logger(spdlog::stderr_color_mt("tally"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  CLI::App app{"tally: exact, fast statistics of annotation task actions for Helix"};
  app.set_version_flag("--version", TALLY_VERSION);
  // At most one command, and "none" is checked after parsing: CLI11 checks
  // requirements before leftovers, so with require_subcommand(1) `tally frobnicate`
  // and `tally --no-such-flag` would only hear "A subcommand is required" instead
  // of what was not understood.
  app.require_subcommand(0, 1);

  ReplayFlags replay;
  CLI::App* replay_cmd =
      app.add_subcommand("replay", "Apply TaskAction messages from an NDJSON file (one per line), no Kafka");
  replay_cmd->add_option("--data-dir", replay.data_dir, "Store directory (created if missing)")->required();
  replay_cmd->add_option("file", replay.file, "FILE.ndjson, or - for standard input")->required();
  replay_cmd->add_option("--memory-mb", replay.memory_mb, "Memory budget of the store, MiB")
      ->check(CLI::Range(kMinMemoryMb, kMaxMemoryMb))
      ->capture_default_str();
  replay_cmd->add_option("--batch", replay.batch, "Events per applied batch")
      ->check(CLI::Range(size_t{1}, kMaxBatchEvents))
      ->capture_default_str();
  // Benchmark only (bench/summary_views_bench.sh), hence hidden: the cost of the
  // summary views. The store it writes says so (format 2) and gets them built
  // when next opened with them.
  replay_cmd->add_flag("--no-summary-views", replay.no_summary_views, "")->group("");
  // Benchmark only (bench/store_bench.sh), hidden: replay throughput over time.
  replay_cmd->add_option("--samples", replay.samples, "")->group("");

  BackupFlags backup;
  CLI::App* backup_cmd = app.add_subcommand(
      "backup", "Back up a store no process has open (incremental, checksummed; a running serve: POST /admin/backup)");
  backup_cmd->add_option("--data-dir", backup.data_dir, "Store directory")->required();
  backup_cmd->add_option("--backup-dir", backup.backup_dir, "Backup directory (created if missing)")->required();
  backup_cmd->add_option("--backup-keep", backup.keep, "Backups kept: the latest K (0: all)")
      ->check(CLI::Range(0u, 1'000'000u))
      ->capture_default_str();

  RestoreFlags restore;
  CLI::App* restore_cmd = app.add_subcommand(
      "restore", "Verify a backup's checksums and restore it into a missing or empty data dir");
  restore_cmd->add_option("--backup-dir", restore.backup_dir, "Backup directory")->required();
  restore_cmd->add_option("--data-dir", restore.data_dir, "Store directory to create: missing or empty")->required();
  restore_cmd->add_option("--backup-id", restore.backup_id, "The backup to restore (default: the latest)")
      ->check(CLI::Range(1u, 4'000'000'000u));

  DemoFlags demo;
  CLI::App* demo_cmd = app.add_subcommand(
      "demo", "Serve on an embedded broker, produce a realistic workload into it, print curl commands to try");
  demo_cmd->add_option("--listen", demo.listen, "HTTP address, HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  demo_cmd->add_option("--data-dir", demo.data_dir,
                       "Store directory, new or empty (default: a temporary one, removed at exit)");
  demo_cmd->add_option("--events", demo.events, "Events to produce")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}))
      ->capture_default_str();
  demo_cmd->add_option("--seed", demo.seed, "Seed of the generated workload")->capture_default_str();

  ProduceFlags produce;
  CLI::App* produce_cmd = app.add_subcommand(
      "produce", "Send a realistic generated TaskAction stream to Kafka (or write it as NDJSON)");
  {
    CLI::App* c = produce_cmd;
    WorkloadOptions& w = produce.workload;
    DeliveryOptions& d = produce.delivery;
    CLI::Option* brokers =
        c->add_option("--brokers", produce.brokers, "Kafka bootstrap servers, HOST:PORT[,...]");
    CLI::Option* output = c->add_option("--output", produce.output,
                                        "Write the messages to FILE (- for stdout), one per line, instead of Kafka");
    brokers->excludes(output);
    output->excludes(brokers);
    c->add_option("--topic", produce.topic, "Topic to produce to")->capture_default_str();
    c->add_option("--requests", w.requests, "Annotation requests")
        ->check(CLI::Range(1u, 10'000'000u))
        ->capture_default_str();
    c->add_option("--tasks-per-request", w.tasks_per_request, "Tasks of each request")
        ->check(CLI::Range(1u, 10'000'000u))
        ->capture_default_str();
    c->add_option("--campaigns", w.campaigns, "Campaigns the requests are spread over")
        ->check(CLI::Range(1u, 1'000'000u))
        ->capture_default_str();
    c->add_option("--events", d.events, "Stop after this many events (0: when every task has completed)")
        ->capture_default_str();
    c->add_option("--seed", w.seed, "Seed: the same seed gives the same messages, byte for byte")
        ->capture_default_str();
    c->add_option("--rate", produce.rate, "Events per second (0: as fast as possible)")
        ->check(CLI::Range(0.0, 1e9))
        ->capture_default_str();
    c->add_option("--duplicates", d.duplicates, "Share of events sent twice, e.g. 0.05")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    c->add_option("--out-of-order", d.out_of_order, "Events that may overtake an event (0: in order)")
        ->check(CLI::Range(0u, 1'000'000u))
        ->capture_default_str();
    c->add_option("--array", d.per_message, "Events per message; above 1 each message is a JSON array")
        ->check(CLI::Range(1u, 1000u))
        ->capture_default_str();
    c->add_option("--kafka", produce.kafka, "librdkafka producer property PROP=VALUE (repeatable)");
    c->callback([c, brokers, output] {
      if (brokers->count() == 0 && output->count() == 0) {
        throw CLI::RequiredError("--brokers or --output");
      }
    });
  }

  CLI::App* serve_cmd =
      app.add_subcommand("serve", "Consume TaskAction events from Kafka into the store and serve the HTTP API");
  ServeSettings serve(serve_cmd);

  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) throw CLI::RequiredError::Subcommand(1);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (*replay_cmd) return RunReplay(replay);
  if (*backup_cmd) return RunBackup(backup);
  if (*restore_cmd) return RunRestore(restore);
  if (*produce_cmd) return RunProduce(produce);
  if (*demo_cmd) return RunDemo(demo);
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
