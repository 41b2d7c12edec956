#pragma once

// The RocksDB layout of tally's store: column families and how their keys are
// built. The only code that knows it is the store (aggregate/store*.cpp).
//
// DO NOT CHANGE the column family names, key layouts or value formats without
// bumping kFormatVersion: they are on disk. A store of an older version is
// migrated at Open when that is simple (format 1 -> 2: views with many keys move
// their counts apart, see store.cpp), else refused with the advice to rebuild it from the topic.
//
// Key parts: an Id is its order-preserving encoding (Id::AppendKey), so ids sort
// numerically; a RequestNo is 4 bytes big-endian; strings that end a key are raw,
// strings inside a key are length-prefixed. No key is a prefix of another of a
// different meaning.
//
// | family      | key                                  | value                          |
// |-------------|--------------------------------------|--------------------------------|
// | records     | request_no · record id               | record (codec.h)               |
// | record_ids  | record id                            | request_no (4 bytes BE)        |
// | tasks       | request_no · task id                 | task view (codec.h)            |
// | instances   | request_no · task id · instance key  | count: varint, summed by the   |
// |             |                                      | family's merge operator        |
// | scenes      | request_no · len · scene id · task id| stamp: the task's latest record|
// |             |                                      | carrying the scene             |
// | requests    | annotationRequestId                  | request meta (codec.h)         |
// | ranks       | request_no · kind (1 byte)           | rank segments (codec.h)        |
// | campaigns   | len · campaignId · request_no        | empty                          |
// | rejected    | partition · offset · element         | rejection (codec.h): only the  |
// |             |                                      | latest kKeptRejections of each |
// |             |                                      | partition                      |
// | meta        | "format", "next_request_no", "totals", "instance_id",                |
// |             | "offset/<topic>/<partition>",                                        |
// |             | "rejects/<partition>" (RejectTally, codec.h: counts by reason)        |
//
// An offset's value: next (8 bytes BE) · cluster id (length-prefixed) ·
// fingerprint of the message at next - 1 (8 bytes BE, absent if unknown). Values
// of 8 bytes (next alone) were written before the rest existed and stay readable.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aggregate/bytes.h"
#include "aggregate/id.h"
#include "aggregate/rejection.h"

