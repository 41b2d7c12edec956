#pragma once

// Test helpers that speak to a Kafka cluster (in tests, the embedded one):
// producing messages to chosen partitions, reading a whole topic back, and a
// stream of test messages with a reference model of what they must produce.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ingest/event_json.h"
#include "ingest/workload.h"
#include "tests/aggregate/reference_model.h"

namespace tally::testing {

struct Message {
  int32_t partition;
  std::string key;
  std::string value;
};

class TestProducer {
 public:
  explicit TestProducer(const std::string& bootstrap) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), nullptr, 0);
    rd_kafka_conf_set(conf, "linger.ms", "5", nullptr, 0);
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, nullptr, 0);
  }
  ~TestProducer() {
    Flush();
    rd_kafka_destroy(producer_);
  }
  void Send(const std::string& topic, const Message& m) {
    while (rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(m.partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
                             RD_KAFKA_V_KEY(const_cast<char*>(m.key.data()), m.key.size()),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer_, 10);
    }
    rd_kafka_poll(producer_, 0);
  }
  void Flush() { rd_kafka_flush(producer_, 10'000); }
  // The partition's low and high watermarks as the broker has them; {-1, -1} if
  // it cannot tell within 10 s.
  std::pair<int64_t, int64_t> Watermarks(const std::string& topic, int32_t partition) {
    int64_t low = -1, high = -1;
    if (rd_kafka_query_watermark_offsets(producer_, topic.c_str(), partition, &low, &high, 10'000)) return {-1, -1};
    return {low, high};
  }

 private:
  rd_kafka_t* producer_;
};

// A message as ReadTopic returns it.
struct Consumed {
  std::string value;
  std::map<std::string, std::string> headers;
};

// A plain consumer (no tally in it) of group `group`, not yet reading anything,
// its events served by the consumer queue; `settings` are further librdkafka
// properties. The caller closes and destroys it.
inline rd_kafka_t* NewBareConsumer(const std::string& bootstrap, const std::string& group,
                                   const std::vector<std::pair<std::string, std::string>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), nullptr, 0);
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", nullptr, 0);
  for (const auto& [name, value] : settings) rd_kafka_conf_set(conf, name.c_str(), value.c_str(), nullptr, 0);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, nullptr, 0);
  rd_kafka_poll_set_consumer(consumer);
  return consumer;
}

// A bare consumer (NewBareConsumer) subscribed to `topic` from the earliest offset.
inline rd_kafka_t* SubscribeBareConsumer(const std::string& bootstrap, const std::string& group,
                                         const std::string& topic,
                                         const std::vector<std::pair<std::string, std::string>>& settings = {}) {
  rd_kafka_t* consumer = NewBareConsumer(bootstrap, group, settings);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  return consumer;
}

// A consumer of one partition of `topic` from `offset` (or a logical offset such
// as RD_KAFKA_OFFSET_END), assigned at once: no group rebalance to wait for.
inline rd_kafka_t* AssignBareConsumer(const std::string& bootstrap, const std::string& topic, int32_t partition,
                                      int64_t offset,
                                      const std::vector<std::pair<std::string, std::string>>& settings = {}) {
  rd_kafka_t* consumer = NewBareConsumer(bootstrap, "assigned-" + topic, settings);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
  rd_kafka_assign(consumer, list);
  rd_kafka_topic_partition_list_destroy(list);
  return consumer;
}

// Every message of `topic` (all partitions, from the start), read with a fresh
// group until `want` messages arrived or `timeout` passed.
inline std::vector<Consumed> ReadTopic(const std::string& bootstrap, const std::string& topic, size_t want,
                                       std::chrono::seconds timeout) {
  rd_kafka_t* consumer = SubscribeBareConsumer(bootstrap, "reader-" + topic, topic);
  std::vector<Consumed> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (!m) continue;
    if (!m->err) {
      Consumed c{std::string(static_cast<const char*>(m->payload), m->len), {}};
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; !rd_kafka_header_get_all(headers, i, &name, &value, &size); ++i) {
          c.headers[name] = std::string(static_cast<const char*>(value), size);
        }
      }
      out.push_back(std::move(c));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return out;
}

// A stream of messages over `partitions` partitions: realistic events, some
// batched as JSON arrays, exact repeats (also on other partitions), poison
// messages and invalid events, in a shuffled order. `model` receives every
// valid event; `events` counts what a consumer will count as consumed.
struct TestStream {
  std::vector<Message> messages;
  ReferenceModel model;
  uint64_t events = 0;
  uint64_t rejected = 0;
};

inline TestStream MakeStream(uint64_t seed, int partitions, uint32_t requests, uint32_t tasks_per_request) {
  TestStream s;
  std::mt19937_64 rng(seed);
  WorkloadOptions options;
  options.seed = seed;
  options.requests = requests;
  options.tasks_per_request = tasks_per_request;
  Workload workload(options);
  std::vector<std::string> jsons;
  TaskAction a;
  while (workload.Next(&a)) {
    std::string json;
    AppendEventJson(a, &json);
    jsons.push_back(std::move(json));
    s.model.Deliver(a);
  }
  auto partition = [&] { return static_cast<int32_t>(rng() % partitions); };
  for (size_t i = 0; i < jsons.size();) {
    const size_t n = rng() % 4 == 0 ? std::min<size_t>(1 + rng() % 5, jsons.size() - i) : 1;
    std::string value = n == 1 ? jsons[i] : "[";
    if (n > 1) {
      for (size_t k = 0; k < n; ++k) value += (k ? "," : "") + jsons[i + k];
      value += "]";
    }
    s.messages.push_back({partition(), "request", value});
    s.events += n;
    if (rng() % 10 == 0) {  // an exact repeat, anywhere
      s.messages.push_back({partition(), "request", value});
      s.events += n;
    }
    i += n;
  }
  for (int k = 0; k < 25; ++k) {
    s.messages.push_back({partition(), "bad", "not json {"});
    s.messages.push_back({partition(), "bad", R"({"id": "x", "annotationRequestId": "r"})"});
    s.events += 2;
    s.rejected += 2;
  }
  std::shuffle(s.messages.begin(), s.messages.end(), rng);
  // Model: the consumer counts repeats as duplicates, not the model's events.
  return s;
}

// Waits (bounded) until `done()` holds; false if it never did.
template <class Done>
bool WaitFor(Done done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace tally::testing
