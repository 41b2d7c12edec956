#include "aggregate/instance_info.h"

#include <algorithm>

namespace tally {

InstanceInfo::InstanceInfo(std::initializer_list<std::pair<std::string_view, uint32_t>> entries) {
  for (const auto& [key, count] : entries) Add(key, count);
  Sort();
}

bool InstanceInfo::Sort(std::string_view* duplicate) {
  if (slots_.size() < 2) return true;
  const std::string_view keys = keys_;
  auto key = [keys](const Slot& s) { return keys.substr(s.offset, s.length); };
  auto less = [&](const Slot& a, const Slot& b) { return key(a) < key(b); };
  if (slots_.size() <= 16) {  // the usual handful of labels: insertion sort
    for (size_t i = 1; i < slots_.size(); ++i) {
      for (size_t j = i; j > 0 && less(slots_[j], slots_[j - 1]); --j) std::swap(slots_[j], slots_[j - 1]);
    }
  } else {
    std::sort(slots_.begin(), slots_.end(), less);
  }
  for (size_t i = 1; i < slots_.size(); ++i) {
    if (key(slots_[i]) == key(slots_[i - 1])) {
      if (duplicate) *duplicate = key(slots_[i]);
      return false;
    }
  }
  return true;
}

bool operator==(const InstanceInfo& a, const InstanceInfo& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace tally
