// Store::CompactAll (store.h): a settled store for the benchmarks that measure reads.
#include <rocksdb/db.h>

#include "aggregate/store.h"
#include "aggregate/store_impl.h"

namespace tally {

Status Store::CompactAll() {
  for (rocksdb::ColumnFamilyHandle* family : impl_->handles) {
    const rocksdb::Status s = impl_->db->CompactRange(rocksdb::CompactRangeOptions(), family, nullptr, nullptr);
    if (!s.ok()) return FromRocks(s, "compacting the store");
  }
  return Status::OK();
}

}  // namespace tally
