// `tally serve`: the store, the Kafka consumer (or the embedded development
// broker and a consumer of it) and the HTTP API, started in that order and
// stopped in reverse on SIGINT or SIGTERM.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <span>
#include <thread>

#include "aggregate/backup_service.h"
#include "aggregate/store.h"
#include "aggregate/store_backup.h"
#include "aggregate/thread_priority.h"
#include "api/listen_address.h"
#include "api/server.h"
#include "app/commands.h"
#include "ingest/consumer.h"
#include "ingest/dev_broker.h"
#include "ingest/kafka_properties.h"

namespace tally {
namespace {

// What /readyz, /metrics and X-Tally-Lag show, from the consumer's counters.
IngestStatus StatusOf(const ConsumerCounters& c, const ServeConfig& config) {
  IngestStatus s;
  s.ready = c.ready;
  if (!s.ready) {
    s.not_ready_reason = c.brokers_down ? "every Kafka broker is unreachable: ingestion is stalled"
                                        : "the consumer has no partition of " + config.topic +
                                              " assigned in group " + config.group + " (joining, or rebalancing)";
  }
  s.lag = c.lag;
  if (s.lag >= 0) s.partition_lag = c.partition_lag();
  s.consumed = c.consumed;
  s.applied = c.applied;
  s.duplicates = c.duplicates;
  s.conflicts = c.conflicts;
  s.offset_resets = c.offset_resets;
  s.offsets_skipped = c.offsets_skipped;
  s.dead_letters = c.dead_letters;
  s.dead_letters_failed = c.dead_letters_failed;
  for (size_t r = 0; r < kRejectReasonCount; ++r) {
    s.rejected.emplace_back(Slug(static_cast<RejectReason>(r)), c.rejected[r].load());
  }
  s.apply_batch_seconds = c.apply_batch_seconds.Read();
  s.event_freshness_seconds = c.event_freshness_seconds.Read();
  return s;
}

// The static member id the consumer will use: the user's, else the store's.
std::string InstanceIdOf(const ConsumerOptions& options) {
  for (const auto& [name, value] : options.kafka_properties) {
    if (name == "group.instance.id") return value;
  }
  return options.instance_id;
}

void Say(const std::string& line) { std::fprintf(stderr, "tally serve: %s\n", line.c_str()); }

// Where ingestion of `topic` resumes after the store dropped batches from its
// WAL: what was dropped is consumed again from there.
std::string ResumePoint(const Store& store, const std::string& topic, bool embedded_broker) {
  Result<std::vector<PartitionOffset>> offsets = store.Offsets(topic);
  if (!offsets) return "The stored offsets are unreadable: " + offsets.error().message();
  if (offsets->empty()) return "Ingestion of " + topic + " resumes from the earliest offsets (none are stored)";
  std::string line = "Ingestion of " + topic + " resumes from the stored offsets (partition:offset)";
  for (const PartitionOffset& o : *offsets) {
    line += " " + std::to_string(Raw(o.partition)) + ":" + std::to_string(Raw(o.next));
  }
  return line + (embedded_broker ? "; the embedded broker keeps nothing: produce the dropped events again"
                                 : ": Kafka delivers the dropped events again");
}

}  // namespace

int RunServe(const ServeConfig& config, const ServeHooks& hooks) {
  // SIGINT and SIGTERM are taken by sigtimedwait below: block them before any
  // thread exists, so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (Result<ListenAddress> address = ParseListenAddress(config.listen); !address) {
    Say("--listen: " + address.error().message());
    return kExitUsage;
  }
  std::vector<std::pair<std::string, std::string>> kafka;
  for (const std::string& property : config.kafka) {
    Result<std::pair<std::string, std::string>> parsed = ParseKafkaProperty(property);
    if (!parsed) {
      Say(parsed.error().message());
      return kExitUsage;
    }
    kafka.push_back(*parsed);
  }

