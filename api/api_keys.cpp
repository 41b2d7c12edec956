#include "api/api_keys.h"

#include <boost/beast/core/string.hpp>

#include "api/http_framing.h"

namespace tally {

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
    std::string_view value = TrimOws(std::string_view(it->value().data(), it->value().size()));
    constexpr std::string_view kBearer = "bearer ";  // the scheme is case-insensitive (RFC 9110 §11.1)
    if (value.size() > kBearer.size() &&
        boost::beast::iequals(boost::beast::string_view(value.data(), kBearer.size()), "bearer ")) {
      ok |= KeyMatches(TrimOws(value.substr(kBearer.size())), keys);
    }
  }
  if (auto it = request.find("X-API-Key"); it != request.end()) {
    ok |= KeyMatches(TrimOws(std::string_view(it->value().data(), it->value().size())), keys);
  }
  return ok;
}

}  // namespace tally
