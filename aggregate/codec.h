#pragma once

// The binary value formats of the store (see keys.h for where each lives).
// Encode* append to a string; Decode* return false on bytes they did not write
// (the store reports Corruption). Part of the on-disk format: bump
// kFormatVersion (keys.h) to change any of them. Private to aggregate/.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/keys.h"
#include "aggregate/record_fields.h"
#include "aggregate/rejection.h"
#include "aggregate/summary.h"
#include "aggregate/task_action.h"
#include "aggregate/task_fields.h"
#include "aggregate/task_view.h"

namespace tally {

// What the store knows of a request besides its records and tasks.
struct RequestMeta {
  RequestNo no{};
  uint64_t records = 0;
  uint64_t tasks = 0;

  friend bool operator==(const RequestMeta&, const RequestMeta&) = default;
};

// A record: every field of the TaskAction but `id` and `annotation_request_id`,
// which its key holds.
void EncodeRecord(const TaskAction& record, std::string* out);
bool DecodeRecord(std::string_view in, TaskAction* record);
// The same, read in place: *record's views point into `in`.
bool DecodeRecord(std::string_view in, RecordFields* record);

// The labelers (aliceNames) with a record on a task, by their numbers in the
// request (EncodeLabelerStats), kept in its task view's value while they are at
// most kInlineLabelers; past that the view says `apart` and each is a marker in
// labeler_tasks (keys.h). Only the applier reads them: the labeler view counts
// each task once per labeler. Numbers, not names (format 4; format 3 held the
// names): a view is rewritten with each batch that touches its task, and a
// number is a byte or two where a name is dozens. Held as the view's value has
// them (varints, one buffer): checking, adding, reading and writing copy nothing
// apart, and a handful fit in the string's own room.
struct TaskLabelers {
  std::string numbers;  // varints, in the order added
  uint32_t count = 0;
  bool apart = false;

  bool Has(uint64_t number) const;
  // Appends `number` (not yet in: check with Has).
  void Add(uint64_t number);
  // Calls f(uint64_t) for each number, in the order added.
  template <class F>
  void ForEach(F f) const;

  friend bool operator==(const TaskLabelers&, const TaskLabelers&) = default;
};

template <class F>
void TaskLabelers::ForEach(F f) const {
  // Written by Add or checked by DecodeTaskView: well formed.
  size_t at = 0;
  while (at < numbers.size()) {
    uint64_t n = 0;
    for (int shift = 0;; shift += 7) {
      const auto byte = static_cast<unsigned char>(numbers[at++]);
      n |= uint64_t{byte & 0x7Fu} << shift;
      if (byte < 0x80) break;
    }
    f(n);
  }
}

// A task view; its instance counts only while they are kept in the view. Format
// 1 views (no `apart` bit) decode as views that keep their counts. `labelers`,
// when given, are written after it (format 4) and read back; a reader that
// passes none skips them. Views written without them decode with none, not apart.
// A format 3 view's labeler names are skipped; asked for its labelers, it is
// unreadable unless it has none (Store::Open rebuilds a format 3 store's views).
void EncodeTaskView(const TaskView& view, std::string* out, const TaskLabelers* labelers = nullptr);
bool DecodeTaskView(std::string_view in, TaskView* view, TaskLabelers* labelers = nullptr);
// The fields of a task view that answers show, read in place: *fields' views point into `in`.
bool DecodeTaskFields(std::string_view in, TaskFields* fields);

// An instance count kept apart (keys.h instances). A record adds its counts with
// RocksDB merges, which the family's merge operator (store.cpp) sums.
void EncodeInstanceCount(uint64_t count, std::string* out);
bool DecodeInstanceCount(std::string_view in, uint64_t* count);

void EncodeRequestMeta(const RequestMeta& meta, std::string* out);
bool DecodeRequestMeta(std::string_view in, RequestMeta* meta);

// A request's summary (summaries) and a labeler's stats (labelers).
void EncodeRequestSummary(const RequestSummary& summary, std::string* out);
bool DecodeRequestSummary(std::string_view in, RequestSummary* summary);
// A labeler's value holds its number in the request too (format 4): assigned in
// order of first appearance (the request's count of labelers before it), it is
// how task views name it (TaskLabelers).
void EncodeLabelerStats(const LabelerStats& stats, uint64_t number, std::string* out);
bool DecodeLabelerStats(std::string_view in, LabelerStats* stats, uint64_t* number = nullptr);

// A scene entry: the stamp of a task's latest record carrying the scene.
void EncodeStamp(const Stamp& stamp, std::string* out);
bool DecodeStamp(std::string_view in, Stamp* stamp);

// A rejection but its origin and element, which its key holds.
void EncodeRejection(const Rejection& rejection, std::string* out);
bool DecodeRejection(std::string_view in, Rejection* rejection);

// A partition's rejection tally (meta rejects/<partition>): the rejected key
// (keys.h) of the newest rejection counted, the point up to which re-read events
// are not counted again, and counts by reason.
struct RejectTally {
  std::string mark;  // empty before the first
  std::array<uint64_t, kRejectReasonCount> counts{};

  friend bool operator==(const RejectTally&, const RejectTally&) = default;
};
void EncodeRejectTally(const RejectTally& tally, std::string* out);
bool DecodeRejectTally(std::string_view in, RejectTally* tally);

}  // namespace tally
