#pragma once
// Request rate limits: token buckets per registry and per identity within a registry, for each
// category of request, sized from the registry's tier (registry/tiers.h, the hosted service's
// throughput table: requests per minute). A request takes one token from both its buckets; an
// empty bucket answers 429 TOOMANYREQUESTS with a Retry-After of the seconds until a token is
// back. Buckets live in this process's memory (each node of a scale-out deployment limits on
// its own).
//
// Failed logins are counted per client address: after kFreeLoginFailures failures inside the
// window, each further attempt from that address is delayed (doubling, capped), and past
// kMaxLoginFailures it is refused with 429 until the window has passed.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "metadata/metadata_store.h"
#include "registry/tiers.h"

namespace berth::api {

// The categories are the tier table's (registry/tiers.h), so the limits and the limiter agree.
using RateCategory = registry::RequestCategory;

// "read" (GET/HEAD/OPTIONS), "write" (PUT/PATCH/POST), "delete", "referrers", "oauth".
std::string_view rate_category_name(RateCategory category);

struct RateDecision {
  bool allowed = true;
  std::chrono::seconds retry_after{0};  // when refused: >= 1
};

class RateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `scale` multiplies every tier limit (tests use small values; 1 in production); zero or
  // less turns the request limits off (the login throttle stays).
  explicit RateLimiter(double scale = 1.0, Clock clock = std::chrono::steady_clock::now);

  // Takes a token for one request of `category` by `identity` (any stable key: "anonymous",
  // "token:ci", ...) on `registry`, from the registry's bucket and the identity's bucket.
  RateDecision take(metadata::RegistryId registry, const registry::Tier& tier,
                    std::string_view identity, RateCategory category);

  // Failed-login slow-down, per client address.
  void record_login_failure(std::string_view client_address);
  void record_login_success(std::string_view client_address);
  // How long to hold the answer to this address's next login attempt (zero when none), or a
  // refusal once it failed too often.
  struct LoginThrottle {
    std::chrono::milliseconds delay{0};
    RateDecision decision;
  };
  LoginThrottle login_throttle(std::string_view client_address);

  static constexpr int kFreeLoginFailures = 5;
  static constexpr int kMaxLoginFailures = 30;
  static constexpr std::chrono::seconds kLoginWindow{60};
  static constexpr std::chrono::milliseconds kFirstLoginDelay{100};
  static constexpr std::chrono::milliseconds kMaxLoginDelay{5000};

  // Memory stays bounded whoever calls: past this many buckets (or addresses with failures)
  // the idle ones are dropped, then the longest untouched.
  static constexpr std::size_t kMaxTrackedKeys = 100'000;
  // Buckets and failure counts held now (for tests and metrics).
  std::size_t tracked_keys() const;

 private:
  struct Bucket {
    double tokens = 0;
    double capacity = 1;    // one minute's worth, at least one token
    double per_second = 0;  // refill rate
    std::chrono::steady_clock::time_point refilled;
  };
  struct Failures {
    int count = 0;
    std::chrono::steady_clock::time_point window_start;
  };

  using TimePoint = std::chrono::steady_clock::time_point;
  Bucket& bucket(const std::string& key, std::uint64_t per_minute, TimePoint now);
  void prune_buckets(TimePoint now);
  Failures* current_failures(std::string_view client_address, TimePoint now);
  void prune_failures(TimePoint now);

  double scale_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;     // guarded by mutex_
  std::unordered_map<std::string, Failures> failures_;  // guarded by mutex_
};

}  // namespace berth::api
