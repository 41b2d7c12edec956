#include "ingest/delivery.h"

#include "ingest/event_json.h"

namespace tally {

Delivery::Delivery(const WorkloadOptions& workload, const DeliveryOptions& options)
    : workload_(workload), options_(options), rng_(workload.seed ^ 0x5DEECE66DULL) {
  // Its own random stream: the events are the same whatever the delivery options.
  if (options_.per_message == 0) options_.per_message = 1;
}

// Each event is due `Delay()` places after its own: an event taken later can
// overtake it only if it is taken at most out_of_order places later.
bool Delivery::NextEvent(Pending* out) {
  // Take events while one not yet taken could still be due before the first waiting.
  while (!exhausted_ && (waiting_.empty() || taken_ <= waiting_.top().due)) {
    if ((options_.events != 0 && taken_ >= options_.events) || !workload_.Next(&action_)) {
      exhausted_ = true;
      break;
    }
    Pending p{taken_ + Delay(), taken_, false, action_.annotation_request_id, {}};
    AppendEventJson(action_, &p.json);
    waiting_.push(std::move(p));
    ++taken_;
  }
  if (waiting_.empty()) return false;
  *out = waiting_.top();
  waiting_.pop();
  const bool again =
      !out->copy && options_.duplicates > 0 && static_cast<double>(rng_() >> 11) * 0x1.0p-53 < options_.duplicates;
  if (again) {
    // The copy goes out 1..out_of_order+1 places after the original.
    Pending copy{out->due + 1 + Delay(), (uint64_t{1} << 63) + copies_++, true, out->key, out->json};
    waiting_.push(std::move(copy));
  }
  ++sent_;
  return true;
}

bool Delivery::Next(Message* out) {
  out->key.clear();
  out->value.clear();
  out->events = 0;
  Pending event;
  while (out->events < options_.per_message && NextEvent(&event)) {
    if (out->events == 0) out->key = event.key;
    if (options_.per_message > 1) out->value += out->events == 0 ? '[' : ',';
    out->value += event.json;
    ++out->events;
  }
  if (out->events == 0) return false;
  if (options_.per_message > 1) out->value += ']';
  return true;
}

}  // namespace tally
