// Delivery: what it promises about duplicates, lateness, arrays and determinism,
// checked on the messages it makes.

#include "ingest/delivery.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "ingest/decode.h"

namespace tally {
namespace {

struct Sent {
  std::vector<Message> messages;
  std::vector<TaskAction> events;  // in the order sent
};

Sent SendAll(const WorkloadOptions& w, const DeliveryOptions& d) {
  Delivery delivery(w, d);
  Sent out;
  Decoder decoder;
  DecodedEvents decoded;
  Message m;
  while (delivery.Next(&m)) {
    decoded.clear();
    decoder.Decode(m.value, Origin{Partition{0}, Offset{0}}, &decoded);
    EXPECT_TRUE(decoded.rejections().empty()) << m.value.substr(0, 200);
    EXPECT_EQ(decoded.actions().size(), m.events);
    if (!decoded.actions().empty()) {
      EXPECT_EQ(m.key, decoded.actions()[0].annotation_request_id);
    }
    out.events.insert(out.events.end(), decoded.actions().begin(), decoded.actions().end());
    out.messages.push_back(m);
  }
  EXPECT_EQ(delivery.events_sent(), out.events.size());
  return out;
}

WorkloadOptions Small(uint64_t seed = 3) {
  WorkloadOptions w;
  w.seed = seed;
  w.requests = 6;
  w.tasks_per_request = 40;
  return w;
}

TEST(Delivery, InOrderWithoutOptionsIsTheWorkloadItself) {
  Sent sent = SendAll(Small(), DeliveryOptions{});
  Workload workload(Small());
  TaskAction expected;
  size_t i = 0;
  while (workload.Next(&expected)) {
    ASSERT_LT(i, sent.events.size());
    EXPECT_EQ(sent.events[i].id, expected.id) << i;
    ++i;
  }
  EXPECT_EQ(i, sent.events.size());
}

TEST(Delivery, DuplicatesAreTheAskedShareAndOutOfOrderIsBounded) {
  DeliveryOptions d;
  d.duplicates = 0.1;
  d.out_of_order = 25;
  Sent sent = SendAll(Small(), d);
  // Position each record id was taken from the workload at.
  Workload workload(Small());
  std::map<Id, uint64_t> taken;
  TaskAction a;
  while (workload.Next(&a)) taken.emplace(a.id, taken.size());
  std::map<Id, int> copies;
  for (const TaskAction& e : sent.events) ++copies[e.id];
  ASSERT_EQ(copies.size(), taken.size()) << "every event is sent";
  size_t twice = 0;
  for (const auto& [id, n] : copies) {
    EXPECT_LE(n, 2);
    twice += n == 2;
  }
  const double share = static_cast<double>(twice) / static_cast<double>(taken.size());
  EXPECT_GT(share, 0.07);
  EXPECT_LT(share, 0.13);
  // Among first copies: an event is overtaken only by events taken at most
  // out_of_order places after it, and some are overtaken at all.
  std::map<Id, bool> seen;
  uint64_t max_taken_so_far = 0, overtaken = 0;
  for (const TaskAction& e : sent.events) {
    if (seen[e.id]) continue;
    seen[e.id] = true;
    const uint64_t position = taken[e.id];
    if (position < max_taken_so_far) {
      ++overtaken;
      EXPECT_LE(max_taken_so_far - position, d.out_of_order) << "event " << position;
    }
    max_taken_so_far = std::max(max_taken_so_far, position);
  }
  EXPECT_GT(overtaken, taken.size() / 4);
}

TEST(Delivery, ArraysCarryTheAskedNumberOfEvents) {
  DeliveryOptions d;
  d.per_message = 7;
  Sent sent = SendAll(Small(), d);
  ASSERT_GT(sent.messages.size(), 2u);
  for (size_t i = 0; i + 1 < sent.messages.size(); ++i) {
    EXPECT_EQ(sent.messages[i].events, 7u);
    EXPECT_EQ(sent.messages[i].value.front(), '[');
  }
  EXPECT_LE(sent.messages.back().events, 7u);
}

TEST(Delivery, EventsCapsWhatIsTaken) {
  DeliveryOptions d;
  d.events = 123;
  d.duplicates = 0.5;
  Delivery delivery(Small(), d);
  Message m;
  while (delivery.Next(&m)) {
  }
  EXPECT_EQ(delivery.distinct_events(), 123u);
  EXPECT_GT(delivery.events_sent(), 123u);
}

TEST(Delivery, SameSeedSameBytesOtherSeedOtherBytes) {
  DeliveryOptions d;
  d.duplicates = 0.05;
  d.out_of_order = 10;
  d.per_message = 3;
  auto bytes = [&](uint64_t seed) {
    std::string all;
    for (const Message& m : SendAll(Small(seed), d).messages) all += m.key + '\t' + m.value + '\n';
    return all;
  };
  EXPECT_EQ(bytes(5), bytes(5));
  EXPECT_NE(bytes(5), bytes(6));
}

}  // namespace
}  // namespace tally
