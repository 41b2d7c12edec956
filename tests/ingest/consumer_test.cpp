// The consumer against the embedded broker, in process: exactly the reference's
// views from a messy stream over 8 partitions, replicas converging, broker
// faults, dead letters, and offsets both in the store and in the group.

#include "ingest/consumer.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "ingest/dev_broker.h"
#include "ingest/event_json.h"
#include "ingest/workload.h"
#include "tests/aggregate/model_check.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_broker.h"

namespace tally {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 8;

struct Running {
  std::unique_ptr<Store> store;
  std::unique_ptr<Consumer> consumer;
  std::thread thread;
  Status result;

  void Stop() {
    consumer->Stop();
    thread.join();
  }
};

std::unique_ptr<Running> StartConsumer(const std::string& dir, ConsumerOptions options,
                                       std::chrono::milliseconds batch_wait = 20ms) {
  auto running = std::make_unique<Running>();
  auto store = Store::Open(StoreOptions{dir, size_t{32} << 20, false, {}});
  EXPECT_TRUE(store) << store.error().ToString();
  running->store = std::move(*store);
  options.batch_wait = batch_wait;
  auto consumer = Consumer::Create(options, running->store.get());
  EXPECT_TRUE(consumer) << consumer.error().ToString();
  running->consumer = std::move(*consumer);
  running->thread = std::thread([r = running.get()] { r->result = r->consumer->Run(); });
  return running;
}

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testing::BrokerWithTopic(kPartitions);
    ASSERT_TRUE(broker_);
  }

  ConsumerOptions Options(const std::string& group = "tally") {
    ConsumerOptions o;
    o.brokers = broker_->bootstrap();
    o.group = group;
    return o;
  }

  // Produces to the test's broker, or to `bootstrap` (another cluster).
  void Produce(const testing::TestStream& stream, const std::string& bootstrap = "") {
    testing::TestProducer producer(bootstrap.empty() ? broker_->bootstrap() : bootstrap);
    for (const auto& m : stream.messages) producer.Send("task-actions", m);
  }

  // Every event of `s` consumed, nothing left to read, and the store holding the
  // records of `model` (by default the stream's own).
  bool AllConsumed(const Running& r, const testing::TestStream& s, const testing::ReferenceModel* model = nullptr) {
    return r.consumer->counters().consumed >= s.events && r.consumer->counters().lag == 0 &&
           r.store->totals().records == (model ? *model : s.model).distinct();
  }

  // Starts the consumer of dir_/"a" again on cluster `b` (a replaced cluster or a
  // recreated topic holding `stream`), waits until the store holds `model`, and
  // stops it: every partition must have been reset once.
  void ResumeOnOtherCluster(const DevBroker& b, const testing::TestStream& stream,
                            const testing::ReferenceModel& model, std::unique_ptr<Running>* running) {
    ConsumerOptions options = Options();
    options.brokers = b.bootstrap();
    *running = StartConsumer(dir_ / "a", options);
    Running& r = **running;
    ASSERT_TRUE(testing::WaitFor([&] { return AllConsumed(r, stream, &model); }, 60s))
        << "records " << r.store->totals().records << " of " << model.distinct() << "; consumed "
        << r.consumer->counters().consumed << " of " << stream.events;
    r.Stop();
    EXPECT_EQ(r.consumer->counters().offset_resets, static_cast<uint64_t>(kPartitions));
  }

  std::vector<int64_t> LingerBatches(bool loaded, size_t linger_events = 500);

  testing::TempDir dir_;
  std::unique_ptr<DevBroker> broker_;
};

TEST_F(ConsumerTest, MessyStreamOverEightPartitionsEndsInTheReferenceViews) {
  const testing::TestStream stream = testing::MakeStream(1, kPartitions, 12, 40);
  auto running = StartConsumer(dir_ / "a", Options());
  Produce(stream);
  ASSERT_TRUE(testing::WaitFor([&] { return AllConsumed(*running, stream); }, 60s))
      << "consumed " << running->consumer->counters().consumed << " of " << stream.events << ", lag "
      << running->consumer->counters().lag;
  const ConsumerCounters& c = running->consumer->counters();
  EXPECT_TRUE(c.ready);
  EXPECT_FALSE(c.brokers_down);
  // The lag per partition (the status page's): every assigned partition, caught up.
  const auto lags = c.partition_lag();
  ASSERT_EQ(lags.size(), static_cast<size_t>(kPartitions));
  for (int32_t p = 0; p < kPartitions; ++p) EXPECT_EQ(lags[p], (std::pair{Partition{p}, int64_t{0}}));
  EXPECT_EQ(c.consumed, stream.events);
  EXPECT_EQ(c.applied, stream.model.distinct());
  EXPECT_EQ(c.applied + c.duplicates, stream.events - stream.rejected);
  EXPECT_EQ(c.conflicts, 0u);
  uint64_t rejected = 0;
  for (const auto& r : c.rejected) rejected += r;
  EXPECT_EQ(rejected, stream.rejected);
  EXPECT_EQ(c.rejected[static_cast<size_t>(RejectReason::kInvalidJson)], stream.rejected / 2);
  running->Stop();
  EXPECT_TRUE(running->result.ok()) << running->result.ToString();
  EXPECT_EQ(testing::CheckStoreMatches(*running->store, stream.model, {7, 1000}), "");
  // The store knows where every partition stands.
  auto offsets = running->store->Offsets("task-actions");
  ASSERT_TRUE(offsets);
  std::vector<int64_t> ends(kPartitions, 0);
  for (const auto& m : stream.messages) ++ends[m.partition];
  for (const auto& o : *offsets) EXPECT_EQ(Raw(o.next), ends[Raw(o.partition)]) << "partition " << Raw(o.partition);
  auto rejections = running->store->Rejections(running->store->Snapshot(), 1000);
  EXPECT_EQ(rejections->size(), stream.rejected);
}

