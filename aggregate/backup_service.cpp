#include "aggregate/backup_service.h"

#include <pthread.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

namespace tally {

struct BackupService::Impl {
  Store* store = nullptr;
  BackupServiceOptions options;
  std::unique_ptr<StoreBackups> backups;

  mutable std::mutex mutex;
  std::condition_variable wake;
  std::vector<Done> waiting;  // guarded by mutex
  bool stopping = false;      // guarded by mutex
  BackupStats stats;          // guarded by mutex
  std::thread thread;

  void Loop();
  void Log(const std::string& line) const {
    if (options.log) options.log(line);
  }
};

void BackupService::Impl::Loop() {
  pthread_setname_np(pthread_self(), "tally:backup");
  using Clock = std::chrono::steady_clock;
  auto next = options.every.count() > 0 ? Clock::now() + options.every : Clock::now() + std::chrono::hours(24 * 365 * 100);
  std::unique_lock lock(mutex);
  for (;;) {
    wake.wait_until(lock, next, [&] { return stopping || !waiting.empty(); });
    if (stopping) break;
    const bool scheduled = Clock::now() >= next;
    if (waiting.empty() && !scheduled) continue;
    std::vector<Done> served;
    served.swap(waiting);
    lock.unlock();
    const auto start = std::chrono::system_clock::now();
    Result<BackupEntry> outcome = backups->Create(*store, options.keep);
    const double seconds = std::chrono::duration<double>(std::chrono::system_clock::now() - start).count();
    if (outcome) {
      Log("backup " + std::to_string(outcome->id) + " taken into " + options.dir + ": " +
          std::to_string(outcome->bytes) + " bytes in " + std::to_string(outcome->millis) + " ms" +
          (scheduled ? " (scheduled)" : " (requested)"));
    } else {
      Log("backup into " + options.dir + " FAILED (the store is unaffected; the next backup retries): " +
          outcome.error().message());
    }
    {
      // Counted before anyone is answered: an answer's reader sees it in /metrics.
      std::lock_guard counted(mutex);
      if (outcome) {
        ++stats.successes;
        stats.last_success_unix_s =
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        stats.last_duration_s = seconds;
      } else {
        ++stats.failures;
      }
    }
    for (const Done& done : served) done(outcome);
    lock.lock();
    if (options.every.count() > 0) next = Clock::now() + options.every;
  }
  std::vector<Done> left;
  left.swap(waiting);
  lock.unlock();
  for (const Done& done : left) done(Status::Unavailable("the server is stopping; no backup was taken"));
}

BackupService::BackupService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BackupService::~BackupService() { Stop(); }

Result<std::unique_ptr<BackupService>> BackupService::Start(Store* store, BackupServiceOptions options) {
  Result<std::unique_ptr<StoreBackups>> backups = StoreBackups::Open(options.dir, options.rate_bytes_per_s);
  if (!backups) return backups.error();
  auto impl = std::make_unique<Impl>();
  impl->store = store;
  impl->options = std::move(options);
  impl->backups = std::move(*backups);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<BackupService>(new BackupService(std::move(impl)));
}

void BackupService::Request(Done done) {
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->stopping) {
      impl_->waiting.push_back(std::move(done));
      impl_->wake.notify_all();
      return;
    }
  }
  done(Status::Unavailable("the server is stopping; no backup was taken"));
}

Result<BackupEntry> BackupService::TakeNow() {
  auto promise = std::make_shared<std::promise<Result<BackupEntry>>>();
  std::future<Result<BackupEntry>> future = promise->get_future();
  Request([promise](const Result<BackupEntry>& outcome) { promise->set_value(outcome); });
  return future.get();
}

std::vector<BackupEntry> BackupService::List() const { return impl_->backups->List(); }

BackupStats BackupService::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

const std::string& BackupService::dir() const { return impl_->options.dir; }

void BackupService::Stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->wake.notify_all();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace tally
