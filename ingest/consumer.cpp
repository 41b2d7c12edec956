#include "ingest/consumer.h"

#include <pthread.h>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "ingest/dead_letters.h"
#include "ingest/decode.h"
#include "ingest/kafka_config.h"
#include "ingest/poll_order.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxMessagesPerPoll = 1000;
// How long a poll waits for the first message when nothing is ready (and no
// batch is open): it also serves librdkafka's callbacks meanwhile.
constexpr int kIdleWaitMs = 100;
// While a batch is written and nothing is ready, the queue is looked at this
// often (a wait for the write alone would hold back what arrives meanwhile).
constexpr int kWriteWaitStepMs = 1;
// Offsets are committed to Kafka only for the lag tools (the store decides where
// to resume): at most this often, whatever the number of batches.
constexpr auto kCommitEvery = std::chrono::milliseconds(100);
// The arrival rate (ConsumerOptions::linger_rate) is measured over this long:
// long enough that a burst of one fetch does not count as load.
constexpr auto kRateWindow = std::chrono::milliseconds(250);

struct PartitionList {
  explicit PartitionList(int size) : list(rd_kafka_topic_partition_list_new(size)) {}
  ~PartitionList() { rd_kafka_topic_partition_list_destroy(list); }
  rd_kafka_topic_partition_list_t* list;
};

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

// librdkafka's plain numbers as tally's types: where a message came from.
Partition PartitionOf(const rd_kafka_message_t& m) { return Partition{m.partition}; }
Offset OffsetOf(const rd_kafka_message_t& m) { return Offset{m.offset}; }

// Adds topic/partition to a librdkafka list, positioned at `offset` (an
// Offset's value, or one of librdkafka's logical offsets like
// RD_KAFKA_OFFSET_BEGINNING).
void AddTo(PartitionList& list, const std::string& topic, Partition partition, int64_t offset) {
  rd_kafka_topic_partition_list_add(list.list, topic.c_str(), Raw(partition))->offset = offset;
}

// What identifies a message at its offset: FNV-1a (64 bits) over its key, value
// and timestamp. Written to disk, so it is defined here rather than taken from
// std::hash, whose result the standard leaves to each library version.
uint64_t Fingerprint(const rd_kafka_message_t& m) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const void* data, size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  };
  const uint64_t key_size = m.key ? m.key_len : 0, value_size = m.payload ? m.len : 0;
  mix(&key_size, sizeof key_size);  // sizes first: key "ab" value "c" is not key "a" value "bc"
  mix(&value_size, sizeof value_size);
  if (key_size) mix(m.key, key_size);
  if (value_size) mix(m.payload, value_size);
  const int64_t timestamp = rd_kafka_message_timestamp(&m, nullptr);
  mix(&timestamp, sizeof timestamp);
  return h;
}

// The id of the cluster `rk` is connected to; empty if it cannot tell.
std::string ClusterId(rd_kafka_t* rk) {
  // Known from the metadata by the time partitions are assigned; the wait is
  // for brokers that do not send it at once.
  char* id = rd_kafka_clusterid(rk, 0);
  if (!id) id = rd_kafka_clusterid(rk, 1000);
  if (!id) return "";
  std::string out(id);
  rd_kafka_mem_free(rk, id);
  return out;
}

}  // namespace

struct Consumer::Impl {
  ConsumerOptions options;
  Store* store = nullptr;
  rd_kafka_t* rk = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  std::unique_ptr<DeadLetters> dead_letters;
  ConsumerCounters counters;
  std::atomic<bool> stop{false};

  // Everything below belongs to the Run() thread (librdkafka's callbacks run there).
  Decoder decoder;
  PollOrderScratch poll_order;
  // The batch being filled; the store takes it at Submit (and may still be
  // writing the one before).
  struct Filling {
    Batch batch;                       // its events; topic and offsets set at Submit
    std::map<Partition, Offset> next;  // partition -> offset after its last message
    // partition -> its last message, kept (not copied) until the batch is
    // submitted, to fingerprint it then: one hash per partition and batch. A
    // partition reset to the earliest offset has a `next` and no message.
    std::map<Partition, MessagePtr> last;
    std::set<Partition> rewound;  // partitions reset to the earliest offset in this batch
    Clock::time_point started;

