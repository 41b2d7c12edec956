// Ingestion throughput, broker -> tally -> store, beside two ceilings from the
// same run on the same data:
//   bare:     a bare librdkafka consumer on the same broker that only takes
//             the messages (what Kafka itself allows);
//   no kafka: the same decode + store path fed from memory, in batches of the
//             consumer's size (what the store allows).
// By default the stream is produced before the readers start (pre-produced):
// the measured phase is then what tally's path does (fetch, decode, apply,
// write) and not the bench's producer, which would otherwise share the cores.
// The embedded broker keeps only ~5 MiB a partition and drops the oldest
// messages beyond that, read or not, so the topic gets as many partitions as
// keep each one within kPreProducedBytes (4.5 MiB), and the bench checks after
// producing that every message is still there. With `live`, the stream is
// produced while it is consumed (8 partitions), the producer bounded by the
// reader's progress partition by partition: it never holds more than
// kWindowBytes of one partition that the reader has not yet taken (tally:
// applied, as stored with its offsets; bare: consumed). Rounds interleave the
// three; each round is printed and the best of each is compared. Run for
// single-event messages and for messages of 100-event arrays. A run that makes
// no progress for 60 s ends the bench with exit 1.
//
// Usage: kafka_bench [events=400000] [rounds=2] [tally|bare|memory] [live]
// With tally, bare or memory, just that run, rounds times, and for tally and
// memory a breakdown by thread (CPU seconds, context switches) of each run: for
// profiling (`perf record -g -- kafka_bench 400000 3 tally`).

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "aggregate/store.h"
#include "bench/csv_out.h"
#include "ingest/consumer.h"
#include "ingest/decode.h"
#include "ingest/delivery.h"
#include "ingest/dev_broker.h"
#include "ingest/workload.h"
#include "tests/ingest/kafka_test_util.h"

namespace {

using namespace tally;
using Clock = std::chrono::steady_clock;

// Partitions of a live run, and the fewest of a pre-produced one.
constexpr int kLivePartitions = 8;
constexpr int kMaxPartitions = 1024;
// The embedded broker keeps 5 MiB of record batches a partition (librdkafka's
// mock: max_size) and drops the oldest batches beyond it, so it always holds at
// least 5 MiB less one produce batch (batch.size, 1 MB) of the newest data. A
// window of 3.5 MiB, counted as key + value + kRecordOverhead per message (more
// than a record's real framing), keeps every unread message there; a smaller one
// (2.5 MiB) capped the bare consumer at ~2,850 100-event messages/s.
constexpr uint64_t kWindowBytes = uint64_t{7} << 20 >> 1;
constexpr uint64_t kRecordOverhead = 32;
// A pre-produced partition has no reader to wait for and is produced once, so it
// may come closer to the 5 MiB (the bench checks afterwards that the broker
// kept every message): fewer partitions, as a real topic would have.
constexpr uint64_t kPreProducedBytes = uint64_t{9} << 20 >> 1;
constexpr auto kStallLimit = std::chrono::seconds(60);

// Waits until done() or until `progress()` has not moved for kStallLimit. Looks
// every 2 ms: a run lasts seconds, and each wakeup takes CPU from what is measured.
template <class Done, class Progress>
void WaitFor(const char* what, Done done, Progress progress, const std::function<void()>& sample = {}) {
  uint64_t last = progress();
  auto moved = Clock::now();
  while (!done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (sample) sample();
    if (const uint64_t now = progress(); now != last) {
      last = now;
      moved = Clock::now();
    } else if (Clock::now() - moved > kStallLimit) {
      std::fprintf(stderr, "kafka_bench: %s made no progress for 60 s at %llu; giving up\n", what,
                   static_cast<unsigned long long>(now));
      std::exit(1);
    }
  }
}

// CPU seconds used by the whole process so far (every thread, the embedded
// broker's included).
double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// A store directory of this process's own: two benches at once (another
// session's, say) must not remove each other's stores mid-run.
std::string StoreDir(const std::string& name) {
  return "build/bench-data/" + name + "-" + std::to_string(getpid());
}

// Per thread name (rdk:broker1, tally:write, ...): CPU seconds and context
// switches, summed over the process's threads of that name, from /proc.
struct ThreadUse {
  double cpu = 0;
  uint64_t voluntary = 0, involuntary = 0;
};
using ThreadUses = std::map<int, std::pair<std::string, ThreadUse>>;  // by tid

ThreadUses ReadThreadUses() {
  ThreadUses uses;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    const int tid = std::atoi(task.path().filename().c_str());
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::string name = line.substr(open + 1, close - open - 1);
    // Numbered threads of one kind (rdk:broker1, rdk:broker2) are one line.
    while (!name.empty() && std::isdigit(static_cast<unsigned char>(name.back()))) name.pop_back();
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    ThreadUse use;
    for (int i = 3; fields >> field; ++i) {
      if (i == 14 || i == 15) use.cpu += std::strtod(field.c_str(), nullptr) / tick;  // utime, stime
    }
    std::ifstream status(task.path() / "status");
    while (std::getline(status, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) use.voluntary = std::strtoull(line.c_str() + 24, nullptr, 10);
      if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        use.involuntary = std::strtoull(line.c_str() + 27, nullptr, 10);
      }
    }
    uses[tid] = {name, use};
  }
  return uses;
}

