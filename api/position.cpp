#include "api/position.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>

namespace tally {
namespace {

constexpr std::string_view kVersionPrefix = "p1.";
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// The payload bytes that fit in a token: every 3 bytes take 4 characters.
constexpr size_t kMaxPayloadBytes = (kMaxPositionBytes - kVersionPrefix.size()) / 4 * 3;

void AppendVarint(uint64_t n, std::string* out) {
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
}

size_t VarintSize(uint64_t n) {
  size_t size = 1;
  while (n >= 0x80) {
    n >>= 7;
    ++size;
  }
  return size;
}

uint64_t ZigZag(int64_t n) { return (static_cast<uint64_t>(n) << 1) ^ static_cast<uint64_t>(n >> 63); }
int64_t UnZigZag(uint64_t n) { return static_cast<int64_t>(n >> 1) ^ -static_cast<int64_t>(n & 1); }

// The step that encodes `p` after `previous` (none for the first).
uint64_t StepOf(std::optional<Partition> previous, Partition p) {
  if (!previous) return ZigZag(Raw(p));
  return static_cast<uint64_t>(int64_t{Raw(p)} - Raw(*previous) - 1);
}

std::string Base64Url(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) | static_cast<uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 0x3f]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out.push_back(kAlphabet[(v >> 18) & 0x3f]);
    out.push_back(kAlphabet[(v >> 12) & 0x3f]);
    if (rest == 2) out.push_back(kAlphabet[(v >> 6) & 0x3f]);
  }
  return out;
}

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// The bytes of unpadded base64url text; nullopt if it is not canonical (a
// character outside the alphabet, an impossible length, unused bits set).
std::optional<std::string> FromBase64Url(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const int v = Sextet(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  if ((bits & ((1u << count) - 1)) != 0) return std::nullopt;  // the last character's unused bits
  return out;
}

// Reads the token's payload; every read fails once past its end.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view bytes) : bytes_(bytes) {}

  // A minimal LEB128 varint of at most 64 bits.
  std::optional<uint64_t> Varint() {
    uint64_t n = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= bytes_.size()) return std::nullopt;
      const auto byte = static_cast<uint8_t>(bytes_[at_++]);
      if (shift == 63 && byte > 1) return std::nullopt;
      n |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) {
        if (byte == 0 && shift > 0) return std::nullopt;  // not minimal
        return n;
      }
    }
    return std::nullopt;
  }

  std::optional<std::string_view> Bytes(uint64_t n) {
    if (n > bytes_.size() - at_) return std::nullopt;
    const std::string_view out = bytes_.substr(at_, n);
    at_ += n;
    return out;
  }

  bool empty() const { return at_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t at_ = 0;
};

Status Malformed(std::string_view why) {
  return Status::InvalidArgument(std::string("Invalid parameter: header ") + std::string(kMinPositionHeader) +
                                 " is not a position token of this service (" + std::string(why) +
                                 "); send back an X-Tally-Position value unchanged");
}

}  // namespace

std::vector<PartitionNext> PositionOf(std::span<const PartitionOffset> offsets) {
  std::vector<PartitionNext> position;
  position.reserve(offsets.size());
  for (const PartitionOffset& o : offsets) position.push_back({o.partition, o.next});
  std::sort(position.begin(), position.end(),
            [](const PartitionNext& a, const PartitionNext& b) { return Raw(a.partition) < Raw(b.partition); });
  return position;
}

