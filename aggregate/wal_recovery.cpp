#include "aggregate/wal_recovery.h"

#include <rocksdb/write_batch.h>

#include <boost/crc.hpp>

#include <algorithm>
#include <cinttypes>
#include <filesystem>

namespace tally {
namespace {

// RocksDB's log format (db/log_format.h, stable since LevelDB): 32 KiB blocks of
// fragments, each a 7-byte header (masked CRC32C of type and payload, 16-bit
// length, type) and its payload; a batch spans one FULL fragment or FIRST,
// MIDDLE..., LAST; a block's last bytes, if fewer than a header, are padding.
constexpr uint64_t kBlock = 32768;
constexpr uint64_t kHeader = 7;
enum FragmentType : uint8_t { kZero = 0, kFull = 1, kFirst = 2, kMiddle = 3, kLast = 4 };

// Where a log record of `n` bytes that starts at `pos` ends (as log::Writer lays it out).
uint64_t AfterRecord(uint64_t pos, uint64_t n) {
  do {
    uint64_t left = kBlock - pos % kBlock;
    if (left < kHeader) {
      pos += left;
      left = kBlock;
    }
    const uint64_t fragment = std::min(n, left - kHeader);
    pos += kHeader + fragment;
    n -= fragment;
  } while (n > 0);
  return pos;
}

uint32_t MaskedCrc32c(uint8_t type, const char* data, size_t n) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_byte(type);
  crc.process_bytes(data, n);
  const uint32_t c = crc.checksum();
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// Counts the puts into one column family.
class PutCounter : public rocksdb::WriteBatch::Handler {
 public:
  explicit PutCounter(uint32_t family) : family_(family) {}
  rocksdb::Status PutCF(uint32_t family, const rocksdb::Slice&, const rocksdb::Slice&) override {
    count += family == family_;
    return rocksdb::Status::OK();
  }
  void Put(const rocksdb::Slice&, const rocksdb::Slice&) override {}
  // Batches also merge (instance counts, the summaries' instance sums) and
  // delete: the handler's defaults would refuse those, and the batch's records
  // would go uncounted.
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice&) override { return rocksdb::Status::OK(); }
  uint64_t count = 0;

 private:
  uint32_t family_;
};

struct Tail {
  uint64_t batches = 0;
  uint64_t records = 0;
  bool damaged = false;     // a fragment failed its checksum or its framing
  bool incomplete = false;  // the file ends inside a batch
};

// Reads a WAL from `from` to `size`: the complete batches there and what is wrong.
Tail ScanTail(std::FILE* file, uint64_t from, uint64_t size, uint32_t records_family) {
  Tail tail;
  std::string block(kBlock, '\0');
  std::string record;
  bool assembling = false;
  auto finish = [&](std::string payload) {
    rocksdb::WriteBatch batch(std::move(payload));
    PutCounter counter(records_family);
    ++tail.batches;
    if (batch.Iterate(&counter).ok()) tail.records += counter.count;
  };
  for (uint64_t pos = from; pos < size;) {
    const uint64_t start = pos - pos % kBlock;
    const uint64_t length = std::min(kBlock, size - start);
    if (std::fseek(file, static_cast<long>(start), SEEK_SET) != 0 ||
        std::fread(block.data(), 1, length, file) != length) {
      tail.damaged = true;
      break;
    }
    for (uint64_t at = pos - start; at + kHeader <= length;) {
      const auto* h = reinterpret_cast<const uint8_t*>(block.data() + at);
      const uint32_t crc = uint32_t{h[0]} | uint32_t{h[1]} << 8 | uint32_t{h[2]} << 16 | uint32_t{h[3]} << 24;
      const uint64_t n = uint64_t{h[4]} | uint64_t{h[5]} << 8;
      const uint8_t type = h[6];
      if (type == kZero && n == 0) break;  // preallocated space: nothing more in this block
      if (at + kHeader + n > length) {
        // Past the end of the file: a write cut short. Past the block: damage.
        (start + at + kHeader + n > size ? tail.incomplete : tail.damaged) = true;
        assembling = false;
        break;
      }
      const char* payload = block.data() + at + kHeader;
      if (type > kLast || MaskedCrc32c(type, payload, n) != crc) {
        tail.damaged = true;  // like RocksDB's reader: the rest of the block cannot be trusted
        assembling = false;
        break;
      }
      if (type == kFull) {
        tail.damaged |= assembling;
        assembling = false;
        finish(std::string(payload, n));
      } else if (type == kFirst) {
        tail.damaged |= assembling;
        record.assign(payload, n);
        assembling = true;
      } else if (assembling) {
        record.append(payload, n);
        if (type == kLast) {
          assembling = false;
          finish(std::move(record));
          record.clear();
        }
      } else {
        tail.damaged = true;  // a middle or last fragment without its first
      }
      at += kHeader + n;
    }
    pos = start + kBlock;
  }
  tail.incomplete |= assembling;
  return tail;
}

}  // namespace