    bool empty() const { return batch.events.size() == 0 && next.empty(); }
  };
  Filling filling;
  // Events of the batch submitted last: the one the writer has, until it is free.
  size_t writing_events = 0;
  std::map<Partition, Offset> applied;  // assigned partition -> next offset applied (durable)
  // Durable offsets not yet committed to Kafka, and when they may be: a commit
  // per batch would be thousands a second with batches of one event.
  std::map<Partition, Offset> uncommitted;
  Clock::time_point next_commit;
  // Checking stored positions against the broker (see OnRebalance).
  std::string cluster;  // the cluster's id as of the last assignment; empty if unknown
  struct Check {
    Offset next;                         // the stored offset
    std::optional<uint64_t> fingerprint; // of the message at next - 1, when known
  };
  std::map<Partition, Check> checks;  // assigned partitions whose first message is not yet checked
  // Assigned partitions whose first message has not come yet: one that comes
  // later than the offset to apply next (`applied`, which no batch moves
  // before then) may mean retention removed what lay between (CheckSkipped).
  std::set<Partition> awaiting_first;
  // Partitions just reset: the rest of the messages in hand were fetched before
  // the seek, and are dropped.
  std::set<Partition> discarding;
  Status fatal;
  bool brokers_down = false;
  // The lag per partition as last published (ConsumerCounters::partition_lag), and scratch for the next.
  std::vector<std::pair<Partition, int64_t>> partition_lag, lags;
  Clock::time_point next_probe;
  // The arrival rate, in events a second over the last kRateWindow (0 before
  // the first one ends), and where the current window began.
  double arrival_rate = 0;
  Clock::time_point rate_window_start;
  uint64_t rate_window_consumed = 0;
  // The lag of the partitions whose high watermark is known: the lag itself
  // once all are, and a lower bound until then (enough to tell a backlog).
  int64_t known_lag = 0;
  // Events per message of recent polls (a moving average; 0 before the first):
  // turns the lag, in messages, into events for CatchingUp.
  double events_per_message = 0;

  // Far behind (more than two full batches wait at the broker beyond those in
  // hand): batches fill up instead of closing when the writer is free, since
  // every waiting event is served sooner by the larger batches' lower cost per
  // event than by small ones. Caught up, group commit keeps latency low.
  bool CatchingUp() const {
    return known_lag > 0 &&
           static_cast<double>(known_lag) * events_per_message > 2.0 * static_cast<double>(options.batch_events);
  }

  // How much longer the filling batch stays open under load (see
  // ConsumerOptions::batch_linger); zero when it may close.
  std::chrono::milliseconds LingerLeft(Clock::time_point now) const {
    if (arrival_rate < options.linger_rate || filling.empty() || filling.batch.events.size() >= options.linger_events) {
      return std::chrono::milliseconds(0);
    }
    const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - filling.started);
    return std::max(std::chrono::milliseconds(0), options.batch_linger - age);
  }

  ~Impl() {
    filling.last.clear();  // messages go before their client
    if (queue) rd_kafka_queue_destroy(queue);
    if (rk) rd_kafka_destroy(rk);
  }

  Status Run();
  Status Consume(MessagePtr m);
  bool CheckFirst(const rd_kafka_message_t& m, Status* error);
  void CheckSkipped(Partition partition, Offset due, Offset first);
  void LogReset(Partition partition, Offset stored, const std::string& why);
  Status Reset(Partition partition, Offset stored, const std::string& why);
  void CheckEnds();
  Status SubmitFilling();
  Status FlushAll();
  void Account(const ApplyResult& r);
  void NoteSourceTime(int64_t unix_ms, size_t events);
  void CommitToKafka(const std::map<Partition, Offset>& next, bool async);
  void CommitUncommitted();
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void OnError(int err, const char* reason);
  void UpdateLag();
  void ProbeBrokers();
  void SetBrokersDown(bool down, const char* reason);
};

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::~Consumer() = default;

const ConsumerCounters& Consumer::counters() const { return impl_->counters; }

void Consumer::Stop() { impl_->stop = true; }

const std::vector<std::pair<std::string, std::string>>& ConsumerFetchSettings() {
  static const std::vector<std::pair<std::string, std::string>> settings = {
      {"enable.partition.eof", "false"},
      // Short fetch waits keep batches flowing; the defaults (500 ms) starve a
      // fast consumer on a quiet topic.
      {"fetch.wait.max.ms", "10"},
      // librdkafka (2.0) stops fetching while the consumer queue holds more than
      // queued.min.messages or queued.max.messages.kbytes and looks again only
      // when its broker thread next wakes, up to a second later: a threshold
      // that holds less than that of tally's ingest makes a backlog come in
      // bursts, the queue running dry in between. The default 64 MiB is half a
      // second of single-event messages at ~370,000 events/s: a backlog was
      // applied at 199,000-277,000 events/s. 128 MiB (~0.7 s; the thread mostly
      // wakes sooner) gave 368,000-387,000, and 256 MiB only 5 % more on a
      // million messages (bench/kafka/README.md, fifth sitting). The queue
      // stays bounded by the kbytes.
      {"queued.min.messages", "1000000"},
      {"queued.max.messages.kbytes", "131072"},
  };
  return settings;
}

