// The request rate limits (token buckets per registry and per identity, sized from the tier's
// throughput table) and the failed-login throttle, on a fake clock.

#include "api/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace berth::api {
namespace {

using namespace std::chrono_literals;
using registry::RequestCategory;
using registry::Throughput;
using std::chrono::seconds;

// Starts far from the clock's epoch, so nothing depends on a zero time point; moves only when
// told. Atomic: the thread-safety test reads it from several threads.
class FakeClock {
 public:
  std::chrono::steady_clock::time_point now() const {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns_.load()));
  }
  void advance(std::chrono::nanoseconds by) { ns_ += by.count(); }
  RateLimiter::Clock function() {
    return [this] { return now(); };
  }

 private:
  std::atomic<std::int64_t> ns_{std::chrono::nanoseconds(1000h).count()};
};

const registry::Tier& tier(std::string_view name) {
  const registry::Tier* found = registry::find_tier(name);
  EXPECT_NE(found, nullptr) << name;
  return *found;
}

constexpr metadata::RegistryId kRegistry = 7;
constexpr metadata::RegistryId kOtherRegistry = 8;

// How many requests in a row are allowed before the first refusal (at most `limit`).
int allowed_in_a_row(RateLimiter& limiter, metadata::RegistryId registry,
                     const registry::Tier& t, std::string_view identity, RateCategory category,
                     int limit = 1'000'000) {
  int allowed = 0;
  while (allowed < limit && limiter.take(registry, t, identity, category).allowed) ++allowed;
  return allowed;
}

// ------------------------------------------------------------------ the tier table

TEST(Throughput, TiersCarryTheHostedServicesTable) {
  struct Row {
    RequestCategory category;
    Throughput standard;
    Throughput premium;
  };
  const Row table[] = {
      {RequestCategory::read, {10'000, 5'000}, {20'000, 10'000}},
      {RequestCategory::write, {2'000, 1'000}, {4'000, 2'000}},
      {RequestCategory::delete_, {1'000, 500}, {4'000, 2'000}},
      {RequestCategory::referrers, {500, 250}, {2'000, 1'000}},
      {RequestCategory::oauth, {10'000, 10'000}, {20'000, 20'000}},
  };
  for (const Row& row : table) {
    SCOPED_TRACE(std::string(rate_category_name(row.category)));
    for (std::string_view name : {"Basic", "Standard"}) {
      const Throughput& got = registry::throughput_of(tier(name), row.category);
      EXPECT_EQ(got.registry_per_minute, row.standard.registry_per_minute) << name;
      EXPECT_EQ(got.identity_per_minute, row.standard.identity_per_minute) << name;
    }
    const Throughput& premium = registry::throughput_of(tier("Premium"), row.category);
    EXPECT_EQ(premium.registry_per_minute, row.premium.registry_per_minute);
    EXPECT_EQ(premium.identity_per_minute, row.premium.identity_per_minute);
  }
}

TEST(Throughput, TheReportedOperationsPerMinuteAreTheRegistryWideFigures) {
  for (const registry::Tier& t : registry::all_tiers()) {
    EXPECT_EQ(registry::throughput_of(t, RequestCategory::read).registry_per_minute,
              t.limits.read_ops_per_minute)
        << t.name;
    EXPECT_EQ(registry::throughput_of(t, RequestCategory::write).registry_per_minute,
              t.limits.write_ops_per_minute)
        << t.name;
  }
}

TEST(RateCategory, NamesEveryCategory) {
  EXPECT_EQ(rate_category_name(RateCategory::read), "read");
  EXPECT_EQ(rate_category_name(RateCategory::write), "write");
  EXPECT_EQ(rate_category_name(RateCategory::delete_), "delete");
  EXPECT_EQ(rate_category_name(RateCategory::referrers), "referrers");
  EXPECT_EQ(rate_category_name(RateCategory::oauth), "oauth");
}

// ------------------------------------------------------------------ buckets

// Scale 0.01 on Basic: reads are 100 a minute per registry and 50 per identity.
TEST(RateLimiter, ABurstUpToTheBucketThenTooManyRequestsWithRetryAfter) {
  FakeClock clock;
  RateLimiter limiter(0.01, clock.function());
  const auto& basic = tier("Basic");
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::read), 50);

  RateDecision refused = limiter.take(kRegistry, basic, "alice", RateCategory::read);
  EXPECT_FALSE(refused.allowed);
  // 50 a minute refill one token every 1.2 s; Retry-After rounds up.
  EXPECT_EQ(refused.retry_after, 2s);
}

