#pragma once
// The login audit: every authentication success and failure, kept in the access store.
//
// Recording never blocks a request on the database: events queue in memory and are appended
// in batches (one transaction each) at least every second (common/batch_writer.h). The queue is
// bounded; when the store falls behind, the oldest queued events are dropped and the drop is
// logged. Destruction writes what is queued.

#include <cstddef>

#include "common/batch_writer.h"
#include "metadata/access_store.h"

namespace berth::auth {

class LoginAudit {
 public:
  explicit LoginAudit(metadata::AccessStore& store);

  void record(metadata::LoginEventRecord event) { batches_.record(std::move(event)); }
  // Writes everything queued so far (tests, shutdown).
  void flush() { batches_.flush(); }

  static constexpr std::size_t kMaxQueued = 10'000;

 private:
  BatchWriter<metadata::LoginEventRecord> batches_;
};

}  // namespace berth::auth
