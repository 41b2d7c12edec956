// The applier's dedupe: which records of a batch are new to the store, and which
// duplicates differ from the copy that came first (conflicts).

#include "aggregate/store_apply.h"

#include <algorithm>
#include <cassert>

#include "aggregate/bytes.h"
#include "aggregate/keys.h"

namespace tally {

using keys::Family;

// Sorts the batch's records into fresh ones (fresh_, in id order) and
// duplicates. A duplicate is compared with the copy that came first, to count
// conflicts: one stored, or in the batch being written, or else the batch's own.
Status Applier::FindExisting(const ApplyBatch& batch, Slot& slot) {
  const std::span<const TaskAction> actions = batch.actions;
  ApplyResult& result = slot.result;
  // Sorted by (id, arrival): the first of each run of equal ids is the first
  // copy; the rest repeat it. Sorted ids also make the lookups below cheaper.
  by_id_.resize(actions.size());
  for (uint32_t i = 0; i < actions.size(); ++i) by_id_[i] = {actions[i].id, i};
  std::sort(by_id_.begin(), by_id_.end());
  candidates_.clear();
  repeats_.clear();
  for (size_t k = 0; k < by_id_.size(); ++k) {
    if (k > 0 && by_id_[k].first == by_id_[k - 1].first) {
      repeats_.emplace_back(by_id_[k].second, candidates_.back());
    } else {
      candidates_.push_back(by_id_[k].second);
    }
  }
  result.duplicates += repeats_.size();

  // First copies of the candidates elsewhere, by index of the candidate.
  std::unordered_map<uint32_t, FirstCopy> first;
  // The batch being written is not in RocksDB yet: its ids are matched here
  // (both lists are sorted by id).
  std::vector<uint32_t> lookups;
  lookups.reserve(candidates_.size());
  {
    static const std::vector<std::pair<Id, const TaskAction*>> kNone;
    const auto& writing = writing_ ? writing_->fresh_ids : kNone;
    size_t w = 0;
    for (uint32_t c : candidates_) {
      const Id id = actions[c].id;
      while (w < writing.size() && writing[w].first < id) ++w;
      if (w < writing.size() && writing[w].first == id) {
        first.emplace(c, FirstCopy{RequestNo{}, std::nullopt, writing[w].second});
      } else {
        lookups.push_back(c);
      }
    }
  }

  // Batched lookups of the rest: new ids cost a bloom filter probe each. Chunks
  // keep RocksDB's per-call buffers small. The PinnableSlices are fresh for
  // every batch: reusing them across MultiGet calls corrupted later reads under
  // RocksDB 7.8 (found by StoreCrashTest).
  id_keys_.resize(lookups.size());
  slices_.resize(lookups.size());
  for (size_t j = 0; j < lookups.size(); ++j) {
    id_keys_[j].clear();
    actions[lookups[j]].id.AppendKey(&id_keys_[j]);
    slices_[j] = id_keys_[j];
  }
  std::vector<rocksdb::PinnableSlice> values(lookups.size());
  statuses_.assign(lookups.size(), rocksdb::Status());
  constexpr size_t kChunk = 1024;
  for (size_t from = 0; from < lookups.size(); from += kChunk) {
    const size_t n = std::min(kChunk, lookups.size() - from);
    // The keys are in id order, which their encoding keeps (id.h): RocksDB
    // need not sort them again (that sort was ~5 % of the apply thread).
    store_->db->MultiGet(rocksdb::ReadOptions(), Cf(Family::kRecordIds), n, slices_.data() + from,
                         values.data() + from, statuses_.data() + from, /*sorted_input=*/true);
  }
  for (size_t j = 0; j < lookups.size(); ++j) {
    if (statuses_[j].IsNotFound()) {
      fresh_.push_back(lookups[j]);
      continue;
    }
    if (!statuses_[j].ok()) return FromRocks(statuses_[j], "looking up record ids");
    const std::optional<RequestNo> no = keys::ParseRequestValue(std::string_view(values[j].data(), values[j].size()));
    if (!no) return Status::Corruption("unreadable record id entry");
    first.emplace(lookups[j], FirstCopy{*no, std::nullopt, nullptr});
  }
  // fresh_ must be in id order (the next batch merges with it): lookups was.
  for (auto& [c, copy] : first) {
    ++result.duplicates;
    Result<bool> same = SameAsFirst(actions[c], &copy);
    if (!same) return same.error();
    if (!*same) ++result.conflicts;
  }
  for (const auto& [i, first_copy] : repeats_) {
    bool same;
    if (auto it = first.find(first_copy); it != first.end()) {
      Result<bool> r = SameAsFirst(actions[i], &it->second);
      if (!r) return r.error();
      same = *r;
    } else {
      same = actions[i] == actions[first_copy];
    }
    if (!same) ++result.conflicts;
  }
  return Status::OK();
}

// Whether `a` has the same decoded values as the first copy of its id.
Result<bool> Applier::SameAsFirst(const TaskAction& a, FirstCopy* copy) {
  if (copy->writing) return *copy->writing == a;
  std::string value;
  rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kRequests), a.annotation_request_id, &value);
  if (s.IsNotFound()) return false;  // stored under another request
  if (!s.ok()) return FromRocks(s, "reading a request");
  RequestMeta request;
  if (!DecodeRequestMeta(value, &request)) return Status::Corruption("unreadable request meta");
  if (request.no != copy->no) return false;
  if (!copy->record) {
    s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kRecords), keys::RequestItem(copy->no, a.id), &value);
    if (!s.ok()) return FromRocks(s, "reading a stored record");
    if (!DecodeRecord(value, &copy->record.emplace())) return Status::Corruption("unreadable stored record");
    copy->record->id = a.id;
  }
  copy->record->annotation_request_id = a.annotation_request_id;
  return *copy->record == a;
}

}  // namespace tally
