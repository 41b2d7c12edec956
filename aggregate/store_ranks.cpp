// The applier's upkeep of request metadata and rank indexes, once a batch's
// records are folded.

#include "aggregate/store_apply.h"

#include <algorithm>
#include <cassert>

#include "aggregate/bytes.h"
#include "aggregate/keys.h"

namespace tally {

using keys::Family;

Status Applier::FinishRequests(Slot& slot) {
  for (auto& [id, request] : slot.touched) {
    if (!request->new_records.empty()) {
      slot.changed.push_back(id);
      if (Status s = UpdateRanks(*request, /*tasks=*/false, slot); !s.ok()) return s;
      request->meta.records += request->new_records.size();
      request->unwritten_records.emplace_back(slot.epoch, std::move(request->new_records));
      request->new_records.clear();
    }
    if (!request->new_tasks.empty()) {
      if (Status s = UpdateRanks(*request, /*tasks=*/true, slot); !s.ok()) return s;
      request->meta.tasks += request->new_tasks.size();
      request->unwritten_tasks.emplace_back(slot.epoch, std::move(request->new_tasks));
      request->new_tasks.clear();
    }
    value_.clear();
    EncodeRequestMeta(request->meta, &value_);
    Put(slot, Cf(Family::kRequests), id, value_);
    if (summaries_) {
      value_.clear();
      EncodeRequestSummary(request->summary, &value_);
      Put(slot, Cf(Family::kSummaries), keys::Summary(request->meta.no), value_);
    }
  }
  return Status::OK();
}

// Counts the request's new record (or task) ids into its rank index, splitting
// segments that grow too big, and writes the index.
Status Applier::UpdateRanks(RequestState& request, bool tasks, Slot& slot) {
  std::optional<RankIndex>& index = tasks ? request.task_ranks : request.record_ranks;
  std::vector<Id>& ids = tasks ? request.new_tasks : request.new_records;
  const auto& unwritten = tasks ? request.unwritten_tasks : request.unwritten_records;
  const RequestNo no = request.meta.no;
  const std::string key = keys::Rank(no, tasks ? keys::RankKind::kTasks : keys::RankKind::kRecords);
  if (!index) {
    index.emplace();
    if (!IsNew(request)) {
      std::string value;
      const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kRanks), key, &value);
      if (s.ok() && !index->DecodeFrom(value)) return Status::Corruption("unreadable rank index");
      if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a rank index");
    }
  }
  std::sort(ids.begin(), ids.end());
  const std::vector<size_t> oversized = index->Add(ids);
  for (auto it = oversized.rbegin(); it != oversized.rend(); ++it) {
    const size_t i = *it;
    const Id start = index->segments()[i].start;
    const std::optional<Id> end = index->End(i);
    auto in_segment = [&](Id id) { return id >= start && (!end || id < *end); };
    // The segment's ids: stored, in batches not yet written (which RocksDB may
    // or may not hold already while they are being written), and this batch's.
    std::vector<Id> held;
    if (Status s = ReadIds(tasks ? Cf(Family::kTasks) : Cf(Family::kRecords), no, start, end, &held); !s.ok()) return s;
    for (const auto& [epoch, batch_ids] : unwritten) {
      for (Id id : batch_ids) {
        if (in_segment(id)) held.push_back(id);
      }
    }
    for (Id id : ids) {
      if (in_segment(id)) held.push_back(id);
    }
    std::sort(held.begin(), held.end());
    held.erase(std::unique(held.begin(), held.end()), held.end());
    if (held.size() != index->segments()[i].count) {
      return Status::Corruption("the rank index of a request disagrees with its data");
    }
    index->Split(i, held);
  }
  value_.clear();
  index->EncodeTo(&value_);
  Put(slot, Cf(Family::kRanks), key, value_);
  return Status::OK();
}

Status Applier::ReadIds(rocksdb::ColumnFamilyHandle* family, RequestNo no, Id from, std::optional<Id> to,
                        std::vector<Id>* ids) {
  const std::string upper = to ? keys::RequestItem(no, *to) : keys::RequestEnd(no);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(store_->db->NewIterator(ro, family));
  for (it->Seek(keys::RequestItem(no, from)); it->Valid(); it->Next()) {
    const std::optional<Id> id = keys::ItemOf(std::string_view(it->key().data(), it->key().size()));
    if (!id) return Status::Corruption("unreadable item key");
    ids->push_back(*id);
  }
  return FromRocks(it->status(), "reading a segment of a rank index");
}

}  // namespace tally
