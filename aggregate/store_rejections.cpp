// The applier's rejections: each counted once per position, the latest
// kKeptRejections of each partition kept.

#include "aggregate/store_apply.h"

#include <algorithm>
#include <cassert>

#include "aggregate/bytes.h"
#include "aggregate/keys.h"

namespace tally {

using keys::Family;

// Rejections are counted once per position: one at or before its partition's
// mark was counted by an earlier batch (a message read again after a crash, or
// split over batches and read again from its start) and is skipped. Of the new
// ones, only the latest kKeptRejections of each partition are written, and
// older stored ones are deleted with one range deletion per partition: a flood
// costs the disk a bounded amount whatever its size.
Status Applier::AddRejections(const ApplyBatch& batch, Slot& slot) {
  counted_.clear();
  reject_partitions_.clear();
  for (const PartitionOffset& o : batch.next_offsets) {
    if (!o.rewound) continue;
    Result<RejectState*> found = Rejects(o.partition);
    if (!found) return found.error();
    RejectState* s = *found;
    s->tally.mark.clear();
    s->kept.clear();
    s->excess = false;
    const rocksdb::Status d = slot.batch.DeleteRange(Cf(Family::kRejected), keys::RejectedPartition(o.partition),
                                                     keys::RejectedPartitionEnd(o.partition));
    assert(d.ok());
    d.PermitUncheckedError();
    if (!s->listed) {
      reject_partitions_.emplace_back(o.partition, s);
      s->listed = true;
    }
  }
  RejectState* state = nullptr;
  Partition partition{};
  for (uint32_t i = 0; i < batch.rejections.size(); ++i) {
    const Rejection& r = batch.rejections[i];
    if (!state || r.origin.partition != partition) {
      partition = r.origin.partition;
      Result<RejectState*> found = Rejects(partition);
      if (!found) return found.error();
      state = *found;
      if (!state->listed) {
        reject_partitions_.emplace_back(partition, state);
        state->listed = true;
      }
    }
    key_.clear();
    keys::AppendRejected(r.origin, r.element, &key_);
    if (!state->tally.mark.empty() && key_ <= state->tally.mark) continue;
    state->tally.mark = key_;
    ++state->tally.counts[static_cast<size_t>(r.reason)];
    ++state->counted;
    counted_.emplace_back(i, state);
  }
  slot.result.rejections_counted = counted_.size();
  slot.recent_rejections.clear();
  for (size_t c = counted_.size() - std::min(counted_.size(), kRecentRejections); c < counted_.size(); ++c) {
    const Rejection& r = batch.rejections[counted_[c].first];
    slot.recent_rejections.push_back({r.origin, r.element, r.reason});
  }
  for (const auto& [i, s] : counted_) {
    if (s->counted - s->seen++ > kKeptRejections) continue;  // not among the latest
    const Rejection& r = batch.rejections[i];
    key_.clear();
    keys::AppendRejected(r.origin, r.element, &key_);
    value_.clear();
    EncodeRejection(r, &value_);
    Put(slot, Cf(Family::kRejected), key_, value_);
    s->kept.push_back(key_);
    if (s->kept.size() > kKeptRejections) {
      s->kept.pop_front();
      s->excess = true;
    }
  }
  for (auto& [p, s] : reject_partitions_) {
    if (s->excess) {
      // Every stored key of the partition below the oldest kept one. A
      // WriteBatch refuses only keys over 4 GiB.
      const std::string begin = keys::RejectedPartition(p);
      const rocksdb::Status d = slot.batch.DeleteRange(Cf(Family::kRejected), begin, s->kept.front());
      assert(d.ok());
      d.PermitUncheckedError();
      s->excess = false;
    }
    value_.clear();
    EncodeRejectTally(s->tally, &value_);
    Put(slot, Cf(Family::kMeta), keys::Rejects(p), value_);
    s->counted = 0;
    s->seen = 0;
    s->listed = false;
  }
  return Status::OK();
}

// A partition's state, read from the store the first time it is needed. No
// batch in flight has touched a partition that is not in rejects_ yet.
Result<Applier::RejectState*> Applier::Rejects(Partition partition) {
  if (auto it = rejects_.find(partition); it != rejects_.end()) return &it->second;
  RejectState state;
  std::string value;
  const rocksdb::Status s = store_->db->Get(rocksdb::ReadOptions(), Cf(Family::kMeta), keys::Rejects(partition), &value);
  if (s.ok()) {
    if (!DecodeRejectTally(value, &state.tally)) return Status::Corruption("unreadable rejection counts");
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading rejection counts");
  }
  // The newest stored keys, from the end of the partition.
  const std::string lower = keys::RejectedPartition(partition);
  const std::string upper = keys::RejectedPartitionEnd(partition);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(store_->db->NewIterator(ro, Cf(Family::kRejected)));
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    if (state.kept.size() == kKeptRejections) {
      state.excess = true;
      break;
    }
    state.kept.emplace_front(it->key().data(), it->key().size());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading stored rejections");
  // A store from before counts were kept: what it holds counts as seen.
  if (state.tally.mark.empty() && !state.kept.empty()) state.tally.mark = state.kept.back();
  return &rejects_.emplace(partition, std::move(state)).first->second;
}

}  // namespace tally
