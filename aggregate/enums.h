#pragma once

// The platform's enums, as the seeds list them. Events may carry values outside
// these tables (the contract keeps them as given, for forward compatibility), so
// each enum has a fixed underlying type and any int32 value is a valid object.
//
// DO NOT CHANGE THESE VALUES: they come from the platform and are stored on disk.

#include <cstdint>
#include <string_view>

namespace tally {

enum class PoolType : int32_t {
  kDistribution = 0,
  kAnnotation = 1,
  kCheck = 2,
  kSampling = 3,
  kAlgorithm = 4,
  kComplete = 5,
  kCommon = 6,
};

enum class TaskStatus : int32_t {
  kWaitingForAllocation = 1,
  kAssigned = 2,
  kAtWork = 3,
  kWaitingForSubmission = 4,
  kPause = 5,
  kError = 6,
  kSuspend = 7,
  kSubmissionFailed = 8,
  kAccomplish = 9,
  kInvalid = 10,
};

enum class ActionType : int32_t {
  kInitialization = 0,
  kDistribute = 5,
  kBackTask = 6,
  kSubmitAnnotation = 7,
  kCheck = 8,
  kSampling = 9,
  kReject = 10,
  kAcceptTask = 13,
  kDissolve = 14,
  kReturnFromWorkPool = 17,
};

// The seed's description of a value ("Annotation Pool", "Waiting for allocation",
// "Submit annotation"), or "" for a value outside the table.
std::string_view Describe(PoolType value);
std::string_view Describe(TaskStatus value);
std::string_view Describe(ActionType value);

}  // namespace tally