Result<std::unique_ptr<Consumer>> Consumer::Create(const ConsumerOptions& options, Store* store) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->store = store;
  // tally's defaults, then the user's properties, which win.
  std::vector<std::pair<std::string, std::string>> defaults = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group},
      // A restarted instance rejoins as the same static member: the
      // coordinator hands its partitions back without waiting for the old
      // member's session to end (brokers >= 2.3). Where static membership is
      // not honoured (librdkafka's mock cluster), the short session bounds that
      // wait: 6 s is the brokers' minimum, and librdkafka heartbeats from a
      // thread of its own, so a slow batch does not end it. A group is one
      // instance (replicas each have their own), so an ended session costs a
      // rejoin, not a handover.
      {"session.timeout.ms", "6000"},
      {"heartbeat.interval.ms", "1000"},
      {"enable.auto.commit", "false"},  // the store is the authority; commits follow it
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},  // a fresh instance reads from the start
      {"log.connection.close", "false"},
  };
  defaults.insert(defaults.end(), ConsumerFetchSettings().begin(), ConsumerFetchSettings().end());
  if (!options.instance_id.empty()) defaults.emplace_back("group.instance.id", options.instance_id);
  Result<rd_kafka_conf_t*> conf = MakeKafkaConfig(defaults, options.kafka_properties);
  if (!conf) return conf.error();
  rd_kafka_conf_set_opaque(*conf, impl.get());
  rd_kafka_conf_set_rebalance_cb(*conf, [](rd_kafka_t*, rd_kafka_resp_err_t err,
                                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<Impl*>(opaque)->OnRebalance(err, partitions);
  });
  rd_kafka_conf_set_error_cb(*conf, [](rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<Impl*>(opaque)->OnError(err, reason);
  });
  char error[512];
  impl->rk = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, error, sizeof(error));
  if (!impl->rk) {
    rd_kafka_conf_destroy(*conf);
    return Status::InvalidArgument(std::string("cannot create the Kafka consumer: ") + error);
  }
  // Errors and rebalances are served by the consumer queue, on the Run() thread.
  rd_kafka_poll_set_consumer(impl->rk);
  impl->queue = rd_kafka_queue_get_consumer(impl->rk);
  if (!options.dead_letter_topic.empty()) {
    Result<std::unique_ptr<DeadLetters>> dl =
        DeadLetters::Create(options.brokers, options.dead_letter_topic, options.kafka_properties);
    if (!dl) return dl.error();
    impl->dead_letters = std::move(*dl);
  }
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

Status Consumer::Run() { return impl_->Run(); }