  if (config.backup_every.count() > 0 && config.backup_dir.empty()) {
    Say("--backup-every-s needs --backup-dir (or TALLY_BACKUP_DIR): where should the backups go?");
    return kExitUsage;
  }
  if (!config.restore_from.empty()) {
    // A new replica: its store starts as the backup, and consumes from the backup's offsets on.
    if (!IsMissingOrEmptyDir(config.data_dir)) {
      Say("--restore-from: --data-dir " + config.data_dir +
          " is not empty; a restore only goes into a missing or empty directory (this store was kept as it is)");
      return kExitUsage;
    }
    Result<BackupEntry> restored = StoreBackups::Restore(config.restore_from, config.data_dir, std::nullopt);
    if (!restored) {
      Say("--restore-from " + config.restore_from + ": " + restored.error().message());
      return restored.error().IsNotFound() || restored.error().IsInvalidArgument() ? kExitUsage : kExitRuntime;
    }
    Say("restored backup " + std::to_string(restored->id) + " of " + config.restore_from + " into " +
        config.data_dir + "; ingestion resumes from its offsets");
  }

  StoreOptions store_options;
  store_options.path = config.data_dir;
  store_options.memory_bytes = config.memory_mb << 20;
  store_options.writer_nice = config.ingest_nice;
  Result<std::unique_ptr<Store>> store = Store::Open(store_options);
  if (!store) {
    // A bad setting names it; a store that cannot be opened names its path.
    if (store.error().IsInvalidArgument()) {
      Say("--data-dir: " + store.error().message());
      return kExitUsage;
    }
    Say(store.error().message());
    return kExitRuntime;
  }
  if (const WalRecovery& dropped = (*store)->recovery(); dropped.dropped_bytes > 0) {
    Say("WARNING: " + dropped.ToString() + ". " + ResumePoint(**store, config.topic, config.brokers.empty()));
  }

  std::unique_ptr<DevBroker> broker;
  std::string brokers = config.brokers;
  if (brokers.empty()) {
    Result<std::unique_ptr<DevBroker>> started = DevBroker::Start(1);
    if (!started) {
      Say(started.error().message());
      return kExitRuntime;
    }
    broker = std::move(*started);
    if (Status s = broker->CreateTopic(config.topic, config.partitions); !s.ok()) {
      Say(s.message());
      return kExitRuntime;
    }
    brokers = broker->bootstrap();
    Say("no --brokers given: started an EMBEDDED DEVELOPMENT BROKER at " + brokers + " (topic " + config.topic +
        ", " + std::to_string(config.partitions) + " partitions).");
    Say("  It keeps NOTHING on disk: its messages are gone when tally stops. Produce TaskAction messages to it");
    Say("  with any Kafka client (bootstrap.servers=" + brokers + "); use --brokers for a real cluster.");
  }
  if (hooks.on_broker) hooks.on_broker(brokers);
  // Whatever way this returns from here on, the hook runs first, while the
  // store and the broker are still up.
  struct AtExit {
    const std::function<void()>& run;
    ~AtExit() {
      if (run) run();
    }
  } stopping{hooks.on_stopping};

  ConsumerOptions consumer_options;
  consumer_options.brokers = brokers;
  consumer_options.topic = config.topic;
  consumer_options.group = config.group;
  // Static group membership, stable per data dir (--kafka group.instance.id wins).
  Result<std::string> instance = (*store)->InstanceId();
  if (!instance) {
    Say("--data-dir: " + instance.error().message());
    return kExitRuntime;
  }
  consumer_options.instance_id = "tally-" + *instance;
  consumer_options.kafka_properties = kafka;
  consumer_options.dead_letter_topic = config.dead_letter_topic;
  consumer_options.batch_events = config.batch_events;
  consumer_options.batch_wait = config.batch_wait;
  // Requests waiting for a position are woken as batches become durable; the
  // server starts after the consumer is made, and stops after it has stopped.
  std::atomic<ApiServer*> position_listener{nullptr};
  consumer_options.on_applied = [&position_listener](std::span<const PartitionOffset> offsets) {
    if (ApiServer* api = position_listener.load(std::memory_order_acquire)) api->PositionAdvanced(offsets);
  };
  Result<std::unique_ptr<Consumer>> consumer = Consumer::Create(consumer_options, store->get());
  if (!consumer) {
    Say(consumer.error().message());
    return kExitUsage;
  }

