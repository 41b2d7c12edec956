#pragma once

// Id is the contract's ID: a non-negative integer of up to 38 decimal digits (task
// ids already exceed 64 bits), kept exactly in 128 bits. Ids compare numerically,
// print as the same digits (leading zeros dropped), and encode into keys whose byte
// order is their numeric order. A plain value; safe to share between threads.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

class Id {
 public:
  using Rep = unsigned __int128;
  static constexpr int kMaxDigits = 38;
  // Longest encoding AppendKey writes: a length byte and 16 value bytes.
  static constexpr size_t kMaxKeyBytes = 17;

  constexpr Id() = default;
  constexpr explicit Id(uint64_t value) : value_(value) {}
  // An id from its 128-bit value, which must have at most kMaxDigits digits.
  static constexpr Id FromRep(Rep value) {
    Id id;
    id.value_ = value;
    return id;
  }

  // Parses 1..n ASCII digits (leading zeros allowed) with at most kMaxDigits
  // significant digits. Returns nullopt for anything else: empty, a sign, a space,
  // a non-digit, or too many significant digits. Length limits on the text itself
  // (kMaxIdStringChars, task_action.h) are the caller's.
  static std::optional<Id> FromDigits(std::string_view digits);

  // Appends the decimal digits, without leading zeros ("0" for zero).
  void AppendDecimal(std::string* out) const;
  // Writes them at `out`, which has room for kMaxDecimalBytes; returns the end.
  static constexpr size_t kMaxDecimalBytes = 39;  // any 128-bit value
  char* WriteDecimal(char* out) const;
  std::string ToString() const;

  // Appends the order-preserving key encoding: one byte with the number of
  // significant bytes (0..16), then those bytes big-endian. Shorter encodings are
  // smaller numbers, so memcmp order is numeric order, and no encoding is a prefix
  // of another.
  void AppendKey(std::string* out) const;
  // Reads an encoding written by AppendKey from the front of *in and advances *in
  // past it. Returns nullopt (and leaves *in alone) if *in does not start with one.
  static std::optional<Id> ConsumeKey(std::string_view* in);
  // Advances *in past such an encoding without reading the id (readers that
  // only step over one); false (and *in alone) if *in does not start with one.
  static bool SkipKey(std::string_view* in);

  Rep value() const { return value_; }

  friend constexpr bool operator==(Id, Id) = default;
  friend constexpr std::strong_ordering operator<=>(Id a, Id b) {
    return a.value_ < b.value_ ? std::strong_ordering::less
           : a.value_ > b.value_ ? std::strong_ordering::greater
                                 : std::strong_ordering::equal;
  }

 private:
  Rep value_ = 0;
};

}  // namespace tally
