#pragma once
// CoordinationStore: the state the nodes of one deployment share to act as one. Backends:
// SqliteMetadataStore and PostgresMetadataStore. The conformance suite
// (metadata/coordination_conformance_test.cc) covers it, concurrent callers included.
//
// - Deployment settings: small named values the whole deployment shares (the deployment
//   administrator token's hash, a check value of the deployment key). A value is bytes, stored
//   and read back exactly (NULs and non-UTF-8 included). ensure_deployment_setting is how nodes
//   that start together agree on one value: the first to insert wins, and every node gets the
//   winner's value back.
// - Leases: a named job (the GC worker, the lifecycle job, the upload sweeper) runs on one node
//   at a time. A node takes the lease with acquire_lease and renews it by calling it again
//   before it expires; another node gets it once it has expired (the holder stopped, or can no
//   longer reach the database). Times are milliseconds on the caller's clock: nodes must keep
//   their clocks close, and a holder renews well before expires_at_ms (a third of the TTL is a
//   sound interval) so that clock skew never lets two nodes hold it at once.
//
// Names and holders are 1 to kMaxCoordinationName printable ASCII characters (invalid_argument
// otherwise): they come from the code and from node ids, never from clients.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metadata/metadata_store.h"

namespace berth::metadata {

inline constexpr std::size_t kMaxCoordinationName = 200;
// A deployment setting's value is small (a hash, a check value); larger ones are refused.
inline constexpr std::size_t kMaxDeploymentSettingBytes = 64 * 1024;

struct LeaseRecord {
  std::string name;
  std::string holder;
  std::int64_t expires_at_ms = 0;  // the holder's; the lease is free from then on
  bool operator==(const LeaseRecord&) const = default;
};

class CoordinationStore {
 public:
  virtual ~CoordinationStore() = default;

  // --- deployment settings ---
  // The value of setting `name`; nullopt when it is not set.
  virtual Result<std::optional<std::string>> deployment_setting(std::string_view name) = 0;
  // Sets `name` to `value` unless it is set already, and returns the value it has now: `value`
  // when this call set it, else the one stored before (whoever won a race).
  virtual Result<std::string> ensure_deployment_setting(std::string_view name,
                                                        std::string_view value) = 0;
  // Sets `name` to `value`, replacing what it had.
  virtual Result<void> put_deployment_setting(std::string_view name, std::string_view value) = 0;
  // false when it was not set.
  virtual Result<bool> delete_deployment_setting(std::string_view name) = 0;

  // --- leases ---
  // Takes or renews the lease `name` for `holder` until now_ms + ttl_ms, and returns true, when
  // it is free: never taken, released, expired (expires_at_ms <= now_ms) or held by `holder`
  // already. Returns false, changing nothing, while another holder has it unexpired. One
  // atomic step: of concurrent callers on any connection or node, at most one gets a lease
  // that is not expired. invalid_argument when ttl_ms <= 0 or now_ms + ttl_ms overflows.
  virtual Result<bool> acquire_lease(std::string_view name, std::string_view holder,
                                     std::int64_t now_ms, std::int64_t ttl_ms) = 0;
  // Frees the lease when `holder` holds it (expired or not); else changes nothing.
  virtual Result<void> release_lease(std::string_view name, std::string_view holder) = 0;
  // The lease as stored, even when expired (compare expires_at_ms with the time); nullopt when
  // it is free because it was never taken or was released.
  virtual Result<std::optional<LeaseRecord>> find_lease(std::string_view name) = 0;
};

}  // namespace berth::metadata
