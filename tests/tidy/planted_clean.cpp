// Every kind of name the project uses, as the naming rules want them, never
// built: Tidy.PlantedViolationFails expects scripts/tidy-changed to accept this
// file (so the rules fit the code, not only refuse the planted violations).

#include <cstddef>
#include <string>

#define TALLY_PLANTED_MACRO 1

namespace tally::planted {

inline constexpr int kGlobalLimit = 10;
const std::string kGlobalName = "x";

enum class Colour { kRed, kGreen };

struct Options {  // a plain struct: public members without a suffix
  size_t batch_events = 1;
  std::string topic;
};

template <class ValueType>
class Holder {
 public:
  using value_type = ValueType;  // what the standard library looks for
  using Values = ValueType[2];
  static constexpr size_t kSlots = 2;

  explicit Holder(ValueType first) : first_(first) {}
  const ValueType& first() const { return first_; }  // an accessor: snake_case
  void Reset(ValueType value) { first_ = value; }

 private:
  ValueType first_;
  int uses_ = TALLY_PLANTED_MACRO;
};

int CountAbove(const Options& options, int threshold) {
  constexpr int kLocalLimit = 3;  // a local constant: kCamelCase or snake_case
  const int doubled = threshold * 2;
  int total = static_cast<int>(options.batch_events);
  for (int i = 0; i < kLocalLimit; ++i) total += doubled + kGlobalLimit;
  return total + (Colour::kRed == Colour::kGreen ? 1 : 0);
}

}  // namespace tally::planted
