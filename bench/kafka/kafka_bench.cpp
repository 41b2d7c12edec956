// Ingestion throughput, broker -> tally -> store, beside two ceilings from the
// same run on the same data:
//   bare:     a bare librdkafka consumer on the same broker that only counts
//             bytes (what Kafka itself allows);
//   no kafka: the same decode + store path fed from memory, batch for batch as
//             the consumer batches (what the store allows).
// The Kafka runs read a stream produced while they consume (the embedded broker
// keeps only a few MiB per partition, so the producer stays a bounded backlog
// ahead of the consumer it feeds). Rounds interleave the three; the best of each
// is compared. Run for single-event messages and for messages of 100-event
// arrays. A run that makes no progress for 60 s ends the bench with exit 1.
//
// Usage: kafka_bench [events=400000] [rounds=2]

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "aggregate/store.h"
#include "ingest/consumer.h"
#include "ingest/decode.h"
#include "ingest/dev_broker.h"
#include "ingest/event_json.h"
#include "ingest/workload.h"

namespace {

using namespace tally;
using Clock = std::chrono::steady_clock;

constexpr int kPartitions = 8;
constexpr uint64_t kBacklogBytes = 16 << 20;  // well under 8 x 5 MiB
constexpr auto kStallLimit = std::chrono::seconds(60);

// tally's own fetch settings (its defaults), given to the bare consumer too.
const std::vector<std::pair<std::string, std::string>> kConsumerSettings = {
    {"fetch.wait.max.ms", "10"}, {"queued.min.messages", "1000000"}, {"enable.partition.eof", "false"}};

// Waits until done() or until `progress()` has not moved for kStallLimit.
template <class Done, class Progress>
void WaitFor(const char* what, Done done, Progress progress) {
  uint64_t last = progress();
  auto moved = Clock::now();
  while (!done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
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

struct Stream {
  std::vector<std::string> messages;
  uint64_t events = 0;
  uint64_t bytes = 0;
};

Stream MakeStream(uint64_t events, size_t per_message) {
  WorkloadOptions options;
  options.requests = 2000;
  options.tasks_per_request = 1000;
  Workload workload(options);
  Stream s;
  TaskAction a;
  std::string message;
  size_t in_message = 0;
  while (s.events < events && workload.Next(&a)) {
    if (per_message > 1) message += in_message == 0 ? "[" : ",";
    AppendEventJson(a, &message);
    ++s.events;
    if (++in_message == per_message || s.events == events) {
      if (per_message > 1) message += "]";
      s.bytes += message.size();
      s.messages.push_back(std::move(message));
      message.clear();
      in_message = 0;
    }
  }
  return s;
}

// Produces the stream to `topic`, never more than kBacklogBytes ahead of what
// `consumed_bytes()` says has been read.
template <class Consumed>
void Produce(const std::string& bootstrap, const std::string& topic, const Stream& s, Consumed consumed_bytes) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "linger.ms", "5", nullptr, 0);
  rd_kafka_conf_set(conf, "batch.num.messages", "10000", nullptr, 0);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, nullptr, 0);
  uint64_t sent = 0;
  for (size_t i = 0; i < s.messages.size(); ++i) {
    while (sent > consumed_bytes() + kBacklogBytes) std::this_thread::sleep_for(std::chrono::microseconds(200));
    const std::string& m = s.messages[i];
    while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()),
                             RD_KAFKA_V_PARTITION(static_cast<int32_t>(i % kPartitions)),
                             RD_KAFKA_V_VALUE(const_cast<char*>(m.data()), m.size()), RD_KAFKA_V_END) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer, 1);
    }
    sent += m.size();
    rd_kafka_poll(producer, 0);
  }
  rd_kafka_flush(producer, 60'000);
  rd_kafka_destroy(producer);
}

double RunTally(DevBroker& broker, const Stream& s, int round) {
  const std::string topic = "tally-" + std::to_string(round);
  (void)broker.CreateTopic(topic, kPartitions);
  const std::string dir = "build/bench-data/kafka-store";
  std::filesystem::remove_all(dir);
  double seconds = 0;
  {
    auto store = Store::Open(StoreOptions{dir, size_t{256} << 20, false, {}});
    if (!store) std::exit(1);
    ConsumerOptions options;
    options.brokers = broker.bootstrap();
    options.topic = topic;
    options.group = "bench-tally-" + std::to_string(round);  // a fresh group joins at once
    auto consumer = Consumer::Create(options, store->get());
    if (!consumer) std::exit(1);
    const ConsumerCounters& c = (*consumer)->counters();
    std::thread run([&] { (void)(*consumer)->Run(); });
    WaitFor("tally joining the group", [&] { return c.ready.load(); }, [] { return uint64_t{0}; });
    const double bytes_per_event = static_cast<double>(s.bytes) / static_cast<double>(s.events);
    const auto start = Clock::now();
    std::thread producer([&] {
      Produce(broker.bootstrap(), topic, s, [&] { return static_cast<uint64_t>(c.consumed * bytes_per_event); });
    });
    WaitFor("tally", [&] { return c.applied + c.duplicates >= s.events; }, [&] { return c.consumed.load(); });
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    producer.join();
    (*consumer)->Stop();
    run.join();
  }
  std::filesystem::remove_all(dir);
  return static_cast<double>(s.events) / seconds;
}

