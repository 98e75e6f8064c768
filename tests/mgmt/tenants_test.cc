// The tier table and the tenants service (limits, downgrades, names) against the real SQLite
// metadata store, with fake counters standing in for features that do not exist yet.

#include "registry/tenants.h"

#include <gtest/gtest.h>

#include <atomic>

#include "metadata/sqlite_metadata_store.h"
#include "registry/tiers.h"
#include "storage/blob_storage.h"
#include "storage/memory_byte_store.h"
#include "support/app_fixture.h"

namespace berth::registry {
namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

// ------------------------------------------------------------------ tiers

TEST(Tiers, TableHoldsThePublishedLimits) {
  auto tiers = all_tiers();
  ASSERT_EQ(tiers.size(), 3u);
  EXPECT_EQ(tiers[0].name, "Basic");
  EXPECT_EQ(tiers[1].name, "Standard");
  EXPECT_EQ(tiers[2].name, "Premium");
  EXPECT_LT(tiers[0].rank, tiers[1].rank);
  EXPECT_LT(tiers[1].rank, tiers[2].rank);

  const Tier& basic = tiers[0];
  EXPECT_EQ(basic.limits.included_storage_bytes, 10 * kGiB);
  EXPECT_EQ(basic.limits.webhooks, 2u);
  EXPECT_EQ(basic.limits.ip_rules, 0u);
  EXPECT_EQ(basic.limits.tokens, 100u);
  EXPECT_EQ(basic.limits.scope_maps, 100u);
  EXPECT_EQ(basic.limits.read_ops_per_minute, 10000u);
  EXPECT_EQ(basic.limits.write_ops_per_minute, 2000u);
  EXPECT_FALSE(has_feature(basic, Feature::anonymous_pull));
  EXPECT_FALSE(has_feature(basic, Feature::artifact_cache));

  const Tier& standard = tiers[1];
  EXPECT_EQ(standard.limits.included_storage_bytes, 100 * kGiB);
  EXPECT_EQ(standard.limits.webhooks, 10u);
  EXPECT_EQ(standard.limits.ip_rules, 0u);
  EXPECT_EQ(standard.limits.tokens, 500u);
  EXPECT_EQ(standard.limits.scope_maps, 500u);
  EXPECT_EQ(standard.limits.read_ops_per_minute, 10000u);
  EXPECT_EQ(standard.limits.write_ops_per_minute, 2000u);
  EXPECT_TRUE(has_feature(standard, Feature::anonymous_pull));
  EXPECT_TRUE(has_feature(standard, Feature::artifact_cache));
  EXPECT_FALSE(has_feature(standard, Feature::geo_replication));

  const Tier& premium = tiers[2];
  EXPECT_EQ(premium.limits.included_storage_bytes, 500 * kGiB);
  EXPECT_EQ(premium.limits.webhooks, 500u);
  EXPECT_EQ(premium.limits.ip_rules, 200u);
  EXPECT_EQ(premium.limits.tokens, 50000u);
  EXPECT_EQ(premium.limits.scope_maps, 50000u);
  EXPECT_EQ(premium.limits.read_ops_per_minute, 20000u);
  EXPECT_EQ(premium.limits.write_ops_per_minute, 4000u);
  for (Feature f : {Feature::anonymous_pull, Feature::artifact_cache, Feature::geo_replication,
                    Feature::retention_policy, Feature::content_trust}) {
    EXPECT_TRUE(has_feature(premium, f)) << feature_name(f);
  }
}

TEST(Tiers, HigherTiersIncludeAtLeastWhatLowerOnesDo) {
  auto tiers = all_tiers();
  for (std::size_t i = 1; i < tiers.size(); ++i) {
    for (CountedResource r : kCountedResources) {
      EXPECT_GE(limit_of(tiers[i], r), limit_of(tiers[i - 1], r));
    }
    for (Feature f : tiers[i - 1].limits.features) EXPECT_TRUE(has_feature(tiers[i], f));
  }
}

TEST(Tiers, LookupIgnoresCase) {
  ASSERT_NE(find_tier("premium"), nullptr);
  EXPECT_EQ(find_tier("premium")->name, "Premium");
  EXPECT_EQ(find_tier("BASIC")->name, "Basic");
  EXPECT_EQ(find_tier("Gold"), nullptr);
  EXPECT_EQ(find_tier(""), nullptr);
  EXPECT_EQ(lowest_tier_with(Feature::anonymous_pull)->name, "Standard");
  EXPECT_EQ(lowest_tier_with(Feature::geo_replication)->name, "Premium");
}

// ------------------------------------------------------------------ tenants service

class FakeCounter final : public ResourceCounter {
 public:
  explicit FakeCounter(std::uint64_t n) : n_(n) {}
  TenantResult<std::uint64_t> count(metadata::RegistryId) override {
    if (fail_) return TenantError{TenantErrc::internal, "counter store is down", ""};
    return n_.load();
  }
  void set(std::uint64_t n) { n_ = n; }
  void fail() { fail_ = true; }

