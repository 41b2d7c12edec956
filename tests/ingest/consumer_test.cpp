// The consumer against the embedded broker, in process: exactly the reference's
// views from a messy stream over 8 partitions, replicas converging, broker
// faults, dead letters, and offsets both in the store and in the group.

#include "ingest/consumer.h"

#include <gtest/gtest.h>

#include <thread>

#include "ingest/dev_broker.h"
#include "tests/aggregate/model_check.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/support/temp_dir.h"

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

std::unique_ptr<Running> StartConsumer(const std::string& dir, ConsumerOptions options) {
  auto running = std::make_unique<Running>();
  auto store = Store::Open(StoreOptions{dir, size_t{32} << 20, false, {}});
  EXPECT_TRUE(store) << store.error().ToString();
  running->store = std::move(*store);
  options.batch_wait = 20ms;
  auto consumer = Consumer::Create(options, running->store.get());
  EXPECT_TRUE(consumer) << consumer.error().ToString();
  running->consumer = std::move(*consumer);
  running->thread = std::thread([r = running.get()] { r->result = r->consumer->Run(); });
  return running;
}

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = DevBroker::Start(1);
    ASSERT_TRUE(broker);
    broker_ = std::move(*broker);
    ASSERT_TRUE(broker_->CreateTopic("task-actions", kPartitions).ok());
  }

  ConsumerOptions Options(const std::string& group = "tally") {
    ConsumerOptions o;
    o.brokers = broker_->bootstrap();
    o.group = group;
    return o;
  }

  void Produce(const testing::TestStream& stream) {
    testing::TestProducer producer(broker_->bootstrap());
    for (const auto& m : stream.messages) producer.Send("task-actions", m);
  }

  bool AllConsumed(const Running& r, const testing::TestStream& s) {
    return r.consumer->counters().consumed >= s.events && r.consumer->counters().lag == 0 &&
           r.store->totals().records == s.model.distinct();
  }

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
  for (const auto& o : *offsets) EXPECT_EQ(o.next, ends[o.partition]) << "partition " << o.partition;
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