TEST_F(ConsumerTest, TwoGroupsOnTheSameTopicConverge) {
  const testing::TestStream stream = testing::MakeStream(2, kPartitions, 8, 30);
  auto a = StartConsumer(dir_ / "a", Options("replica-a"));
  auto b = StartConsumer(dir_ / "b", Options("replica-b"));
  Produce(stream);
  ASSERT_TRUE(testing::WaitFor([&] { return AllConsumed(*a, stream) && AllConsumed(*b, stream); }, 60s));
  a->Stop();
  b->Stop();
  EXPECT_EQ(testing::CheckStoreMatches(*a->store, stream.model, {1000}), "");
  EXPECT_EQ(testing::CheckStoreMatches(*b->store, stream.model, {1000}), "");
}

// What the consumer logs at warning level and above, while it lives.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    sink_->set_level(spdlog::level::warn);
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  size_t Count(const std::string& text) {
    const std::string log = out_.str();
    size_t n = 0;
    for (size_t at = 0; (at = log.find(text, at)) != std::string::npos; ++at) ++n;
    return n;
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// `n` valid events of a generated workload, as event JSON.
// The messages a batch applied, from the next offsets it moved: `at` holds each
// partition's offset before it, and is moved on.
int64_t MessagesMoved(std::span<const PartitionOffset> next, std::map<Partition, Offset>* at) {
  int64_t size = 0;
  for (const PartitionOffset& o : next) {
    auto [it, fresh] = at->try_emplace(o.partition, kFirstOffset);
    size += o.next - it->second;
    it->second = o.next;
  }
  return size;
}

std::vector<std::string> Events(size_t n) {
  Workload workload(WorkloadOptions{});
  std::vector<std::string> out;
  TaskAction a;
  while (out.size() < n && workload.Next(&a)) AppendEventJson(a, &out.emplace_back());
  return out;
}

// Group commit: with nothing more ready, a batch closes at once, so an idle
// event is applied alone, in a batch of its own, long before the timer (here
// a minute: waiting for it would time the test out) would close it.
TEST_F(ConsumerTest, AnIdleEventIsAppliedAloneWithoutWaitingForTheTimer) {
  auto running = StartConsumer(dir_ / "a", Options(), std::chrono::minutes(1));
  ASSERT_TRUE(testing::WaitFor([&] { return running->consumer->counters().ready.load(); }, 30s));
  const ConsumerCounters& counters = running->consumer->counters();
  const std::vector<std::string> events = Events(4);
  testing::TestProducer producer(broker_->bootstrap());
  for (size_t i = 0; i < events.size(); ++i) {
    producer.Send("task-actions", {static_cast<int32_t>(i % kPartitions), "k", events[i]});
    producer.Flush();
    ASSERT_TRUE(testing::WaitFor([&] { return counters.applied.load() == i + 1; }, 30s))
        << "event " << i << " was not applied before the timer";
    // One batch per event: each was closed as soon as nothing more was ready.
    EXPECT_EQ(counters.apply_batch_seconds.Read().count(), i + 1);
  }
  running->Stop();
  EXPECT_TRUE(running->result.ok()) << running->result.ToString();
}

// Under load, a batch larger than the one being written closes at once: Submit
// builds it while the writer writes and hands it over when the writer is done,
// instead of the batch gathering more while the writer is busy and being built
// afterwards, while the writer idles. Here writes are held while a backlog
// waits in the consumer's queue: with the second write held, the consumer
// closes its next batch after a poll or two and waits for the writer with it,
// rather than reading the whole backlog into one batch (the timer, batch_events
// and batch_bytes are set high enough to allow that).
TEST_F(ConsumerTest, ABatchLargerThanTheOneBeingWrittenClosesWithoutWaitingForTheWriter) {
  std::mutex mutex;
  std::condition_variable changed;
  int writes = 0, released = 0;
  StoreOptions store_options{dir_ / "a", size_t{32} << 20, false, {}};
  store_options.batch_sink = [&](std::string_view) {  // on the writer thread
    std::unique_lock lock(mutex);
    const int write = ++writes;
    changed.notify_all();
    if (write <= 2) changed.wait_for(lock, 60s, [&] { return released >= write; });
  };
  auto store = Store::Open(store_options);
  ASSERT_TRUE(store) << store.error().ToString();
  ConsumerOptions options = Options();
  options.batch_wait = std::chrono::minutes(1);
  options.batch_events = 1'000'000;
  options.batch_bytes = size_t{1} << 30;
  auto consumer = Consumer::Create(options, store->get());
  ASSERT_TRUE(consumer) << consumer.error().ToString();
  Status result;
  std::thread run([&] { result = (*consumer)->Run(); });
  auto release = [&](int write) {
    std::lock_guard lock(mutex);
    released = write;
    changed.notify_all();
  };
  auto written = [&](int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 30s, [&] { return writes >= n; });
  };
  const ConsumerCounters& counters = (*consumer)->counters();
  EXPECT_TRUE(testing::WaitFor([&] { return counters.ready.load(); }, 30s));
  // The first event, alone: its write is held.
  const std::vector<std::string> events = Events(9'000);
  testing::TestProducer producer(broker_->bootstrap());
  producer.Send("task-actions", {0, "k", events[0]});
  producer.Flush();
  EXPECT_TRUE(written(1)) << "the first event was not written";
  // The backlog, fetched into the consumer's queue while it waits for that write.
  for (size_t i = 1; i < events.size(); ++i) {
    producer.Send("task-actions", {static_cast<int32_t>(i % kPartitions), "k", events[i]});
  }
  producer.Flush();
  std::this_thread::sleep_for(2s);
  release(1);
  EXPECT_TRUE(written(2)) << "no second batch";
  // Given time to read the whole backlog (it would, gathering while the writer
  // is held), the consumer stops after a batch larger than the held one.
  (void)testing::WaitFor([&] { return counters.consumed.load() >= events.size(); }, 3s);
  EXPECT_LT(counters.consumed.load(), events.size()) << "the consumer kept gathering events while the writer was busy";
  release(2);
  EXPECT_TRUE(testing::WaitFor(
      [&] { return counters.applied.load() + counters.duplicates.load() == events.size(); }, 30s))
      << "applied " << counters.applied.load() << " + duplicates " << counters.duplicates.load() << " of "
      << events.size();
  // The two held batches, the one closed meanwhile, and what was read after.
  EXPECT_GE(counters.apply_batch_seconds.Read().count(), 4u);
  (*consumer)->Stop();
  run.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
}
// Far behind (more than two batches wait at the broker), a batch fills up to
// batch_events instead of closing when the writer is free or once it outgrows
// the one being written: the backlog's events wait for it anyway, and large
// batches cost less per event. Here a backlog of 9,000 events arrives while a
// write is held. The consumer takes what arrives meanwhile: if the watermarks
// do not show the backlog yet, one poll's worth (1,000 messages at most) closes
// by group commit and waits for the held write; once they do, the next batch
// is 4,000 events (caught up, it would be what one poll returned). Caught up
// again, group commit takes over: an idle event goes alone.
TEST_F(ConsumerTest, ABacklogIsReadInFullBatchesThenGroupCommitTakesOver) {
  std::mutex mutex;
  std::condition_variable changed;
  int writes = 0;
  bool hold = false;
  StoreOptions store_options{dir_ / "a", size_t{32} << 20, false, {}};
  store_options.batch_sink = [&](std::string_view) {  // on the writer thread
    std::unique_lock lock(mutex);
    ++writes;
    changed.notify_all();
    changed.wait_for(lock, 60s, [&] { return !hold; });
  };
  auto store = Store::Open(store_options);
  ASSERT_TRUE(store) << store.error().ToString();
  std::vector<int64_t> sizes;  // events (messages) of each batch, from the offsets it moved
  std::map<Partition, Offset> at;
  ConsumerOptions options = Options();
  options.batch_events = 4'000;
  options.batch_wait = std::chrono::minutes(1);
  options.on_applied = [&](std::span<const PartitionOffset> next) {  // on the Run() thread
    std::lock_guard lock(mutex);
    sizes.push_back(MessagesMoved(next, &at));
  };
  auto consumer = Consumer::Create(options, store->get());
  ASSERT_TRUE(consumer) << consumer.error().ToString();
  Status result;
  std::thread run([&] { result = (*consumer)->Run(); });
  const ConsumerCounters& counters = (*consumer)->counters();
  EXPECT_TRUE(testing::WaitFor([&] { return counters.ready.load(); }, 30s));
  const std::vector<std::string> events = Events(9'002);
  testing::TestProducer producer(broker_->bootstrap());
  // One event, written while the backlog arrives.
  {
    std::lock_guard lock(mutex);
    hold = true;
  }
  producer.Send("task-actions", {0, "k", events[0]});
  producer.Flush();
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 30s, [&] { return writes >= 1; })) << "nothing was written";
  }
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    producer.Send("task-actions", {static_cast<int32_t>(i % kPartitions), "k", events[i]});
  }
  producer.Flush();
  std::this_thread::sleep_for(1s);  // fetched meanwhile: the watermarks show the backlog
  {
    std::lock_guard lock(mutex);
    hold = false;
    changed.notify_all();
  }
  EXPECT_TRUE(testing::WaitFor([&] { return counters.applied.load() == events.size() - 1; }, 30s))
      << "applied " << counters.applied.load() << " of " << events.size() - 1;
  producer.Send("task-actions", {0, "k", events.back()});
  producer.Flush();
  EXPECT_TRUE(testing::WaitFor([&] { return counters.applied.load() == events.size(); }, 30s));
  {
    std::lock_guard lock(mutex);
    ASSERT_GE(sizes.size(), 3u) << ::testing::PrintToString(sizes);
    EXPECT_EQ(sizes[0], 1) << "batches: " << ::testing::PrintToString(sizes);
    const bool first_full = sizes[1] == 4'000;
    const bool poll_then_full = sizes[1] <= 1'000 && sizes.size() > 3 && sizes[2] == 4'000;
    EXPECT_TRUE(first_full || poll_then_full) << "batches: " << ::testing::PrintToString(sizes);
    EXPECT_EQ(sizes.back(), 1) << "the idle event waited for others; batches: " << ::testing::PrintToString(sizes);
  }
  (*consumer)->Stop();
  run.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
}