 private:
  std::atomic<std::uint64_t> n_;
  std::atomic<bool> fail_{false};
};

class TenantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db");
    ASSERT_TRUE(store) << store.error().message;
    metadata_ = std::move(*store);
    tenants_ = std::make_unique<Tenants>(*metadata_, storage_,
                                         TenantOptions{"Registry.Example", "westeurope"});
  }

  RegistryInfo create(std::string name, std::string tier, bool anonymous_pull = false) {
    NewRegistry request{std::move(name), std::move(tier)};
    request.anonymous_pull_enabled = anonymous_pull;
    auto created = tenants_->create(request);
    EXPECT_TRUE(created) << created.error().message;
    return created ? *created : RegistryInfo{};
  }

  std::shared_ptr<FakeCounter> fake(CountedResource resource, std::uint64_t n) {
    auto counter = std::make_shared<FakeCounter>(n);
    tenants_->set_counter(resource, counter);
    return counter;
  }

  berth::testing::TempDir dir_;
  storage::BlobStorage storage_{std::make_unique<storage::MemoryByteStore>()};
  std::unique_ptr<metadata::SqliteMetadataStore> metadata_;
  std::unique_ptr<Tenants> tenants_;
};

TEST_F(TenantsTest, NamesAreFiveToFiftyAsciiAlphanumerics) {
  for (std::string good :
       std::vector<std::string>{"abcde", "ABC12", "a1b2c3", std::string(50, 'z')}) {
    EXPECT_TRUE(Tenants::validate_name(good)) << good;
  }
  for (std::string bad :
       std::vector<std::string>{"", "abcd", std::string(51, 'z'), "my-reg", "my_reg", "my.reg",
                                "my reg", "r\xc3\xa9gistry", "regis/try"}) {
    auto valid = Tenants::validate_name(bad);
    ASSERT_FALSE(valid) << bad;
    EXPECT_EQ(valid.error().code, TenantErrc::invalid_name);
    EXPECT_EQ(valid.error().target, bad);
  }
}

TEST(TenantDomain, LoginServerDomainsAreDnsNames) {
  // The longest domain still gives a login server of at most 253 characters under a
  // 50-character registry name.
  std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                        std::string(63, 'c') + "." + std::string(10, 'd');
  ASSERT_EQ(longest.size(), 202u);
  for (std::string good : std::vector<std::string>{"registry.local", "localhost", "Example.COM",
                                                   "a-b.example", "x1.y2", longest}) {
    EXPECT_TRUE(Tenants::validate_domain(good)) << good;
  }
  for (std::string bad :
       std::vector<std::string>{"", "bad domain", "example.com.", ".example.com", "a..b",
                                "-a.example", "a-.example", "ex_ample.com", "a:5000",
                                std::string(64, 'a') + ".com", longest + "d", "r\xc3\xa9g.com"}) {
    auto valid = Tenants::validate_domain(bad);
    ASSERT_FALSE(valid) << bad;
    EXPECT_EQ(valid.error().code, TenantErrc::invalid_argument);
    EXPECT_NE(valid.error().message.find("domain"), std::string::npos);
  }
}