Status Consumer::Impl::Run() {
  pthread_setname_np(pthread_self(), "tally:ingest");  // for top -H and profilers
  {
    PartitionList topics(1);
    rd_kafka_topic_partition_list_add(topics.list, options.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, topics.list)) {
      return Status::InvalidArgument("cannot subscribe to " + options.topic + ": " + rd_kafka_err2str(err));
    }
  }
  rd_kafka_message_t* messages[kMaxMessagesPerPoll];
  Clock::time_point next_lag_update;
  while (!stop && fatal.ok()) {
    // librdkafka's batch call waits until the array is full or the time is up,
    // so: take what is there without waiting, and only when nothing is, wait
    // for the first message to arrive.
    ssize_t n = rd_kafka_consume_batch_queue(queue, 0, messages, kMaxMessagesPerPoll);
    if (n == 0) {
      // Under load a young batch waits for more rather than closing (for the
      // first message: the rest is taken without waiting on the next turn).
      if (const auto linger = LingerLeft(Clock::now()); linger.count() > 0) {
        n = rd_kafka_consume_batch_queue(queue, static_cast<int>(linger.count()), messages, 1);
      }
    }
    if (n == 0) {
      // Nothing more is ready: the batch closes now (group commit) and its
      // write starts. Messages arriving while it is written are taken at once
      // (under load the queue runs dry between two fetches many times a
      // second, and waiting out each write there held every event behind it
      // for the write's length); once the writer is done and still nothing
      // came, its offsets and counts are accounted before the idle wait.
      if (!filling.empty()) fatal = SubmitFilling();
      while (fatal.ok() && n == 0 && !store->WriterFree()) {
        n = rd_kafka_consume_batch_queue(queue, kWriteWaitStepMs, messages, kMaxMessagesPerPoll);
      }
      if (fatal.ok() && n == 0) fatal = FlushAll();
      if (!fatal.ok()) break;
      if (n == 0) n = rd_kafka_consume_batch_queue(queue, kIdleWaitMs, messages, 1);
    }
    discarding.clear();
    const uint64_t consumed_before = counters.consumed.load(std::memory_order_relaxed);
    if (n > 1) {
      OrderByTime(std::span(messages, static_cast<size_t>(n)), [](const rd_kafka_message_t* m) { return m->partition; },
                  [](const rd_kafka_message_t* m) { return rd_kafka_message_timestamp(m, nullptr); }, poll_order);
    }
    for (ssize_t i = 0; i < n; ++i) {
      MessagePtr m(messages[i]);
      if (fatal.ok()) fatal = Consume(std::move(m));
      // A full batch goes now, even mid-array: batches stay near their size,
      // which keeps building and writing in step.
      if (fatal.ok() && (filling.batch.events.size() >= options.batch_events ||
                         filling.batch.events.bytes() >= options.batch_bytes)) {
        fatal = SubmitFilling();
      }
    }
    if (!fatal.ok()) break;
    // Watermarks change with each fetch, not each message: reading librdkafka's
    // cached ones every 10 ms, and whenever a poll finds nothing, is fresh enough
    // and cheaper than after every poll. (Before the batch decision below, which
    // depends on the lag.)
    if (const auto now = Clock::now(); now >= next_lag_update || n == 0) {
      if (now - rate_window_start >= kRateWindow) {
        const uint64_t consumed = counters.consumed.load(std::memory_order_relaxed);
        arrival_rate = static_cast<double>(consumed - rate_window_consumed) /
                       std::chrono::duration<double>(now - rate_window_start).count();
        rate_window_start = now;
        rate_window_consumed = consumed;
      }
      if (!checks.empty()) CheckEnds();
      UpdateLag();
      next_lag_update = now + std::chrono::milliseconds(10);
      if (!uncommitted.empty() && now >= next_commit) CommitUncommitted();
    }
    if (n > 0) {
      const uint64_t events = counters.consumed.load(std::memory_order_relaxed) - consumed_before;
      const double per_message = static_cast<double>(events) / static_cast<double>(n);
      events_per_message =
          events_per_message == 0 ? per_message : events_per_message + 0.125 * (per_message - events_per_message);
    }
    // The writer is free: the batch closes and is written at once, and what
    // arrives meanwhile gathers in the next one, so batches grow under load
    // and are a single event when idle. A batch larger than the one being
    // written closes too: Submit builds it while that one is written and hands
    // it over the moment the writer is done. Waiting for the writer to be free
    // instead would build it while the writer idles. (Checked after a whole
    // poll, a batch outgrows the one before by up to a poll, so under load
    // batches grow to batch_events.) Far behind, neither applies and batches
    // fill up (CatchingUp); under load, neither applies while the batch
    // lingers (LingerLeft). The timer bounds a batch's age when the writer
    // stays busy.
    const auto now = Clock::now();
    if (!filling.empty() &&
        ((!CatchingUp() && LingerLeft(now).count() == 0 &&
          (store->WriterFree() || filling.batch.events.size() > writing_events)) ||
         now - filling.started >= options.batch_wait)) {
      fatal = SubmitFilling();
    }
    if (brokers_down) ProbeBrokers();
    if (dead_letters) {
      dead_letters->Poll();
      counters.dead_letters_failed = dead_letters->failed();
    }
    // A failed flush or compaction in the background stops ingestion even
    // while no batch comes (an atomic load while all is well).
    if (Status failed = store->failure(); !failed.ok()) fatal = std::move(failed);
  }
  // Failed: no longer ready; nothing more is applied or committed.
  if (!fatal.ok()) counters.ready = false;
  // Stopping (or failed): what is held is applied (unless the store failed) and
  // its offsets committed before the consumer closes (so the group's committed
  // offsets match the store's); revocation then finds nothing left to apply.
  if (fatal.ok()) fatal = FlushAll();
  if (fatal.ok() && !applied.empty()) CommitToKafka(applied, /*async=*/false);
  counters.ready = false;
  rd_kafka_consumer_close(rk);
  if (dead_letters) {
    dead_letters->Flush(std::chrono::seconds(5));
    counters.dead_letters_failed = dead_letters->failed();
  }
  return fatal;
}

