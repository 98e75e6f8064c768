#include "registry/pull_log.h"

namespace berth::registry {

PullLog::PullLog(metadata::EventStore& store)
    : batches_(
          "pull audit",
          [&store](const std::vector<metadata::EventRecord>& pulls) -> std::optional<std::string> {
            auto appended = store.append_events(pulls);
            if (!appended) return appended.error().message;
            return std::nullopt;
          },
          kMaxQueued) {}

}  // namespace berth::registry
