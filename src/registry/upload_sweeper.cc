#include "registry/upload_sweeper.h"

#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace berth::registry {
namespace {

// Idle sessions are read in batches this large, so one pass never loads an unbounded list.
constexpr std::size_t kExpiredBatch = 500;

// Removes the bytes of `id`; an upload already gone is not a failure.
bool remove_bytes(storage::BlobStorage& storage, std::string_view id) {
  auto removed = storage.delete_upload(id);
  if (removed || removed.error().code == storage::Errc::not_found) return true;
  spdlog::warn("upload sweeper: cannot remove the bytes of upload {}: {}", id,
               removed.error().message);
  return false;
}

}  // namespace

UploadSweeper::UploadSweeper(storage::BlobStorage& storage, metadata::MetadataStore& metadata,
                             UploadSessions& sessions)
    : storage_(storage), metadata_(metadata), sessions_(sessions) {}

UploadSweeper::~UploadSweeper() { stop(); }

Result<SweepReport> UploadSweeper::sweep_once(std::int64_t now) {
  SweepReport report;
  auto expired = remove_expired(now);
  if (!expired) return expired.error();
  report.expired = *expired;
  auto orphans = remove_orphans();
  if (!orphans) return orphans.error();
  report.orphans = *orphans;
  return report;
}

Result<std::size_t> UploadSweeper::remove_expired(std::int64_t now) {
  const std::int64_t idle_since = now - sessions_.policy().idle_timeout.count();
  std::size_t removed = 0;
  for (;;) {
    auto idle = metadata_.list_idle_uploads(idle_since, kExpiredBatch);
    if (!idle) return from_metadata(idle.error());
    std::size_t removed_in_batch = 0;
    for (const auto& upload : *idle) {
      // A request using the session right now keeps it (its activity is recorded when it ends).
      auto hold = sessions_.try_hold(upload.id);
      if (!hold) continue;
      if (auto deleted = metadata_.delete_upload(upload.id); !deleted) {
        return from_metadata(deleted.error());
      }
      remove_bytes(storage_, upload.id);
      ++removed_in_batch;
    }
    removed += removed_in_batch;
    // A short batch was the last; a batch of held sessions only would repeat itself.
    if (idle->size() < kExpiredBatch || removed_in_batch == 0) break;
  }
  return removed;
}

Result<std::size_t> UploadSweeper::remove_orphans() {
  auto ids = storage_.list_uploads();
  if (!ids) {
    return RegistryError{Errc::internal, "upload sweeper: " + ids.error().message};
  }
  std::size_t removed = 0;
  for (const auto& id : *ids) {
    // Held: a request is creating or writing it (a one-request upload has no record at all).
    auto hold = sessions_.try_hold(id);
    if (!hold) continue;
    auto record = metadata_.get_upload(id);
    if (!record) return from_metadata(record.error());
    if (*record) continue;
    if (remove_bytes(storage_, id)) ++removed;
  }
  return removed;
}

void UploadSweeper::start(std::chrono::seconds interval, NodeLease* lease) {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this, interval, lease] { run(interval, lease); });
}

void UploadSweeper::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void UploadSweeper::run(std::chrono::seconds interval, NodeLease* lease) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
    // Another node holds the sweep: it makes this interval's pass.
    if (lease != nullptr && !lease->hold()) continue;
    lock.unlock();
    auto swept = sweep_once(unix_now());
    if (!swept) {
      spdlog::warn("upload sweep failed: {}", swept.error().message);
    } else if (swept->expired + swept->orphans > 0) {
      spdlog::info("upload sweep: removed {} expired sessions and {} orphaned uploads",
                   swept->expired, swept->orphans);
    }
    lock.lock();
  }
}

}  // namespace berth::registry