  std::unique_ptr<BackupService> backups;
  if (!config.backup_dir.empty()) {
    BackupServiceOptions backup_options;
    backup_options.dir = config.backup_dir;
    backup_options.every = config.backup_every;
    backup_options.keep = config.backup_keep;
    backup_options.rate_bytes_per_s = uint64_t{config.backup_rate_mb} << 20;
    backup_options.log = [](const std::string& line) { Say(line); };
    Result<std::unique_ptr<BackupService>> started = BackupService::Start(store->get(), backup_options);
    if (!started) {
      Say("--backup-dir: " + started.error().message());
      return started.error().IsInvalidArgument() ? kExitUsage : kExitRuntime;
    }
    backups = std::move(*started);
  }

  ApiOptions api_options;
  api_options.listen = config.listen;
  api_options.threads = config.threads;
  api_options.api_keys = config.api_keys;
  api_options.view_url_base = config.view_url_base;
  api_options.idle_timeout = config.idle_timeout;
  api_options.max_connections = config.max_connections;
  api_options.query_threads = config.query_threads;
  api_options.query_queue = config.query_queue;
  api_options.response_cache_entries = config.response_cache_entries;
  api_options.max_waiters = config.max_waiters;
  api_options.topic = config.topic;
  api_options.version = TALLY_VERSION;
  api_options.position_wait = config.position_wait;
  api_options.backups = backups.get();
  const ConsumerCounters* counters = &(*consumer)->counters();
  Result<std::unique_ptr<ApiServer>> api =
      ApiServer::Start(api_options, store->get(),
                       IngestSource{[counters] { return counters->lag.load(std::memory_order_relaxed); },
                                    [counters, store = store->get(), &config] {
                                      IngestStatus s = StatusOf(*counters, config);
                                      // Not ready from the moment the store fails (a full disk).
                                      if (Status failed = store->failure(); !failed.ok()) {
                                        s.ready = false;
                                        s.not_ready_reason = "the store failed: " + failed.message();
                                      }
                                      return s;
                                    }});
  if (!api) {
    Say("--listen: " + api.error().message());
    return api.error().code() == Status::Code::kInvalidArgument ? kExitUsage : kExitRuntime;
  }
  Say("serving http://" + config.listen.substr(0, config.listen.rfind(':')) + ":" +
      std::to_string((*api)->port()) + " (data dir " + config.data_dir + ", topic " + config.topic + ", group " +
      config.group + ", group.instance.id " + InstanceIdOf(consumer_options) + ")");
  position_listener.store(api->get(), std::memory_order_release);
  if (hooks.on_serving) hooks.on_serving((*api)->port(), **store);
  // Long polls wake when a batch applied to their requests is written.
  (*store)->SetChangeListener([server = api->get()](std::span<const std::string> requests) {
    server->RequestsChanged(requests);
  });

  std::atomic<bool> consumer_done{false};
  Status consumer_status;
  std::thread ingest([&] {
    // This thread alone; librdkafka's threads, made earlier by the main
    // thread, keep the process's priority.
    LowerThisThreadPriority(config.ingest_nice);
    consumer_status = (*consumer)->Run();
    consumer_done = true;
  });

  // Until a stop signal, or until ingestion fails.
  int signal = 0;
  while (!consumer_done && signal <= 0) {
    const timespec wait{0, 200'000'000};
    signal = sigtimedwait(&stop_signals, nullptr, &wait);
  }
  if (signal > 0) Say(std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
  // Held long polls are answered (304) at once; the current batch is applied
  // and committed and the consumer closed; then the HTTP server drains.
  (*api)->EndLongPolls();
  // A backup in progress ends first (its answer goes out while the server still runs).
  if (backups) backups->Stop();
  (*consumer)->Stop();
  ingest.join();
  (*store)->SetChangeListener(nullptr);
  (*api)->Stop();
  if (!consumer_status.ok()) {
    Say("ingestion failed: " + consumer_status.message());
    return kExitRuntime;
  }
  Say("stopped cleanly");
  return kExitOk;
}

}  // namespace tally
