// `tally demo`: serve on the embedded broker, produce a generated workload into
// it, and once every event is applied print ready-to-paste curl commands for the
// three endpoints, with ids that exist. Then serve until Ctrl-C.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "aggregate/store.h"
#include "api/listen_address.h"
#include "app/commands.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kTasksPerRequest = 50;
// Events produced but not yet applied, at most: the embedded broker keeps only
// a few MiB per partition, so the producer must not run far ahead.
constexpr uint64_t kMaxBacklog = 40'000;
constexpr auto kApplyLimit = std::chrono::minutes(5);

void Say(const std::string& line) { std::fprintf(stderr, "tally demo: %s\n", line.c_str()); }

// The host part of a URL that reaches `listen` from this machine.
std::string UrlHost(const std::string& listen, uint16_t port) {
  Result<ListenAddress> parsed = ParseListenAddress(listen);
  std::string host = "127.0.0.1";
  if (parsed && !parsed->address.is_unspecified()) {
    host = parsed->address.is_v6() ? "[" + parsed->address.to_string() + "]" : parsed->address.to_string();
  } else if (parsed && parsed->address.is_v6()) {
    host = "[::1]";
  }
  return "http://" + host + ":" + std::to_string(port);
}

// The curl commands, with the first task of the first request.
void PrintCommands(const std::string& base, const Store& store, const Workload& workload, const ProduceTotals& sent) {
  const std::string request = workload.RequestId(0);
  const ReadView view = store.Snapshot();
  Result<std::optional<TaskPage>> page = store.Tasks(view, request, Page{1, 1});
  TaskView task;
  Status decoded = page && *page && !(*page)->empty() ? (*page)->Decode(0, &task) : Status::OK();
  if (!page || !*page || (*page)->empty() || !decoded.ok() || !task.scene_id) {
    Say("cannot find a task of request " + request + " to show; the store answers " +
        (!page ? page.error().ToString() : !decoded.ok() ? decoded.ToString() : std::string("no such task")));
    return;
  }
  const StoreTotals totals = store.totals();
  std::printf(
      "\ntally demo: %llu events (%llu of them sent twice, some out of order) are in: %llu records, %llu tasks,\n"
      "%llu annotation requests. Try:\n\n"
      "  curl -s '%s/statistics?annotationRequestId=%s&pageSize=2'\n"
      "  curl -s '%s/statistics/record?annotationRequestId=%s&limit=2'\n"
      "  curl -s -X POST %s/task/get -H 'Content-Type: application/json' "
      "-d '{\"campaignId\":\"%s\",\"annotationRequestId\":\"%s\",\"sceneId\":\"%s\"}'\n"
      "  curl -s %s/metrics\n\n"
      "Serving until Ctrl-C.\n",
      static_cast<unsigned long long>(sent.events), static_cast<unsigned long long>(sent.events - sent.distinct),
      static_cast<unsigned long long>(totals.records), static_cast<unsigned long long>(totals.tasks),
      static_cast<unsigned long long>(totals.requests), base.c_str(), request.c_str(), base.c_str(), request.c_str(),
      base.c_str(), task.campaign_id.c_str(), request.c_str(), task.scene_id->value.c_str(), base.c_str());
  std::fflush(stdout);
}

}  // namespace

int RunDemo(const DemoFlags& flags) {
  // A store of an earlier demo holds the offsets of a broker that is gone; the
  // new broker starts empty, so the demo needs a store of its own.
  std::string data_dir = flags.data_dir;
  bool temporary = false;
  std::error_code ec;
  if (data_dir.empty()) {
    char pattern[] = "/tmp/tally-demo-XXXXXX";
    if (!mkdtemp(pattern)) {
      Say("cannot create a temporary data dir in /tmp");
      return kExitRuntime;
    }
    data_dir = pattern;
    temporary = true;
  } else if (std::filesystem::exists(data_dir, ec) && !std::filesystem::is_empty(data_dir, ec)) {
    Say("--data-dir " + data_dir + " is not empty: the demo's broker starts empty each time, so give a new directory");
    return kExitUsage;
  }

  ServeConfig serve;
  serve.data_dir = data_dir;
  serve.listen = flags.listen;
  serve.group = "tally-demo";
  serve.memory_mb = 256;

  ProduceFlags produce;
  produce.topic = serve.topic;
  produce.workload.seed = flags.seed;
  produce.workload.tasks_per_request = kTasksPerRequest;
  // ~10 events a task (8 counted, for a margin): enough requests that the
  // workload outlasts --events.
  produce.workload.requests = static_cast<uint32_t>(flags.events / (kTasksPerRequest * 8) + 1);
  produce.delivery.events = flags.events;
  produce.delivery.duplicates = 0.02;
  produce.delivery.out_of_order = 50;

  std::atomic<bool> stop{false};
  std::atomic<const Store*> store{nullptr};
  std::atomic<bool> produced{false};
  ProduceTotals sent;
  Status produce_status;
  std::thread producer, announcer;

  ServeHooks hooks;
  hooks.on_broker = [&](const std::string& brokers) {
    produce.brokers = brokers;
    producer = std::thread([&] {
      ProduceControl control;
      control.stop = &stop;
      control.progress = false;
      control.pace = [&](uint64_t distinct) {
        for (;;) {
          const Store* s = store.load();
          if (stop || (s && distinct < s->totals().records + kMaxBacklog) || (!s && distinct < kMaxBacklog)) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      };
      Result<ProduceTotals> done = Produce(produce, control);
      if (done) sent = *done;
      else produce_status = done.error();
      produced = true;
    });
    Say("producing " + std::to_string(flags.events) + " events (annotation requests of " +
        std::to_string(kTasksPerRequest) + " tasks, seed " + std::to_string(flags.seed) + ") into it");
  };
  hooks.on_serving = [&](uint16_t port, const Store& serving) {
    store = &serving;
    announcer = std::thread([&, port] {
      const auto give_up = Clock::now() + kApplyLimit;
      while (!stop && !produced) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (stop) return;
      if (!produce_status.ok()) {
        Say("producing failed: " + produce_status.ToString());
        return;
      }
      while (!stop && store.load()->totals().records < sent.distinct && Clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (stop) return;
      if (store.load()->totals().records < sent.distinct) {
        Say("only " + std::to_string(store.load()->totals().records) + " of " + std::to_string(sent.distinct) +
            " events were applied in 5 minutes; see the log above");
        return;
      }
      PrintCommands(UrlHost(flags.listen, port), *store.load(), Workload(produce.workload), sent);
    });
  };
  hooks.on_stopping = [&] {
    stop = true;
    if (producer.joinable()) producer.join();
    if (announcer.joinable()) announcer.join();
  };

  const int code = RunServe(serve, hooks);
  if (temporary) std::filesystem::remove_all(data_dir, ec);
  return code;
}

}  // namespace tally