// The consumer's path without Kafka: the same messages decoded and submitted in
// batches of the consumer's size, with offsets as the consumer would record.
double RunNoKafka(const Stream& s) {
  const std::string dir = "build/bench-data/kafka-nokafka-store";
  std::filesystem::remove_all(dir);
  double seconds = 0;
  {
    auto store = Store::Open(StoreOptions{dir, size_t{256} << 20, false, {}});
    if (!store) std::exit(1);
    const size_t batch_events = ConsumerOptions{}.batch_events;
    Decoder decoder;
    DecodedEvents batches[2];
    std::map<int32_t, int64_t> next[2];
    int filling = 0;
    uint64_t applied = 0;
    const auto start = Clock::now();
    auto submit = [&] {
      std::vector<PartitionOffset> offsets;
      for (const auto& [partition, offset] : next[filling]) offsets.push_back({partition, offset});
      auto previous = (*store)->Submit(
          ApplyBatch{batches[filling].actions(), batches[filling].rejections(), "bench", offsets});
      if (!previous) std::exit(1);
      if (*previous) applied += (*previous)->applied + (*previous)->duplicates;
      filling ^= 1;
      batches[filling].clear();
      next[filling].clear();
    };
    for (size_t i = 0; i < s.messages.size(); ++i) {
      const auto partition = static_cast<int32_t>(i % kPartitions);
      const auto offset = static_cast<int64_t>(i / kPartitions);
      decoder.Decode(s.messages[i], Origin{partition, offset}, &batches[filling]);
      next[filling][partition] = offset + 1;
      if (batches[filling].size() >= batch_events) submit();
    }
    if (batches[filling].size() > 0) submit();
    auto last = (*store)->Flush();
    if (!last) std::exit(1);
    if (*last) applied += (*last)->applied + (*last)->duplicates;
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (applied != s.events) {
      std::fprintf(stderr, "kafka_bench: the store applied %llu of %llu events\n",
                   static_cast<unsigned long long>(applied), static_cast<unsigned long long>(s.events));
      std::exit(1);
    }
  }
  std::filesystem::remove_all(dir);
  return static_cast<double>(s.events) / seconds;
}

double RunBare(DevBroker& broker, const Stream& s, int round) {
  const std::string topic = "bare-" + std::to_string(round);
  (void)broker.CreateTopic(topic, kPartitions);
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", broker.bootstrap().c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "group.id", ("bench-bare-" + std::to_string(round)).c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", nullptr, 0);
  for (const auto& [k, v] : kConsumerSettings) rd_kafka_conf_set(conf, k.c_str(), v.c_str(), nullptr, 0);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, nullptr, 0);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer);
  // Wait for the assignment as tally's run waits for readiness.
  const auto joining = Clock::now();
  for (rd_kafka_topic_partition_list_t* assigned = nullptr;;) {
    rd_kafka_message_t* m = rd_kafka_consume_queue(queue, 10);
    if (m) rd_kafka_message_destroy(m);
    rd_kafka_assignment(consumer, &assigned);
    const bool ready = assigned->cnt > 0;
    rd_kafka_topic_partition_list_destroy(assigned);
    if (ready) break;
    if (Clock::now() - joining > kStallLimit) {
      std::fprintf(stderr, "kafka_bench: the bare consumer got no assignment in 60 s\n");
      std::exit(1);
    }
  }
  std::atomic<uint64_t> bytes{0};
  uint64_t messages = 0;
  const auto start = Clock::now();
  std::thread producer([&] { Produce(broker.bootstrap(), topic, s, [&] { return bytes.load(); }); });
  rd_kafka_message_t* batch[1000];
  auto moved = Clock::now();
  while (messages < s.messages.size()) {
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch, 1000);
    if (n > 0) {
      moved = Clock::now();
    } else if (Clock::now() - moved > kStallLimit) {
      std::fprintf(stderr, "kafka_bench: the bare consumer made no progress for 60 s\n");
      std::exit(1);
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (!batch[i]->err) {
        bytes += batch[i]->len;
        ++messages;
      }
      rd_kafka_message_destroy(batch[i]);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  producer.join();
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return static_cast<double>(s.events) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  ConfigureAllocatorForStore();
  const uint64_t events = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 400'000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 2;
  auto broker = DevBroker::Start(1);
  if (!broker) return 1;
  std::printf("kafka: %llu events per run, %d partitions, embedded broker, consumer settings:",
              static_cast<unsigned long long>(events), kPartitions);
  for (const auto& [k, v] : kConsumerSettings) std::printf(" %s=%s", k.c_str(), v.c_str());
  std::printf("\n");
  int round = 0;
  for (size_t per_message : {size_t{1}, size_t{100}}) {
    const Stream s = MakeStream(events, per_message);
    double tally = 0, bare = 0, no_kafka = 0;
    for (int r = 0; r < rounds; ++r) {
      tally = std::max(tally, RunTally(**broker, s, round++));
      bare = std::max(bare, RunBare(**broker, s, round++));
      no_kafka = std::max(no_kafka, RunNoKafka(s));
    }
    std::printf("  %3zu event(s)/message: tally %7.0f events/s | bare consumer %7.0f events/s (%.0f msgs/s): "
                "ratio %.2f (target >= 0.85) | same path without Kafka %7.0f events/s: ratio %.2f\n",
                per_message, tally, bare, bare / static_cast<double>(per_message), tally / bare, no_kafka,
                tally / no_kafka);
  }
  return 0;
}
