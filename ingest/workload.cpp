#include "ingest/workload.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace tally {
namespace {

// Operation/label keys as the platform writes them: readable labels and the
// UUIDs of custom attributes.
constexpr std::array<std::string_view, 12> kLabels = {
    "box2d-car",
    "box2d-pedestrian",
    "box2d-cyclist",
    "polygon-lane",
    "polyline-curb",
    "select-[e000f]",
    "select-[a0b1c]",
    "keypoint-face",
    "0e767bcb-7480-4e85-bbe8-439fe7871104",
    "5c1f3a2e-9d4b-4f6a-8e2d-1b7c9a0f3e45",
    "cuboid-truck",
    "segmentation-road",
};

constexpr std::array<std::string_view, 10> kPeople = {
    "daf", "li.wei", "m.garcia", "a.kowalska", "s.tanaka",
    "o.adeyemi", "j.smith", "r.gupta", "e.rossi", "n.petrov",
};

constexpr std::array<std::string_view, 7> kPoolNames = {
    "Distribution Pool", "Annotation Pool", "Check Pool", "Sampling Pool",
    "Algorithm Pool", "Completion Pool", "Common Pool",
};

// Big, realistic ids: record ids like snowflakes, task ids past 64 bits.
constexpr uint64_t kRecordIdBase = 1'900'000'000'000'000'000ULL;
const Id kTaskIdBase = *Id::FromDigits("234234123133374715904");

}  // namespace

Workload::Workload(const WorkloadOptions& options)
    : options_(options),
      rng_(options.seed),
      total_tasks_(uint64_t{options.requests} * options.tasks_per_request),
      clock_ms_(options.start.millis) {
  options_.campaigns = std::max(options_.campaigns, 1u);
  options_.in_flight = std::max(options_.in_flight, 1u);
  in_flight_.reserve(options_.in_flight);
}

std::string Workload::Uuid(uint64_t kind, uint64_t n) const {
  // A version-4-shaped UUID derived from (seed, kind, n): stable and unique.
  uint64_t x = options_.seed * 0x9E3779B97F4A7C15ULL ^ (kind << 56) ^ n;
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  const uint64_t hi = mix(x), lo = mix(x + 0x632BE59BD9B4E019ULL);
  char buf[37];
  constexpr char kHex[] = "0123456789abcdef";
  size_t at = 0;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) buf[at++] = '-';
    uint64_t word = i < 16 ? hi : lo;
    unsigned nibble = (word >> (4 * (15 - i % 16))) & 15;
    if (i == 12) nibble = 4;                   // version 4
    if (i == 16) nibble = 8 | (nibble & 3);    // RFC 4122 variant
    buf[at++] = kHex[nibble];
  }
  return std::string(buf, at);
}

std::string Workload::RequestId(uint32_t r) const { return Uuid(1, r); }
std::string Workload::CampaignId(uint32_t campaign) const { return Uuid(2, campaign); }
std::string Workload::SceneId(uint64_t task) const { return Uuid(3, task); }

bool Workload::Next(TaskAction* action) {
  while (in_flight_.size() < options_.in_flight && next_task_ < total_tasks_) {
    in_flight_.push_back(TaskState{next_task_++, Step::kCreate, 0, 0});
    // New tasks start right away: a request's tasks are created together.
    if (Chance(0.7)) break;
  }
  if (in_flight_.empty()) return false;
  // Half the time continue one of the newest tasks: work clusters in time.
  const size_t n = in_flight_.size();
  const size_t pick = Chance(0.5) ? n - 1 - Uniform(std::min<size_t>(n, 8)) : Uniform(n);
  TaskState& s = in_flight_[pick];
  Fill(s, action);
  Advance(&s, action);
  if (s.step == Step::kDone) {
    s = in_flight_.back();
    in_flight_.pop_back();
  }
  return true;
}

void Workload::Fill(const TaskState& s, TaskAction* a) {
  const auto request = static_cast<uint32_t>(s.task / options_.tasks_per_request);
  const uint32_t campaign = CampaignOf(request);
  a->id = Id(kRecordIdBase + produced_ * 8 + Uniform(8));
  ++produced_;
  a->annotation_request_id = RequestId(request);
  a->campaign_id = CampaignId(campaign);
  a->scene_id = SceneId(s.task);
  a->task_id = Id(kTaskIdBase.value() + Id::Rep{s.task} * 1009);
  a->project_id = Id(1000 + request % 97);
  a->folder_id = Id(4000 + campaign);
  a->instance_info.clear();
  a->modify_instance_num.reset();
  a->modify_attributes_num.reset();
  a->instance_sum = s.instances;
  a->attributes_sum = s.attributes;
  a->alice_name.emplace(kPeople[Uniform(kPeople.size())]);
  clock_ms_ += static_cast<int64_t>(Uniform(4)) * 1000;
  a->created_time = Timestamp{clock_ms_};
}

