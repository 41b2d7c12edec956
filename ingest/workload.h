#pragma once

// Workload generates a realistic TaskAction stream: R annotation requests spread
// over a few campaigns, T tasks each, every task walking the platform's workflow
// (Initialization in the Distribution pool → Distribute → Accept → Submit
// annotation → Check → Sampling → Complete), with rejects, returns, dissolves,
// labelers, instanceInfo maps over a fixed label vocabulary, and createdTimes that
// advance. Many tasks are in flight at once, so one task's ~10 events are spread
// over the stream. Deterministic: the same options give the same stream.
//
// Not thread-safe; one Workload per thread.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "aggregate/task_action.h"

namespace tally {

struct WorkloadOptions {
  uint64_t seed = 1;
  uint32_t requests = 20;
  uint32_t tasks_per_request = 50;
  uint32_t campaigns = 3;
  // Tasks being worked on at the same time; their events interleave.
  uint32_t in_flight = 500;
  // First createdTime; each event is 0..3 s after the one before.
  Timestamp start{1743494400000};  // 2025-04-01 08:00:00 UTC
};

class Workload {
 public:
  explicit Workload(const WorkloadOptions& options);

  // Writes the next event into *action; false when every task has completed.
  bool Next(TaskAction* action);

  // Events produced so far.
  uint64_t produced() const { return produced_; }
  // Tasks whose last event has been produced, of total_tasks(): how far along the
  // stream is (tasks have different numbers of events, so produced() cannot say).
  uint64_t completed_tasks() const { return next_task_ - in_flight_.size(); }
  uint64_t total_tasks() const { return total_tasks_; }

  // The ids of request r (0-based) and its campaign, as the events carry them.
  std::string RequestId(uint32_t r) const;
  std::string CampaignId(uint32_t campaign) const;
  std::string SceneId(uint64_t task) const;
  uint32_t CampaignOf(uint32_t r) const { return r % options_.campaigns; }

 private:
  enum class Step : uint8_t {
    kCreate, kDistribute, kAcceptAnnotation, kSubmit, kAcceptCheck, kCheck,
    kAcceptSampling, kSample, kDone,
  };
  struct TaskState {
    uint64_t task;  // global task number: request * tasks_per_request + index
    Step step;
    uint32_t instances;  // instanceSum so far
    uint32_t attributes;
  };

  uint64_t Uniform(uint64_t n) { return rng_() % n; }
  bool Chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }
  std::string Uuid(uint64_t kind, uint64_t n) const;
  void Fill(const TaskState& s, TaskAction* a);
  void Advance(TaskState* s, TaskAction* a);
  void AddInstances(TaskState* s, TaskAction* a, uint32_t max_keys, uint32_t max_count);

  WorkloadOptions options_;
  std::mt19937_64 rng_;
  std::vector<TaskState> in_flight_;
  uint64_t next_task_ = 0;
  uint64_t total_tasks_;
  uint64_t produced_ = 0;
  int64_t clock_ms_;
};

}  // namespace tally
