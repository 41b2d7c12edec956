#include "api/not_modified_memo.h"

namespace tally {
namespace {

// Each part with its length in front: no two different requests make the same key.
void AppendPart(std::string_view part, std::string* key) {
  const auto size = static_cast<uint32_t>(part.size());
  key->append(reinterpret_cast<const char*>(&size), sizeof size);
  key->append(part);
}

}  // namespace

bool NotModifiedMemo::MakeKey(size_t route_index, std::string_view query, std::string_view body,
                              std::string_view if_none_match, std::optional<std::string_view> min_position,
                              std::string* key) {
  const size_t size = 1 + 4 * sizeof(uint32_t) + query.size() + body.size() + if_none_match.size() +
                      (min_position ? min_position->size() : 0);
  if (size > kMaxKeyBytes) return false;
  key->clear();
  key->push_back(static_cast<char>(route_index));
  AppendPart(query, key);
  AppendPart(body, key);
  AppendPart(if_none_match, key);
  if (min_position) {
    AppendPart(*min_position, key);
  } else {
    key->append(sizeof(uint32_t), '\xff');  // none: a length no part has (all are under kMaxKeyBytes)
  }
  return true;
}

}  // namespace tally
