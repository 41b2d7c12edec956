#include "aggregate/decoded_events.h"

#include <algorithm>

namespace tally {

TaskAction& DecodedEvents::NewAction() {
  if (actions_ == slots_.size()) slots_.emplace_back();
  return slots_[actions_++];
}

void DecodedEvents::Truncate(size_t actions, size_t rejections) {
  actions_ = std::min(actions_, actions);
  if (rejections < rejections_.size()) rejections_.resize(rejections);
}

}  // namespace tally