Status Consumer::Impl::Consume(MessagePtr message) {
  rd_kafka_message_t* m = message.get();
  if (m->err) {
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) OnError(m->err, rd_kafka_message_errstr(m));
    return Status::OK();
  }
  if (brokers_down) SetBrokersDown(false, "");
  const Partition partition = PartitionOf(*m);
  if (discarding.count(partition)) return Status::OK();
  if (!awaiting_first.empty() && awaiting_first.erase(partition) > 0) {
    if (auto due = applied.find(partition); due != applied.end() && OffsetOf(*m) > due->second) {
      CheckSkipped(partition, due->second, OffsetOf(*m));
    }
  }
  if (!checks.empty() && checks.count(partition)) {
    Status error;
    const bool apply = CheckFirst(*m, &error);
    if (!apply) return error;
  }
  if (filling.empty()) filling.started = Clock::now();
  const std::string_view value(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
  const std::string_view key(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
  const DecodeLimits limits{options.batch_events, options.batch_bytes};
  size_t before = filling.batch.events.size();
  size_t rejections_before = filling.batch.events.rejections().size();
  // The producer's (or the broker's) time of the message, for freshness; -1 if it has none.
  const int64_t timestamp = rd_kafka_message_timestamp(m, nullptr);
  bool done = decoder.Decode(value, Origin{partition, OffsetOf(*m)}, &filling.batch.events, limits);
  for (;;) {
    const DecodedEvents& events = filling.batch.events;
    counters.consumed += events.size() - before;
    if (timestamp >= 0 && events.size() > before) NoteSourceTime(timestamp, events.size() - before);
    for (size_t r = rejections_before; r < events.rejections().size(); ++r) {
      const Rejection& rejection = events.rejections()[r];
      ++counters.rejected[static_cast<size_t>(rejection.reason)];
      if (dead_letters) {
        // A message that is not JSON goes whole; an element, as its excerpt.
        const std::string_view body = rejection.element ? std::string_view(rejection.excerpt) : value;
        dead_letters->Send(rejection, options.topic, key, body);
        ++counters.dead_letters;
      }
    }
    if (done) break;
    // A part of a huge array: it goes as a batch of its own, with the
    // partition's offset still at this message, so that after a crash the
    // message is read again from its start: its records are deduplicated and
    // the store counts each rejection once (by position), so nothing is lost
    // or doubled, and no more than a batch of it is ever held.
    filling.next[partition] = OffsetOf(*m);
    if (Status s = SubmitFilling(); !s.ok()) return s;
    filling.started = Clock::now();
    before = filling.batch.events.size();
    rejections_before = filling.batch.events.rejections().size();
    done = decoder.Continue(&filling.batch.events, limits);
  }
  filling.next[partition] = OffsetOf(*m) + 1;
  filling.last[partition] = std::move(message);
  return Status::OK();
}

// The first message of a partition whose stored position is being checked: the
// one at next - 1 when its fingerprint is known (it was applied: dropped, not
// counted), else the one at next. Earlier means the stored offset lay beyond
// the partition's end (librdkafka restarted from the earliest); another message
// at next - 1 means another topic. Both re-read the partition from the
// earliest offset. Later means retention removed what was checkable: the
// cluster id, compared on assignment, stands for it. Returns whether to apply m.
bool Consumer::Impl::CheckFirst(const rd_kafka_message_t& m, Status* error) {
  const Partition partition = PartitionOf(m);
  const Offset offset = OffsetOf(m);
  const Check check = checks[partition];
  checks.erase(partition);
  const Offset expected = check.fingerprint ? check.next - 1 : check.next;
  if (offset < expected) {
    *error = Reset(partition, check.next,
                   "is beyond the end of the partition (its first message is at offset " +
                       std::to_string(Raw(offset)) + ")");
    return false;
  }
  if (offset == expected && check.fingerprint) {
    if (Fingerprint(m) == *check.fingerprint) return false;  // the position holds
    *error = Reset(partition, check.next,
                   "does not follow the last applied message: the message at offset " +
                       std::to_string(Raw(offset)) + " differs from it");
    return false;
  }
  return true;
}

// A partition's first message came at `first`, after the offset `due` to apply
// next. Offsets without a message are no loss (transaction markers, a
// compacted topic); offsets below the partition's log start are: retention
// removed them before they were read. Logged once and counted per occurrence.
// Should the broker not say where the log begins, the whole gap is counted, as
// an upper bound, rather than a possible loss going uncounted.
void Consumer::Impl::CheckSkipped(Partition partition, Offset due, Offset first) {
  int64_t low = -1, high = -1;
  // The cached log start is updated only now and then: asked of the broker
  // (once per partition and assignment, and only when a gap is seen).
  const bool known =
      rd_kafka_query_watermark_offsets(rk, options.topic.c_str(), Raw(partition), &low, &high, 5'000) == 0;
  const Offset begins = known ? std::min(Offset{low}, first) : first;
  if (begins <= due) return;
  const uint64_t skipped = static_cast<uint64_t>(begins - due);
  counters.offsets_skipped += skipped;
  if (known) {
    spdlog::warn("kafka: {} partition {}: offsets {}..{} were removed by retention before they were read (the "
                 "partition now begins at offset {}): {} message(s) skipped, their events are missing from the views",
                 options.topic, Raw(partition), Raw(due), Raw(begins) - 1, Raw(begins), skipped);
  } else {
    spdlog::warn("kafka: {} partition {}: its first message came at offset {}, not at {}, and the brokers did not "
                 "say where the partition now begins: up to {} message(s) of offsets {}..{} may have been removed "
                 "by retention before they were read (counted as skipped)",
                 options.topic, Raw(partition), Raw(first), Raw(due), skipped, Raw(due), Raw(first) - 1);
  }
}

void Consumer::Impl::LogReset(Partition partition, Offset stored, const std::string& why) {
  spdlog::warn("kafka: {} partition {}: the stored offset {} {}; re-reading from the earliest offset",
               options.topic, Raw(partition), Raw(stored), why);
  ++counters.offset_resets;
  checks.erase(partition);
  awaiting_first.insert(partition);
  applied[partition] = kFirstOffset;
  // The reset is stored with the next batch (offset 0, no fingerprint, this
  // cluster), so that a restart before anything of the partition is applied
  // re-reads it without counting it again.
  if (filling.empty()) filling.started = Clock::now();
  filling.next[partition] = kFirstOffset;
  filling.last.erase(partition);
  filling.rewound.insert(partition);
}

// An assigned partition found at a position its stored offset does not match:
// back to the earliest offset, dropping what was fetched from the old one.
Status Consumer::Impl::Reset(Partition partition, Offset stored, const std::string& why) {
  LogReset(partition, stored, why);
  discarding.insert(partition);
  PartitionList list(1);
  AddTo(list, options.topic, partition, RD_KAFKA_OFFSET_BEGINNING);
  // Waits until the fetcher has moved: nothing fetched before is returned after.
  rd_kafka_error_t* e = rd_kafka_seek_partitions(rk, list.list, 10'000);
  std::string failed;
  if (e) {
    failed = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
  } else if (list.list->elems[0].err) {
    failed = rd_kafka_err2str(list.list->elems[0].err);
  }
  if (!failed.empty()) {
    return Status::IOError("kafka: cannot re-read " + options.topic + " partition " + std::to_string(Raw(partition)) +
                           " from the earliest offset: " + failed);
  }
  return Status::OK();
}

// A partition still waiting for its first message may wait for ever if the
// topic was recreated shorter and nothing new arrives: its high watermark
// (known after the first fetch) below the stored offset says so.
void Consumer::Impl::CheckEnds() {
  struct Short {
    Partition partition;
    Offset stored, high;
  };
  std::vector<Short> short_ones;  // collected first: Reset erases from checks
  for (const auto& [partition, check] : checks) {
    int64_t low = 0, high = -1;
    if (rd_kafka_get_watermark_offsets(rk, options.topic.c_str(), Raw(partition), &low, &high) == 0 && high >= 0 &&
        Offset{high} < check.next) {
      short_ones.push_back({partition, check.next, Offset{high}});
    }
  }
  for (const auto& [partition, stored, high] : short_ones) {
    if (Status s = Reset(partition, stored,
                         "is beyond the end of the partition (its high watermark is " + std::to_string(Raw(high)) + ")");
        !s.ok() && fatal.ok()) {
      fatal = s;
    }
  }
}

Status Consumer::Impl::SubmitFilling() {
  Batch& batch = filling.batch;
  batch.topic = options.topic;
  for (const auto& [partition, next] : filling.next) {
    std::optional<uint64_t> fingerprint;
    // (A part of a huge array goes with `next` at its own message: the last
    // whole message before it, if any, is fingerprinted only if it is next - 1.)
    if (auto it = filling.last.find(partition); it != filling.last.end() && OffsetOf(*it->second) == next - 1) {
      fingerprint = Fingerprint(*it->second);
    }
    batch.next_offsets.push_back({partition, next, fingerprint, cluster});
    batch.next_offsets.back().rewound = filling.rewound.count(partition) > 0;
  }
  filling.next.clear();
  filling.last.clear();
  filling.rewound.clear();
  writing_events = batch.events.size();
  Result<std::optional<ApplyResult>> previous = store->Submit(&batch);
  if (!previous) return previous.error();
  if (*previous) Account(**previous);
  return Status::OK();
}

// Applies the filling batch and waits until it and the one in flight are written.
Status Consumer::Impl::FlushAll() {
  if (!filling.empty()) {
    if (Status s = SubmitFilling(); !s.ok()) return s;
  }
  Result<std::optional<ApplyResult>> last = store->Flush();
  if (!last) return last.error();
  if (*last) Account(**last);
  return Status::OK();
}

// Consecutive messages of the same millisecond share one entry.
void Consumer::Impl::NoteSourceTime(int64_t unix_ms, size_t events) {
  std::vector<SourceTime>& times = filling.batch.source_times;
  if (!times.empty() && times.back().unix_ms == unix_ms) {
    times.back().events += static_cast<uint32_t>(events);
  } else {
    times.push_back({unix_ms, static_cast<uint32_t>(events)});
  }
}

// A batch is durable: count it, make its offsets the applied ones, tell Kafka.
void Consumer::Impl::Account(const ApplyResult& r) {
  counters.applied += r.applied;
  counters.duplicates += r.duplicates;
  counters.conflicts += r.conflicts;
  counters.apply_batch_seconds.Observe(r.seconds);
  // Durable now, and visible: the batch's freshness, per event.
  const int64_t now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const SourceTime& t : r.source_times) {
    counters.event_freshness_seconds.Observe(static_cast<double>(now_us - t.unix_ms * 1000) / 1e6, t.events);
  }
  std::map<Partition, Offset> next;
  for (const PartitionOffset& o : r.next_offsets) {
    next[o.partition] = o.next;
    if (auto it = applied.find(o.partition); it != applied.end()) it->second = o.next;
  }
  for (const auto& [partition, offset] : next) uncommitted[partition] = offset;
  if (options.on_applied && !r.next_offsets.empty()) options.on_applied(r.next_offsets);
  if (Clock::now() >= next_commit) CommitUncommitted();
}

// The durable offsets to Kafka, asynchronously, at most every kCommitEvery.
void Consumer::Impl::CommitUncommitted() {
  CommitToKafka(uncommitted, /*async=*/true);
  uncommitted.clear();
  next_commit = Clock::now() + kCommitEvery;
}

void Consumer::Impl::CommitToKafka(const std::map<Partition, Offset>& next, bool async) {
  if (next.empty()) return;
  PartitionList list(static_cast<int>(next.size()));
  for (const auto& [partition, offset] : next) {
    AddTo(list, options.topic, partition, Raw(offset));
  }
  // Best effort: the store holds the truth; a failed commit (say, for a
  // partition just revoked) only leaves the group's lag stale.
  rd_kafka_commit(rk, list.list, async ? 1 : 0);
}

void Consumer::Impl::OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Whatever is in flight must be in the store before its offsets are read.
    if (fatal.ok()) fatal = FlushAll();
    Result<std::vector<PartitionOffset>> stored = store->Offsets(options.topic);
    if (!stored && fatal.ok()) fatal = stored.error();
    std::map<Partition, const PartitionOffset*> from;
    if (stored) {
      for (const PartitionOffset& o : *stored) from[o.partition] = &o;
    }
    // Each stored position is checked before it is trusted: a replaced cluster
    // or a recreated topic can hold other messages at the same offsets, and
    // resuming there would skip what lies below. Another cluster id is a reset
    // at once; otherwise the partition starts one message early, at the last
    // applied one, which its first fetched message must match (CheckFirst).
    cluster = ClusterId(rk);
    for (int i = 0; i < partitions->cnt; ++i) {
      rd_kafka_topic_partition_t& p = partitions->elems[i];
      const Partition partition{p.partition};
      checks.erase(partition);
      auto it = from.find(partition);
      if (it == from.end()) {
        // Offset 0 rather than the logical "beginning", which librdkafka must
        // first look up per partition: in kafka_bench (64 partitions) the first
        // message then came ~0.5 s after the assignment in about a third of the
        // runs, against 35 ms at most from offset 0. Where retention has removed
        // offset 0 the fetch is out of range, and auto.offset.reset (earliest)
        // starts the partition at the same place "beginning" would have (what
        // retention removed is logged and counted: CheckSkipped).
        p.offset = Raw(kFirstOffset);
        applied[partition] = kFirstOffset;
        awaiting_first.insert(partition);
        continue;
      }
      const PartitionOffset& o = *it->second;
      applied[partition] = o.next;
      awaiting_first.insert(partition);
      if (!o.cluster.empty() && !cluster.empty() && o.cluster != cluster) {
        LogReset(partition, o.next, "was read from cluster " + o.cluster + ", and the brokers are cluster " + cluster);
        p.offset = RD_KAFKA_OFFSET_BEGINNING;
        continue;
      }
      const bool fingerprinted = o.fingerprint && o.next > kFirstOffset;
      p.offset = Raw(fingerprinted ? o.next - 1 : o.next);
      if (o.next > kFirstOffset) checks[partition] = Check{o.next, fingerprinted ? o.fingerprint : std::nullopt};
    }
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions);
      if (e) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, partitions);
    }
    spdlog::info("kafka: assigned {} partition(s) of {}", partitions->cnt, options.topic);
  } else {
    // Revoked: apply what has been read from them before they go, and commit it.
    if (fatal.ok()) fatal = FlushAll();
    if (fatal.ok() && !uncommitted.empty()) CommitUncommitted();
    for (int i = 0; i < partitions->cnt; ++i) {
      const Partition partition{partitions->elems[i].partition};
      applied.erase(partition);
      checks.erase(partition);
      awaiting_first.erase(partition);
    }
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions);
      if (e) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, nullptr);
      applied.clear();
      checks.clear();
      awaiting_first.clear();
    }
    spdlog::info("kafka: {} partition(s) of {} revoked", partitions->cnt, options.topic);
  }
  // As in UpdateLag, said before readiness, so that whoever sees ready turn
  // false also sees the lag unknown.
  if (applied.empty() || brokers_down) counters.lag = -1;
  counters.ready = fatal.ok() && !applied.empty() && !brokers_down;
}