// What each kind of thread used between two readings (threads that started in
// between count from zero).
void PrintThreadUses(const ThreadUses& before, const ThreadUses& after, uint64_t events, double seconds) {
  std::map<std::string, ThreadUse> by_name;
  for (const auto& [tid, entry] : after) {
    ThreadUse d = entry.second;
    if (auto it = before.find(tid); it != before.end()) {
      d.cpu -= it->second.second.cpu;
      d.voluntary -= it->second.second.voluntary;
      d.involuntary -= it->second.second.involuntary;
    }
    ThreadUse& sum = by_name[entry.first];
    sum.cpu += d.cpu;
    sum.voluntary += d.voluntary;
    sum.involuntary += d.involuntary;
  }
  std::printf("      %-18s %8s %8s %12s %12s %10s\n", "thread", "cpu s", "cores", "voluntary cs", "involunt. cs",
              "ns/event");
  for (const auto& [name, u] : by_name) {
    if (u.cpu < 0.005 && u.voluntary + u.involuntary < 10) continue;
    std::printf("      %-18s %8.2f %8.2f %12llu %12llu %10.0f\n", name.c_str(), u.cpu, u.cpu / seconds,
                static_cast<unsigned long long>(u.voluntary), static_cast<unsigned long long>(u.involuntary),
                u.cpu * 1e9 / static_cast<double>(events));
  }
}

// A run's throughput and the CPU cores the process kept busy meanwhile.
struct Figure {
  double rate = 0;
  double cores = 0;
  double batch_events = 0;  // events per store batch (tally, memory)
};

Figure Measure(uint64_t events, Clock::time_point start, double cpu_at_start, uint64_t batches = 0) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return Figure{static_cast<double>(events) / seconds, (CpuSeconds() - cpu_at_start) / seconds,
                batches ? static_cast<double>(events) / static_cast<double>(batches) : 0};
}

// Messages keyed by annotation request, as `tally produce` and the platform send
// them, so each request's single events stay in order in one partition (an
// array is keyed by its first event's request: ingest/delivery.h). The bench
// chooses the partition (a hash of the key) so that it knows, before producing,
// which partition's window a message counts in.
struct Stream {
  int partitions = 0;
  std::vector<Message> messages;
  std::vector<int32_t> partition;  // per message
  std::vector<int64_t> offset;     // per message: its offset in its partition (topics start empty)
  // ends[p][k]: bytes of the first k messages of partition p (as counted in the window).
  std::vector<std::vector<uint64_t>> ends;
  uint64_t events = 0;
  uint64_t bytes = 0;