TEST(RateLimiter, BucketsRefillContinuouslyAndNeverBeyondOneMinutesWorth) {
  FakeClock clock;
  RateLimiter limiter(0.01, clock.function());
  const auto& basic = tier("Basic");
  ASSERT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::read), 50);

  clock.advance(1100ms);  // 0.92 of a token
  EXPECT_FALSE(limiter.take(kRegistry, basic, "alice", RateCategory::read).allowed);
  clock.advance(100ms);  // 1.2 s: one token
  EXPECT_TRUE(limiter.take(kRegistry, basic, "alice", RateCategory::read).allowed);
  EXPECT_FALSE(limiter.take(kRegistry, basic, "alice", RateCategory::read).allowed);

  clock.advance(12s);  // ten tokens
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::read), 10);

  clock.advance(1h);  // an idle hour still fills only one minute's worth
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::read), 50);
}

TEST(RateLimiter, WaitingTheRetryAfterIsEnough) {
  FakeClock clock;
  RateLimiter limiter(0.003, clock.function());  // Basic writes: 3 per identity a minute
  const auto& basic = tier("Basic");
  ASSERT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "ci", RateCategory::write), 3);
  for (int round = 0; round < 5; ++round) {
    RateDecision refused = limiter.take(kRegistry, basic, "ci", RateCategory::write);
    ASSERT_FALSE(refused.allowed);
    EXPECT_EQ(refused.retry_after, 20s);
    clock.advance(refused.retry_after - 1ms);
    EXPECT_FALSE(limiter.take(kRegistry, basic, "ci", RateCategory::write).allowed);
    clock.advance(1ms);
    EXPECT_TRUE(limiter.take(kRegistry, basic, "ci", RateCategory::write).allowed);
  }
}

TEST(RateLimiter, IdentitiesShareTheRegistrysBucketButNotEachOthers) {
  FakeClock clock;
  RateLimiter limiter(0.01, clock.function());
  const auto& basic = tier("Basic");
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::read), 50);
  // Alice's refusals took nothing from the registry's bucket.
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(limiter.take(kRegistry, basic, "alice", RateCategory::read).allowed);
  }
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "bob", RateCategory::read), 50);

  // The registry's 100 are used up: a fresh identity is refused too, for the registry's
  // shorter refill (100 a minute: 0.6 s, so 1 s).
  RateDecision refused = limiter.take(kRegistry, basic, "carol", RateCategory::read);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1s);

  // Another registry, and the same identity there, are untouched.
  EXPECT_EQ(allowed_in_a_row(limiter, kOtherRegistry, basic, "alice", RateCategory::read), 50);
}

TEST(RateLimiter, RetryAfterIsForTheEmptierBucket) {
  FakeClock clock;
  RateLimiter limiter(0.01, clock.function());
  const auto& basic = tier("Basic");
  ASSERT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::read), 50);
  ASSERT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "bob", RateCategory::read), 50);
  // Both of alice's buckets are empty: hers refills in 1.2 s, the registry's in 0.6 s.
  EXPECT_EQ(limiter.take(kRegistry, basic, "alice", RateCategory::read).retry_after, 2s);
  clock.advance(600ms);
  // The registry has a token, alice still has none; carol may have it.
  EXPECT_FALSE(limiter.take(kRegistry, basic, "alice", RateCategory::read).allowed);
  EXPECT_TRUE(limiter.take(kRegistry, basic, "carol", RateCategory::read).allowed);
}

TEST(RateLimiter, CategoriesHaveTheirOwnBuckets) {
  FakeClock clock;
  RateLimiter limiter(0.01, clock.function());
  const auto& basic = tier("Basic");
  ASSERT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::read), 50);
  // Basic at scale 0.01: writes 10 per identity, deletes 5, referrers 2.5, oauth 100 (the
  // registry's 100 caps it).
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::write), 10);
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::delete_), 5);
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::referrers), 2);
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, basic, "alice", RateCategory::oauth), 100);
  EXPECT_FALSE(limiter.take(kRegistry, basic, "alice", RateCategory::read).allowed);
}