// Broker outages are logged when they begin and when they end, not per retry.
void Consumer::Impl::OnError(int err, const char* reason) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR__TRANSPORT) {
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !brokers_down) SetBrokersDown(true, reason);
    return;
  }
  if (const rd_kafka_resp_err_t original = rd_kafka_fatal_error(rk, nullptr, 0)) {
    std::string why = std::string("kafka: fatal error: ") + reason;
    if (original == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID) {
      why += " (another consumer joined group " + options.group +
             " with this instance's group.instance.id: two instances on copies of one data dir? Give each its "
             "own --kafka group.instance.id)";
    }
    if (fatal.ok()) fatal = Status::IOError(why);
    return;
  }
  spdlog::warn("kafka: {}", reason);
}

// While every broker is down there is nothing to consume to show they are back:
// ask for metadata once a second.
void Consumer::Impl::ProbeBrokers() {
  if (Clock::now() < next_probe) return;
  next_probe = Clock::now() + std::chrono::seconds(1);
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_metadata(rk, 0, nullptr, &metadata, 200) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(metadata);
    SetBrokersDown(false, "");
  }
}

void Consumer::Impl::SetBrokersDown(bool down, const char* reason) {
  brokers_down = down;
  counters.brokers_down = down;
  // Lag is unknown while the brokers are down: said before readiness drops, so
  // that whoever sees ready turn false also sees it (UpdateLag runs later).
  if (down) counters.lag = -1;
  counters.ready = fatal.ok() && !down && !applied.empty();
  if (down) {
    next_probe = Clock::now() + std::chrono::seconds(1);
    spdlog::warn("kafka: all brokers are down ({}); ingestion is stalled", reason);
  } else {
    spdlog::info("kafka: brokers are reachable again");
  }
}