static std::string EncodePositionNow(std::string_view topic, std::span<const PartitionNext> position) {
  // How many partitions fit: the count's own varint grows with it, so it is
  // counted as the largest it could be (a few bytes at most).
  const size_t head = VarintSize(topic.size()) + topic.size() + VarintSize(position.size());
  size_t fit = 0;
  size_t bytes = head;
  std::optional<Partition> previous;
  for (const PartitionNext& p : position) {
    const size_t more = VarintSize(StepOf(previous, p.partition)) + VarintSize(static_cast<uint64_t>(Raw(p.next)));
    if (bytes + more > kMaxPayloadBytes) break;
    bytes += more;
    previous = p.partition;
    ++fit;
  }
  std::string payload;
  payload.reserve(bytes);
  AppendVarint(topic.size(), &payload);
  payload.append(topic);
  AppendVarint(fit, &payload);
  previous.reset();
  for (size_t i = 0; i < fit; ++i) {
    AppendVarint(StepOf(previous, position[i].partition), &payload);
    // A next offset is never negative (Kafka's start at 0); clamped, it claims less.
    AppendVarint(static_cast<uint64_t>(std::max<int64_t>(0, Raw(position[i].next))), &payload);
    previous = position[i].partition;
  }
  std::string token(kVersionPrefix);
  token += Base64Url(payload);
  return token;
}

std::string EncodePosition(std::string_view topic, std::span<const PartitionNext> position) {
  // Every answer between two batches names the same position: the last token
  // made on this thread is most often the one asked for (a 304 costs little else).
  thread_local struct {
    std::string topic;
    std::vector<PartitionNext> position;
    std::string token;
  } last;
  if (!last.token.empty() && last.topic == topic && std::ranges::equal(last.position, position)) return last.token;
  std::string token = EncodePositionNow(topic, position);
  last.topic.assign(topic);
  last.position.assign(position.begin(), position.end());
  last.token = token;
  return token;
}

Result<std::vector<PartitionNext>> ParsePosition(std::string_view token, std::string_view topic) {
  if (token.empty()) return Malformed("empty");
  if (token.size() > kMaxPositionBytes) return Malformed("longer than 2048 characters");
  if (!token.starts_with(kVersionPrefix)) return Malformed("unknown version");
  const std::optional<std::string> payload = FromBase64Url(token.substr(kVersionPrefix.size()));
  if (!payload) return Malformed("not base64url");
  PayloadReader r(*payload);
  const std::optional<uint64_t> topic_size = r.Varint();
  const std::optional<std::string_view> token_topic = topic_size ? r.Bytes(*topic_size) : std::nullopt;
  const std::optional<uint64_t> count = token_topic ? r.Varint() : std::nullopt;
  if (!count) return Malformed("truncated");
  if (*count > payload->size()) return Malformed("truncated");
  std::vector<PartitionNext> position;
  position.reserve(*count);
  std::optional<Partition> previous;
  for (uint64_t i = 0; i < *count; ++i) {
    const std::optional<uint64_t> step = r.Varint();
    const std::optional<uint64_t> next = step ? r.Varint() : std::nullopt;
    if (!next) return Malformed("truncated");
    int64_t partition = 0;
    if (!previous) {
      partition = UnZigZag(*step);
    } else {
      if (*step > uint64_t{std::numeric_limits<uint32_t>::max()}) return Malformed("partition out of range");
      partition = int64_t{Raw(*previous)} + 1 + static_cast<int64_t>(*step);
    }
    if (partition < std::numeric_limits<int32_t>::min() || partition > std::numeric_limits<int32_t>::max()) {
      return Malformed("partition out of range");
    }
    if (*next > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Malformed("offset out of range");
    previous = Partition{static_cast<int32_t>(partition)};
    position.push_back({*previous, Offset{static_cast<int64_t>(*next)}});
  }
  if (!r.empty()) return Malformed("trailing bytes");
  if (*token_topic != topic) {
    return Status::InvalidArgument(std::string("Invalid parameter: header ") + std::string(kMinPositionHeader) +
                                   " is a position of another topic than this service reads (" +
                                   std::string(topic) + ")");
  }
  return position;
}

bool Reaches(std::span<const PartitionNext> applied, std::span<const PartitionNext> min) {
  size_t a = 0;
  for (const PartitionNext& m : min) {
    while (a < applied.size() && Raw(applied[a].partition) < Raw(m.partition)) ++a;
    const Offset have = a < applied.size() && applied[a].partition == m.partition ? applied[a].next : kFirstOffset;
    if (have < m.next) return false;
  }
  return true;
}

}  // namespace tally