TEST(RateLimiter, PremiumAllowsMoreThanBasic) {
  FakeClock clock;
  RateLimiter limiter(0.01, clock.function());
  struct Expectation {
    RateCategory category;
    int basic;
    int premium;
  };
  for (Expectation e : {Expectation{RateCategory::read, 50, 100},
                        Expectation{RateCategory::write, 10, 20},
                        Expectation{RateCategory::delete_, 5, 20},
                        Expectation{RateCategory::referrers, 2, 10},
                        Expectation{RateCategory::oauth, 100, 200}}) {
    SCOPED_TRACE(std::string(rate_category_name(e.category)));
    EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, tier("Basic"), "alice", e.category), e.basic);
    EXPECT_EQ(allowed_in_a_row(limiter, kOtherRegistry, tier("Premium"), "alice", e.category),
              e.premium);
  }
}

TEST(RateLimiter, ATierChangeAppliesAtOnce) {
  FakeClock clock;
  RateLimiter limiter(0.01, clock.function());
  ASSERT_EQ(allowed_in_a_row(limiter, kRegistry, tier("Premium"), "alice", RateCategory::read, 40),
            40);
  // Premium's bucket had 60 left; Basic holds at most 50.
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, tier("Basic"), "alice", RateCategory::read), 50);
}

TEST(RateLimiter, ScaleMultipliesEveryLimit) {
  FakeClock clock;
  const auto& basic = tier("Basic");
  RateLimiter tenth(0.1, clock.function());
  EXPECT_EQ(allowed_in_a_row(tenth, kRegistry, basic, "alice", RateCategory::read), 500);

  // The production scale: the table as written.
  RateLimiter full(1.0, clock.function());
  EXPECT_EQ(allowed_in_a_row(full, kRegistry, basic, "alice", RateCategory::write), 1000);
  RateDecision refused = full.take(kRegistry, basic, "alice", RateCategory::write);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1s);  // 1000 a minute: one token every 60 ms
}

TEST(RateLimiter, ATinyScaleStillLetsOneRequestThrough) {
  FakeClock clock;
  RateLimiter limiter(1e-6, clock.function());
  const auto& basic = tier("Basic");
  // 0.005 reads a minute: the bucket still holds one token, which takes 12000 s to come back.
  EXPECT_TRUE(limiter.take(kRegistry, basic, "alice", RateCategory::read).allowed);
  RateDecision refused = limiter.take(kRegistry, basic, "alice", RateCategory::read);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 12000s);
}

TEST(RateLimiter, ZeroOrNegativeScaleLimitsNothing) {
  FakeClock clock;
  for (double scale : {0.0, -1.0}) {
    RateLimiter limiter(scale, clock.function());
    for (int i = 0; i < 50'000; ++i) {
      ASSERT_TRUE(limiter.take(kRegistry, tier("Basic"), "alice", RateCategory::referrers).allowed)
          << "scale " << scale << ", request " << i;
    }
    EXPECT_EQ(limiter.tracked_keys(), 0u);
  }
}

TEST(RateLimiter, HostileIdentitiesCannotCollideWithOtherKeys) {
  FakeClock clock;
  RateLimiter limiter(0.01, clock.function());
  const auto& premium = tier("Premium");
  // Identities that look like parts of other keys get buckets of their own.
  ASSERT_EQ(allowed_in_a_row(limiter, kRegistry, premium, "", RateCategory::read), 100);
  EXPECT_EQ(allowed_in_a_row(limiter, kRegistry, premium, " ", RateCategory::read), 100);
  std::string long_identity(64 * 1024, 'x');
  EXPECT_EQ(allowed_in_a_row(limiter, kOtherRegistry, premium, long_identity, RateCategory::read),
            100);
  EXPECT_EQ(allowed_in_a_row(limiter, kOtherRegistry, premium, std::string_view("a\0b", 3),
                             RateCategory::write),
            20);
  EXPECT_EQ(
      allowed_in_a_row(limiter, kOtherRegistry, premium, std::string_view("a\0c", 3),
                       RateCategory::write),
      20);
}

// ------------------------------------------------------------------ bounded memory