TEST_F(TenantsTest, EnsureExistsCreatesLikeTheApiAndKeepsWhatIsThere) {
  auto made = tenants_->ensure_exists("OtherDefault");
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(made->record.tier, "Standard");
  EXPECT_EQ(made->record.region, "westeurope");  // the same default as create()

  ASSERT_TRUE(tenants_->update("OtherDefault", RegistryChanges{"Premium", "northeurope"}));
  auto again = tenants_->ensure_exists("otherdefault");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->record.tier, "Premium");
  EXPECT_EQ(again->record.region, "northeurope");

  auto refused = tenants_->ensure_exists("x");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, TenantErrc::invalid_name);
}

TEST_F(TenantsTest, EnsureExistsGivesTheBuiltInDefaultRegistryTheDefaultRegion) {
  // The schema migration creates registry "default" without a region.
  auto before = tenants_->show("default");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->record.region, "");
  auto ensured = tenants_->ensure_exists("default");
  ASSERT_TRUE(ensured) << ensured.error().message;
  EXPECT_EQ(ensured->record.region, "westeurope");
  EXPECT_EQ(tenants_->show("default")->record.region, "westeurope");
}

TEST_F(TenantsTest, CreateFillsDefaultsAndTheLoginServer) {
  RegistryInfo info = create("MyRegistry", "standard");
  EXPECT_EQ(info.record.name, "MyRegistry");
  EXPECT_EQ(info.record.tier, "Standard");
  EXPECT_EQ(info.tier->name, "Standard");
  EXPECT_EQ(info.record.region, "westeurope");
  EXPECT_EQ(info.login_server, "myregistry.registry.example");
  EXPECT_FALSE(info.record.admin_user_enabled);
  EXPECT_FALSE(info.record.anonymous_pull_enabled);
  EXPECT_TRUE(info.record.public_network_access);
  EXPECT_GT(info.record.created_at, 0);

  auto shown = tenants_->show("myREGISTRY");
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->record.id, info.record.id);
}

TEST_F(TenantsTest, DuplicateNamesAreRefusedIgnoringCase) {
  create("MyRegistry", "Basic");
  auto again = tenants_->create({"myregistry", "Premium"});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, TenantErrc::registry_name_taken);
}

TEST_F(TenantsTest, UnknownTierAndBadRegionAreRefused) {
  auto tier = tenants_->create({"goodname", "Gold"});
  ASSERT_FALSE(tier);
  EXPECT_EQ(tier.error().code, TenantErrc::invalid_tier);
  EXPECT_NE(tier.error().message.find("Basic, Standard, Premium"), std::string::npos);

  NewRegistry request{"goodname", "Basic"};
  request.region = "west europe";
  auto region = tenants_->create(request);
  ASSERT_FALSE(region);
  EXPECT_EQ(region.error().code, TenantErrc::invalid_argument);
  EXPECT_EQ(region.error().target, "region");
  EXPECT_FALSE(tenants_->show("goodname"));
}

TEST_F(TenantsTest, AnonymousPullNeedsATierThatHasIt) {
  NewRegistry request{"basicreg", "Basic"};
  request.anonymous_pull_enabled = true;
  auto created = tenants_->create(request);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, TenantErrc::invalid_argument);
  EXPECT_EQ(created.error().target, "anonymousPullEnabled");
  EXPECT_NE(created.error().message.find("Standard"), std::string::npos);

  create("basicreg", "Basic");
  RegistryChanges enable;
  enable.anonymous_pull_enabled = true;
  auto updated = tenants_->update("basicreg", enable);
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code, TenantErrc::invalid_argument);

  // Upgrading and enabling in one change is fine.
  enable.tier = "Standard";
  ASSERT_TRUE(tenants_->update("basicreg", enable));
}

