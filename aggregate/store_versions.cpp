// The store's versions of requests (Store::Versions) and the listener told when
// they change (Store::SetChangeListener): what ETags and long polls are made of.
// A version is RequestMeta::records, which the applier writes in the same
// WriteBatch as the records it counts.

#include <rocksdb/db.h>

#include "aggregate/codec.h"
#include "aggregate/store_impl.h"

namespace tally {

using keys::Family;

uint64_t Store::StateNumber() const { return impl_->db->GetLatestSequenceNumber(); }

Status Store::Versions(VersionRead how, std::span<const std::string> requests, std::vector<uint64_t>* out) const {
  out->assign(requests.size(), 0);
  if (requests.empty()) return Status::OK();
  // The state read, by its sequence number: the versions memo answers for it
  // when it holds every request (version_memo.h).
  const rocksdb::SequenceNumber sequence =
      how.view != nullptr ? how.view->snapshot_->GetSequenceNumber() : impl_->db->GetLatestSequenceNumber();
  size_t remembered = 0;
  for (; remembered < requests.size(); ++remembered) {
    const std::optional<uint64_t> version = impl_->versions_memo.Find(sequence, requests[remembered]);
    if (!version) break;
    (*out)[remembered] = *version;
  }
  if (remembered == requests.size()) return Status::OK();
  Status read = ReadVersions(how, requests, out);
  // Without a snapshot the read saw the latest state at some moment: the one
  // at `sequence` only if nothing was written meanwhile.
  if (read.ok() && (how.view != nullptr || impl_->db->GetLatestSequenceNumber() == sequence)) {
    for (size_t i = 0; i < requests.size(); ++i) impl_->versions_memo.Put(sequence, requests[i], (*out)[i]);
  }
  return read;
}

Status Store::ReadVersions(VersionRead how, std::span<const std::string> requests, std::vector<uint64_t>* out) const {
  rocksdb::ReadOptions read_options = ReadOptionsOf(how.view != nullptr ? how.view->snapshot_ : nullptr);
  if (how.memory_only) read_options.read_tier = rocksdb::kBlockCacheTier;
  auto version_of = [&](const rocksdb::Status& s, const rocksdb::PinnableSlice& value, uint64_t* version) {
    if (s.IsNotFound()) return Status::OK();
    if (s.IsIncomplete()) return Status::Unavailable("a request's version is not in memory");
    if (!s.ok()) return FromRocks(s, "reading a request's version");
    RequestMeta meta;
    if (!DecodeRequestMeta(std::string_view(value.data(), value.size()), &meta)) {
      return Status::Corruption("unreadable request meta");
    }
    *version = meta.records;
    return Status::OK();
  };
  if (requests.size() == 1 && how.view != nullptr) {
    // Through the view's memo: the query that follows reads the same meta.
    ReadView::MetaMemo* memo = &how.view->meta_;
    if (Status s = ReadMeta(*impl_, read_options, requests[0], memo); !s.ok()) return s;
    if (!memo->found) return Status::OK();
    RequestMeta meta;
    if (!DecodeRequestMeta(memo->value, &meta)) return Status::Corruption("unreadable request meta");
    (*out)[0] = meta.records;
    return Status::OK();
  }
  if (requests.size() == 1) {  // the common case, without MultiGet's bookkeeping (a 304 costs little else)
    rocksdb::PinnableSlice value;
    const rocksdb::Status s = impl_->db->Get(read_options, impl_->Cf(Family::kRequests), requests[0], &value);
    return version_of(s, value, &(*out)[0]);
  }
  std::vector<rocksdb::Slice> keys(requests.begin(), requests.end());
  std::vector<rocksdb::PinnableSlice> values(requests.size());
  std::vector<rocksdb::Status> statuses(requests.size());
  impl_->db->MultiGet(read_options, impl_->Cf(Family::kRequests), keys.size(), keys.data(), values.data(),
                      statuses.data());
  for (size_t i = 0; i < requests.size(); ++i) {
    if (Status s = version_of(statuses[i], values[i], &(*out)[i]); !s.ok()) return s;
  }
  return Status::OK();
}

void Store::SetChangeListener(ChangeListener listener) {
  auto shared = listener ? std::make_shared<const ChangeListener>(std::move(listener)) : nullptr;
  std::lock_guard lock(impl_->listener_mutex);
  impl_->listener = std::move(shared);
}

void Store::Impl::NotifyChanged(std::span<const std::string> requests) const {
  std::shared_ptr<const ChangeListener> told;
  {
    std::lock_guard lock(listener_mutex);
    told = listener;
  }
  if (told) (*told)(requests);
}

}  // namespace tally
