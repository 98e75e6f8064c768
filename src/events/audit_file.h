#pragma once
// The audit file: every repository event (push, pull, untag, delete, ...) of every registry as
// a JSON line appended to a file, for log shippers (Fluent Bit, Vector, Filebeat).
//
// A background thread follows the event log in order. At least once: the sequence of the last
// line written is kept beside the file ("<file>.position", replaced atomically after the lines
// are flushed to disk), so after a crash the lines since that point are written again. A
// first start begins with the newest event; the history is in the management API.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "metadata/event_store.h"

namespace berth::events {

class AuditFile {
 public:
  using RegistryName = std::function<std::string(metadata::RegistryId)>;

  // Throws std::runtime_error when the file cannot be opened for appending (a start-up error).
  AuditFile(metadata::EventStore& store, std::filesystem::path file, RegistryName registry_name,
            std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~AuditFile();
  AuditFile(const AuditFile&) = delete;
  AuditFile& operator=(const AuditFile&) = delete;

  // Writes what the log holds beyond the position now (tests, shutdown).
  void catch_up();

 private:
  void run();
  void save_position(std::int64_t sequence);

  metadata::EventStore& store_;
  std::filesystem::path file_;
  std::filesystem::path position_file_;
  RegistryName registry_name_;
  std::chrono::milliseconds interval_;
  std::int64_t position_ = 0;  // guarded by catch_up_mutex_
  std::mutex catch_up_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread worker_;
};

}  // namespace berth::events
