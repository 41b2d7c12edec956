#include "api/request_id.h"

#include <cstdint>
#include <functional>
#include <random>
#include <thread>

namespace tally {
namespace {

std::string FreshRequestId() {
  static constexpr char kHex[] = "0123456789abcdef";
  thread_local std::mt19937_64 rng([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       static_cast<unsigned>(std::hash<std::thread::id>()(std::this_thread::get_id()))};
    return std::mt19937_64(seed);
  }());
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = rng();
    for (int i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = kHex[bits & 15];
  }
  return id;
}

bool ValidCallerId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string RequestIdFor(std::string_view header) {
  return ValidCallerId(header) ? std::string(header) : FreshRequestId();
}

std::string RequestIdOf(const HttpRequest& request) { return RequestIdFor(HeaderValue(request, "X-Request-Id")); }

}  // namespace tally