TEST(RateLimiter, IdleBucketsAreForgotten) {
  FakeClock clock;
  RateLimiter limiter(0.01, clock.function());
  const auto& basic = tier("Basic");
  // Each request on its own registry: two buckets each, none full, so all are kept...
  for (int i = 0; i < 40'000; ++i) {
    ASSERT_TRUE(limiter.take(i, basic, "alice", RateCategory::read).allowed);
  }
  EXPECT_EQ(limiter.tracked_keys(), 80'000u);
  // ...until they have refilled and more callers come.
  clock.advance(2s);
  for (int i = 0; i < 20'000; ++i) {
    ASSERT_TRUE(limiter.take(100'000 + i, basic, "alice", RateCategory::read).allowed);
  }
  EXPECT_LE(limiter.tracked_keys(), RateLimiter::kMaxTrackedKeys);
  EXPECT_LT(limiter.tracked_keys(), 60'000u) << "the idle buckets were dropped";
}

TEST(RateLimiter, AFloodOfCallersStaysBoundedAndForgetsTheLongestUntouchedFirst) {
  FakeClock clock;
  RateLimiter limiter(0.001, clock.function());  // Basic reads: 10 per registry, 5 per identity
  const auto& basic = tier("Basic");
  for (int i = 0; i < 45'000; ++i) limiter.take(i, basic, "old", RateCategory::read);

  clock.advance(1s);
  constexpr metadata::RegistryId kWatched = 1'000'000;
  ASSERT_EQ(allowed_in_a_row(limiter, kWatched, basic, "alice", RateCategory::read), 5);

  // The bound is crossed once: the older flood goes first; alice's recently drained bucket is
  // still remembered.
  clock.advance(1s);
  for (int i = 0; i < 10'000; ++i) {
    limiter.take(2'000'000 + i, basic, "new", RateCategory::read);
    ASSERT_LE(limiter.tracked_keys(), RateLimiter::kMaxTrackedKeys);
  }
  EXPECT_LT(limiter.tracked_keys(), 30'000u);
  EXPECT_FALSE(limiter.take(kWatched, basic, "alice", RateCategory::read).allowed);

  // However long it goes on, the maps stay bounded.
  clock.advance(1s);
  for (int i = 0; i < 150'000; ++i) {
    limiter.take(3'000'000 + i, basic, "newer", RateCategory::read);
    ASSERT_LE(limiter.tracked_keys(), RateLimiter::kMaxTrackedKeys);
  }
}

// ------------------------------------------------------------------ login throttle

TEST(LoginThrottle, FreeFailuresThenDoublingDelaysUpToTheCap) {
  FakeClock clock;
  RateLimiter limiter(1.0, clock.function());
  const std::string address = "203.0.113.9";
  for (int i = 0; i < RateLimiter::kFreeLoginFailures; ++i) {
    auto throttle = limiter.login_throttle(address);
    EXPECT_EQ(throttle.delay, 0ms) << i;
    EXPECT_TRUE(throttle.decision.allowed) << i;
    limiter.record_login_failure(address);
  }
  const std::chrono::milliseconds expected[] = {100ms, 200ms,   400ms,   800ms,  1600ms,
                                                3200ms, 5000ms, 5000ms, 5000ms};
  for (auto delay : expected) {
    auto throttle = limiter.login_throttle(address);
    EXPECT_EQ(throttle.delay, delay);
    EXPECT_TRUE(throttle.decision.allowed);
    limiter.record_login_failure(address);
  }
  // Still capped right before the refusal.
  while (true) {
    auto throttle = limiter.login_throttle(address);
    if (!throttle.decision.allowed) break;
    EXPECT_EQ(throttle.delay, 5000ms);
    limiter.record_login_failure(address);
  }
  // Other addresses are not slowed down.
  EXPECT_EQ(limiter.login_throttle("203.0.113.10").delay, 0ms);
  EXPECT_EQ(limiter.login_throttle("::1").delay, 0ms);
}

TEST(LoginThrottle, TooManyFailuresAreRefusedForTheRestOfTheWindow) {
  FakeClock clock;
  RateLimiter limiter(1.0, clock.function());
  const std::string address = "2001:db8::9";
  for (int i = 0; i < RateLimiter::kMaxLoginFailures - 1; ++i) {
    limiter.record_login_failure(address);
    clock.advance(100ms);
  }
  EXPECT_TRUE(limiter.login_throttle(address).decision.allowed);
  limiter.record_login_failure(address);  // the 30th, 2.9 s into the window
  clock.advance(17100ms);                 // 20 s into the window

  auto throttle = limiter.login_throttle(address);
  EXPECT_FALSE(throttle.decision.allowed);
  EXPECT_EQ(throttle.decision.retry_after, 40s);
  // More failures while refused neither extend the window nor break the count.
  for (int i = 0; i < 1000; ++i) limiter.record_login_failure(address);
  clock.advance(39500ms);
  throttle = limiter.login_throttle(address);
  EXPECT_FALSE(throttle.decision.allowed);
  EXPECT_EQ(throttle.decision.retry_after, 1s);

  clock.advance(500ms);  // the window has passed
  throttle = limiter.login_throttle(address);
  EXPECT_TRUE(throttle.decision.allowed);
  EXPECT_EQ(throttle.delay, 0ms);
}

TEST(LoginThrottle, FailuresOutsideTheWindowDoNotAddUp) {
  FakeClock clock;
  RateLimiter limiter(1.0, clock.function());
  for (int i = 0; i < RateLimiter::kFreeLoginFailures; ++i) limiter.record_login_failure("a");
  EXPECT_EQ(limiter.login_throttle("a").delay, 100ms);
  clock.advance(RateLimiter::kLoginWindow);
  EXPECT_EQ(limiter.login_throttle("a").delay, 0ms);
  limiter.record_login_failure("a");
  EXPECT_EQ(limiter.login_throttle("a").delay, 0ms);
}

TEST(LoginThrottle, SuccessForgetsTheAddressesFailures) {
  FakeClock clock;
  RateLimiter limiter(1.0, clock.function());
  for (int i = 0; i < RateLimiter::kMaxLoginFailures; ++i) limiter.record_login_failure("a");
  for (int i = 0; i < RateLimiter::kMaxLoginFailures; ++i) limiter.record_login_failure("b");
  ASSERT_FALSE(limiter.login_throttle("a").decision.allowed);
  limiter.record_login_success("a");
  EXPECT_TRUE(limiter.login_throttle("a").decision.allowed);
  EXPECT_EQ(limiter.login_throttle("a").delay, 0ms);
  EXPECT_FALSE(limiter.login_throttle("b").decision.allowed) << "only that address";
  limiter.record_login_success("never-failed");
  EXPECT_TRUE(limiter.login_throttle("never-failed").decision.allowed);
}

TEST(LoginThrottle, ThrottlingIsIndependentOfTheRequestScale) {
  FakeClock clock;
  RateLimiter unlimited(0, clock.function());
  for (int i = 0; i < RateLimiter::kMaxLoginFailures; ++i) unlimited.record_login_failure("a");
  EXPECT_FALSE(unlimited.login_throttle("a").decision.allowed);
}

TEST(LoginThrottle, ManyFailingAddressesStayBounded) {
  FakeClock clock;
  RateLimiter limiter(1.0, clock.function());
  for (int i = 0; i < 150'000; ++i) {
    std::string address = "addr-";
    address += std::to_string(i);
    limiter.record_login_failure(address);
    if (i % 997 == 0) clock.advance(1ms);
  }
  EXPECT_LE(limiter.tracked_keys(), RateLimiter::kMaxTrackedKeys);
  // The newest addresses are still counted.
  for (int i = 0; i < RateLimiter::kFreeLoginFailures - 1; ++i) {
    limiter.record_login_failure("addr-149999");
  }
  EXPECT_EQ(limiter.login_throttle("addr-149999").delay, 100ms);
}

// ------------------------------------------------------------------ threads

TEST(RateLimiter, ConcurrentCallersNeverGetMoreThanTheBucketHolds) {
  FakeClock clock;  // frozen: nothing refills while the threads run
  RateLimiter limiter(0.1, clock.function());  // Basic reads: 1000 per registry, 500 per identity
  const auto& basic = tier("Basic");
  constexpr int kThreads = 8;
  constexpr int kRequestsEach = 2'000;
  std::atomic<int> shared_allowed{0};
  std::atomic<int> own_allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string own = "worker-";
      own += std::to_string(t);
      for (int i = 0; i < kRequestsEach; ++i) {
        if (limiter.take(kRegistry, basic, "shared", RateCategory::read).allowed) ++shared_allowed;
        if (limiter.take(kOtherRegistry, basic, own, RateCategory::read).allowed) ++own_allowed;
        limiter.record_login_failure(own);
        (void)limiter.login_throttle(own);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(shared_allowed.load(), 500) << "one identity's bucket";
  EXPECT_EQ(own_allowed.load(), 1000) << "eight identities, one registry's bucket";
  for (int t = 0; t < kThreads; ++t) {
    std::string own = "worker-";
    own += std::to_string(t);
    EXPECT_FALSE(limiter.login_throttle(own).decision.allowed);
  }
}

}  // namespace
}  // namespace berth::api
