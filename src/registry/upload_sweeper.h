#pragma once
// Removes upload sessions nobody will finish: sessions idle past the policy's timeout (record
// and bytes), and bytes under the blob storage that no session record claims (left by a crash,
// or by a failure between writing bytes and recording them). Runs once at start-up and then
// periodically on its own thread. Sessions a request holds are never touched.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

#include "metadata/metadata_store.h"
#include "registry/node_lease.h"
#include "registry/registry.h"
#include "storage/blob_storage.h"

namespace berth::registry {

struct SweepReport {
  std::size_t expired = 0;  // idle sessions removed
  std::size_t orphans = 0;  // uploads in storage without a session record removed
};

class UploadSweeper {
 public:
  UploadSweeper(storage::BlobStorage& storage, metadata::MetadataStore& metadata,
                UploadSessions& sessions);
  ~UploadSweeper();  // stops the periodic thread
  UploadSweeper(const UploadSweeper&) = delete;
  UploadSweeper& operator=(const UploadSweeper&) = delete;

  // One pass at time `now` (Unix seconds).
  Result<SweepReport> sweep_once(std::int64_t now);

  // Sweeps every `interval` on a background thread until stop() or destruction. With a
  // `lease`, only while this node holds it: of several nodes, one sweeps.
  void start(std::chrono::seconds interval, NodeLease* lease = nullptr);
  void stop();

 private:
  Result<std::size_t> remove_expired(std::int64_t now);
  Result<std::size_t> remove_orphans();
  void run(std::chrono::seconds interval, NodeLease* lease);

  storage::BlobStorage& storage_;
  metadata::MetadataStore& metadata_;
  UploadSessions& sessions_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth::registry
