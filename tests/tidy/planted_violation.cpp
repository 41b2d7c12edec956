// Planted naming violations, never built: Tidy.PlantedViolationFails expects
// scripts/tidy-changed to refuse this file, naming each of them.

namespace tally {

struct bad_type_name {  // a type must be CamelCase
  int value;
};

int snake_function(bad_type_name t) { return t.value; }  // a function must be CamelCase

class Holder {
 public:
  int Get() const { return count; }

 private:
  int count = 0;  // a private member must end in '_'
};

}  // namespace tally