WalRecoveryWatch::WalRecoveryWatch(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 5 || name.substr(name.size() - 4) != ".log") continue;
    const std::string digits = name.substr(0, name.size() - 4);
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    Log log;
    log.path = entry.path().string();
    log.size = entry.file_size(ec);
    if (ec) continue;
    log.file = std::fopen(log.path.c_str(), "rb");
    logs_.emplace(std::stoull(digits), std::move(log));
  }
}

WalRecoveryWatch::~WalRecoveryWatch() {
  for (auto& [number, log] : logs_) {
    if (log.file) std::fclose(log.file);
  }
}

void WalRecoveryWatch::ColumnFamilyLogNumberMap(const std::map<uint32_t, uint64_t>& log_numbers,
                                                const std::map<std::string, uint32_t>& family_ids) {
  // WALs older than every family's log number hold flushed data only; recovery skips them.
  first_needed_ = UINT64_MAX;
  for (const auto& [family, number] : log_numbers) first_needed_ = std::min(first_needed_, number);
  if (log_numbers.empty()) first_needed_ = 0;
  family_ids_ = family_ids;
}

rocksdb::WalFilter::WalProcessingOption WalRecoveryWatch::LogRecordFound(unsigned long long log_number,
                                                                         const std::string&,
                                                                         const rocksdb::WriteBatch& batch,
                                                                         rocksdb::WriteBatch*, bool* batch_changed) {
  *batch_changed = false;
  if (auto it = logs_.find(log_number); it != logs_.end()) {
    it->second.replayed_end = AfterRecord(it->second.replayed_end, batch.GetDataSize());
  }
  return WalProcessingOption::kContinueProcessing;
}

WalRecovery WalRecoveryWatch::Dropped(const std::string& records_family) {
  WalRecovery dropped;
  const auto family = family_ids_.find(records_family);
  const uint32_t records = family != family_ids_.end() ? family->second : UINT32_MAX;
  for (auto& [number, log] : logs_) {
    if (number < first_needed_ || log.size <= log.replayed_end) continue;
    if (dropped.wal.empty()) {
      dropped.wal = log.path;
      dropped.from_byte = log.replayed_end;
    }
    dropped.dropped_bytes += log.size - log.replayed_end;
    if (!log.file) {
      dropped.damaged = true;
      continue;
    }
    const Tail tail = ScanTail(log.file, log.replayed_end, log.size, records);
    dropped.dropped_batches += tail.batches;
    dropped.dropped_records += tail.records;
    dropped.damaged |= tail.damaged || tail.batches > 0;
  }
  for (auto& [number, log] : logs_) {
    if (log.file) std::fclose(log.file);
    log.file = nullptr;
  }
  return dropped;
}

std::string WalRecovery::ToString() const {
  if (dropped_bytes == 0) return "";
  if (!damaged) {
    return "recovery of the write-ahead log dropped an incomplete last write (" + std::to_string(dropped_bytes) +
           " bytes at byte " + std::to_string(from_byte) + " of " + wal +
           "): a batch cut short by a crash or a full disk, never reported as written";
  }
  return "recovery of the write-ahead log stopped at a damaged record (byte " + std::to_string(from_byte) + " of " +
         wal + ") and DROPPED everything after it: " + std::to_string(dropped_bytes) + " bytes, " +
         std::to_string(dropped_batches) + " intact batch(es) holding " + std::to_string(dropped_records) +
         " new record(s), besides the damaged one; the store is as it was after the batch before it";
}

}  // namespace tally