TEST_F(TenantsTest, CheckCanAddRefusesAtTheTierLimit) {
  create("basicreg", "Basic");
  auto webhooks = fake(CountedResource::webhooks, 1);
  EXPECT_TRUE(tenants_->check_can_add("basicreg", CountedResource::webhooks));

  webhooks->set(2);
  auto third = tenants_->check_can_add("basicreg", CountedResource::webhooks);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, TenantErrc::limit_exceeded);
  EXPECT_EQ(third.error().target, "Webhooks");
  EXPECT_NE(third.error().message.find("2 webhooks"), std::string::npos) << third.error().message;
  EXPECT_NE(third.error().message.find("allows 2"), std::string::npos) << third.error().message;

  // Other kinds are counted separately; IP rules are not available on Basic at all.
  EXPECT_TRUE(tenants_->check_can_add("basicreg", CountedResource::tokens));
  auto ip = tenants_->check_can_add("basicreg", CountedResource::ip_rules);
  ASSERT_FALSE(ip);
  EXPECT_EQ(ip.error().code, TenantErrc::limit_exceeded);

  // A tier change moves the limit at once.
  RegistryChanges upgrade;
  upgrade.tier = "Standard";
  ASSERT_TRUE(tenants_->update("basicreg", upgrade));
  EXPECT_TRUE(tenants_->check_can_add("basicreg", CountedResource::webhooks));

  auto missing = tenants_->check_can_add("nosuchreg", CountedResource::webhooks);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, TenantErrc::registry_not_found);
}

TEST_F(TenantsTest, CounterFailuresPropagate) {
  create("basicreg", "Basic");
  fake(CountedResource::tokens, 0)->fail();
  auto checked = tenants_->check_can_add("basicreg", CountedResource::tokens);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, TenantErrc::internal);
  auto usage = tenants_->usage("basicreg");
  ASSERT_FALSE(usage);
  EXPECT_EQ(usage.error().code, TenantErrc::internal);
  auto health = tenants_->health("basicreg");
  ASSERT_TRUE(health);
  EXPECT_FALSE(health->healthy);
}

TEST_F(TenantsTest, DowngradeIsRefusedWhileCountsExceedTheLowerTier) {
  create("stdreg", "Standard");
  auto webhooks = fake(CountedResource::webhooks, 5);
  RegistryChanges downgrade;
  downgrade.tier = "Basic";
  auto refused = tenants_->update("stdreg", downgrade);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, TenantErrc::downgrade_blocked);
  EXPECT_NE(refused.error().message.find("5 webhooks"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("allows 2"), std::string::npos);
  EXPECT_EQ(tenants_->show("stdreg")->record.tier, "Standard") << "nothing changed";

  webhooks->set(2);
  auto allowed = tenants_->update("stdreg", downgrade);
  ASSERT_TRUE(allowed) << allowed.error().message;
  EXPECT_EQ(allowed->record.tier, "Basic");
  EXPECT_EQ(tenants_->show("stdreg")->record.tier, "Basic");
}

TEST_F(TenantsTest, DowngradeMessageNamesEveryBlocker) {
  create("premreg", "Premium");
  RegistryChanges enable;
  enable.anonymous_pull_enabled = true;
  ASSERT_TRUE(tenants_->update("premreg", enable));
  fake(CountedResource::ip_rules, 3);
  fake(CountedResource::tokens, 600);
  fake(CountedResource::scope_maps, 100);

  RegistryChanges to_standard;
  to_standard.tier = "Standard";
  auto standard = tenants_->update("premreg", to_standard);
  ASSERT_FALSE(standard);
  EXPECT_EQ(standard.error().code, TenantErrc::downgrade_blocked);
  const std::string& message = standard.error().message;
  EXPECT_NE(message.find("3 IP rules"), std::string::npos) << message;
  EXPECT_NE(message.find("600 tokens"), std::string::npos) << message;
  EXPECT_EQ(message.find("scope maps"), std::string::npos) << message;
  EXPECT_EQ(message.find("anonymous pull"), std::string::npos) << "Standard has it: " << message;

  RegistryChanges to_basic;
  to_basic.tier = "Basic";
  auto basic = tenants_->update("premreg", to_basic);
  ASSERT_FALSE(basic);
  EXPECT_NE(basic.error().message.find("anonymous pull"), std::string::npos)
      << basic.error().message;

  // Switching the feature off in the same change removes that blocker.
  fake(CountedResource::ip_rules, 0);
  fake(CountedResource::tokens, 0);
  to_basic.anonymous_pull_enabled = false;
  auto done = tenants_->update("premreg", to_basic);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->record.tier, "Basic");
  EXPECT_FALSE(done->record.anonymous_pull_enabled);
}

