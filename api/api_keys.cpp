#include "api/api_keys.h"

#include <cctype>

namespace tally {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool KeyMatches(std::string_view given, const std::vector<std::string>& keys) {
  // Every key is compared in full, whatever matched before: the time depends on
  // the keys' lengths only, never on how much of a guess was right.
  unsigned matched = 0;
  for (const std::string& key : keys) {
    size_t diff = given.size() ^ key.size();
    for (size_t i = 0; i < key.size(); ++i) {
      const char g = i < given.size() ? given[i] : 0;
      diff |= static_cast<unsigned char>(g ^ key[i]);
    }
    matched |= static_cast<unsigned>(diff == 0);
  }
  return matched != 0;
}

bool Authorized(const HttpRequest& request, const std::vector<std::string>& keys) {
  if (keys.empty()) return true;
  bool ok = false;
  if (auto it = request.find(boost::beast::http::field::authorization); it != request.end()) {
    std::string_view value = Trim(std::string_view(it->value().data(), it->value().size()));
    constexpr std::string_view kBearer = "bearer ";
    if (value.size() > kBearer.size()) {
      bool scheme = true;
      for (size_t i = 0; i < kBearer.size(); ++i) {
        scheme &= static_cast<char>(std::tolower(static_cast<unsigned char>(value[i]))) == kBearer[i];
      }
      if (scheme) ok |= KeyMatches(Trim(value.substr(kBearer.size())), keys);
    }
  }
  if (auto it = request.find("X-API-Key"); it != request.end()) {
    ok |= KeyMatches(Trim(std::string_view(it->value().data(), it->value().size())), keys);
  }
  return ok;
}

}  // namespace tally
