#include "api/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace berth::api {
namespace {

using std::chrono::steady_clock;

// Pruning brings the maps down to this many entries so the next prune is far away (pruning
// walks the whole map, so it must not run on every request).
constexpr std::size_t kPruneTarget = RateLimiter::kMaxTrackedKeys / 4 * 3;

// Refills are sums of floating-point fractions: a bucket that should hold exactly one token
// again at the second its Retry-After named may hold 0.9999999. Such a bucket counts as full.
constexpr double kSlack = 1e-9;

double seconds_between(steady_clock::time_point from, steady_clock::time_point to) {
  // A clock read by another thread just before ours may be a little behind: never refill
  // backwards.
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

// The registry's bucket: "r <registry> <category>"; an identity's: "i <registry> <category>
// <identity>". The identity comes last, so whatever it contains, keys cannot collide.
std::string registry_key(metadata::RegistryId registry, RateCategory category) {
  std::string key = "r ";
  key += std::to_string(registry);
  key += ' ';
  key += rate_category_name(category);
  return key;
}

std::string identity_key(metadata::RegistryId registry, RateCategory category,
                         std::string_view identity) {
  std::string key = "i ";
  key += std::to_string(registry);
  key += ' ';
  key += rate_category_name(category);
  key += ' ';
  key += identity;
  return key;
}

// Whole seconds until `seconds` have passed, at least one (Retry-After counts whole seconds,
// and zero would invite an immediate retry that fails again).
std::chrono::seconds whole_seconds_at_least_one(double seconds) {
  double rounded = std::ceil(seconds - kSlack);
  if (!(rounded >= 1)) return std::chrono::seconds{1};
  return std::chrono::seconds{static_cast<std::int64_t>(std::min(rounded, 1e9))};
}

}  // namespace

std::string_view rate_category_name(RateCategory category) {
  switch (category) {
    case RateCategory::read:
      return "read";
    case RateCategory::write:
      return "write";
    case RateCategory::delete_:
      return "delete";
    case RateCategory::referrers:
      return "referrers";
    case RateCategory::oauth:
      return "oauth";
  }
  return "";
}

RateLimiter::RateLimiter(double scale, Clock clock) : scale_(scale), clock_(std::move(clock)) {}

RateLimiter::Bucket& RateLimiter::bucket(const std::string& key, std::uint64_t per_minute,
                                         TimePoint now) {
  double capacity = std::max(1.0, static_cast<double>(per_minute) * scale_);
  double per_second = static_cast<double>(per_minute) * scale_ / 60;
  auto [it, inserted] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  if (inserted) {
    b.tokens = capacity;  // a caller not seen for a while may use the whole minute at once
  } else {
    b.tokens += seconds_between(b.refilled, now) * b.per_second;
  }
  // The tier may have changed since the last request: its new limits apply at once.
  b.capacity = capacity;
  b.per_second = per_second;
  b.tokens = std::min(b.tokens, capacity);
  b.refilled = now;
  return b;
}

RateDecision RateLimiter::take(metadata::RegistryId registry, const registry::Tier& tier,
                               std::string_view identity, RateCategory category) {
  if (scale_ <= 0) return {};
  const registry::Throughput& limits = registry::throughput_of(tier, category);

  std::lock_guard lock(mutex_);
  TimePoint now = clock_();
  // Before either bucket is looked up: pruning erases entries, and the references below must
  // stay valid.
  if (buckets_.size() + 2 > kMaxTrackedKeys) prune_buckets(now);

  // A limit of zero means the tier sets none for this category.
  Bucket* checked[2] = {nullptr, nullptr};
  std::size_t count = 0;
  if (limits.registry_per_minute > 0) {
    checked[count++] = &bucket(registry_key(registry, category), limits.registry_per_minute, now);
  }
  if (limits.identity_per_minute > 0) {
    checked[count++] =
        &bucket(identity_key(registry, category, identity), limits.identity_per_minute, now);
  }

  double wait_seconds = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const Bucket& b = *checked[i];
    if (b.tokens + kSlack >= 1) continue;
    // per_second > 0 here: a positive limit times a positive scale.
    wait_seconds = std::max(wait_seconds, (1 - b.tokens) / b.per_second);
  }
  if (wait_seconds > 0) {
    // Nothing is taken from either bucket: a refused request costs the caller nothing.
    return {.allowed = false, .retry_after = whole_seconds_at_least_one(wait_seconds)};
  }
  for (std::size_t i = 0; i < count; ++i) checked[i]->tokens -= 1;
  return {};
}

