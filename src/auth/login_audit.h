#pragma once
// The login audit: every authentication success and failure, kept in the access store.
//
// Recording never blocks a request on the database: events queue in memory and a background
// thread appends them in batches (one transaction each) at least every second. The queue is
// bounded; when the store falls behind, the oldest queued events are dropped and the drop is
// logged. Destruction writes what is queued.

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "metadata/access_store.h"

namespace berth::auth {

class LoginAudit {
 public:
  explicit LoginAudit(metadata::AccessStore& store);
  ~LoginAudit();
  LoginAudit(const LoginAudit&) = delete;
  LoginAudit& operator=(const LoginAudit&) = delete;

  void record(metadata::LoginEventRecord event);
  // Writes everything queued so far (tests, shutdown).
  void flush();

  static constexpr std::size_t kMaxQueued = 10'000;

 private:
  void run();
  void write(std::vector<metadata::LoginEventRecord> events);

  metadata::AccessStore& store_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<metadata::LoginEventRecord> queued_;  // guarded by mutex_
  std::size_t dropped_ = 0;                         // guarded by mutex_
  bool stopping_ = false;                           // guarded by mutex_
  std::mutex write_mutex_;                          // one batch at a time, in order
  std::thread worker_;
};

}  // namespace berth::auth
