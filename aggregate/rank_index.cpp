#include "aggregate/rank_index.h"

#include <algorithm>
#include <cassert>

#include "aggregate/bytes.h"

namespace tally {

std::vector<size_t> RankIndex::Add(std::span<const Id> ids) {
  std::vector<size_t> oversized;
  if (ids.empty()) return oversized;
  if (segments_.empty()) segments_.push_back({Id(0), 0});
  size_t s = 0;
  for (const Id id : ids) {
    while (s + 1 < segments_.size() && segments_[s + 1].start <= id) ++s;
    if (++segments_[s].count == kMaxSegment + 1) oversized.push_back(s);
  }
  total_ += ids.size();
  return oversized;
}

std::optional<Id> RankIndex::End(size_t i) const {
  if (i + 1 < segments_.size()) return segments_[i + 1].start;
  return std::nullopt;
}

void RankIndex::Split(size_t i, std::span<const Id> ids) {
  assert(ids.size() == segments_[i].count && "a split needs exactly the segment's ids");
  std::vector<Segment> parts;
  for (size_t from = 0; from < ids.size(); from += kSplitInto) {
    const auto n = static_cast<uint32_t>(std::min<size_t>(kSplitInto, ids.size() - from));
    // The first part keeps the old start, so ids below ids[0] stay covered.
    parts.push_back({from == 0 ? segments_[i].start : ids[from], n});
  }
  segments_.erase(segments_.begin() + static_cast<std::ptrdiff_t>(i));
  segments_.insert(segments_.begin() + static_cast<std::ptrdiff_t>(i), parts.begin(), parts.end());
}

std::optional<RankIndex::Position> RankIndex::Locate(uint64_t k) const {
  if (k >= total_) return std::nullopt;
  for (const Segment& s : segments_) {
    if (k < s.count) return Position{s.start, k};
    k -= s.count;
  }
  return std::nullopt;  // unreachable while total_ is the sum of the counts
}

void RankIndex::EncodeTo(std::string* out) const {
  PutVarint(segments_.size(), out);
  for (const Segment& s : segments_) {
    s.start.AppendKey(out);
    PutVarint(s.count, out);
  }
}

bool RankIndex::DecodeFrom(std::string_view in) {
  ByteReader r(in);
  uint64_t n;
  if (!r.Varint(&n) || n > in.size()) return false;
  std::vector<Segment> segments(n);
  uint64_t total = 0;
  for (Segment& s : segments) {
    if (!r.Id(&s.start) || !r.Varint32(&s.count)) return false;
    total += s.count;
  }
  if (!r.empty()) return false;
  segments_ = std::move(segments);
  total_ = total;
  return true;
}

}  // namespace tally