  // Spreads the messages over `n` partitions by a hash of their keys.
  void Partition(int n) {
    partitions = n;
    partition.clear();
    offset.clear();
    ends.assign(static_cast<size_t>(n), std::vector<uint64_t>{0});
    for (const Message& m : messages) {
      const auto p = static_cast<int32_t>(std::hash<std::string>{}(m.key) % static_cast<size_t>(n));
      partition.push_back(p);
      offset.push_back(static_cast<int64_t>(ends[p].size() - 1));
      ends[p].push_back(ends[p].back() + m.key.size() + m.value.size() + kRecordOverhead);
    }
  }
  // Whether every partition fits in `bytes` whole.
  bool Fits(uint64_t bytes) const {
    return std::all_of(ends.begin(), ends.end(), [&](const auto& e) { return e.back() <= bytes; });
  }
};

// Per partition, the offset of the first message the reader has not taken yet.
using Positions = std::vector<int64_t>;

// The batches tally's consumer applied, in order: each one's next offset per
// partition it took messages from (Consumer's on_applied).
using ConsumedBatches = std::vector<std::vector<PartitionOffset>>;

// `live`: kLivePartitions; pre-produced: the fewest (doubling from kLivePartitions)
// that hold each partition within kPreProducedBytes.
Stream MakeStream(uint64_t events, uint32_t per_message, bool live) {
  // Small requests, many at work at once (as on the platform): their keys
  // spread over every partition.
  WorkloadOptions workload;
  workload.requests = 20'000;
  workload.tasks_per_request = 20;
  DeliveryOptions delivery;
  delivery.events = events;
  delivery.per_message = per_message;
  Delivery source(workload, delivery);
  Stream s;
  for (Message m; source.Next(&m);) {
    s.events += m.events;
    s.bytes += m.value.size();
    s.messages.push_back(std::move(m));
  }
  s.Partition(kLivePartitions);
  while (!live && !s.Fits(kPreProducedBytes)) {
    if (s.partitions * 2 > kMaxPartitions) {
      std::fprintf(stderr, "kafka_bench: %llu events do not fit the embedded broker in %d partitions; use fewer\n",
                   static_cast<unsigned long long>(events), kMaxPartitions);
      std::exit(2);
    }
    s.Partition(s.partitions * 2);
  }
  return s;
}

