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

namespace {

// The metas of `requests` in the state `options` read (a snapshot's, or the latest).
Status ReadMetas(const Store::Impl& store, const rocksdb::ReadOptions& options, std::span<const std::string> requests,
                 std::vector<MetaRead>* out) {
  out->assign(requests.size(), MetaRead{});
  if (requests.size() == 1) {  // the common case, without MultiGet's bookkeeping (a 304 costs little else)
    Result<MetaRead> read = ReadMeta(store, options, std::nullopt, requests[0]);
    if (!read) return read.error();
    (*out)[0] = *read;
    return Status::OK();
  }
  std::vector<rocksdb::Slice> keys(requests.begin(), requests.end());
  std::vector<rocksdb::PinnableSlice> values(requests.size());
  std::vector<rocksdb::Status> statuses(requests.size());
  store.db->MultiGet(options, store.Cf(Family::kRequests), keys.size(), keys.data(), values.data(), statuses.data());
  for (size_t i = 0; i < requests.size(); ++i) {
    Result<MetaRead> read = MetaReadOf(statuses[i], std::string_view(values[i].data(), values[i].size()));
    if (!read) return read.error();
    (*out)[i] = *read;
  }
  return Status::OK();
}

}  // namespace

Status Store::Versions(VersionRead how, std::span<const std::string> requests, std::vector<uint64_t>* out) const {
  out->assign(requests.size(), 0);
  if (requests.empty()) return Status::OK();
  // The state read, by its sequence number: the request memo answers for it
  // when it holds every request (request_memo.h).
  const rocksdb::SequenceNumber sequence =
      how.view != nullptr ? how.view->snapshot_->GetSequenceNumber() : impl_->db->GetLatestSequenceNumber();
  size_t remembered = 0;
  for (; remembered < requests.size(); ++remembered) {
    const std::optional<MetaRead> meta = impl_->request_memo.FindMeta(sequence, requests[remembered]);
    if (!meta) break;
    (*out)[remembered] = meta->version();
  }
  if (remembered == requests.size()) return Status::OK();
  rocksdb::ReadOptions read_options = ReadOptionsOf(how.view != nullptr ? how.view->snapshot_ : nullptr);
  if (how.memory_only) read_options.read_tier = rocksdb::kBlockCacheTier;
  std::vector<MetaRead> metas;
  if (Status read = ReadMetas(*impl_, read_options, requests, &metas); !read.ok()) return read;
  // Without a snapshot the read saw the latest state at some moment: the one
  // at `sequence` only if nothing was written meanwhile.
  const bool exact = how.view != nullptr || impl_->db->GetLatestSequenceNumber() == sequence;
  for (size_t i = 0; i < requests.size(); ++i) {
    (*out)[i] = metas[i].version();
    if (exact) impl_->request_memo.PutMeta(sequence, requests[i], metas[i]);
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
