#pragma once

// DecodedEvents: the events of one or more messages, as the decoder (ingest/)
// produces them and the store (Store::Submit) takes them in a Batch.

#include <cstddef>
#include <span>
#include <vector>

#include "aggregate/rejection.h"
#include "aggregate/task_action.h"

namespace tally {

// The events of one or more messages. The caller owns it and reuses it: clear()
// forgets the events but keeps their memory (strings included), so a steady
// stream decodes without allocating. Not thread-safe.
class DecodedEvents {
 public:
  std::span<const TaskAction> actions() const { return {slots_.data(), actions_}; }
  const std::vector<Rejection>& rejections() const { return rejections_; }
  // Events decoded so far, accepted or not (the contract's "consumed" count).
  size_t size() const { return actions_ + rejections_.size(); }
  // About how much memory the events hold (their objects and text), for
  // batches bounded in bytes as well as in events.
  size_t bytes() const { return bytes_; }
  void clear() {
    actions_ = 0;
    rejections_.clear();
    bytes_ = 0;
  }

  // For the decoder. NewAction returns the slot of the next action; it may hold
  // an earlier event's values, which the caller must overwrite entirely.
  TaskAction& NewAction();
  void DropLastAction() { --actions_; }
  void AddRejection(Rejection r) {
    bytes_ += sizeof(Rejection) + r.field.size() + r.message.size() + r.excerpt.size();
    rejections_.push_back(std::move(r));
  }
  void AddBytes(size_t n) { bytes_ += n; }
  // Forgets everything added after the counts given.
  void Truncate(size_t actions, size_t rejections);
  void Truncate(size_t actions, size_t rejections, size_t bytes) {
    Truncate(actions, rejections);
    bytes_ = bytes;
  }

 private:
  std::vector<TaskAction> slots_;  // [0, actions_) are events; the rest spare
  size_t actions_ = 0;
  std::vector<Rejection> rejections_;
  size_t bytes_ = 0;
};

}  // namespace tally
