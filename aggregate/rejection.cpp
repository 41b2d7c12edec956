#include "aggregate/rejection.h"

namespace tally {

std::string_view Slug(RejectReason reason) {
  switch (reason) {
    case RejectReason::kInvalidJson: return "invalid_json";
    case RejectReason::kMissingField: return "missing_field";
    case RejectReason::kWrongType: return "wrong_type";
    case RejectReason::kOutOfRange: return "out_of_range";
    case RejectReason::kTooLong: return "too_long";
    case RejectReason::kTooLarge: return "too_large";
    case RejectReason::kDuplicateField: return "duplicate_field";
    case RejectReason::kInvalidTime: return "invalid_time";
    case RejectReason::kTooManyKeys: return "too_many_keys";
  }
  return "unknown";
}

}  // namespace tally