namespace tally {

// 1: instance counts inside the task view. 2: a task view with more than
// kInlineInstanceKeys distinct keys keeps its counts in `instances` instead.
inline constexpr int kFormatVersion = 2;

// Instance counts stay inside the task view up to this many distinct keys (every
// ordinary task: the platform's tasks carry a dozen labels). A view that grows
// past it moves all its counts to the `instances` family, one entry per key,
// and from then on each record adds its own counts there with one merge per key:
// the cost of an event is proportional to its own keys, never to the view's.
// Whether a view's counts are apart depends only on how many distinct keys its
// records have together, so it is order independent like the rest of the view.
inline constexpr size_t kInlineInstanceKeys = 64;

// A request's number inside the store: 4 bytes in keys instead of the (up to 255
// byte) annotationRequestId. Assigned in order of first appearance.
enum class RequestNo : uint32_t {};

namespace keys {

inline constexpr const char* kRecords = "records";
inline constexpr const char* kRecordIds = "record_ids";
inline constexpr const char* kTasks = "tasks";
inline constexpr const char* kInstances = "instances";
inline constexpr const char* kScenes = "scenes";
inline constexpr const char* kRequests = "requests";
inline constexpr const char* kRanks = "ranks";
inline constexpr const char* kCampaigns = "campaigns";
inline constexpr const char* kRejected = "rejected";
inline constexpr const char* kMeta = "meta";

// Bytes of the request_no prefix shared by records, tasks, scenes and ranks keys.
inline constexpr size_t kRequestPrefixBytes = 4;

// Which rank index a ranks key holds.
enum class RankKind : char { kRecords = 'r', kTasks = 't' };

inline void AppendRequest(RequestNo no, std::string* out) {
  PutFixed32BE(static_cast<uint32_t>(no), out);
}

// request_no · id: a record (records) or a task (tasks).
inline std::string RequestItem(RequestNo no, Id id) {
  std::string key;
  key.reserve(kRequestPrefixBytes + Id::kMaxKeyBytes);
  AppendRequest(no, &key);
  id.AppendKey(&key);
  return key;
}

inline std::string RequestPrefix(RequestNo no) {
  std::string key;
  AppendRequest(no, &key);
  return key;
}

// The id at the end of a request_no · id key; nullopt if the key is not one.
inline std::optional<Id> ItemOf(std::string_view key) {
  if (key.size() <= kRequestPrefixBytes) return std::nullopt;
  key.remove_prefix(kRequestPrefixBytes);
  auto id = Id::ConsumeKey(&key);
  if (!id || !key.empty()) return std::nullopt;
  return id;
}

// The instance counts of one task kept apart (instances): request_no · task id,
// then the instance key, raw (the task id's encoding is self-delimiting).
inline std::string InstancePrefix(RequestNo no, Id task_id) { return RequestItem(no, task_id); }

inline std::string Instance(RequestNo no, Id task_id, std::string_view instance_key) {
  std::string key = InstancePrefix(no, task_id);
  key.append(instance_key);
  return key;
}

inline std::string RecordId(Id id) {
  std::string key;
  id.AppendKey(&key);
  return key;
}

// The entries of one scene of a request, one per task that carried it.
inline std::string ScenePrefix(RequestNo no, std::string_view scene_id) {
  std::string key = RequestPrefix(no);
  key.push_back(static_cast<char>(scene_id.size()));  // scene ids are at most 255 bytes
  key.append(scene_id);
  return key;
}

inline std::string Scene(RequestNo no, std::string_view scene_id, Id task_id) {
  std::string key = ScenePrefix(no, scene_id);
  task_id.AppendKey(&key);
  return key;
}

inline std::string Rank(RequestNo no, RankKind kind) {
  std::string key = RequestPrefix(no);
  key.push_back(static_cast<char>(kind));
  return key;
}

inline std::string CampaignPrefix(std::string_view campaign_id) {
  std::string key;
  key.push_back(static_cast<char>(campaign_id.size()));  // campaign ids are 1..255 bytes
  key.append(campaign_id);
  return key;
}

inline std::string Campaign(std::string_view campaign_id, RequestNo no) {
  std::string key = CampaignPrefix(campaign_id);
  AppendRequest(no, &key);
  return key;
}

// partition · offset · element, each shifted so that byte order is numeric order
// (partition -1, `tally replay`, sorts first; a whole-message rejection sorts
// before the message's elements).
// Within a partition, key order is the order in which Kafka delivers events.
inline constexpr size_t kRejectedKeyBytes = 16;
inline std::string RejectedPartition(int32_t partition) {
  std::string key;
  PutFixed32BE(static_cast<uint32_t>(partition) ^ 0x80000000u, &key);
  return key;
}
// Above every rejected key of the partition.
inline std::string RejectedPartitionEnd(int32_t partition) {
  std::string key = RejectedPartition(partition);
  key.append(kRejectedKeyBytes - key.size() + 1, '\xff');
  return key;
}
inline void AppendRejected(const Origin& origin, std::optional<uint32_t> element, std::string* key) {
  PutFixed32BE(static_cast<uint32_t>(origin.partition) ^ 0x80000000u, key);
  PutFixed64BE(static_cast<uint64_t>(origin.offset) ^ 0x8000000000000000ull, key);
  PutFixed32BE(element ? *element + 1 : 0, key);
}
inline std::string Rejected(const Origin& origin, std::optional<uint32_t> element) {
  std::string key;
  AppendRejected(origin, element, &key);
  return key;
}

inline constexpr std::string_view kFormatKey = "format";
inline constexpr std::string_view kNextRequestKey = "next_request_no";
inline constexpr std::string_view kTotalsKey = "totals";
inline constexpr std::string_view kInstanceKey = "instance_id";

// meta: a partition's rejection tally (RejectTally, codec.h).
inline constexpr std::string_view kRejectsPrefix = "rejects/";
inline std::string Rejects(int32_t partition) {
  std::string key(kRejectsPrefix);
  PutFixed32BE(static_cast<uint32_t>(partition) ^ 0x80000000u, &key);
  return key;
}

inline std::string OffsetPrefix(std::string_view topic) {
  std::string key = "offset/";
  key.append(topic);
  key.push_back('/');
  return key;
}

inline std::string Offset(std::string_view topic, int32_t partition) {
  std::string key = OffsetPrefix(topic);
  PutFixed32BE(static_cast<uint32_t>(partition) ^ 0x80000000u, &key);
  return key;
}

}  // namespace keys
}  // namespace tally