void RateLimiter::prune_buckets(TimePoint now) {
  // A bucket that has refilled to the brim is the same as no bucket at all.
  std::erase_if(buckets_, [now](const auto& entry) {
    const Bucket& b = entry.second;
    return b.tokens + seconds_between(b.refilled, now) * b.per_second + kSlack >= b.capacity;
  });
  if (buckets_.size() <= kPruneTarget) return;
  // Still crowded by active callers (many identities at once): forget the longest untouched.
  // A forgotten bucket starts full again, so this errs only towards letting requests through.
  std::vector<TimePoint> touched;
  touched.reserve(buckets_.size());
  for (const auto& entry : buckets_) touched.push_back(entry.second.refilled);
  auto cut = touched.begin() + static_cast<std::ptrdiff_t>(buckets_.size() - kPruneTarget);
  std::nth_element(touched.begin(), cut, touched.end());
  TimePoint cutoff = *cut;
  std::erase_if(buckets_, [cutoff](const auto& entry) { return entry.second.refilled <= cutoff; });
}

RateLimiter::Failures* RateLimiter::current_failures(std::string_view client_address,
                                                     TimePoint now) {
  auto it = failures_.find(std::string(client_address));
  if (it == failures_.end()) return nullptr;
  if (now - it->second.window_start >= kLoginWindow) {
    failures_.erase(it);  // the window has passed: the address starts over
    return nullptr;
  }
  return &it->second;
}

void RateLimiter::prune_failures(TimePoint now) {
  std::erase_if(failures_, [now](const auto& entry) {
    return now - entry.second.window_start >= kLoginWindow;
  });
  if (failures_.size() <= kPruneTarget) return;
  std::vector<TimePoint> started;
  started.reserve(failures_.size());
  for (const auto& entry : failures_) started.push_back(entry.second.window_start);
  auto cut = started.begin() + static_cast<std::ptrdiff_t>(failures_.size() - kPruneTarget);
  std::nth_element(started.begin(), cut, started.end());
  TimePoint cutoff = *cut;
  std::erase_if(failures_,
                [cutoff](const auto& entry) { return entry.second.window_start <= cutoff; });
}

void RateLimiter::record_login_failure(std::string_view client_address) {
  std::lock_guard lock(mutex_);
  TimePoint now = clock_();
  Failures* failures = current_failures(client_address, now);
  if (!failures) {
    if (failures_.size() + 1 > kMaxTrackedKeys) prune_failures(now);
    failures = &failures_[std::string(client_address)];
    failures->count = 0;
    failures->window_start = now;
  }
  // Past the refusal threshold the count no longer matters; saturating keeps it from overflow.
  failures->count = std::min(failures->count + 1, kMaxLoginFailures);
}

void RateLimiter::record_login_success(std::string_view client_address) {
  std::lock_guard lock(mutex_);
  failures_.erase(std::string(client_address));
}

RateLimiter::LoginThrottle RateLimiter::login_throttle(std::string_view client_address) {
  std::lock_guard lock(mutex_);
  TimePoint now = clock_();
  const Failures* failures = current_failures(client_address, now);
  if (!failures || failures->count < kFreeLoginFailures) return {};

  if (failures->count >= kMaxLoginFailures) {
    double rest = seconds_between(now, failures->window_start + kLoginWindow);
    return {.decision = {.allowed = false, .retry_after = whole_seconds_at_least_one(rest)}};
  }
  // 100 ms after the free failures, doubling with each further one, at most 5 s. The shift is
  // bounded long before it could overflow: 100 ms << 6 is already past the cap.
  int doublings = std::min(failures->count - kFreeLoginFailures, 16);
  auto delay = std::min(kFirstLoginDelay * (std::int64_t{1} << doublings), kMaxLoginDelay);
  return {.delay = std::chrono::duration_cast<std::chrono::milliseconds>(delay)};
}

std::size_t RateLimiter::tracked_keys() const {
  std::lock_guard lock(mutex_);
  return buckets_.size() + failures_.size();
}

}  // namespace berth::api
