#include "aggregate/status.h"

namespace tally {

std::string Status::ToString() const {
  std::string_view name;
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "Not found"; break;
    case Code::kInvalidArgument: name = "Invalid argument"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kIOError: name = "IO error"; break;
    case Code::kUnavailable: name = "Unavailable"; break;
    case Code::kBusy: name = "Busy"; break;
  }
  std::string out(name);
  out += ": ";
  out += message_;
  return out;
}

}  // namespace tally
