// The CoordinationStore conformance suite: every backend runs it (see conformance_test.h). It
// covers deployment settings (first writer wins, byte-exact values), leases (grant, renewal,
// expiry, refusal while held, release by the holder only) with concurrent callers on several
// threads and several stores on one database, the registries' data endpoint flag, and that all
// of it survives a restart.

#include <gtest/gtest.h>

#include <cstdint>
#include <latch>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "metadata/conformance_test.h"

namespace berth::metadata {
namespace {

using namespace conformance;

constexpr std::int64_t kTtl = 30'000;

LeaseRecord lease(std::string name, std::string holder, std::int64_t expires_at_ms) {
  return LeaseRecord{
      .name = std::move(name), .holder = std::move(holder), .expires_at_ms = expires_at_ms};
}

// The data endpoint flag of the registry `name`; a recorded failure when there is none.
bool data_endpoint_of(MetadataStore& store, std::string_view name) {
  std::optional<RegistryRecord> found = must(store.find_registry(name), __FILE__, __LINE__);
  if (!found) {
    ADD_FAILURE() << "no registry " << name;
    return false;
  }
  return found->data_endpoint_enabled;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) {
    text += line;
    text += '\n';
  }
  return text;
}

// --- deployment settings ---

TEST_P(CoordinationStoreConformance, SettingsStartUnsetAndKeepWhatIsPut) {
  EXPECT_EQ(MUST(coordination().deployment_setting("admin-token-hash")), std::nullopt);

  MUST(coordination().put_deployment_setting("admin-token-hash", "sha256:one"));
  EXPECT_EQ(MUST(coordination().deployment_setting("admin-token-hash")), "sha256:one");
  MUST(coordination().put_deployment_setting("admin-token-hash", "sha256:two"));
  EXPECT_EQ(MUST(coordination().deployment_setting("admin-token-hash")), "sha256:two");
  // Names are exact: another spelling is another setting.
  EXPECT_EQ(MUST(coordination().deployment_setting("Admin-Token-Hash")), std::nullopt);

  EXPECT_TRUE(MUST(coordination().delete_deployment_setting("admin-token-hash")));
  EXPECT_EQ(MUST(coordination().deployment_setting("admin-token-hash")), std::nullopt);
  EXPECT_FALSE(MUST(coordination().delete_deployment_setting("admin-token-hash")));
}

TEST_P(CoordinationStoreConformance, EnsureKeepsTheFirstValue) {
  EXPECT_EQ(MUST(coordination().ensure_deployment_setting("key-check", "first")), "first");
  EXPECT_EQ(MUST(coordination().ensure_deployment_setting("key-check", "second")), "first");
  EXPECT_EQ(MUST(coordination().deployment_setting("key-check")), "first");

  // put replaces whatever ensure set; ensure then returns the replacement.
  MUST(coordination().put_deployment_setting("key-check", "third"));
  EXPECT_EQ(MUST(coordination().ensure_deployment_setting("key-check", "fourth")), "third");

  // Once deleted, the next ensure sets it again.
  ASSERT_TRUE(MUST(coordination().delete_deployment_setting("key-check")));
  EXPECT_EQ(MUST(coordination().ensure_deployment_setting("key-check", "fifth")), "fifth");
}

TEST_P(CoordinationStoreConformance, SettingValuesAreKeptByteForByte) {
  static constexpr char kBinary[] = "\0\x01\xff\xfe not UTF-8 \xc3\x28 \0";
  const std::string binary(kBinary, sizeof(kBinary) - 1);
  const std::string large(kMaxDeploymentSettingBytes, 'x');
  MUST(coordination().put_deployment_setting("binary", binary));
  EXPECT_EQ(MUST(coordination().deployment_setting("binary")), binary);
  EXPECT_EQ(MUST(coordination().ensure_deployment_setting("ensured-binary", binary)), binary);
  MUST(coordination().put_deployment_setting("empty", ""));
  EXPECT_EQ(MUST(coordination().deployment_setting("empty")), std::optional<std::string>(""));
  MUST(coordination().put_deployment_setting("large", large));
  EXPECT_EQ(MUST(coordination().deployment_setting("large")), large);
}

TEST_P(CoordinationStoreConformance, BadSettingsAreRefusedAndNothingIsStored) {
  const std::string too_long(kMaxCoordinationName + 1, 'n');
  const std::string longest(kMaxCoordinationName, 'n');
  for (const std::string& name : {std::string(), too_long, std::string("tab\there"),
                                  std::string("nul\0here", 8), std::string("caf\xc3\xa9")}) {
    EXPECT_EQ(error_of(coordination().deployment_setting(name)), Errc::invalid_argument) << name;
    EXPECT_EQ(error_of(coordination().ensure_deployment_setting(name, "v")), Errc::invalid_argument)
        << name;
    EXPECT_EQ(error_of(coordination().put_deployment_setting(name, "v")), Errc::invalid_argument)
        << name;
    EXPECT_EQ(error_of(coordination().delete_deployment_setting(name)), Errc::invalid_argument)
        << name;
  }
  const std::string too_large(kMaxDeploymentSettingBytes + 1, 'v');
  EXPECT_EQ(error_of(coordination().put_deployment_setting("big", too_large)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().ensure_deployment_setting("big", too_large)),
            Errc::invalid_argument);
  EXPECT_EQ(MUST(coordination().deployment_setting("big")), std::nullopt);

  // The longest name is fine.
  MUST(coordination().put_deployment_setting(longest, "v"));
  EXPECT_EQ(MUST(coordination().deployment_setting(longest)), "v");
}

// Nodes that start together each propose a value; all of them end up with the same one.
TEST_P(CoordinationStoreConformance, ConcurrentEnsuresAgreeOnOneValue) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  constexpr int kNodes = 8;
  for (int round = 0; round < 5; ++round) {
    const std::string name = numbered("agreed-", round);
    std::vector<std::string> results(kNodes);
    std::vector<std::string> errors(kNodes);
    std::latch start(kNodes);
    std::vector<std::thread> nodes;
    for (int i = 0; i < kNodes; ++i) {
      CoordinationStore& node = i % 2 == 0 ? coordination() : *other;
      nodes.emplace_back([&, i] {
        start.arrive_and_wait();
        auto value = node.ensure_deployment_setting(name, numbered("value-", i));
        if (value) {
          results[static_cast<std::size_t>(i)] = *value;
        } else {
          errors[static_cast<std::size_t>(i)] = value.error().message;
        }
      });
    }
    for (std::thread& node : nodes) node.join();
    const std::optional<std::string> stored = MUST(coordination().deployment_setting(name));
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->rfind("value-", 0), 0u) << *stored;
    for (int i = 0; i < kNodes; ++i) {
      EXPECT_EQ(errors[static_cast<std::size_t>(i)], "") << "node " << i;
      EXPECT_EQ(results[static_cast<std::size_t>(i)], *stored) << "node " << i;
    }
    EXPECT_EQ(MUST(other->deployment_setting(name)), stored);
  }
}

