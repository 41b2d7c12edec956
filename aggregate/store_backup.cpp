#include "aggregate/store_backup.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/utilities/backup_engine.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "aggregate/keys.h"
#include "aggregate/store_impl.h"

namespace tally {
namespace {

namespace fs = std::filesystem;
using keys::Family;

// Metadata of a backup, version 1: a first line "tally-backup 1", then a line
// per topic: the topic, then " partition:next" per partition.
constexpr std::string_view kMetadataHeader = "tally-backup 1";

std::string EncodeMetadata(const std::vector<std::pair<std::string, std::vector<PartitionOffset>>>& offsets) {
  std::string out(kMetadataHeader);
  for (const auto& [topic, partitions] : offsets) {
    out += '\n';
    out += topic;
    for (const PartitionOffset& o : partitions) {
      out += ' ' + std::to_string(Raw(o.partition)) + ':' + std::to_string(Raw(o.next));
    }
  }
  return out;
}

template <class T>
bool ParseNumber(std::string_view text, T* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// The offsets of a backup's metadata; false if it is not tally's (a backup
// dir shared with something else) or malformed.
bool DecodeMetadata(std::string_view text, std::vector<std::pair<std::string, std::vector<PartitionOffset>>>* out) {
  out->clear();
  size_t at = text.find('\n');
  if (text.substr(0, at) != kMetadataHeader) return false;
  while (at != std::string_view::npos) {
    const size_t begin = at + 1;
    at = text.find('\n', begin);
    std::string_view line = text.substr(begin, at == std::string_view::npos ? std::string_view::npos : at - begin);
    size_t space = line.find(' ');
    out->emplace_back(std::string(line.substr(0, space)), std::vector<PartitionOffset>{});
    while (space != std::string_view::npos) {
      const size_t next = line.find(' ', space + 1);
      const std::string_view item = line.substr(space + 1, next == std::string_view::npos ? next : next - space - 1);
      const size_t colon = item.find(':');
      int32_t partition = 0;
      int64_t offset = 0;
      if (colon == std::string_view::npos || !ParseNumber(item.substr(0, colon), &partition) ||
          !ParseNumber(item.substr(colon + 1), &offset)) {
        return false;
      }
      out->back().second.emplace_back(Partition{partition}, Offset{offset});
      space = next;
    }
  }
  return true;
}

// Every topic's stored offsets, latest state (meta keys "offset/<topic>/<partition>";
// a Kafka topic name has no '/').
Result<std::vector<std::pair<std::string, std::vector<PartitionOffset>>>> AllOffsets(const Store::Impl& store) {
  std::vector<std::string> topics;
  {
    std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(rocksdb::ReadOptions(), store.Cf(Family::kMeta)));
    const std::string prefix = keys::OffsetPrefix("");  // "offset//": the part before the topic is "offset/"
    const std::string_view start = std::string_view(prefix).substr(0, prefix.size() - 1);
    for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid() && it->key().starts_with(start);) {
      const std::string_view key(it->key().data(), it->key().size());
      const size_t slash = key.find('/', start.size());
      if (slash == std::string_view::npos) {
        it->Next();
        continue;
      }
      topics.emplace_back(key.substr(start.size(), slash - start.size()));
      // The next topic: past every key of this one ('/' + 1 is '0').
      std::string after(key.substr(0, slash));
      after.push_back('/' + 1);
      it->Seek(after);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading offsets");
  }
  std::vector<std::pair<std::string, std::vector<PartitionOffset>>> out;
  for (std::string& topic : topics) {
    const std::string prefix = keys::OffsetPrefix(topic);
    std::vector<PartitionOffset> offsets;
    std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(rocksdb::ReadOptions(), store.Cf(Family::kMeta)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::optional<Partition> partition =
          keys::OffsetPartitionOf(std::string_view(it->key().data(), it->key().size()), prefix);
      keys::OffsetValue value;
      if (!partition ||
          !keys::ParseOffsetValue(std::string_view(it->value().data(), it->value().size()), &value)) {
        return Status::Corruption("unreadable stored offset of topic " + topic);
      }
      offsets.emplace_back(*partition, value.next);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading offsets");
    out.emplace_back(std::move(topic), std::move(offsets));
  }
  return out;
}

// The backup dir's file system, which tells once when BackupEngine creates
// its first file of a backup: RocksDB has listed the live files (the backup's
// point) before it copies any, so from then on the store's writer may go on.
class FirstFileWatch : public rocksdb::FileSystemWrapper {
 public:
  explicit FirstFileWatch(const std::shared_ptr<rocksdb::FileSystem>& target) : FileSystemWrapper(target) {}
  const char* Name() const override { return "tally.FirstFileWatch"; }

  void Arm(std::function<void()> on_first) {
    std::lock_guard lock(mutex_);
    on_first_ = std::move(on_first);
  }
  // Runs the armed function, if it has not run yet.
  void Fire() {
    std::function<void()> run;
    {
      std::lock_guard lock(mutex_);
      run.swap(on_first_);
    }
    if (run) run();
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* debug) override {
    Fire();
    return target()->NewWritableFile(name, options, result, debug);
  }

 private:
  std::mutex mutex_;
  std::function<void()> on_first_;  // guarded by mutex_
};

rocksdb::BackupEngineOptions EngineOptions(const std::string& dir, rocksdb::Env* env) {
  rocksdb::BackupEngineOptions options(dir);
  options.backup_env = env;
  options.sync = true;  // a backup that was reported taken survives a power loss
  options.max_background_operations = 1;
  return options;
}

std::string Describe(const rocksdb::Status& s) { return s.ToString(); }

BackupEntry EntryOf(const rocksdb::BackupInfo& info) {
  BackupEntry entry;
  entry.id = info.backup_id;
  entry.created_unix_s = info.timestamp;
  entry.bytes = info.size;
  DecodeMetadata(info.app_metadata, &entry.offsets);  // not tally's: no offsets
  return entry;
}

// Removes what a failed restore left in `dir` (which was missing or empty).
void Clear(const std::string& dir, bool existed) {
  std::error_code ec;
  if (!existed) {
    fs::remove_all(dir, ec);
    return;
  }
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) fs::remove_all(e.path(), ec);
}

}  // namespace

std::vector<PartitionOffset> BackupEntry::OffsetsOf(std::string_view topic) const {
  for (const auto& [name, partitions] : offsets) {
    if (name == topic) return partitions;
  }
  return {};
}

bool IsMissingOrEmptyDir(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return !ec;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

struct StoreBackups::Impl {
  std::string dir;
  std::shared_ptr<FirstFileWatch> watch;
  std::unique_ptr<rocksdb::Env> env;  // the backup dir's, over `watch`
  std::unique_ptr<rocksdb::BackupEngine> engine;
  std::mutex operation;  // one Create at a time

  mutable std::mutex list_mutex;
  std::vector<BackupEntry> list;  // guarded by list_mutex

  // Reads the engine's list into `list` (after each change, so that List never
  // waits for a backup in progress: the engine's reads do).
  void Refresh() {
    std::vector<rocksdb::BackupInfo> infos;
    engine->GetBackupInfo(&infos);
    std::vector<BackupEntry> entries;
    for (const rocksdb::BackupInfo& info : infos) entries.push_back(EntryOf(info));
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    std::lock_guard lock(list_mutex);
    list = std::move(entries);
  }
};

StoreBackups::StoreBackups(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StoreBackups::~StoreBackups() = default;

const std::string& StoreBackups::dir() const { return impl_->dir; }

Result<std::unique_ptr<StoreBackups>> StoreBackups::Open(const std::string& backup_dir, uint64_t rate_bytes_per_s) {
  std::error_code ec;
  fs::create_directories(backup_dir, ec);
  if (ec || !fs::is_directory(backup_dir)) {
    return Status::InvalidArgument("cannot use " + backup_dir + " as the backup dir: " +
                                   (ec ? ec.message() : std::string("not a directory")));
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = backup_dir;
  impl->watch = std::make_shared<FirstFileWatch>(rocksdb::FileSystem::Default());
  impl->env = rocksdb::NewCompositeEnv(impl->watch);
  rocksdb::BackupEngine* engine = nullptr;
  rocksdb::BackupEngineOptions options = EngineOptions(backup_dir, impl->env.get());
  options.backup_rate_limit = rate_bytes_per_s;
  const rocksdb::IOStatus s = rocksdb::BackupEngine::Open(options, rocksdb::Env::Default(), &engine);
  if (!s.ok()) return Status::IOError("cannot open the backup dir " + backup_dir + ": " + Describe(s));
  impl->engine.reset(engine);
  impl->Refresh();
  return std::unique_ptr<StoreBackups>(new StoreBackups(std::move(impl)));
}

Result<BackupEntry> StoreBackups::Create(Store& store, uint32_t keep) {
  std::lock_guard operation(impl_->operation);
  Store::Impl& s = *store.impl_;
  if (Status failed = s.health->failure(); !failed.ok()) return failed;
  const auto start = std::chrono::steady_clock::now();

  // The writer waits from here until RocksDB has listed the live files: the
  // offsets read now are the backup's.
  s.write_gate.lock();
  auto offsets = AllOffsets(s);
  if (!offsets) {
    s.write_gate.unlock();
    return offsets.error();
  }
  // Runs on whichever thread creates the first file, or below: a mutex may
  // only be unlocked by the thread that locked it, so that thread waits for it.
  std::mutex released_mutex;
  std::condition_variable released_cv;
  bool release = false;
  impl_->watch->Arm([&] {
    std::lock_guard lock(released_mutex);
    release = true;
    released_cv.notify_all();
  });
  rocksdb::BackupID id = 0;
  rocksdb::IOStatus created;
  std::thread backup([&] {
    rocksdb::CreateBackupOptions options;
    options.flush_before_backup = false;  // the WAL goes into the backup: no flush stalls the writer
    created = impl_->engine->CreateNewBackupWithMetadata(options, s.db.get(), EncodeMetadata(*offsets), &id);
    impl_->watch->Fire();  // no file was created (a failure before any)
  });
  {
    std::unique_lock lock(released_mutex);
    released_cv.wait(lock, [&] { return release; });
  }
  s.write_gate.unlock();
  backup.join();

  if (!created.ok()) {
    // Frees what the failed backup wrote (a full disk) now rather than at the next one.
    impl_->engine->GarbageCollect().PermitUncheckedError();
    impl_->Refresh();
    return Status::IOError("backup into " + impl_->dir + " failed: " + Describe(created));
  }
  if (keep > 0) {
    if (const rocksdb::IOStatus purged = impl_->engine->PurgeOldBackups(keep); !purged.ok()) {
      impl_->Refresh();
      return Status::IOError("backup " + std::to_string(id) + " was taken into " + impl_->dir +
                             ", but removing the backups beyond the latest " + std::to_string(keep) +
                             " failed: " + Describe(purged));
    }
  }
  rocksdb::BackupInfo info;
  if (const rocksdb::Status got = impl_->engine->GetBackupInfo(id, &info); !got.ok()) {
    return Status::IOError("backup " + std::to_string(id) + " in " + impl_->dir + " is unreadable: " + Describe(got));
  }
  impl_->Refresh();
  BackupEntry entry = EntryOf(info);
  entry.millis = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
  return entry;
}

std::vector<BackupEntry> StoreBackups::List() const {
  std::lock_guard lock(impl_->list_mutex);
  return impl_->list;
}

Result<BackupEntry> StoreBackups::Restore(const std::string& backup_dir, const std::string& data_dir,
                                          std::optional<uint32_t> id) {
  if (!IsMissingOrEmptyDir(data_dir)) {
    return Status::InvalidArgument(data_dir + " is not empty: a restore goes into a missing or empty directory");
  }
  std::error_code ec;
  if (!fs::is_directory(backup_dir, ec)) return Status::NotFound("no backup dir " + backup_dir);
  rocksdb::BackupEngineReadOnly* opened = nullptr;
  const rocksdb::IOStatus open =
      rocksdb::BackupEngineReadOnly::Open(EngineOptions(backup_dir, nullptr), rocksdb::Env::Default(), &opened);
  if (!open.ok()) return Status::IOError("cannot open the backup dir " + backup_dir + ": " + Describe(open));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(opened);

  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  std::vector<rocksdb::BackupID> damaged;
  engine->GetCorruptedBackups(&damaged);
  std::string ids;
  for (const rocksdb::BackupInfo& info : infos) ids += (ids.empty() ? "" : ", ") + std::to_string(info.backup_id);
  const rocksdb::BackupInfo* chosen = nullptr;
  if (id) {
    if (std::find(damaged.begin(), damaged.end(), *id) != damaged.end()) {
      return Status::Corruption("backup " + std::to_string(*id) + " in " + backup_dir +
                                " is damaged (its metadata file meta/" + std::to_string(*id) +
                                " is unreadable); nothing was restored");
    }
    for (const rocksdb::BackupInfo& info : infos) {
      if (info.backup_id == *id) chosen = &info;
    }
    if (!chosen) {
      return Status::NotFound("no backup " + std::to_string(*id) + " in " + backup_dir +
                              (ids.empty() ? " (it holds none)" : " (it holds " + ids + ")"));
    }
  } else {
    for (const rocksdb::BackupInfo& info : infos) {
      if (!chosen || info.backup_id > chosen->backup_id) chosen = &info;
    }
    if (!chosen) return Status::NotFound("no backup in " + backup_dir);
    // The latest good one is not the latest: say so rather than restore an older state unasked.
    for (const rocksdb::BackupID bad : damaged) {
      if (bad > chosen->backup_id) {
        return Status::Corruption("the latest backup, " + std::to_string(bad) + ", in " + backup_dir +
                                  " is damaged (its metadata file meta/" + std::to_string(bad) +
                                  " is unreadable); nothing was restored. Restore an older one with --backup-id " +
                                  std::to_string(chosen->backup_id));
      }
    }
  }
  const rocksdb::BackupID backup = chosen->backup_id;
  if (const rocksdb::IOStatus verified = engine->VerifyBackup(backup, /*verify_with_checksum=*/true);
      !verified.ok()) {
    return Status::Corruption("backup " + std::to_string(backup) + " in " + backup_dir +
                              " is damaged and was not restored: " + Describe(verified));
  }
  const bool existed = fs::exists(data_dir, ec);
  fs::create_directories(data_dir, ec);
  if (const rocksdb::IOStatus restored =
          engine->RestoreDBFromBackup(rocksdb::RestoreOptions(), backup, data_dir, data_dir);
      !restored.ok()) {
    Clear(data_dir, existed);
    return Status::IOError("restoring backup " + std::to_string(backup) + " of " + backup_dir + " into " + data_dir +
                           " failed: " + Describe(restored));
  }
  BackupEntry entry = EntryOf(*chosen);

  // A store of its own: a new instance id (made at the next start), and its
  // offsets as the backup recorded them.
  StoreOptions options;
  options.path = data_dir;
  options.memory_bytes = size_t{64} << 20;
  Result<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store) {
    Clear(data_dir, existed);
    return Status(store.error().code() == Status::Code::kCorruption
                      ? Status::Corruption("backup " + std::to_string(backup) + " restored into " + data_dir +
                                           " does not open: " + store.error().message())
                      : store.error());
  }
  Store::Impl& s = *(*store)->impl_;
  rocksdb::WriteOptions sync_write;
  sync_write.sync = true;
  if (const rocksdb::Status deleted = s.db->Delete(sync_write, s.Cf(Family::kMeta), keys::kInstanceKey);
      !deleted.ok()) {
    return FromRocks(deleted, "giving the restored store in " + data_dir + " an instance id of its own");
  }
  return entry;
}

}  // namespace tally
