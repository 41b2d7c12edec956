// `tally backup` and `tally restore` (README "Backups and new replicas"): the
// offline side of aggregate/store_backup.h.

#include <cstdio>

#include "aggregate/store.h"
#include "aggregate/store_backup.h"
#include "app/commands.h"

namespace tally {
namespace {

std::string Offsets(const BackupEntry& entry) {
  std::string text;
  for (const auto& [topic, partitions] : entry.offsets) {
    text += (text.empty() ? "" : "; ") + topic + " (partition:next offset)";
    for (const PartitionOffset& o : partitions) {
      text += " " + std::to_string(Raw(o.partition)) + ":" + std::to_string(Raw(o.next));
    }
  }
  return text.empty() ? "none (the store had consumed nothing)" : text;
}

}  // namespace

int RunBackup(const BackupFlags& flags) {
  StoreOptions options;
  options.path = flags.data_dir;
  options.memory_bytes = size_t{64} << 20;
  Result<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store) {
    const Status& e = store.error();
    if (e.code() == Status::Code::kBusy) {
      std::fprintf(stderr,
                   "tally backup: the store in %s is in use by another process (a running tally serve?): back it "
                   "up live with POST /admin/backup, or stop that process first\n",
                   flags.data_dir.c_str());
      return kExitRuntime;
    }
    std::fprintf(stderr, "tally backup: %s%s\n", e.IsInvalidArgument() ? "--data-dir: " : "", e.message().c_str());
    return e.IsInvalidArgument() ? kExitUsage : kExitRuntime;
  }
  Result<std::unique_ptr<StoreBackups>> backups = StoreBackups::Open(flags.backup_dir);
  if (!backups) {
    std::fprintf(stderr, "tally backup: --backup-dir: %s\n", backups.error().message().c_str());
    return backups.error().IsInvalidArgument() ? kExitUsage : kExitRuntime;
  }
  Result<BackupEntry> taken = (*backups)->Create(**store, flags.keep);
  if (!taken) {
    std::fprintf(stderr, "tally backup: %s\n", taken.error().message().c_str());
    return kExitRuntime;
  }
  std::fprintf(stderr, "tally backup: backup %u of %s taken into %s: %llu bytes in %llu ms; offsets %s\n",
               taken->id, flags.data_dir.c_str(), flags.backup_dir.c_str(),
               static_cast<unsigned long long>(taken->bytes), static_cast<unsigned long long>(taken->millis),
               Offsets(*taken).c_str());
  return kExitOk;
}

int RunRestore(const RestoreFlags& flags) {
  if (!IsMissingOrEmptyDir(flags.data_dir)) {
    std::fprintf(stderr,
                 "tally restore: --data-dir %s is not empty: a restore only goes into a missing or empty "
                 "directory (nothing was changed)\n",
                 flags.data_dir.c_str());
    return kExitUsage;
  }
  std::optional<uint32_t> id;
  if (flags.backup_id > 0) id = flags.backup_id;
  Result<BackupEntry> restored = StoreBackups::Restore(flags.backup_dir, flags.data_dir, id);
  if (!restored) {
    const Status& e = restored.error();
    std::fprintf(stderr, "tally restore: %s\n", e.message().c_str());
    return e.IsNotFound() || e.IsInvalidArgument() ? kExitUsage : kExitRuntime;
  }
  std::fprintf(stderr,
               "tally restore: backup %u of %s (checksums verified) restored into %s; `tally serve --data-dir %s` "
               "resumes consuming from offsets %s\n",
               restored->id, flags.backup_dir.c_str(), flags.data_dir.c_str(), flags.data_dir.c_str(),
               Offsets(*restored).c_str());
  return kExitOk;
}

}  // namespace tally