void Workload::AddInstances(TaskState* s, TaskAction* a, uint32_t max_keys, uint32_t max_count) {
  // Distinct labels: a partial Fisher-Yates shuffle of the vocabulary.
  std::array<uint8_t, kLabels.size()> order;
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint8_t>(i);
  const auto keys = static_cast<uint32_t>(1 + Uniform(max_keys));
  uint32_t modified = 0;
  for (uint32_t k = 0; k < keys; ++k) {
    std::swap(order[k], order[k + Uniform(order.size() - k)]);
    const auto count = static_cast<uint32_t>(1 + Uniform(max_count));
    a->instance_info.Add(kLabels[order[k]], count);
    modified += count;
  }
  a->instance_info.Sort();
  const auto attributes = static_cast<uint32_t>(Uniform(modified / 2 + 1));
  s->instances += modified;
  s->attributes += attributes;
  a->modify_instance_num = modified;
  a->modify_attributes_num = attributes;
  a->instance_sum = s->instances;
  a->attributes_sum = s->attributes;
}

// Emits the action of the task's current step into *a (pool, status, action type,
// instances) and moves the task to its next step.
void Workload::Advance(TaskState* s, TaskAction* a) {
  auto place = [&](PoolType pool, TaskStatus status, ActionType action) {
    a->pool_type = pool;
    a->status = status;
    a->action_type = action;
    const auto project = static_cast<uint64_t>(a->project_id->value());
    a->pool_id = Id(project * 10 + static_cast<uint64_t>(pool));
    a->pool_name = "CO " + std::to_string(project) + "-" +
                   std::string(kPoolNames[static_cast<size_t>(pool)]);
  };
  switch (s->step) {
    case Step::kCreate:
      if (Chance(0.01)) {  // creation failed
        place(PoolType::kDistribution, TaskStatus::kError, ActionType::kInitialization);
        s->step = Step::kDone;
      } else {
        place(PoolType::kDistribution, TaskStatus::kWaitingForAllocation,
              ActionType::kInitialization);
        s->step = Step::kDistribute;
      }
      a->alice_name.reset();  // the system creates tasks
      break;
    case Step::kDistribute:
      place(PoolType::kAnnotation, TaskStatus::kWaitingForAllocation, ActionType::kDistribute);
      s->step = Step::kAcceptAnnotation;
      break;
    case Step::kAcceptAnnotation:
      place(PoolType::kAnnotation, Chance(0.05) ? TaskStatus::kPause : TaskStatus::kAtWork,
            ActionType::kAcceptTask);
      s->step = Step::kSubmit;
      break;
    case Step::kSubmit:
      place(PoolType::kCheck, TaskStatus::kWaitingForAllocation, ActionType::kSubmitAnnotation);
      AddInstances(s, a, 4, 40);
      s->step = Step::kAcceptCheck;
      break;
    case Step::kAcceptCheck:
      place(PoolType::kCheck, TaskStatus::kAtWork, ActionType::kAcceptTask);
      s->step = Step::kCheck;
      break;
    case Step::kCheck:
      if (Chance(0.12)) {
        place(PoolType::kAnnotation, TaskStatus::kWaitingForAllocation, ActionType::kReject);
        s->step = Step::kAcceptAnnotation;
      } else if (Chance(0.04)) {
        place(PoolType::kAnnotation, TaskStatus::kWaitingForAllocation,
              ActionType::kReturnFromWorkPool);
        s->step = Step::kAcceptAnnotation;
      } else {
        place(PoolType::kSampling, TaskStatus::kWaitingForAllocation, ActionType::kCheck);
        AddInstances(s, a, 2, 5);
        s->step = Step::kAcceptSampling;
      }
      break;
    case Step::kAcceptSampling:
      place(PoolType::kSampling, TaskStatus::kAtWork, ActionType::kAcceptTask);
      s->step = Step::kSample;
      break;
    case Step::kSample:
      if (Chance(0.08)) {
        place(PoolType::kCheck, TaskStatus::kWaitingForAllocation, ActionType::kReject);
        s->step = Step::kAcceptCheck;
      } else if (Chance(0.03)) {
        place(PoolType::kSampling, TaskStatus::kWaitingForAllocation, ActionType::kDissolve);
        s->step = Step::kAcceptSampling;
      } else {
        place(PoolType::kComplete, TaskStatus::kAccomplish,
              Chance(0.05) ? ActionType::kBackTask : ActionType::kSampling);
        AddInstances(s, a, 1, 3);
        s->step = Step::kDone;
      }
      break;
    case Step::kDone:
      break;
  }
}

}  // namespace tally
