#pragma once

// InstanceInfo is an event's instanceInfo: instance counts per operation/label key.
// Keys are kept back to back in one buffer, so an event costs no allocation per
// key and clear() keeps the memory for the next event. Once Sort() has succeeded
// the entries are in bytewise key order with unique keys: the canonical form, in
// which equal maps compare equal however they were written. A plain value.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tally {

class InstanceInfo {
 public:
  struct Entry {
    std::string_view key;
    uint32_t count;

    friend bool operator==(const Entry&, const Entry&) = default;
  };

  class Iterator {
   public:
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Iterator(const InstanceInfo* info, size_t i) : info_(info), i_(i) {}
    Entry operator*() const { return (*info_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++i_;
      return old;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.i_ == b.i_; }

   private:
    const InstanceInfo* info_ = nullptr;
    size_t i_ = 0;
  };

  InstanceInfo() = default;
  // Adds the entries and sorts them; for tests and generators.
  InstanceInfo(std::initializer_list<std::pair<std::string_view, uint32_t>> entries);

  size_t size() const { return slots_.size(); }
  bool empty() const { return slots_.empty(); }
  Entry operator[](size_t i) const {
    const Slot& s = slots_[i];
    return {std::string_view(keys_).substr(s.offset, s.length), s.count};
  }
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, slots_.size()}; }

  // Forgets the entries, keeping the memory.
  void clear() {
    keys_.clear();
    slots_.clear();
  }
  // Appends an entry; the order is canonical only after Sort().
  void Add(std::string_view key, uint32_t count) {
    slots_.push_back({static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(key.size()), count});
    keys_.append(key);
  }
  // Sorts the entries by key. Returns false if a key appears more than once, and
  // then sets *duplicate (if given) to one such key.
  bool Sort(std::string_view* duplicate = nullptr);

  friend bool operator==(const InstanceInfo& a, const InstanceInfo& b);

 private:
  struct Slot {
    uint32_t offset;  // into keys_
    uint32_t length;
    uint32_t count;
  };
  std::string keys_;
  std::vector<Slot> slots_;
};

}  // namespace tally
