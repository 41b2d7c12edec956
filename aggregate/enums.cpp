#include "aggregate/enums.h"

namespace tally {

std::string_view Describe(PoolType value) {
  switch (value) {
    case PoolType::kDistribution: return "Distribution Pool";
    case PoolType::kAnnotation: return "Annotation Pool";
    case PoolType::kCheck: return "Check Pool";
    case PoolType::kSampling: return "Sampling Pool";
    case PoolType::kAlgorithm: return "Algorithm Pool";
    case PoolType::kComplete: return "Complete Pool";
    case PoolType::kCommon: return "Common";
  }
  return "";
}

std::string_view Describe(TaskStatus value) {
  switch (value) {
    case TaskStatus::kWaitingForAllocation: return "Waiting for allocation";
    case TaskStatus::kAssigned: return "Assigned";
    case TaskStatus::kAtWork: return "At work";
    case TaskStatus::kWaitingForSubmission: return "Waiting for submission";
    case TaskStatus::kPause: return "Pause";
    case TaskStatus::kError: return "Error";
    case TaskStatus::kSuspend: return "Suspend";
    case TaskStatus::kSubmissionFailed: return "Submission failed";
    case TaskStatus::kAccomplish: return "Accomplish";
    case TaskStatus::kInvalid: return "Invalid";
  }
  return "";
}

std::string_view Describe(ActionType value) {
  switch (value) {
    case ActionType::kInitialization: return "Initialization";
    case ActionType::kDistribute: return "Distribute";
    case ActionType::kBackTask: return "Back task";
    case ActionType::kSubmitAnnotation: return "Submit annotation";
    case ActionType::kCheck: return "Check";
    case ActionType::kSampling: return "Sampling";
    case ActionType::kReject: return "Reject";
    case ActionType::kAcceptTask: return "Accept the task";
    case ActionType::kDissolve: return "Dissolve";
    case ActionType::kReturnFromWorkPool: return "Return from work pool";
  }
  return "";
}

}  // namespace tally