// Produces junk (not JSON: each message one rejection, a consumed event) to
// partition 0 until the embedded broker, which keeps ~5 MiB a partition, has
// dropped every offset up to `offset` (bounded: 8 rounds); returns the
// partition's low and high watermarks then.
std::pair<int64_t, int64_t> DropOldestOfPartition0(testing::TestProducer& producer, int64_t offset) {
  const std::string junk(2048, 'x');
  std::pair<int64_t, int64_t> marks{-1, -1};
  for (int round = 0; round < 8 && marks.first <= offset; ++round) {
    for (int i = 0; i < 2'000; ++i) producer.Send("task-actions", {0, "k", junk});
    producer.Flush();
    marks = producer.Watermarks("task-actions", 0);
  }
  return marks;
}

// A partition the store has never seen starts at offset 0 (ConsumerOptions,
// OnRebalance); where the broker no longer holds it (here the embedded broker,
// which keeps ~5 MiB a partition, dropped the oldest messages) the fetch is out
// of range and the partition starts at the earliest offset held: every message
// still there is read, none twice, and nothing counts as a reset.
TEST_F(ConsumerTest, AFreshPartitionWhoseFirstOffsetsAreGoneStartsAtTheEarliestHeld) {
  testing::TestProducer producer(broker_->bootstrap());
  const std::pair<int64_t, int64_t> marks = DropOldestOfPartition0(producer, 0);
  ASSERT_GT(marks.first, 0) << "the broker kept every message up to " << marks.second;
  LogCapture log;
  auto running = StartConsumer(dir_ / "a", Options());
  const ConsumerCounters& c = running->consumer->counters();
  const auto held = static_cast<uint64_t>(marks.second - marks.first);
  EXPECT_TRUE(testing::WaitFor([&] { return c.consumed.load() >= held && c.lag.load() == 0; }, 60s))
      << "consumed " << c.consumed.load() << " of the " << held << " messages held, lag " << c.lag.load();
  running->Stop();
  EXPECT_TRUE(running->result.ok()) << running->result.ToString();
  EXPECT_EQ(c.consumed.load(), held);
  EXPECT_EQ(c.rejected[static_cast<size_t>(RejectReason::kInvalidJson)].load(), held);
  EXPECT_EQ(c.offset_resets.load(), 0u);
  // What retention removed before this store read it is said, and counted.
  EXPECT_EQ(c.offsets_skipped.load(), static_cast<uint64_t>(marks.first));
  EXPECT_EQ(log.Count("partition 0: offsets 0.." + std::to_string(marks.first - 1) + " were removed by retention"), 1u)
      << log.str();
}

// A stored position the brokers no longer hold (the store was stopped, or
// restored from a backup, for longer than the topic's retention) resumes at
// the earliest offset held, and the messages retention removed in between are
// logged once and counted, not skipped silently.
TEST_F(ConsumerTest, RetentionRemovingUnreadMessagesIsLoggedAndCounted) {
  const std::vector<std::string> events = Events(2);
  testing::TestProducer producer(broker_->bootstrap());
  producer.Send("task-actions", {0, "k", events[0]});
  producer.Flush();
  auto running = StartConsumer(dir_ / "a", Options());
  ASSERT_TRUE(testing::WaitFor([&] { return running->consumer->counters().applied.load() == 1; }, 30s));
  running->Stop();
  EXPECT_EQ(running->consumer->counters().offsets_skipped.load(), 0u);
  running.reset();

  // Unread messages until the broker drops the stored position (offset 1).
  const std::pair<int64_t, int64_t> marks = DropOldestOfPartition0(producer, 1);
  ASSERT_GT(marks.first, 1) << "the broker kept every message up to " << marks.second;
  producer.Send("task-actions", {0, "k", events[1]});
  producer.Flush();

  LogCapture log;
  running = StartConsumer(dir_ / "a", Options());
  const ConsumerCounters& c = running->consumer->counters();
  ASSERT_TRUE(testing::WaitFor([&] { return c.applied.load() == 1 && c.lag.load() == 0; }, 60s))
      << "applied " << c.applied.load() << ", lag " << c.lag.load();
  running->Stop();
  EXPECT_TRUE(running->result.ok()) << running->result.ToString();
  EXPECT_EQ(c.offsets_skipped.load(), static_cast<uint64_t>(marks.first - 1));
  EXPECT_EQ(c.offset_resets.load(), 0u);
  EXPECT_EQ(c.consumed.load(), static_cast<uint64_t>(marks.second + 1 - marks.first));
  EXPECT_EQ(log.Count("partition 0: offsets 1.." + std::to_string(marks.first - 1) + " were removed by retention"), 1u)
      << log.str();
  EXPECT_EQ(running->store->totals().records, 2u);
}

// Two events, the second produced once the first is consumed (and applied,
// where it should not linger), with a linger of 2 s and batch_wait of 1 min:
// the events (messages) of each batch, from the offsets it moved. Empty if the
// second event came too late to tell whether it joined a lingering batch (a
// stalled machine).
std::vector<int64_t> ConsumerTest::LingerBatches(bool loaded, size_t linger_events) {
  std::mutex mutex;
  std::vector<int64_t> sizes;
  std::map<Partition, Offset> at;
  ConsumerOptions options = Options();
  options.batch_linger = 2s;
  options.linger_events = linger_events;
  options.linger_rate = loaded ? 0 : 1e12;
  options.on_applied = [&](std::span<const PartitionOffset> next) {  // on the Run() thread
    std::lock_guard lock(mutex);
    sizes.push_back(MessagesMoved(next, &at));
  };
  auto running = StartConsumer(dir_ / "a", options, /*batch_wait=*/1min);
  const ConsumerCounters& counters = running->consumer->counters();
  EXPECT_TRUE(testing::WaitFor([&] { return counters.ready.load(); }, 30s));
  const std::vector<std::string> events = Events(2);
  testing::TestProducer producer(broker_->bootstrap());
  producer.Send("task-actions", {0, "k", events[0]});
  producer.Flush();
  EXPECT_TRUE(testing::WaitFor([&] { return counters.consumed.load() == 1; }, 30s));
  const auto first = std::chrono::steady_clock::now();  // its batch began (and lingers) just before
  if (!loaded || linger_events == 1) {
    EXPECT_TRUE(testing::WaitFor([&] { return counters.applied.load() == 1; }, 30s));
  }
  producer.Send("task-actions", {1, "k", events[1]});
  producer.Flush();
  EXPECT_TRUE(testing::WaitFor([&] { return counters.consumed.load() == 2; }, 30s));
  const bool in_time = std::chrono::steady_clock::now() - first < 1500ms;
  EXPECT_TRUE(testing::WaitFor([&] { return counters.applied.load() == 2; }, 30s))
      << "the batch waited for batch_wait (1 min), not for its linger";
  running->Stop();
  EXPECT_TRUE(running->result.ok()) << running->result.ToString();
  std::lock_guard lock(mutex);
  if (loaded && linger_events > 1 && !in_time) return {};
  return sizes;
}

// Under load (here: any rate) a batch stays open until it is batch_linger old,
// so an event arriving meanwhile joins it although the writer was free; then it
// closes, long before batch_wait.
TEST_F(ConsumerTest, UnderLoadABatchLingersSoThatLaterEventsJoinIt) {
  const std::vector<int64_t> sizes = LingerBatches(/*loaded=*/true);
  if (sizes.empty()) GTEST_SKIP() << "the second event came after the first one's linger: the machine stalled";
  EXPECT_EQ(sizes, std::vector<int64_t>{2}) << "batches: " << ::testing::PrintToString(sizes);
}

// A batch that holds linger_events does not linger: under load as well, the
// two events go in two batches.
TEST_F(ConsumerTest, ABatchOfLingerEventsClosesWithoutLingering) {
  const std::vector<int64_t> sizes = LingerBatches(/*loaded=*/true, /*linger_events=*/1);
  EXPECT_EQ(sizes, (std::vector<int64_t>{1, 1})) << "batches: " << ::testing::PrintToString(sizes);
}

// Below the linger rate group commit closes a batch as soon as nothing more is
// ready: the same two events go in two batches.
TEST_F(ConsumerTest, BelowTheLingerRateEachEventGoesAtOnce) {
  const std::vector<int64_t> sizes = LingerBatches(/*loaded=*/false);
  EXPECT_EQ(sizes, (std::vector<int64_t>{1, 1})) << "batches: " << ::testing::PrintToString(sizes);
}

// tally_event_freshness_seconds: one observation per event applied, the
// elements of an array message included, each from its message's timestamp.
TEST_F(ConsumerTest, FreshnessIsObservedForEveryAppliedEvent) {
  auto running = StartConsumer(dir_ / "a", Options());
  ASSERT_TRUE(testing::WaitFor([&] { return running->consumer->counters().ready.load(); }, 30s));
  const std::vector<std::string> events = Events(5);
  const int64_t before_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  testing::TestProducer producer(broker_->bootstrap());
  producer.Send("task-actions", {0, "k", events[0]});
  producer.Send("task-actions", {1, "k", "[" + events[1] + "," + events[2] + "," + events[3] + "]"});
  producer.Send("task-actions", {2, "k", events[4]});
  producer.Flush();
  const ConsumerCounters& counters = running->consumer->counters();
  ASSERT_TRUE(testing::WaitFor([&] { return counters.applied.load() == 5; }, 30s));
  running->Stop();
  const Histogram::Snapshot freshness = counters.event_freshness_seconds.Read();
  EXPECT_EQ(freshness.count(), 5u);
  // The messages were produced after before_ms and applied before now.
  const int64_t elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() - before_ms;
  EXPECT_GE(freshness.sum, 0.0);
  EXPECT_LE(freshness.sum, 5 * (static_cast<double>(elapsed_ms) + 1) / 1000.0);
}

TEST_F(ConsumerTest, StallsWhileTheBrokerIsDownThenResumesLosingNothing) {
  const testing::TestStream stream = testing::MakeStream(3, kPartitions, 8, 30);
  auto running = StartConsumer(dir_ / "a", Options());
  testing::TestProducer producer(broker_->bootstrap());
  const size_t half = stream.messages.size() / 2;
  for (size_t i = 0; i < half; ++i) producer.Send("task-actions", stream.messages[i]);
  producer.Flush();
  ASSERT_TRUE(testing::WaitFor([&] { return running->consumer->counters().ready.load(); }, 30s));

  // Down: readiness and lag say so, and nothing more is applied.
  ASSERT_EQ(rd_kafka_mock_broker_set_down(broker_->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(testing::WaitFor([&] { return !running->consumer->counters().ready.load(); }, 30s));
  EXPECT_EQ(running->consumer->counters().lag, -1);
  // Why (the status page's words): the brokers are down, or, when the group's
  // session ran out first, the partitions were revoked; either way no lag per partition.
  EXPECT_TRUE(testing::WaitFor([&] { return running->consumer->counters().partition_lag().empty(); }, 5s));
  const uint64_t stalled = running->consumer->counters().consumed;
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(running->consumer->counters().consumed, stalled);

  // Up again, with fetch errors pushed on top: it resumes and loses nothing.
  ASSERT_EQ(rd_kafka_mock_broker_set_up(broker_->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_mock_push_request_errors(broker_->mock(), 1 /*Fetch*/, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  for (size_t i = half; i < stream.messages.size(); ++i) producer.Send("task-actions", stream.messages[i]);
  producer.Flush();
  ASSERT_TRUE(testing::WaitFor([&] { return AllConsumed(*running, stream); }, 60s))
      << "consumed " << running->consumer->counters().consumed << " of " << stream.events;
  EXPECT_TRUE(running->consumer->counters().ready);
  EXPECT_FALSE(running->consumer->counters().brokers_down);
  running->Stop();
  EXPECT_EQ(testing::CheckStoreMatches(*running->store, stream.model, {1000}), "");
}

TEST_F(ConsumerTest, RejectedEventsGoToTheDeadLetterTopicWithTheirOrigin) {
  ASSERT_TRUE(broker_->CreateTopic("dead-letters", 1).ok());
  ConsumerOptions options = Options();
  options.dead_letter_topic = "dead-letters";
  auto running = StartConsumer(dir_ / "a", options);
  testing::TestProducer producer(broker_->bootstrap());
  producer.Send("task-actions", {3, "k1", "not json {"});
  producer.Send("task-actions", {5, "k2", R"([{"id": 1}, 42])"});
  producer.Flush();
  const auto letters = testing::ReadTopic(broker_->bootstrap(), "dead-letters", 3, 30s);
  running->Stop();
  ASSERT_EQ(letters.size(), 3u);
  std::map<std::string, const testing::Consumed*> by_reason;
  for (const auto& l : letters) by_reason[l.headers.at("tally-reason")] = &l;
  ASSERT_TRUE(by_reason.count("invalid_json"));
  const auto& whole = *by_reason["invalid_json"];
  EXPECT_EQ(whole.value, "not json {");
  EXPECT_EQ(whole.headers.at("tally-source-topic"), "task-actions");
  EXPECT_EQ(whole.headers.at("tally-source-partition"), "3");
  EXPECT_EQ(whole.headers.at("tally-source-offset"), "0");
  EXPECT_EQ(whole.headers.count("tally-source-element"), 0u);
  ASSERT_TRUE(by_reason.count("missing_field") && by_reason.count("wrong_type"));
  EXPECT_EQ(by_reason["missing_field"]->value, R"({"id": 1})");
  EXPECT_EQ(by_reason["missing_field"]->headers.at("tally-source-element"), "0");
  EXPECT_EQ(by_reason["wrong_type"]->value, "42");
  EXPECT_EQ(by_reason["wrong_type"]->headers.at("tally-source-partition"), "5");
  EXPECT_NE(by_reason["wrong_type"]->headers.at("tally-message").find("event"), std::string::npos);
}

// The id a cluster reports in its metadata, as a client sees it.
std::string ClusterIdOf(const std::string& bootstrap) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), nullptr, 0);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, nullptr, 0);
  char* id = rd_kafka_clusterid(client, 10'000);
  std::string out = id ? id : "";
  if (id) rd_kafka_mem_free(client, id);
  rd_kafka_destroy(client);
  return out;
}

// Every event of the streams made with these (seed, requests, tasks) in order:
// the first copy of an id is the one kept, as the store keeps the one applied first.
testing::ReferenceModel ModelOf(std::initializer_list<std::tuple<uint64_t, uint32_t, uint32_t>> streams) {
  testing::ReferenceModel model;
  for (const auto& [seed, requests, tasks] : streams) {
    WorkloadOptions o;
    o.seed = seed;
    o.requests = requests;
    o.tasks_per_request = tasks;
    Workload workload(o);
    TaskAction a;
    while (workload.Next(&a)) model.Deliver(a);
  }
  return model;
}

std::vector<PartitionOffset> StoredOffsets(const Store& store) {
  Result<std::vector<PartitionOffset>> offsets = store.Offsets("task-actions");
  EXPECT_TRUE(offsets);
  return offsets ? *offsets : std::vector<PartitionOffset>();
}

std::vector<int64_t> MessagesPerPartition(const testing::TestStream& stream) {
  std::vector<int64_t> n(kPartitions, 0);
  for (const auto& m : stream.messages) ++n[m.partition];
  return n;
}

// Rewrites the stored positions of a stopped consumer's store with `change`
// (as a topic recreated on the same cluster, or a store from before cluster
// ids and fingerprints were kept, would have them).
void RewriteOffsets(Store& store, const std::function<void(PartitionOffset*)>& change) {
  std::vector<PartitionOffset> offsets = StoredOffsets(store);
  for (PartitionOffset& o : offsets) change(&o);
  ASSERT_TRUE(store.Apply(ApplyBatch{{}, {}, "task-actions", offsets}));
}

// Same data dir and group, another cluster whose topic holds more (and other)
// messages than the stored offsets: resuming at them would skip the first
// messages of every partition. The cluster id says so: every partition is
// re-read from the earliest offset, counted and logged once.
TEST_F(ConsumerTest, AnotherClusterWithMoreMessagesIsReReadFromTheEarliestOffset) {
  const testing::TestStream first = testing::MakeStream(21, kPartitions, 3, 10);
  auto running = StartConsumer(dir_ / "a", Options());
  Produce(first);
  ASSERT_TRUE(testing::WaitFor([&] { return AllConsumed(*running, first); }, 60s));
  running->Stop();
  const std::string cluster_a = ClusterIdOf(broker_->bootstrap());
  for (const PartitionOffset& o : StoredOffsets(*running->store)) {
    EXPECT_EQ(o.cluster, cluster_a);
    EXPECT_TRUE(o.fingerprint);
  }
  running.reset();

  // Cluster B (A still up, so the two differ), with more messages in every partition.
  std::unique_ptr<DevBroker> b = testing::BrokerWithTopic(kPartitions);  // a replaced cluster or a recreated topic
  ASSERT_TRUE(b);
  ASSERT_NE(ClusterIdOf(b->bootstrap()), cluster_a);
  const testing::TestStream second = testing::MakeStream(22, kPartitions, 12, 30);
  const auto before = MessagesPerPartition(first), after = MessagesPerPartition(second);
  for (int p = 0; p < kPartitions; ++p) ASSERT_GT(after[p], before[p]) << "partition " << p;
  Produce(second, b->bootstrap());
  const testing::ReferenceModel both = ModelOf({{21, 3, 10}, {22, 12, 30}});

  LogCapture log;
  ASSERT_NO_FATAL_FAILURE(ResumeOnOtherCluster(*b, second, both, &running));
  EXPECT_EQ(log.Count("re-reading from the earliest offset"), static_cast<size_t>(kPartitions)) << log.str();
  EXPECT_EQ(log.Count("partition 3: the stored offset " + std::to_string(before[3]) + " was read from cluster " +
                      cluster_a),
            1u)
      << log.str();
  EXPECT_EQ(testing::CheckStoreMatches(*running->store, both, {1000}), "");
  for (const PartitionOffset& o : StoredOffsets(*running->store)) {
    EXPECT_EQ(Raw(o.next), after[Raw(o.partition)]);
    EXPECT_EQ(o.cluster, ClusterIdOf(b->bootstrap()));
  }
}

// A topic deleted and recreated on the same cluster: the cluster id is the
// same, but the message at each stored offset - 1 is not the last one applied.
TEST_F(ConsumerTest, ARecreatedTopicWithOtherMessagesAtTheStoredOffsetsIsReReadFromTheEarliestOffset) {
  const testing::TestStream first = testing::MakeStream(23, kPartitions, 3, 10);
  auto running = StartConsumer(dir_ / "a", Options());
  Produce(first);
  ASSERT_TRUE(testing::WaitFor([&] { return AllConsumed(*running, first); }, 60s));
  running->Stop();
  // The mock cluster cannot delete a topic: the "recreated" topic is on another
  // cluster, and the stored positions say they were read from that one.
  std::unique_ptr<DevBroker> b = testing::BrokerWithTopic(kPartitions);  // a replaced cluster or a recreated topic
  ASSERT_TRUE(b);
  const std::string cluster_b = ClusterIdOf(b->bootstrap());
  RewriteOffsets(*running->store, [&](PartitionOffset* o) { o->cluster = cluster_b; });
  running.reset();
  const testing::TestStream second = testing::MakeStream(24, kPartitions, 12, 30);
  const auto before = MessagesPerPartition(first), after = MessagesPerPartition(second);
  for (int p = 0; p < kPartitions; ++p) ASSERT_GT(after[p], before[p]) << "partition " << p;
  Produce(second, b->bootstrap());
  const testing::ReferenceModel both = ModelOf({{23, 3, 10}, {24, 12, 30}});

  LogCapture log;
  ASSERT_NO_FATAL_FAILURE(ResumeOnOtherCluster(*b, second, both, &running));
  EXPECT_EQ(log.Count("re-reading from the earliest offset"), static_cast<size_t>(kPartitions)) << log.str();
  EXPECT_EQ(log.Count("differs from it"), static_cast<size_t>(kPartitions)) << log.str();
  // Nothing of the new topic was skipped, and nothing consumed twice.
  EXPECT_EQ(running->consumer->counters().consumed, second.events);
  EXPECT_EQ(testing::CheckStoreMatches(*running->store, both, {1000}), "");
}

// A topic recreated shorter than the stored offsets, with a store written
// before cluster ids and fingerprints were kept: each stored offset is beyond
// its partition's end. The partitions are re-read from the earliest offset, as
// before, but counted and logged.
TEST_F(ConsumerTest, StoredOffsetsBeyondThePartitionsEndAreReReadLoudly) {
  const testing::TestStream first = testing::MakeStream(25, kPartitions, 12, 30);
  auto running = StartConsumer(dir_ / "a", Options());
  Produce(first);
  ASSERT_TRUE(testing::WaitFor([&] { return AllConsumed(*running, first); }, 60s));
  running->Stop();
  RewriteOffsets(*running->store, [&](PartitionOffset* o) {
    o->cluster.clear();
    o->fingerprint.reset();
  });
  running.reset();
  std::unique_ptr<DevBroker> b = testing::BrokerWithTopic(kPartitions);  // a replaced cluster or a recreated topic
  ASSERT_TRUE(b);
  const testing::TestStream second = testing::MakeStream(26, kPartitions, 2, 8);
  const auto before = MessagesPerPartition(first), after = MessagesPerPartition(second);
  for (int p = 0; p < kPartitions; ++p) ASSERT_LT(after[p], before[p]) << "partition " << p;
  Produce(second, b->bootstrap());
  const testing::ReferenceModel both = ModelOf({{25, 12, 30}, {26, 2, 8}});

  LogCapture log;
  ASSERT_NO_FATAL_FAILURE(ResumeOnOtherCluster(*b, second, both, &running));
  EXPECT_EQ(log.Count("is beyond the end of the partition"), static_cast<size_t>(kPartitions)) << log.str();
  EXPECT_EQ(testing::CheckStoreMatches(*running->store, both, {1000}), "");
  for (const PartitionOffset& o : StoredOffsets(*running->store)) {
    EXPECT_EQ(Raw(o.next), after[Raw(o.partition)]);
  }
}

// A plain restart against the same cluster trusts its positions: no reset,
// nothing consumed again (the last applied message, fetched to check the
// position, is not counted), and the next messages are applied once.
TEST_F(ConsumerTest, ARestartOnTheSameClusterResumesWithoutResetOrReReading) {
  const testing::TestStream stream = testing::MakeStream(27, kPartitions, 4, 12);
  auto running = StartConsumer(dir_ / "a", Options());
  Produce(stream);
  ASSERT_TRUE(testing::WaitFor([&] { return AllConsumed(*running, stream); }, 60s));
  running->Stop();
  running.reset();

  LogCapture log;
  running = StartConsumer(dir_ / "a", Options());
  ASSERT_TRUE(testing::WaitFor(
      [&] { return running->consumer->counters().ready && running->consumer->counters().lag == 0; }, 30s));
  // New events, one per partition, with ids no stream uses.
  testing::TestProducer producer(broker_->bootstrap());
  TaskAction a;
  WorkloadOptions o;
  Workload workload(o);
  ASSERT_TRUE(workload.Next(&a));
  for (int p = 0; p < kPartitions; ++p) {
    a.id = Id(900'000'000'000 + p);
    std::string json;
    AppendEventJson(a, &json);
    producer.Send("task-actions", {p, "request", json});
  }
  producer.Flush();
  ASSERT_TRUE(testing::WaitFor([&] { return running->consumer->counters().applied == kPartitions; }, 30s))
      << running->consumer->counters().applied;
  running->Stop();
  const ConsumerCounters& c = running->consumer->counters();
  EXPECT_EQ(c.offset_resets, 0u);
  EXPECT_EQ(c.consumed, static_cast<uint64_t>(kPartitions));
  EXPECT_EQ(c.duplicates, 0u);
  EXPECT_EQ(log.Count("re-reading"), 0u) << log.str();
  EXPECT_EQ(running->store->totals().records, stream.model.distinct() + kPartitions);
}

TEST_F(ConsumerTest, RefusesAnUnknownKafkaPropertyNamingIt) {
  auto store = Store::Open(StoreOptions{dir_ / "a", size_t{32} << 20, false, {}});
  ASSERT_TRUE(store);
  ConsumerOptions options = Options();
  options.kafka_properties = {{"fetch.wait.max.ms", "5"}, {"no.such.property", "1"}};
  auto consumer = Consumer::Create(options, store->get());
  ASSERT_FALSE(consumer);
  EXPECT_EQ(consumer.error().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(consumer.error().message().find("no.such.property"), std::string::npos);
  options.kafka_properties = {{"fetch.wait.max.ms", "not a number"}};
  consumer = Consumer::Create(options, store->get());
  ASSERT_FALSE(consumer);
  EXPECT_NE(consumer.error().message().find("fetch.wait.max.ms"), std::string::npos);
}

}  // namespace
}  // namespace tally
