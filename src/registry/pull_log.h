#pragma once
// PullLog: the audit's pulls. A pull must not cost a write transaction, so pulls queue in
// memory and are appended to the event store in batches at least every second
// (common/batch_writer.h). Bounded: when the store falls behind, the oldest queued pulls are
// dropped and the drop is logged. Destruction writes what is queued.

#include <cstddef>

#include "common/batch_writer.h"
#include "metadata/event_store.h"
#include "registry/registry.h"

namespace berth::registry {

class PullLog final : public PullRecorder {
 public:
  explicit PullLog(metadata::EventStore& store);

  void record(metadata::EventRecord pull) override { batches_.record(std::move(pull)); }
  // Writes everything queued so far (tests, shutdown).
  void flush() { batches_.flush(); }

  static constexpr std::size_t kMaxQueued = 100'000;

 private:
  BatchWriter<metadata::EventRecord> batches_;
};

}  // namespace berth::registry
