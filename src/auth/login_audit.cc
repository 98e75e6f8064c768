#include "auth/login_audit.h"

namespace berth::auth {

LoginAudit::LoginAudit(metadata::AccessStore& store)
    : batches_(
          "login audit",
          [&store](const std::vector<metadata::LoginEventRecord>& events)
              -> std::optional<std::string> {
            auto appended = store.append_login_events(events);
            if (!appended) return appended.error().message;
            return std::nullopt;
          },
          kMaxQueued) {}

}  // namespace berth::auth
