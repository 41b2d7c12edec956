#pragma once

// Delivery turns a Workload's events into the Kafka messages an imperfect
// platform would send: some events sent twice, some late, several to a message
// as a JSON array. Each message is keyed by the annotation request of its first
// event: single events of a request share a partition, but an array carries
// the events that follow in the stream, of other requests too, wherever its
// first event's request puts it. Deterministic: the same options give the same
// messages, byte for byte.
//
// Not thread-safe; one Delivery per thread.

#include <cstdint>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "ingest/workload.h"

namespace tally {

struct DeliveryOptions {
  // Events taken from the workload; 0: all of it (every task completed).
  uint64_t events = 0;
  // The share of events sent a second time, somewhat later.
  double duplicates = 0;
  // An event may be overtaken by up to this many events taken after it.
  uint32_t out_of_order = 0;
  // Events per message; above 1 each message is a JSON array.
  uint32_t per_message = 1;
};

struct Message {
  std::string key;
  std::string value;
  uint32_t events = 0;  // in the message
};

class Delivery {
 public:
  Delivery(const WorkloadOptions& workload, const DeliveryOptions& options);

  // The next message into *out; false when everything has been sent.
  bool Next(Message* out);

  uint64_t events_sent() const { return sent_; }              // duplicates included
  uint64_t distinct_events() const { return workload_.produced(); }
  const Workload& workload() const { return workload_; }

 private:
  struct Pending {
    uint64_t due;  // sent in order of due, then of seq
    uint64_t seq;  // order taken from the workload (copies: after everything)
    bool copy;
    std::string key;
    std::string json;
  };
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };
  // The next event to send, or false when none is left.
  bool NextEvent(Pending* out);
  uint64_t Delay() { return options_.out_of_order == 0 ? 0 : rng_() % (options_.out_of_order + 1); }

  Workload workload_;
  DeliveryOptions options_;
  std::mt19937_64 rng_;
  // Events taken from the workload (and copies to send again), not yet sent.
  std::priority_queue<Pending, std::vector<Pending>, Later> waiting_;
  uint64_t taken_ = 0;
  uint64_t copies_ = 0;
  bool exhausted_ = false;
  uint64_t sent_ = 0;
  TaskAction action_;
};

}  // namespace tally