// Produces the stream to `topic`, never more than kWindowBytes of a partition
// ahead of the reader's position there: `positions(&next)` fills in where the
// reader is (asked again only when a message would go beyond the window). No
// `positions`: pre-produced, no reader yet; every partition fits kPreProducedBytes.
void Produce(const std::string& bootstrap, const std::string& topic, const Stream& s,
             const std::function<void(Positions*)>& positions) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "linger.ms", "5", nullptr, 0);
  rd_kafka_conf_set(conf, "batch.num.messages", "10000", nullptr, 0);
  rd_kafka_conf_set(conf, "batch.size", "1000000", nullptr, 0);  // what kWindowBytes allows for
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, nullptr, 0);
  pthread_setname_np(pthread_self(), "bench:produce");  // apart from tally's threads in the breakdown
  Positions read(static_cast<size_t>(s.partitions), 0);
  for (size_t i = 0; i < s.messages.size(); ++i) {
    const int32_t p = s.partition[i];
    const auto& ends = s.ends[p];
    // Waiting in 1 ms steps: the bench's own wakeups would otherwise take CPU
    // from the consumer it measures.
    while (positions && ends[s.offset[i] + 1] - ends[std::min<size_t>(read[p], ends.size() - 1)] > kWindowBytes) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      positions(&read);
    }
    const Message& m = s.messages[i];
    while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(p),
                             RD_KAFKA_V_KEY(const_cast<char*>(m.key.data()), m.key.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
                             RD_KAFKA_V_END) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer, 1);
    }
    rd_kafka_poll(producer, 0);
  }
  rd_kafka_flush(producer, 60'000);
  // Every message must still be there: a partition that lost its oldest ones
  // would stall its reader (or, pre-produced, shorten the run).
  for (int p = 0; p < s.partitions; ++p) {
    int64_t low = -1, high = -1;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(producer, topic.c_str(), p, &low, &high, 10'000);
    const auto expected = static_cast<int64_t>(s.ends[p].size() - 1);
    if (err || high != expected || (low != 0 && !positions)) {
      std::fprintf(stderr, "kafka_bench: %s partition %d holds offsets %lld..%lld, not 0..%lld (%s)\n", topic.c_str(), p,
                   static_cast<long long>(low), static_cast<long long>(high), static_cast<long long>(expected),
                   rd_kafka_err2str(err));
      std::exit(1);
    }
  }
  rd_kafka_destroy(producer);
}

// A topic holding the whole stream, produced before any reader starts: every
// partition fits the window, so the broker keeps all of it.
std::string PreProduce(DevBroker& broker, const Stream& s, uint32_t per_message) {
  const std::string topic = "stream-" + std::to_string(per_message);
  (void)broker.CreateTopic(topic, s.partitions);
  std::thread producer([&] { Produce(broker.bootstrap(), topic, s, nullptr); });  // names its thread
  producer.join();
  return topic;
}

// `topic`: the pre-produced stream; empty: produced to a topic of the run's own
// while tally reads it.
// `sampler` (if any) gets the events applied as the run goes: throughput over time.
// `consumed` (if any) gets the batches tally's consumer applied, in order.
Figure RunTally(DevBroker& broker, const Stream& s, std::string topic, int round, bool by_thread = false,
                bench::RateSampler* sampler = nullptr, ConsumedBatches* consumed = nullptr) {
  const bool live = topic.empty();
  if (live) {
    topic = "tally-" + std::to_string(round);
    (void)broker.CreateTopic(topic, s.partitions);
  }
  const std::string dir = StoreDir("kafka-store");
  std::filesystem::remove_all(dir);
  Figure figure;
  {
    auto store = Store::Open(StoreOptions{dir, size_t{256} << 20, false, {}});
    if (!store) std::exit(1);
    ConsumerOptions options;
    options.brokers = broker.bootstrap();
    options.topic = topic;
    options.group = "bench-tally-" + std::to_string(round);  // a fresh group joins at once, reads from the start
    if (consumed) {
      // On the consumer's thread, read here only after it has stopped.
      options.on_applied = [consumed](std::span<const PartitionOffset> next) {
        consumed->emplace_back(next.begin(), next.end());
      };
    }
    auto consumer = Consumer::Create(options, store->get());
    if (!consumer) std::exit(1);
    const ConsumerCounters& c = (*consumer)->counters();
    // Run() returns early only on an error that stops ingestion: the bench ends there.
    std::thread run([&] {
      if (const Status status = (*consumer)->Run(); !status.ok()) {
        std::fprintf(stderr, "kafka_bench: tally's consumer stopped: %s\n", status.ToString().c_str());
        std::exit(1);
      }
    });
    WaitFor("tally joining the group", [&] { return c.ready.load(); }, [] { return uint64_t{0}; });
    const ThreadUses threads_before = by_thread ? ReadThreadUses() : ThreadUses{};
    const uint64_t batches_before = c.apply_batch_seconds.Read().count();
    const auto start = Clock::now();
    const double cpu = CpuSeconds();
    if (sampler) sampler->Start();
    // tally's position: the offsets stored with its last durable batch.
    std::thread producer;
    if (live) {
      producer = std::thread([&] {
        Produce(broker.bootstrap(), topic, s, [&](Positions* read) {
          auto offsets = (*store)->Offsets(topic);
          if (!offsets) return;
          for (const PartitionOffset& o : *offsets) {
            if (Raw(o.partition) >= 0 && Raw(o.partition) < s.partitions) (*read)[Raw(o.partition)] = Raw(o.next);
          }
        });
      });
    }
    auto applied = [&] { return c.applied.load() + c.duplicates.load(); };
    WaitFor("tally", [&] { return applied() >= s.events; }, [&] { return c.consumed.load(); },
            [&] { if (sampler) sampler->Tick(applied()); });
    if (sampler) sampler->Finish(applied());
    figure = Measure(s.events, start, cpu, c.apply_batch_seconds.Read().count() - batches_before);
    if (by_thread) {
      PrintThreadUses(threads_before, ReadThreadUses(), s.events,
                      std::chrono::duration<double>(Clock::now() - start).count());
    }
    if (producer.joinable()) producer.join();
    (*consumer)->Stop();
    run.join();
  }
  std::filesystem::remove_all(dir);
  return figure;
}

// The consumer's path without Kafka: the same messages decoded and submitted in
// batches, with offsets as the consumer would record. `as_consumed` null: in the
// order they were produced, in batches of the consumer's size; else exactly the
// batches tally's consumer made of them in a Kafka run (a part of a huge array,
// which tally applies with its offset still at the message, goes whole in the
// batch that moves past it).
Figure RunNoKafka(const Stream& s, bool by_thread = false, bench::RateSampler* sampler = nullptr,
                  const ConsumedBatches* as_consumed = nullptr) {
  const std::string dir = StoreDir("kafka-nokafka-store");
  std::filesystem::remove_all(dir);
  Figure figure;
  {
    auto store = Store::Open(StoreOptions{dir, size_t{256} << 20, false, {}});
    if (!store) std::exit(1);
    const size_t batch_events = ConsumerOptions{}.batch_events;
    Decoder decoder;
    Batch batch;
    std::map<Partition, Offset> next;
    uint64_t applied = 0, batches = 0;
    const ThreadUses threads_before = by_thread ? ReadThreadUses() : ThreadUses{};
    const auto start = Clock::now();
    const double cpu = CpuSeconds();
    if (sampler) sampler->Start();
    auto submit = [&] {
      batch.topic = "bench";
      for (const auto& [partition, offset] : next) batch.next_offsets.push_back({partition, offset});
      next.clear();
      ++batches;
      auto previous = (*store)->Submit(&batch);
      if (!previous) std::exit(1);
      if (*previous) applied += (*previous)->applied + (*previous)->duplicates;
      if (sampler) sampler->Tick(applied);
    };
    auto decode = [&](size_t i) {
      const Partition partition{s.partition[i]};
      const Offset offset{s.offset[i]};
      decoder.Decode(s.messages[i].value, Origin{partition, offset}, &batch.events);
      next[partition] = offset + 1;
    };
    if (as_consumed) {
      // Messages by partition and offset (topics start empty: offsets count from 0).
      std::vector<std::vector<size_t>> by_partition(static_cast<size_t>(s.partitions));
      for (size_t i = 0; i < s.messages.size(); ++i) by_partition[s.partition[i]].push_back(i);
      std::vector<size_t> taken(by_partition.size(), 0);
      for (const std::vector<PartitionOffset>& consumed : *as_consumed) {
        for (const PartitionOffset& o : consumed) {
          const auto p = static_cast<size_t>(Raw(o.partition));
          while (taken[p] < by_partition[p].size() && static_cast<int64_t>(taken[p]) < Raw(o.next)) {
            decode(by_partition[p][taken[p]++]);
          }
        }
        if (batch.events.size() > 0) submit();
      }
    } else {
      for (size_t i = 0; i < s.messages.size(); ++i) {
        decode(i);
        if (batch.events.size() >= batch_events) submit();
      }
    }
    if (batch.events.size() > 0) submit();
    auto last = (*store)->Flush();
    if (!last) std::exit(1);
    if (*last) applied += (*last)->applied + (*last)->duplicates;
    if (sampler) sampler->Finish(applied);
    figure = Measure(s.events, start, cpu, batches);
    if (by_thread) {
      PrintThreadUses(threads_before, ReadThreadUses(), s.events,
                      std::chrono::duration<double>(Clock::now() - start).count());
    }
    if (applied != s.events) {
      std::fprintf(stderr, "kafka_bench: the store applied %llu of %llu events\n",
                   static_cast<unsigned long long>(applied), static_cast<unsigned long long>(s.events));
      std::exit(1);
    }
  }
  std::filesystem::remove_all(dir);
  return figure;
}

// `topic`: the pre-produced stream; empty: produced to a topic of the run's own
// while the bare consumer reads it.
Figure RunBare(DevBroker& broker, const Stream& s, std::string topic, int round,
               bench::RateSampler* sampler = nullptr) {
  const bool live = topic.empty();
  if (live) {
    topic = "bare-" + std::to_string(round);
    (void)broker.CreateTopic(topic, s.partitions);
  }
  rd_kafka_t* consumer = testing::SubscribeBareConsumer(broker.bootstrap(), "bench-bare-" + std::to_string(round),
                                                        topic, ConsumerFetchSettings());
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer);
  // The next offset of each partition this consumer has taken from its queue.
  std::vector<std::atomic<int64_t>> next(static_cast<size_t>(s.partitions));
  uint64_t messages = 0;
  rd_kafka_message_t* batch[1000];
  auto take = [&](ssize_t n) {
    for (ssize_t i = 0; i < n; ++i) {
      if (!batch[i]->err) {
        if (batch[i]->partition >= 0 && batch[i]->partition < s.partitions) {
          next[batch[i]->partition].store(batch[i]->offset + 1, std::memory_order_relaxed);
        }
        ++messages;
      }
      rd_kafka_message_destroy(batch[i]);
    }
  };
  // Wait for the assignment as tally's run waits for readiness (a message
  // that comes meanwhile counts).
  const auto joining = Clock::now();
  for (rd_kafka_topic_partition_list_t* assigned = nullptr;;) {
    take(rd_kafka_consume_batch_queue(queue, 10, batch, 1));
    rd_kafka_assignment(consumer, &assigned);
    const bool ready = assigned->cnt > 0;
    rd_kafka_topic_partition_list_destroy(assigned);
    if (ready) break;
    if (Clock::now() - joining > kStallLimit) {
      std::fprintf(stderr, "kafka_bench: the bare consumer got no assignment in 60 s\n");
      std::exit(1);
    }
  }
  const auto start = Clock::now();
  const double cpu = CpuSeconds();
  if (sampler) sampler->Start();
  std::thread producer;
  if (live) {
    producer = std::thread([&] {
      Produce(broker.bootstrap(), topic, s, [&](Positions* read) {
        for (int p = 0; p < s.partitions; ++p) (*read)[p] = next[p].load(std::memory_order_relaxed);
      });
    });
  }
  auto moved = Clock::now();
  while (messages < s.messages.size()) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch, 1000);
    if (n > 0) {
      moved = Clock::now();
    } else if (Clock::now() - moved > kStallLimit) {
      std::fprintf(stderr, "kafka_bench: the bare consumer made no progress for 60 s\n");
      std::exit(1);
    }
    take(n);
    if (sampler) sampler->Tick(messages * s.events / s.messages.size());
  }
  if (sampler) sampler->Finish(s.events);
  const Figure figure = Measure(s.events, start, cpu);
  if (producer.joinable()) producer.join();
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return figure;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t events = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 400'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 2;
  std::string only;
  bool live = false;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "live") {
      live = true;
    } else if (arg == "tally" || arg == "bare" || arg == "memory") {
      only = arg;
    } else {
      std::fprintf(stderr, "kafka_bench: expected tally, bare, memory or live, not \"%s\"\n", arg.c_str());
      return 2;
    }
  }
  auto broker = DevBroker::Start(1);
  if (!broker) return 1;
  std::printf("kafka: %llu events per run, %s, embedded broker, consumer settings:",
              static_cast<unsigned long long>(events),
              live ? "produced while consumed (live)" : "produced before the readers start");
  for (const auto& [k, v] : ConsumerFetchSettings()) std::printf(" %s=%s", k.c_str(), v.c_str());
  std::printf("\n");
  int round = 0;
  // Figures as CSV and SVG (bench/csv_out.h): the ratios, and each full run's
  // throughput over time, per message size.
  std::optional<bench::CsvOut> ratios;
  if (only.empty()) ratios.emplace("kafka_bench", "figure,tally,ceiling,unit");
  for (uint32_t per_message : {1u, 100u}) {
    const std::string size = std::to_string(per_message) + (per_message == 1 ? " event/msg" : " events/msg");
    std::optional<bench::CsvOut> over_time;
    if (only.empty()) {
      over_time.emplace("kafka_bench_" + std::to_string(per_message) + "_per_message" + (live ? "_live" : ""),
                        "series,seconds,events_per_s");
    }
    const Stream s = MakeStream(events, per_message, live);
    Figure tally, bare, no_kafka, as_batched;
    auto best = [](Figure& best, Figure f) {
      if (f.rate > best.rate) best = f;
    };
    std::printf("  %u event(s)/message (%zu messages, %.0f bytes/message, %d partitions):\n", per_message,
                s.messages.size(), static_cast<double>(s.bytes) / static_cast<double>(s.messages.size()),
                s.partitions);
    std::fflush(stdout);
    // Kafka runs only read this topic: each is a fresh group (and tally a fresh store).
    const std::string topic = live || only == "memory" ? "" : PreProduce(**broker, s, per_message);
    if (!only.empty()) {
      for (int r = 0; r < rounds; ++r) {
        const Figure f = only == "tally"  ? RunTally(**broker, s, topic, round++, true)
                         : only == "bare" ? RunBare(**broker, s, topic, round++)
                                          : RunNoKafka(s, true);
        std::printf("    round %d: %s %8.0f events/s, %.1f cores busy", r + 1, only.c_str(), f.rate, f.cores);
        if (f.batch_events > 0) std::printf(", %.0f events/batch", f.batch_events);
        std::printf("\n");
        std::fflush(stdout);
      }
      continue;
    }
    for (int r = 0; r < rounds; ++r) {
      const std::string suffix = " (round " + std::to_string(r + 1) + ")";
      bench::RateSampler n_samples(&*over_time, "without Kafka, produced order" + suffix);
      bench::RateSampler t_samples(&*over_time, "tally" + suffix);
      bench::RateSampler c_samples(&*over_time, "without Kafka, tally's batches" + suffix);
      bench::RateSampler b_samples(&*over_time, "bare consumer" + suffix);
      ConsumedBatches consumed;
      const Figure n = RunNoKafka(s, false, &n_samples);
      const Figure t = RunTally(**broker, s, topic, round++, false, &t_samples, &consumed);
      const Figure c = RunNoKafka(s, false, &c_samples, &consumed);
      const Figure b = RunBare(**broker, s, topic, round++, &b_samples);
      std::printf("    round %d: tally %8.0f, bare %8.0f, without Kafka %8.0f (produced order) %8.0f (tally's "
                  "batches) events/s: tally/without %.2f (produced order) %.2f (tally's batches); events/batch: "
                  "tally %.0f, produced order %.0f\n",
                  r + 1, t.rate, b.rate, n.rate, c.rate, t.rate / n.rate, t.rate / c.rate, t.batch_events,
                  n.batch_events);
      std::fflush(stdout);
      best(no_kafka, n);
      best(as_batched, c);
      best(tally, t);
      best(bare, b);
    }
    std::printf("    best of %d rounds:\n", rounds);
    std::printf("    tally (broker -> tally -> store) %8.0f events/s, %.1f cores busy\n", tally.rate, tally.cores);
    std::printf("    bare consumer                    %8.0f events/s (%.0f msgs/s), %.1f cores busy: ratio %.2f\n",
                bare.rate, bare.rate / static_cast<double>(per_message), bare.cores, tally.rate / bare.rate);
    std::printf("    same path without Kafka          %8.0f events/s, %.1f cores busy: ratio %.2f (issue 11: >= 0.8)\n",
                no_kafka.rate, no_kafka.cores, tally.rate / no_kafka.rate);
    std::printf("      in tally's batches             %8.0f events/s, %.1f cores busy: ratio %.2f\n", as_batched.rate,
                as_batched.cores, tally.rate / as_batched.rate);
    ratios->Ratio("tally / bare consumer (" + size + ")", tally.rate, bare.rate, "events/s");
    ratios->Ratio("tally / without Kafka (" + size + ")", tally.rate, no_kafka.rate, "events/s");
    ratios->Ratio("tally / without Kafka in tally's batches (" + size + ")", tally.rate, as_batched.rate, "events/s");
  }
  return 0;
}
