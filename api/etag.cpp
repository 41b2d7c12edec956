#include "api/etag.h"

#include <algorithm>
#include <charconv>

namespace tally {
namespace {

constexpr uint64_t kFnv64Prime = 1099511628211ull;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

uint64_t Fnv1a64(std::string_view bytes, uint64_t hash) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnv64Prime;
  }
  return hash;
}

std::string MakeETag(std::string_view cache_key, std::string_view salt, std::span<const uint64_t> versions) {
  // Each input with its length in front (or fixed-size), so that no two
  // different inputs hash the same bytes.
  char fixed[8];
  auto put64 = [&](uint64_t v, uint64_t hash) {
    for (int i = 7; i >= 0; --i, v >>= 8) fixed[i] = static_cast<char>(v & 0xff);
    return Fnv1a64(std::string_view(fixed, 8), hash);
  };
  uint64_t hash = put64(cache_key.size(), kFnv64Offset);
  hash = Fnv1a64(cache_key, hash);
  hash = put64(salt.size(), hash);
  hash = Fnv1a64(salt, hash);
  uint64_t sum = 0;
  for (const uint64_t v : versions) {
    hash = put64(v, hash);
    sum += v;
  }
  char out[1 + 20 + 1 + 16 + 1];
  char* p = out;
  *p++ = '"';
  p = std::to_chars(p, out + sizeof(out), sum).ptr;
  *p++ = '-';
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) *p++ = kHex[(hash >> shift) & 0xf];
  *p++ = '"';
  return std::string(out, p);
}

bool IfNoneMatchHas(std::string_view header, std::string_view quoted_tag) {
  // Tags are quoted strings that may hold commas (not ours: only
  // [A-Za-z0-9_-]), so the list is walked tag by tag, not split at commas.
  size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t' || header[i] == ',')) ++i;
    if (i >= header.size()) break;
    if (header.compare(i, 2, "W/") == 0) i += 2;
    if (i < header.size() && header[i] == '"') {
      const size_t end = header.find('"', i + 1);
      if (end == std::string_view::npos) return false;  // unterminated: matches nothing
      // An element is the tag alone: "a"x or "a" "b" is malformed and names nothing.
      size_t next = end + 1;
      while (next < header.size() && (header[next] == ' ' || header[next] == '\t')) ++next;
      const bool whole = next == header.size() || header[next] == ',';
      if (whole && header.substr(i, end + 1 - i) == quoted_tag) return true;
      if (!whole) {
        const size_t comma = header.find(',', next);
        if (comma == std::string_view::npos) break;
        next = comma;
      }
      i = next;
    } else {
      // `*` or something malformed: names no tag; skip to the next element.
      const size_t comma = header.find(',', i);
      if (comma == std::string_view::npos) break;
      i = comma + 1;
    }
  }
  return false;
}

std::optional<std::chrono::seconds> PreferredWait(std::string_view prefer) {
  // Preferences are comma-separated; parameters of one follow ';'.
  while (!prefer.empty()) {
    const size_t comma = prefer.find(',');
    std::string_view item = prefer.substr(0, comma);
    prefer = comma == std::string_view::npos ? std::string_view() : prefer.substr(comma + 1);
    item = Trim(item.substr(0, item.find(';')));
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || !EqualsIgnoringCase(Trim(item.substr(0, eq)), "wait")) continue;
    std::string_view value = Trim(item.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    uint64_t seconds = static_cast<uint64_t>(kMaxPollWait.count());
    if (value.size() <= 12) (void)std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (seconds == 0) return std::nullopt;
    return std::chrono::seconds(std::min<uint64_t>(seconds, kMaxPollWait.count()));
  }
  return std::nullopt;
}

}  // namespace tally