TEST_F(TenantsTest, UpgradesAreNeverBlockedByCounts) {
  create("basicreg", "Basic");
  fake(CountedResource::webhooks, 100000);
  RegistryChanges upgrade;
  upgrade.tier = "Premium";
  EXPECT_TRUE(tenants_->update("basicreg", upgrade));
}

TEST_F(TenantsTest, UsageReportsCountsAgainstTheTier) {
  create("stdreg", "Standard");
  fake(CountedResource::webhooks, 4);
  auto usage = tenants_->usage("STDREG");
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->registry, "stdreg");
  EXPECT_EQ(usage->used_bytes, 0u);
  EXPECT_EQ(usage->included_bytes, 100 * kGiB);
  EXPECT_TRUE(usage->repositories.empty());
  ASSERT_EQ(usage->counts.size(), 5u);
  EXPECT_EQ(usage->counts[0].resource, CountedResource::webhooks);
  EXPECT_EQ(usage->counts[0].current, 4u);
  EXPECT_EQ(usage->counts[0].limit, 10u);
  EXPECT_EQ(usage->counts[3].resource, CountedResource::ip_rules);
  EXPECT_EQ(usage->counts[3].limit, 0u);
  EXPECT_EQ(usage->counts[4].resource, CountedResource::cache_rules);
  EXPECT_EQ(usage->counts[4].limit, 1000u);
}

TEST_F(TenantsTest, HealthFlagsCountsOverTheLimit) {
  create("basicreg", "Basic");
  auto health = tenants_->health("basicreg");
  ASSERT_TRUE(health);
  EXPECT_TRUE(health->healthy);
  EXPECT_EQ(health->checks.size(), 3u);

  // E.g. content imported from elsewhere: more than the tier allows.
  fake(CountedResource::webhooks, 3);
  health = tenants_->health("basicreg");
  ASSERT_TRUE(health);
  EXPECT_FALSE(health->healthy);
  bool found = false;
  for (const auto& check : health->checks) {
    if (check.name == "tierLimits") {
      found = true;
      EXPECT_FALSE(check.healthy);
      EXPECT_NE(check.message.find("3 webhooks"), std::string::npos) << check.message;
    } else {
      EXPECT_TRUE(check.healthy) << check.name;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(TenantsTest, RemoveDeletesTheRegistry) {
  create("doomedreg", "Basic");
  ASSERT_TRUE(tenants_->remove("DOOMEDREG"));
  auto gone = tenants_->show("doomedreg");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, TenantErrc::registry_not_found);
  EXPECT_EQ(tenants_->remove("doomedreg").error().code, TenantErrc::registry_not_found);
  // The name is free again.
  create("doomedreg", "Premium");
}

TEST_F(TenantsTest, RemoveRefusesTheDefaultRegistry) {
  auto refused = tenants_->remove("DEFAULT");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, TenantErrc::registry_protected);
  EXPECT_EQ(refused.error().message,
            "registry 'default' is the default registry of this deployment and cannot be deleted");
  EXPECT_EQ(refused.error().target, "default");
  EXPECT_TRUE(tenants_->show("default"));
}

TEST_F(TenantsTest, RemoveRefusesTheConfiguredDefaultRegistryOnly) {
  tenants_ = std::make_unique<Tenants>(*metadata_, storage_,
                                       TenantOptions{"registry.local", "local", "mainreg"});
  create("mainreg", "Standard");
  auto refused = tenants_->remove("MainReg");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, TenantErrc::registry_protected);
  EXPECT_TRUE(tenants_->show("mainreg"));
  // The built-in registry is an ordinary one when another is the default.
  EXPECT_TRUE(tenants_->remove("default"));
}

TEST_F(TenantsTest, ListIsSortedByName) {
  create("zzzzz", "Basic");
  create("aaaaa", "Basic");
  auto list = tenants_->list();
  ASSERT_TRUE(list);
  std::vector<std::string> names;
  for (const auto& info : *list) names.push_back(info.record.name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end())) << ::testing::PrintToString(names);
  EXPECT_NE(std::find(names.begin(), names.end(), "aaaaa"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "zzzzz"), names.end());
}

}  // namespace
}  // namespace berth::registry