// --- leases ---

TEST_P(CoordinationStoreConformance, ALeaseIsGrantedRenewedRefusedAndTakenOnceExpired) {
  EXPECT_EQ(MUST(coordination().find_lease("gc")), std::nullopt);

  EXPECT_TRUE(MUST(coordination().acquire_lease("gc", "node-a", 1'000, 500)));
  EXPECT_EQ(MUST(coordination().find_lease("gc")), lease("gc", "node-a", 1'500));

  // Held by node-a: node-b is refused, and nothing changes.
  EXPECT_FALSE(MUST(coordination().acquire_lease("gc", "node-b", 1'200, 500)));
  EXPECT_EQ(MUST(coordination().find_lease("gc")), lease("gc", "node-a", 1'500));

  // The holder renews it.
  EXPECT_TRUE(MUST(coordination().acquire_lease("gc", "node-a", 1'400, 500)));
  EXPECT_EQ(MUST(coordination().find_lease("gc")), lease("gc", "node-a", 1'900));

  // Up to the last millisecond before it expires, it stays node-a's.
  EXPECT_FALSE(MUST(coordination().acquire_lease("gc", "node-b", 1'899, 500)));
  // Expired (expires_at_ms <= now): node-b takes it over.
  EXPECT_TRUE(MUST(coordination().acquire_lease("gc", "node-b", 1'900, 700)));
  EXPECT_EQ(MUST(coordination().find_lease("gc")), lease("gc", "node-b", 2'600));

  // node-a comes back after a pause: the lease is node-b's now.
  EXPECT_FALSE(MUST(coordination().acquire_lease("gc", "node-a", 2'000, 500)));
  EXPECT_EQ(MUST(coordination().find_lease("gc")), lease("gc", "node-b", 2'600));

  // An expired lease stays readable, as stored, until someone takes it.
  EXPECT_EQ(MUST(coordination().find_lease("gc")), lease("gc", "node-b", 2'600));
  // Its own holder may take an expired lease back.
  EXPECT_TRUE(MUST(coordination().acquire_lease("gc", "node-b", 5'000, 500)));
  EXPECT_EQ(MUST(coordination().find_lease("gc")), lease("gc", "node-b", 5'500));
}

TEST_P(CoordinationStoreConformance, OnlyTheHolderReleasesALease) {
  ASSERT_TRUE(MUST(coordination().acquire_lease("sweeper", "node-a", 1'000, kTtl)));

  MUST(coordination().release_lease("sweeper", "node-b"));
  EXPECT_EQ(MUST(coordination().find_lease("sweeper")), lease("sweeper", "node-a", 1'000 + kTtl));
  EXPECT_FALSE(MUST(coordination().acquire_lease("sweeper", "node-b", 1'001, kTtl)));

  MUST(coordination().release_lease("sweeper", "node-a"));
  EXPECT_EQ(MUST(coordination().find_lease("sweeper")), std::nullopt);
  // Free again at once, long before the old expiry.
  EXPECT_TRUE(MUST(coordination().acquire_lease("sweeper", "node-b", 1'002, kTtl)));

  // A holder whose lease expired and was taken over releases nothing.
  ASSERT_TRUE(MUST(coordination().acquire_lease("sweeper", "node-c", 1'002 + kTtl, kTtl)));
  MUST(coordination().release_lease("sweeper", "node-b"));
  EXPECT_EQ(MUST(coordination().find_lease("sweeper")),
            lease("sweeper", "node-c", 1'002 + 2 * kTtl));

  // Releasing a lease nobody holds is fine.
  MUST(coordination().release_lease("never-taken", "node-a"));
  EXPECT_EQ(MUST(coordination().find_lease("never-taken")), std::nullopt);
}

TEST_P(CoordinationStoreConformance, LeasesOfDifferentNamesAreIndependent) {
  EXPECT_TRUE(MUST(coordination().acquire_lease("gc", "node-a", 1'000, kTtl)));
  EXPECT_TRUE(MUST(coordination().acquire_lease("lifecycle", "node-b", 1'000, kTtl)));
  EXPECT_TRUE(MUST(coordination().acquire_lease("upload-sweeper", "node-a", 1'000, kTtl)));
  EXPECT_FALSE(MUST(coordination().acquire_lease("lifecycle", "node-a", 1'001, kTtl)));
  MUST(coordination().release_lease("gc", "node-a"));
  EXPECT_EQ(MUST(coordination().find_lease("gc")), std::nullopt);
  EXPECT_EQ(MUST(coordination().find_lease("lifecycle")), lease("lifecycle", "node-b", 31'000));
  EXPECT_EQ(MUST(coordination().find_lease("upload-sweeper")),
            lease("upload-sweeper", "node-a", 31'000));
}

TEST_P(CoordinationStoreConformance, BadLeaseArgumentsAreRefusedAndNothingIsStored) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(error_of(coordination().acquire_lease("gc", "node-a", 1'000, 0)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().acquire_lease("gc", "node-a", 1'000, -5)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().acquire_lease("gc", "node-a", kMax - 10, 11)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().acquire_lease("", "node-a", 1'000, kTtl)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().acquire_lease("gc", "", 1'000, kTtl)), Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().acquire_lease("gc", std::string("node\0a", 6), 1'000, kTtl)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().acquire_lease(std::string(kMaxCoordinationName + 1, 'g'),
                                                  "node-a", 1'000, kTtl)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().release_lease("gc", "")), Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().release_lease("", "node-a")), Errc::invalid_argument);
  EXPECT_EQ(error_of(coordination().find_lease("")), Errc::invalid_argument);
  EXPECT_EQ(MUST(coordination().find_lease("gc")), std::nullopt);

  // The largest expiry that fits is fine.
  EXPECT_TRUE(MUST(coordination().acquire_lease("gc", "node-a", kMax - 10, 10)));
  EXPECT_EQ(MUST(coordination().find_lease("gc")), lease("gc", "node-a", kMax));
}

// Contenders on several threads and two stores (two nodes, or two processes on one file) try to
// take the same lease at once: exactly one of them gets it, whether it was never taken or has
// just expired.
TEST_P(CoordinationStoreConformance, ConcurrentContendersGetExactlyOneHolder) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  constexpr int kContenders = 8;
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    const std::string name = numbered("job-", round % 3);
    // Every round starts after the previous round's lease expired.
    const std::int64_t now = 1'000'000 + std::int64_t{round} * 2 * kTtl;
    std::vector<int> granted(kContenders, 0);
    std::vector<std::string> errors(kContenders);
    std::latch start(kContenders);
    std::vector<std::thread> contenders;
    for (int i = 0; i < kContenders; ++i) {
      CoordinationStore& node = i % 2 == 0 ? coordination() : *other;
      contenders.emplace_back([&, i] {
        const std::string holder = numbered("holder-", i);
        start.arrive_and_wait();
        auto got = node.acquire_lease(name, holder, now, kTtl);
        if (!got) {
          errors[static_cast<std::size_t>(i)] = got.error().message;
        } else if (*got) {
          granted[static_cast<std::size_t>(i)] = 1;
        }
      });
    }
    for (std::thread& contender : contenders) contender.join();

    int winners = 0;
    int winner = -1;
    for (int i = 0; i < kContenders; ++i) {
      EXPECT_EQ(errors[static_cast<std::size_t>(i)], "") << "round " << round << ", " << i;
      if (granted[static_cast<std::size_t>(i)] != 0) {
        winners++;
        winner = i;
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
    EXPECT_EQ(MUST(other->find_lease(name)), lease(name, numbered("holder-", winner), now + kTtl))
        << "round " << round;
  }
}

// Contenders keep trying while the holder renews: nobody else gets it while it is renewed in
// time, and the holder never loses it.
TEST_P(CoordinationStoreConformance, ARenewedLeaseIsNeverTakenOver) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(MUST(coordination().acquire_lease("gc", "holder", 0, kTtl)));
  constexpr int kSteps = 40;
  constexpr int kThieves = 4;
  std::vector<std::string> refusals;  // the renewer's
  std::thread renewer([&] {
    for (int step = 1; step <= kSteps; ++step) {
      auto renewed = coordination().acquire_lease("gc", "holder", std::int64_t{step} * 1'000, kTtl);
      if (!renewed) {
        refusals.push_back(renewed.error().message);
      } else if (!*renewed) {
        refusals.push_back(numbered("renewal refused at step ", step));
      }
    }
  });
  std::vector<int> taken(kThieves, 0);
  std::vector<std::string> errors(kThieves);
  std::vector<std::thread> thieves;
  for (int i = 0; i < kThieves; ++i) {
    CoordinationStore& node = i % 2 == 0 ? coordination() : *other;
    thieves.emplace_back([&, i] {
      for (int step = 1; step <= kSteps; ++step) {
        // Every time they try is before the holder's expiry, however the calls interleave.
        auto got = node.acquire_lease("gc", numbered("thief-", i), std::int64_t{step} * 500, kTtl);
        if (!got) {
          errors[static_cast<std::size_t>(i)] = got.error().message;
        } else if (*got) {
          taken[static_cast<std::size_t>(i)]++;
        }
      }
    });
  }
  renewer.join();
  for (std::thread& thief : thieves) thief.join();
  EXPECT_EQ(joined(refusals), "");
  for (int i = 0; i < kThieves; ++i) {
    EXPECT_EQ(errors[static_cast<std::size_t>(i)], "") << "thief " << i;
    EXPECT_EQ(taken[static_cast<std::size_t>(i)], 0) << "thief " << i;
  }
  EXPECT_EQ(MUST(other->find_lease("gc")), lease("gc", "holder", kSteps * 1'000 + kTtl));
}

// --- the registries' data endpoint flag ---

TEST_P(CoordinationStoreConformance, DataEndpointFlagIsOffUnlessSet) {
  EXPECT_FALSE(data_endpoint_of(store(), kDefaultRegistryName));
  const RegistryRecord plain = MUST(store().create_registry(registry_named("plain")));
  EXPECT_FALSE(plain.data_endpoint_enabled);
  EXPECT_FALSE(data_endpoint_of(store(), "plain"));

  RegistryRecord dedicated = registry_named("dedicated");
  dedicated.data_endpoint_enabled = true;
  dedicated = MUST(store().create_registry(dedicated));
  EXPECT_TRUE(dedicated.data_endpoint_enabled);
  EXPECT_TRUE(data_endpoint_of(store(), "DEDICATED"));
  for (const RegistryRecord& registry : MUST(store().list_registries())) {
    EXPECT_EQ(registry.data_endpoint_enabled, registry.name == "dedicated") << registry.name;
  }

  // update_registry changes it both ways, and leaves the other flags be.
  RegistryRecord changed = plain;
  changed.data_endpoint_enabled = true;
  ASSERT_TRUE(MUST(store().update_registry(changed)));
  std::optional<RegistryRecord> found = MUST(store().find_registry("plain"));
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->data_endpoint_enabled);
  EXPECT_EQ(found->tier, plain.tier);
  EXPECT_EQ(found->public_network_access, plain.public_network_access);
  dedicated.data_endpoint_enabled = false;
  ASSERT_TRUE(MUST(store().update_registry(dedicated)));
  EXPECT_FALSE(data_endpoint_of(store(), "dedicated"));
}

// --- a restart ---

TEST_P(CoordinationStoreConformance, SettingsLeasesAndFlagsSurviveReopen) {
  MUST(coordination().put_deployment_setting("admin-token-hash", std::string("h\0sh", 4)));
  ASSERT_TRUE(MUST(coordination().acquire_lease("gc", "node-a", 1'000, kTtl)));
  RegistryRecord dedicated = registry_named("dedicated");
  dedicated.data_endpoint_enabled = true;
  MUST(store().create_registry(dedicated));

  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(coordination().deployment_setting("admin-token-hash")), std::string("h\0sh", 4));
  EXPECT_EQ(MUST(coordination().find_lease("gc")), lease("gc", "node-a", 1'000 + kTtl));
  // A restarted node is still refused the lease another holds, and the holder keeps it.
  EXPECT_FALSE(MUST(coordination().acquire_lease("gc", "node-b", 2'000, kTtl)));
  EXPECT_TRUE(MUST(coordination().acquire_lease("gc", "node-a", 2'000, kTtl)));
  EXPECT_TRUE(data_endpoint_of(store(), "dedicated"));
  EXPECT_FALSE(data_endpoint_of(store(), kDefaultRegistryName));
}

}  // namespace
}  // namespace berth::metadata