// Lag: per assigned partition, the high watermark (as of the last fetch) minus
// the next offset applied; unknown until every partition has a watermark.
void Consumer::Impl::UpdateLag() {
  if (applied.empty() || brokers_down) {
    known_lag = 0;
    counters.lag = -1;
    if (!partition_lag.empty()) {
      partition_lag.clear();
      counters.set_partition_lag({});
    }
    return;
  }
  int64_t lag = 0;
  bool unknown = false;
  lags.clear();
  for (const auto& [partition, next] : applied) {
    int64_t low = 0, high = -1;
    if (rd_kafka_get_watermark_offsets(rk, options.topic.c_str(), Raw(partition), &low, &high) ||
        high < 0) {
      unknown = true;
      continue;
    }
    const int64_t behind = std::max<int64_t>(0, Offset{high} - std::max(next, Offset{low}));
    lags.emplace_back(partition, behind);
    lag += behind;
  }
  known_lag = lag;
  if (unknown) {
    counters.lag = -1;
    if (!partition_lag.empty()) {
      partition_lag.clear();
      counters.set_partition_lag({});
    }
    return;
  }
  // Published only when it changed: a lock and a copy, not every 10 ms.
  if (lags != partition_lag) {
    partition_lag = lags;
    counters.set_partition_lag(partition_lag);
  }
  counters.lag = lag;
}

}  // namespace tally
