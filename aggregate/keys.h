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
// | summaries   | request_no                           | request summary (codec.h)      |
// | summary_    | request_no · instance key            | count: varint, summed by the   |
// |  instances  |                                      | family's merge operator        |
// | labelers    | request_no · aliceName               | labeler stats · its number     |
// |             |                                      | (codec.h)                      |
// | labeler_    | request_no · task id · labeler number| empty: the labeler has a record|
// |  tasks      |                                      | on the task (only for tasks of |
// |             |                                      | over kInlineLabelers labelers; |
// |             |                                      | the others keep them in their  |
// |             |                                      | view's value, codec.h)         |
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

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "aggregate/bytes.h"
#include "aggregate/id.h"
#include "aggregate/partition.h"
#include "aggregate/rejection.h"

namespace tally {

// 1: instance counts inside the task view. 2: a task view with more than
// kInlineInstanceKeys distinct keys keeps its counts in `instances` instead.
// 3: the summary and labeler views (summaries, summary_instances, labelers,
// labeler_tasks); a format 2 store gets them built from its records at open.
// A store written with StoreOptions::summary_views off says 2.
// 4: task views and labeler_tasks name a labeler by its number in the request
// (kept in its labelers value) instead of its aliceName; a format 3 store gets
// its summary views built again from its records at open, as a format 2 one.
inline constexpr int kFormatVersion = 4;
inline constexpr int kFormatWithoutSummaries = 2;
inline constexpr int kFormatLabelerNames = 3;

// Instance counts stay inside the task view up to this many distinct keys (every
// ordinary task: the platform's tasks carry a dozen labels). A view that grows
// past it moves all its counts to the `instances` family, one entry per key,
// and from then on each record adds its own counts there with one merge per key:
// the cost of an event is proportional to its own keys, never to the view's.
// Whether a view's counts are apart depends only on how many distinct keys its
// records have together, so it is order independent like the rest of the view.
inline constexpr size_t kInlineInstanceKeys = 64;

// A task's labelers stay inside its view's value up to this many (every ordinary
// task: a handful of people touch it); past it each is a marker in labeler_tasks,
// so that a record costs the same however many people worked on its task.
inline constexpr size_t kInlineLabelers = 32;

// A request's number inside the store: 4 bytes in keys instead of the (up to 255
// byte) annotationRequestId. Assigned in order of first appearance.
enum class RequestNo : uint32_t {};

namespace keys {

// The column families: one row each, which Store::Open creates and opens in
// this order (after RocksDB's default family, which tally leaves empty) and
// the store's code names by `Family`. `access` decides a family's filters and
// prefix extractor (store.cpp); `sums_counts` gives it the merge operator that
// adds instance counts (store.cpp).
enum class Access { kPoint, kPrefixedPoint, kScan };
enum class Family {
  kRecords, kRecordIds, kTasks, kInstances, kScenes, kRequests, kRanks, kCampaigns, kRejected, kMeta,
  kSummaries, kSummaryInstances, kLabelers, kLabelerTasks,
};
struct FamilyInfo {
  Family family;
  std::string_view name;  // on disk
  Access access;
  bool sums_counts;
};
inline constexpr FamilyInfo kFamilies[] = {
    // The records, by request: pages of records scan them.
    {Family::kRecords, "records", Access::kScan, false},
    // Which request holds a record id: dedupe looks every id up.
    {Family::kRecordIds, "record_ids", Access::kPoint, false},
    // The task views, by request: read by apply, paged by queries.
    {Family::kTasks, "tasks", Access::kPrefixedPoint, false},
    // The counts of views that keep them apart: merged, scanned in key order.
    {Family::kInstances, "instances", Access::kScan, true},
    // Per scene the latest stamp of each task that carried it.
    {Family::kScenes, "scenes", Access::kPrefixedPoint, false},
    // Request metadata by annotationRequestId.
    {Family::kRequests, "requests", Access::kPoint, false},
    // The rank indexes that let a page start without counting.
    {Family::kRanks, "ranks", Access::kPrefixedPoint, false},
    // Campaign memberships of requests.
    {Family::kCampaigns, "campaigns", Access::kPoint, false},
    // The latest rejections of each partition.
    {Family::kRejected, "rejected", Access::kScan, false},
    // Format, counters, offsets, rejection tallies.
    {Family::kMeta, "meta", Access::kPoint, false},
    // Per request its summary (GET /statistics/summary).
    {Family::kSummaries, "summaries", Access::kPoint, false},
    // Per request the sums of its task views' instance counts: merged, scanned.
    {Family::kSummaryInstances, "summary_instances", Access::kScan, true},
    // Per request and aliceName the labeler's stats: read by apply, paged by name.
    {Family::kLabelers, "labelers", Access::kPrefixedPoint, false},
    // Which labelers have a record on which task: apply looks them up.
    {Family::kLabelerTasks, "labeler_tasks", Access::kPoint, false},
};
inline constexpr size_t kFamilyCount = std::size(kFamilies);
inline constexpr const FamilyInfo& InfoOf(Family f) { return kFamilies[static_cast<size_t>(f)]; }
inline constexpr std::string_view NameOf(Family f) { return InfoOf(f).name; }
static_assert([] {
  for (size_t i = 0; i < kFamilyCount; ++i) {
    if (static_cast<size_t>(kFamilies[i].family) != i) return false;
  }
  return true;
}(), "kFamilies lists the families in the order of Family");

// Bytes of the request_no prefix shared by records, tasks, scenes and ranks keys.
inline constexpr size_t kRequestPrefixBytes = 4;

// Which rank index a ranks key holds.
enum class RankKind : char { kRecords = 'r', kTasks = 't' };

inline void AppendRequest(RequestNo no, std::string* out) {
  PutFixed32BE(static_cast<uint32_t>(no), out);
}

// request_no · id: a record (records) or a task (tasks).
inline std::string RequestItem(RequestNo no, Id id) {
  // No reserve: the usual key (ids up to 10 bytes) fits the string's own
  // room, and reserving the longest possible (21 bytes) cost an allocation for
  // each of the several keys built per event.
  std::string key;
  AppendRequest(no, &key);
  id.AppendKey(&key);
  return key;
}

inline std::string RequestPrefix(RequestNo no) {
  std::string key;
  AppendRequest(no, &key);
  return key;
}

// Above every key of the request in records, tasks and instances (an upper
// bound for their iterators): the first byte of an id's encoding is at most 16.
inline std::string RequestEnd(RequestNo no) {
  std::string key = RequestPrefix(no);
  key.push_back('\xff');
  return key;
}

// The request number at the front of a records, tasks, instances, scenes or
// ranks key; nullopt if the key is shorter.
inline std::optional<RequestNo> RequestOf(std::string_view key) {
  ByteReader r(key);
  uint32_t no = 0;
  if (!r.Fixed32BE(&no)) return std::nullopt;
  return RequestNo{no};
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

// The instance key of an instances key that starts with `prefix` (InstancePrefix).
inline std::string_view InstanceKeyOf(std::string_view key, std::string_view prefix) {
  return key.substr(prefix.size());
}

// A request's summary (summaries); its instance sums (summary_instances) are
// request_no · instance key, raw.
inline std::string Summary(RequestNo no) { return RequestPrefix(no); }
inline std::string SummaryInstance(RequestNo no, std::string_view instance_key) {
  std::string key = RequestPrefix(no);
  key.append(instance_key);
  return key;
}

// A labeler of a request (labelers): request_no · aliceName, raw, so that a
// request's labelers sort by name bytewise.
inline std::string Labeler(RequestNo no, std::string_view alice_name) {
  std::string key = RequestPrefix(no);
  key.append(alice_name);
  return key;
}
// The aliceName of a labelers key.
inline std::string_view LabelerNameOf(std::string_view key) {
  return key.substr(std::min(key.size(), kRequestPrefixBytes));
}
// Above every labelers key of the request (names are at most 255 bytes).
inline std::string LabelerEnd(RequestNo no) {
  if (static_cast<uint32_t>(no) == UINT32_MAX) return std::string(kRequestPrefixBytes + 1, '\xff');
  return RequestPrefix(RequestNo{static_cast<uint32_t>(no) + 1});
}

// That a labeler has a record on a task (labeler_tasks): request_no · task id ·
// the labeler's number (a varint; the task id's encoding is self-delimiting).
inline std::string LabelerTask(RequestNo no, Id task_id, uint64_t labeler) {
  std::string key = RequestItem(no, task_id);
  PutVarint(labeler, &key);
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

// The task id of a scenes key that starts with `prefix` (ScenePrefix); nullopt
// if the rest is not one id.
inline std::optional<Id> SceneTaskOf(std::string_view key, std::string_view prefix) {
  key.remove_prefix(std::min(prefix.size(), key.size()));
  auto id = Id::ConsumeKey(&key);
  if (!id || !key.empty()) return std::nullopt;
  return id;
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

// A partition in a key: shifted so that byte order is numeric order.
inline void AppendPartition(Partition partition, std::string* key) {
  PutFixed32BE(static_cast<uint32_t>(Raw(partition)) ^ 0x80000000u, key);
}
inline bool ConsumePartition(ByteReader* r, Partition* partition) {
  uint32_t shifted = 0;
  if (!r->Fixed32BE(&shifted)) return false;
  *partition = Partition{static_cast<int32_t>(shifted ^ 0x80000000u)};
  return true;
}
// An offset in a key: shifted so that byte order is numeric order.
inline void AppendOffset(Offset offset, std::string* key) {
  PutFixed64BE(static_cast<uint64_t>(Raw(offset)) ^ 0x8000000000000000ull, key);
}
inline bool ConsumeOffset(ByteReader* r, Offset* offset) {
  uint64_t shifted = 0;
  if (!r->Fixed64BE(&shifted)) return false;
  *offset = Offset{static_cast<int64_t>(shifted ^ 0x8000000000000000ull)};
  return true;
}

// partition · offset · element, each shifted so that byte order is numeric order
// (kReplayPartition, -1, sorts first; a whole-message rejection sorts
// before the message's elements).
// Within a partition, key order is the order in which Kafka delivers events.
inline constexpr size_t kRejectedKeyBytes = 16;
inline std::string RejectedPartition(Partition partition) {
  std::string key;
  AppendPartition(partition, &key);
  return key;
}
// Above every rejected key of the partition.
inline std::string RejectedPartitionEnd(Partition partition) {
  std::string key = RejectedPartition(partition);
  key.append(kRejectedKeyBytes - key.size() + 1, '\xff');
  return key;
}
inline void AppendRejected(const Origin& origin, std::optional<uint32_t> element, std::string* key) {
  AppendPartition(origin.partition, key);
  AppendOffset(origin.offset, key);
  PutFixed32BE(element ? *element + 1 : 0, key);
}
inline std::string Rejected(const Origin& origin, std::optional<uint32_t> element) {
  std::string key;
  AppendRejected(origin, element, &key);
  return key;
}
// The origin and element of a rejected key; false if it is not one.
inline bool ParseRejected(std::string_view key, Origin* origin, std::optional<uint32_t>* element) {
  ByteReader r(key);
  uint32_t e = 0;
  if (!ConsumePartition(&r, &origin->partition) || !ConsumeOffset(&r, &origin->offset) || !r.Fixed32BE(&e) ||
      !r.empty()) {
    return false;
  }
  *element = e == 0 ? std::nullopt : std::optional<uint32_t>(e - 1);
  return true;
}

inline constexpr std::string_view kFormatKey = "format";
inline constexpr std::string_view kNextRequestKey = "next_request_no";
inline constexpr std::string_view kTotalsKey = "totals";
inline constexpr std::string_view kInstanceKey = "instance_id";

// meta: a partition's rejection tally (RejectTally, codec.h).
inline constexpr std::string_view kRejectsPrefix = "rejects/";
inline std::string Rejects(Partition partition) {
  std::string key(kRejectsPrefix);
  AppendPartition(partition, &key);
  return key;
}
// The partition of a rejects key; nullopt if it is not one.
inline std::optional<Partition> RejectsPartitionOf(std::string_view key) {
  if (!key.starts_with(kRejectsPrefix)) return std::nullopt;
  ByteReader r(key.substr(kRejectsPrefix.size()));
  Partition partition{};
  if (!ConsumePartition(&r, &partition) || !r.empty()) return std::nullopt;
  return partition;
}

// meta: where the store stands in a partition of a topic (OffsetValue).
inline std::string OffsetPrefix(std::string_view topic) {
  std::string key = "offset/";
  key.append(topic);
  key.push_back('/');
  return key;
}

inline std::string OffsetKey(std::string_view topic, Partition partition) {
  std::string key = OffsetPrefix(topic);
  AppendPartition(partition, &key);
  return key;
}
// The partition of an offset key that starts with `prefix` (OffsetPrefix);
// nullopt if the rest is not one.
inline std::optional<Partition> OffsetPartitionOf(std::string_view key, std::string_view prefix) {
  if (!key.starts_with(prefix)) return std::nullopt;
  ByteReader r(key.substr(prefix.size()));
  Partition partition{};
  if (!ConsumePartition(&r, &partition) || !r.empty()) return std::nullopt;
  return partition;
}

// An offset's value (see the top of this file).
struct OffsetValue {
  Offset next = kFirstOffset;
  std::string_view cluster;             // empty if unknown; parsed: points into the value
  std::optional<uint64_t> fingerprint;  // nullopt if unknown
};
inline void AppendOffsetValue(const OffsetValue& v, std::string* out) {
  PutFixed64BE(static_cast<uint64_t>(Raw(v.next)), out);
  PutString(v.cluster, out);
  if (v.fingerprint) PutFixed64BE(*v.fingerprint, out);
}
// False if `value` is not one. Values of stores written before the cluster id
// and fingerprint were kept end after `next`: both unknown.
inline bool ParseOffsetValue(std::string_view value, OffsetValue* v) {
  ByteReader r(value);
  uint64_t next = 0;
  if (!r.Fixed64BE(&next)) return false;
  *v = OffsetValue{Offset{static_cast<int64_t>(next)}, {}, std::nullopt};
  if (r.empty()) return true;
  if (!r.String(&v->cluster)) return false;
  if (r.empty()) return true;
  uint64_t fingerprint = 0;
  if (!r.Fixed64BE(&fingerprint) || !r.empty()) return false;
  v->fingerprint = fingerprint;
  return true;
}

// A request number as a value (record_ids, meta "next_request_no").
inline void AppendRequestValue(RequestNo no, std::string* out) { AppendRequest(no, out); }
inline std::optional<RequestNo> ParseRequestValue(std::string_view value) {
  ByteReader r(value);
  uint32_t no = 0;
  if (!r.Fixed32BE(&no)) return std::nullopt;
  return RequestNo{no};
}

}  // namespace keys
}  // namespace tally
