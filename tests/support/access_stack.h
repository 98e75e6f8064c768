#pragma once
// The access-control services over one metadata database, as berthd wires them: a fixed
// deployment key, the token signing keys, the authenticator. For tests that build a pipeline
// without the whole App.

#include <memory>
#include <stdexcept>
#include <string>

#include "auth/admin_credential.h"
#include "auth/authenticator.h"
#include "auth/secrets.h"
#include "common/clock.h"
#include "metadata/sqlite_metadata_store.h"

namespace berth::testing {

inline constexpr const char* kTestAdminToken = "pipeline-test-token-0123";

class AccessStack {
 public:
  explicit AccessStack(metadata::SqliteMetadataStore& store,
                       auth::Authenticator::Clock clock = [] { return unix_now(); })
      : admin_(auth::AdminCredential::for_token(kTestAdminToken)),
        key_(auth::DeploymentKey::from_bytes(fixed_key())) {
    auto keys = auth::SigningKeys::open(store, key_);
    if (!keys) throw std::runtime_error(keys.error().message);
    keys_ = std::move(*keys);
    authenticator_ = std::make_unique<auth::Authenticator>(store, key_, *keys_, admin_,
                                                           auth::TokenSettings{}, std::move(clock));
  }
  auth::Authenticator& authenticator() { return *authenticator_; }
  auth::SigningKeys& signing_keys() { return *keys_; }
  const auth::DeploymentKey& key() const { return key_; }
  const auth::AdminCredential& admin() const { return admin_; }

 private:
  static std::array<unsigned char, 32> fixed_key() {
    std::array<unsigned char, 32> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 7 + 1);
    return bytes;
  }
  auth::AdminCredential admin_;
  auth::DeploymentKey key_;
  std::unique_ptr<auth::SigningKeys> keys_;
  std::unique_ptr<auth::Authenticator> authenticator_;
};

}  // namespace berth::testing
