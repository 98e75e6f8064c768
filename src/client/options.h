#pragma once
// How the distribution client reaches upstream registries.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "client/destination.h"

namespace berth::client {

struct ClientOptions {
  // The CA certificates (PEM) that https upstreams are verified against; the system's store
  // when unset. Verification is never off.
  std::optional<std::filesystem::path> ca_bundle;
  // Upstreams spoken to over plain HTTP, as "host:port" (or "host" for port 80), like the
  // insecure registries of docker and podman. Every other host is https. Redirect targets,
  // token realms and Link pages follow the same rule.
  std::vector<std::string> insecure_hosts;
  // Where connections may go, checked on every address connected to (redirects included).
  DestinationPolicy destination;
  std::chrono::seconds connect_timeout{10};
  // A transfer that moves no byte for this long is dropped (blobs then resume).
  std::chrono::seconds stall_timeout{30};
  // The whole of a small exchange (ping, manifest, HEAD, token, tag page, referrers); blobs have
  // no overall limit, only the stall timeout.
  std::chrono::seconds request_timeout{60};
  // A 429 or 503 whose Retry-After is at most this long is waited out and retried (at most
  // max_rate_limit_retries times per call); a longer one is a rate_limited error at once.
  std::chrono::seconds max_retry_after_wait{10};
  int max_rate_limit_retries = 3;
  // Range requests that continue one blob after its connection dropped.
  int max_resume_attempts = 3;
  std::string user_agent = "berth";
};

// Credentials for an upstream: Basic to it when it asks for Basic, or to its token service.
struct Credentials {
  std::string username;
  std::string password;
};

}  // namespace berth::client
