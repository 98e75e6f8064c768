#pragma once

// The garbage collection side of the gc and push-many-gc workloads: berth's management API for
// collection runs (start one, follow it to its end).

#include <cstdint>
#include <optional>
#include <string>

#include "http_client.h"

namespace berth::bench {

// A run as the management API shows it (the fields the workloads read).
struct GcRunState {
  std::int64_t id = 0;
  std::string status;  // running, succeeded, failed
  std::string phase;
  std::uint64_t blobs_examined = 0;
  std::uint64_t stored_blobs_examined = 0;
  std::uint64_t blobs_deleted = 0;
  std::uint64_t bytes_reclaimed = 0;
  std::uint64_t links_removed = 0;
  std::string error;
};

// Starts a deployment-wide run (POST /mgmt/v1/gc); nullopt when one is in progress (409).
std::optional<GcRunState> start_gc(Connection& connection, const std::string& admin_token);

// Polls the run every `poll_ms` until it is no longer running; its last state.
GcRunState wait_for_gc(Connection& connection, const std::string& admin_token, std::int64_t id,
                       int poll_ms, double limit_seconds);

}  // namespace berth::bench
