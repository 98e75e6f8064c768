// The access-control service (registry::AccessControl) against the real SQLite store: admin
// credentials, scope maps, tokens, identities, role assignments, network rules, the login
// audit; validation of hostile input, tier limits, and that stored secrets are never shown.
// Also the RFC 3339 parsing the management API reads times with.

#include "registry/access_control.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "auth/secrets.h"
#include "common/clock.h"
#include "metadata/sqlite_metadata_store.h"
#include "registry/tenants.h"
#include "storage/blob_storage.h"
#include "storage/memory_byte_store.h"
#include "support/app_fixture.h"

namespace berth::registry {
namespace {

using Errc = AccessControlErrc;

constexpr std::int64_t kDay = 86400;

std::array<unsigned char, 32> key_bytes(unsigned char fill) {
  std::array<unsigned char, 32> bytes{};
  bytes.fill(fill);
  return bytes;
}

class AccessControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db");
    ASSERT_TRUE(store) << store.error().message;
    metadata_ = std::move(*store);
    tenants_ = std::make_unique<Tenants>(*metadata_, storage_);
    access_ = std::make_unique<AccessControl>(*metadata_, *metadata_, *tenants_, key_);
    registry("alpha01", "Standard");
  }

  RegistryInfo registry(std::string name, std::string tier) {
    auto created = access_->create_registry(NewRegistry{std::move(name), std::move(tier)});
    EXPECT_TRUE(created) << created.error().message;
    return created ? *created : RegistryInfo{};
  }

  ScopeMap scope_map(std::string_view registry, std::string name,
                     std::vector<std::string> actions = {
                         "repositories/samples/hello/content/read"}) {
    auto created = access_->create_scope_map(registry, {std::move(name), "", std::move(actions)});
    EXPECT_TRUE(created) << created.error().message;
    return created ? *created : ScopeMap{};
  }

  Identity identity(std::string name, std::string kind = "servicePrincipal") {
    NewIdentity request;
    request.name = std::move(name);
    request.kind = std::move(kind);
    auto created = access_->create_identity(request);
    EXPECT_TRUE(created) << created.error().message;
    return created ? created->identity : Identity{};
  }

  berth::testing::TempDir dir_;
  storage::BlobStorage storage_{std::make_unique<storage::MemoryByteStore>()};
  auth::DeploymentKey key_ = auth::DeploymentKey::from_bytes(key_bytes(7));
  std::unique_ptr<metadata::SqliteMetadataStore> metadata_;
  std::unique_ptr<Tenants> tenants_;
  std::unique_ptr<AccessControl> access_;
};

template <class T>
Errc code_of(const AccessControlResult<T>& result) {
  EXPECT_FALSE(result) << "expected an error";
  return result ? Errc::internal : result.error().code;
}

// ------------------------------------------------------------------ times

TEST(Rfc3339, ParsesUtcOffsetsAndFractions) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("2026-12-02T06:00:00Z"), 1796191200);
  EXPECT_EQ(parse_rfc3339("2026-12-02t06:00:00z"), 1796191200);
  EXPECT_EQ(parse_rfc3339("2026-12-02T06:00:00.123456Z"), 1796191200);
  EXPECT_EQ(parse_rfc3339("2026-12-02T07:30:00+01:30"), 1796191200);
  EXPECT_EQ(parse_rfc3339("2026-12-02T04:00:00-02:00"), 1796191200);
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), 1709164800);
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{951782400}, std::int64_t{1796191200},
                         std::int64_t{253402300799}}) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t) << t;
  }
}

TEST(Rfc3339, RefusesEverythingElse) {
  for (std::string_view bad : {"",
                               "2026-12-02",
                               "2026-12-02T06:00:00",
                               "2026-12-02 06:00:00Z",
                               "2026-13-02T06:00:00Z",
                               "2026-02-29T00:00:00Z",
                               "2026-04-31T00:00:00Z",
                               "2026-12-02T24:00:00Z",
                               "2026-12-02T06:60:00Z",
                               "2026-12-02T06:00:60Z",
                               "1969-12-31T23:59:59Z",
                               "2026-12-02T06:00:00.Z",
                               "2026-12-02T06:00:00+0100",
                               "2026-12-02T06:00:00+24:00",
                               "+2026-12-02T06:00:00Z",
                               "2026-12-02T06:00:00ZZ",
                               "2026-1a-02T06:00:00Z",
                               "1970-01-01T00:00:00+00:01",
                               "now",
                               "1796191200"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
  EXPECT_FALSE(parse_rfc3339(std::string(100, '1')));
}

// ------------------------------------------------------------------ admin user

TEST_F(AccessControlTest, AdminCredentialsNeedTheAdminUserEnabled) {
  EXPECT_EQ(code_of(access_->admin_credentials("alpha01")), Errc::admin_user_disabled);
  EXPECT_EQ(code_of(access_->renew_admin_password("alpha01", "password")),
            Errc::admin_user_disabled);
  EXPECT_EQ(code_of(access_->admin_credentials("nosuchregistry")), Errc::registry_not_found);
}

TEST_F(AccessControlTest, EnablingTheAdminUserMakesTwoSealedPasswordsShownAlike) {
  RegistryChanges enable;
  enable.admin_user_enabled = true;
  ASSERT_TRUE(access_->update_registry("ALPHA01", enable));

  auto first = access_->admin_credentials("alpha01");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->username, "alpha01");
  ASSERT_EQ(first->passwords.size(), 2u);
  EXPECT_EQ(first->passwords[0].name, "password");
  EXPECT_EQ(first->passwords[1].name, "password2");
  EXPECT_EQ(first->passwords[0].value.size(), 43u);
  EXPECT_NE(first->passwords[0].value, first->passwords[1].value);

  auto second = access_->admin_credentials("alpha01");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->passwords[0].value, first->passwords[0].value);
  EXPECT_EQ(second->passwords[1].value, first->passwords[1].value);

  // Stored sealed, never in plaintext.
  auto id = tenants_->show("alpha01")->record.id;
  auto stored = metadata_->admin_passwords(id);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 2u);
  for (const auto& record : *stored) {
    EXPECT_TRUE(record.sealed_value.starts_with("s1$")) << record.sealed_value;
    EXPECT_EQ(record.sealed_value.find(first->passwords[0].value), std::string::npos);
    EXPECT_EQ(record.sealed_value.find(first->passwords[1].value), std::string::npos);
  }

  // Disabling and enabling again keeps them.
  RegistryChanges disable;
  disable.admin_user_enabled = false;
  ASSERT_TRUE(access_->update_registry("alpha01", disable));
  EXPECT_EQ(code_of(access_->admin_credentials("alpha01")), Errc::admin_user_disabled);
  ASSERT_TRUE(access_->update_registry("alpha01", enable));
  EXPECT_EQ(access_->admin_credentials("alpha01")->passwords[0].value, first->passwords[0].value);
}

TEST_F(AccessControlTest, RenewChangesOnlyTheNamedPassword) {
  NewRegistry request{"beta0001", "Basic"};
  request.admin_user_enabled = true;
  ASSERT_TRUE(access_->create_registry(request));
  auto before = access_->admin_credentials("beta0001");
  ASSERT_TRUE(before) << before.error().message;

  auto renewed = access_->renew_admin_password("beta0001", "password2");
  ASSERT_TRUE(renewed) << renewed.error().message;
  EXPECT_EQ(renewed->passwords[0].value, before->passwords[0].value);
  EXPECT_NE(renewed->passwords[1].value, before->passwords[1].value);
  EXPECT_EQ(access_->admin_credentials("beta0001")->passwords[1].value,
            renewed->passwords[1].value);

  for (std::string_view bad : {"", "password1", "Password", "password3", "password "}) {
    EXPECT_EQ(code_of(access_->renew_admin_password("beta0001", bad)), Errc::invalid_argument)
        << bad;
  }
}

TEST_F(AccessControlTest, EnsureAdminPasswordsFillsOnlyWhatIsMissing) {
  auto id = tenants_->show("alpha01")->record.id;
  ASSERT_TRUE(metadata_->put_admin_password(id, {"password", key_.seal("kept-value"), 1}));
  ASSERT_TRUE(access_->ensure_admin_passwords(id));
  auto stored = metadata_->admin_passwords(id);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_EQ(*key_.unseal((*stored)[0].sealed_value), "kept-value");
  ASSERT_TRUE(access_->ensure_admin_passwords(id));
  EXPECT_EQ(metadata_->admin_passwords(id)->size(), 2u);
}

TEST_F(AccessControlTest, PasswordsSealedWithAnotherKeyAreAServerFaultNotALeak) {
  auto id = tenants_->show("alpha01")->record.id;
  auto other = auth::DeploymentKey::from_bytes(key_bytes(9));
  ASSERT_TRUE(metadata_->put_admin_password(id, {"password", other.seal("secret-a"), 1}));
  ASSERT_TRUE(metadata_->put_admin_password(id, {"password2", other.seal("secret-b"), 1}));
  RegistryChanges enable;
  enable.admin_user_enabled = true;
  ASSERT_TRUE(access_->update_registry("alpha01", enable));
  auto shown = access_->admin_credentials("alpha01");
  ASSERT_FALSE(shown);
  EXPECT_EQ(shown.error().code, Errc::internal);
  EXPECT_EQ(shown.error().message.find("secret-a"), std::string::npos);
  // Renewing both repairs it (the answer to the first still cannot show the second).
  EXPECT_EQ(code_of(access_->renew_admin_password("alpha01", "password")), Errc::internal);
  auto repaired = access_->renew_admin_password("alpha01", "password2");
  ASSERT_TRUE(repaired) << repaired.error().message;
  EXPECT_NE(repaired->passwords[0].value, "secret-a");
  EXPECT_NE(repaired->passwords[1].value, "secret-b");
}

// ------------------------------------------------------------------ default action

TEST_F(AccessControlTest, DefaultActionIsStoredCanonicallyAndValidated) {
  RegistryChanges deny;
  deny.default_network_action = "deny";
  // Without IP rules (Standard has none), Deny would lock every client out: refused.
  auto locked_out = access_->update_registry("alpha01", deny);
  ASSERT_FALSE(locked_out);
  EXPECT_EQ(locked_out.error().code, TenantErrc::invalid_argument);
  EXPECT_EQ(locked_out.error().target, "defaultAction");
  EXPECT_EQ(access_->network_rules("alpha01")->default_action, "Allow");
  deny.tier = "Premium";
  auto updated = access_->update_registry("alpha01", deny);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->record.default_network_action, "Deny");
  EXPECT_EQ(access_->network_rules("alpha01")->default_action, "Deny");

  for (std::string_view bad : {"", "Block", "allow ", "Allowed"}) {
    RegistryChanges wrong;
    wrong.default_network_action = std::string(bad);
    auto refused = access_->update_registry("alpha01", wrong);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, TenantErrc::invalid_argument);
    EXPECT_EQ(refused.error().target, "defaultAction");
  }
  EXPECT_EQ(access_->network_rules("alpha01")->default_action, "Deny");
}

// ------------------------------------------------------------------ scope maps

TEST_F(AccessControlTest, ScopeMapsListTheSystemOnesFirst) {
  scope_map("alpha01", "readers");
  auto maps = access_->list_scope_maps("alpha01");
  ASSERT_TRUE(maps) << maps.error().message;
  ASSERT_EQ(maps->size(), 4u);
  std::set<std::string> system;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE((*maps)[i].system);
    EXPECT_FALSE((*maps)[i].actions.empty());
    system.insert((*maps)[i].name);
  }
  EXPECT_EQ(system, (std::set<std::string>{"_repositories_admin", "_repositories_pull",
                                           "_repositories_push"}));
  EXPECT_EQ((*maps)[3].name, "readers");
  EXPECT_FALSE((*maps)[3].system);

  auto pull = access_->show_scope_map("alpha01", "_repositories_pull");
  ASSERT_TRUE(pull);
  EXPECT_TRUE(pull->system);
}

TEST_F(AccessControlTest, ScopeMapCreateShowUpdateDelete) {
  auto created = access_->create_scope_map(
      "alpha01", {"team-a",
                  "Team A",
                  {"repositories/team-a/*/content/read", "repositories/team-a/*/content/write",
                   "repositories/team-a/*/content/read"}});
  ASSERT_TRUE(created) << created.error().message;
  // Duplicates dropped, order kept.
  EXPECT_EQ(created->actions, (std::vector<std::string>{"repositories/team-a/*/content/read",
                                                        "repositories/team-a/*/content/write"}));
  EXPECT_EQ(code_of(access_->create_scope_map("alpha01", {"TEAM-A", "", created->actions})),
            Errc::conflict);

  auto shown = access_->show_scope_map("alpha01", "TEAM-a");
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->description, "Team A");

  ScopeMapChanges changes;
  changes.description = "changed";
  changes.add_actions = {"repositories/team-a/*/metadata/read"};
  changes.remove_actions = {"repositories/team-a/*/content/write"};
  auto updated = access_->update_scope_map("alpha01", "team-a", changes);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->description, "changed");
  EXPECT_EQ(updated->actions, (std::vector<std::string>{"repositories/team-a/*/content/read",
                                                        "repositories/team-a/*/metadata/read"}));

  ScopeMapChanges missing;
  missing.remove_actions = {"repositories/other/content/read"};
  EXPECT_EQ(code_of(access_->update_scope_map("alpha01", "team-a", missing)),
            Errc::invalid_argument);
  ScopeMapChanges everything;
  everything.remove_actions = updated->actions;
  EXPECT_EQ(code_of(access_->update_scope_map("alpha01", "team-a", everything)),
            Errc::invalid_argument);

  ASSERT_TRUE(access_->delete_scope_map("alpha01", "team-a"));
  EXPECT_EQ(code_of(access_->show_scope_map("alpha01", "team-a")), Errc::scope_map_not_found);
  EXPECT_EQ(code_of(access_->delete_scope_map("alpha01", "team-a")), Errc::scope_map_not_found);
  EXPECT_EQ(code_of(access_->update_scope_map("alpha01", "team-a", changes)),
            Errc::scope_map_not_found);
}

TEST_F(AccessControlTest, SystemScopeMapsCannotBeChanged) {
  EXPECT_EQ(code_of(access_->create_scope_map(
                "alpha01", {"_repositories_pull", "", {"repositories/a/content/read"}})),
            Errc::scope_map_read_only);
  EXPECT_EQ(code_of(access_->update_scope_map("alpha01", "_repositories_push", {})),
            Errc::scope_map_read_only);
  EXPECT_EQ(code_of(access_->delete_scope_map("alpha01", "_REPOSITORIES_ADMIN")),
            Errc::scope_map_read_only);
}

TEST_F(AccessControlTest, ScopeMapInputIsValidated) {
  const std::vector<std::string> ok = {"repositories/a/content/read"};
  for (std::string name : {std::string(""), std::string("abcd"), std::string(51, 'a'),
                           std::string("-abcde"), std::string("_abcde"), std::string("ab cde"),
                           std::string("abc/de"), std::string("abcdé")}) {
    EXPECT_EQ(code_of(access_->create_scope_map("alpha01", {name, "", ok})), Errc::invalid_argument)
        << name;
  }
  EXPECT_TRUE(access_->create_scope_map("alpha01", {std::string(50, 'a'), "", ok}));
  for (std::string action :
       {std::string(""), std::string("repositories/a/content/execute"),
        std::string("repositories//content/read"), std::string("registry/a/content/read"),
        std::string("repositories/A/content/read"), std::string("repositories/a/*x/content/read"),
        "repositories/" + std::string(5000, 'a') + "/content/read"}) {
    EXPECT_EQ(code_of(access_->create_scope_map("alpha01", {"valid1", "", {action}})),
              Errc::invalid_argument)
        << action.substr(0, 60);
  }
  EXPECT_EQ(code_of(access_->create_scope_map("alpha01", {"valid1", "", {}})),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(access_->create_scope_map("alpha01", {"valid1", std::string(257, 'd'), ok})),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(access_->create_scope_map("alpha01", {"valid1", "line\nbreak", ok})),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(access_->create_scope_map("nosuchregistry", {"valid1", "", ok})),
            Errc::registry_not_found);
}

TEST_F(AccessControlTest, ScopeMapsHoldAtMost500Actions) {
  std::vector<std::string> actions;
  for (int i = 0; i < 500; ++i) {
    actions.push_back("repositories/repo" + std::to_string(i) + "/content/read");
  }
  auto full = access_->create_scope_map("alpha01", {"fullmap", "", actions});
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ(full->actions.size(), 500u);

  ScopeMapChanges one_more;
  one_more.add_actions = {"repositories/repo500/content/read"};
  EXPECT_EQ(code_of(access_->update_scope_map("alpha01", "fullmap", one_more)),
            Errc::invalid_argument);
  actions.push_back("repositories/repo500/content/read");
  EXPECT_EQ(code_of(access_->create_scope_map("alpha01", {"toomany", "", actions})),
            Errc::invalid_argument);
}

TEST_F(AccessControlTest, ScopeMapsAndTokensStopAtTheTierLimit) {
  registry("basic001", "Basic");  // 100 scope maps, 100 tokens
  for (int i = 0; i < 100; ++i) scope_map("basic001", "map" + std::to_string(1000 + i));
  auto over =
      access_->create_scope_map("basic001", {"map9999", "", {"repositories/a/content/read"}});
  EXPECT_EQ(code_of(over), Errc::limit_exceeded);
  EXPECT_NE(over.error().message.find("Basic"), std::string::npos);

  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        access_->create_token("basic001", {"tok" + std::to_string(1000 + i), "_repositories_pull",
                                           std::nullopt, true, std::nullopt}));
  }
  EXPECT_EQ(code_of(access_->create_token(
                "basic001", {"tok9999", "_repositories_pull", std::nullopt, true, std::nullopt})),
            Errc::limit_exceeded);

  // Tenants counts them: usage reports them and a downgrade is blocked past a lower limit.
  auto usage = tenants_->usage("basic001");
  ASSERT_TRUE(usage);
  for (const auto& count : usage->counts) {
    if (count.resource == CountedResource::tokens ||
        count.resource == CountedResource::scope_maps) {
      EXPECT_EQ(count.current, 100u) << resource_name(count.resource);
    }
  }
  // The other registry's limit is its own.
  EXPECT_TRUE(
      access_->create_scope_map("alpha01", {"map9999", "", {"repositories/a/content/read"}}));
}

// ------------------------------------------------------------------ tokens

TEST_F(AccessControlTest, TokenCreateShowsValuesOnceAndStoresHashes) {
  scope_map("alpha01", "readers");
  std::int64_t expiry = unix_now() + 30 * kDay;
  auto created =
      access_->create_token("alpha01", {"ci-token", "READERS", std::nullopt, false, expiry});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->scope_map, "readers");  // the stored spelling
  EXPECT_TRUE(created->enabled);
  ASSERT_EQ(created->passwords.size(), 2u);
  EXPECT_EQ(created->passwords[0].name, "password1");
  EXPECT_EQ(created->passwords[1].name, "password2");
  for (const auto& password : created->passwords) {
    ASSERT_TRUE(password.value);
    EXPECT_EQ(password.value->size(), 43u);
    EXPECT_EQ(password.expiry, expiry);
  }

  auto shown = access_->show_token("alpha01", "CI-TOKEN");
  ASSERT_TRUE(shown);
  for (const auto& password : shown->passwords) EXPECT_FALSE(password.value);
  auto listed = access_->list_tokens("alpha01");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  for (const auto& password : (*listed)[0].passwords) EXPECT_FALSE(password.value);

  auto id = tenants_->show("alpha01")->record.id;
  auto stored = metadata_->find_token(id, "ci-token");
  ASSERT_TRUE(stored && *stored);
  ASSERT_EQ((*stored)->passwords.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& hash = (*stored)->passwords[i].secret_hash;
    EXPECT_TRUE(hash.starts_with("k1$")) << hash;
    EXPECT_TRUE(auth::verify_secret(key_, *created->passwords[i].value, hash));
    EXPECT_FALSE(auth::verify_secret(key_, *created->passwords[1 - i].value, hash));
  }

  EXPECT_EQ(code_of(access_->create_token(
                "alpha01", {"CI-Token", "readers", std::nullopt, false, std::nullopt})),
            Errc::conflict);
}

TEST_F(AccessControlTest, TokenInputIsValidated) {
  auto token = [](std::string name, std::string map) {
    return NewToken{std::move(name), std::move(map), std::nullopt, false, std::nullopt};
  };
  EXPECT_EQ(code_of(access_->create_token("alpha01", token("abc", "_repositories_pull"))),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(access_->create_token("alpha01", token("valid1", ""))), Errc::invalid_argument);
  auto missing = access_->create_token("alpha01", token("valid1", "nosuchmap"));
  EXPECT_EQ(code_of(missing), Errc::scope_map_not_found);
  EXPECT_EQ(missing.error().target, "scopeMapName");
  NewToken expired = token("valid1", "_repositories_pull");
  expired.expiry = unix_now() - 1;
  EXPECT_EQ(code_of(access_->create_token("alpha01", expired)), Errc::invalid_argument);
  EXPECT_EQ(code_of(access_->create_token("nosuchregistry", token("valid1", "_repositories_pull"))),
            Errc::registry_not_found);
  EXPECT_TRUE(access_->list_tokens("alpha01")->empty());
}

TEST_F(AccessControlTest, TokenWithoutPasswordsAndItsUpdates) {
  scope_map("alpha01", "writers", {"repositories/app/content/write"});
  auto created = access_->create_token(
      "alpha01", {"bare-token", "_repositories_pull", false, true, std::nullopt});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_TRUE(created->passwords.empty());
  EXPECT_FALSE(created->enabled);

  auto updated = access_->update_token("alpha01", "bare-token", {true, "WRITERS"});
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_TRUE(updated->enabled);
  EXPECT_EQ(updated->scope_map, "writers");
  EXPECT_EQ(code_of(access_->update_token("alpha01", "bare-token", {std::nullopt, "nosuchmap"})),
            Errc::scope_map_not_found);
  EXPECT_EQ(code_of(access_->update_token("alpha01", "no-token", {true, std::nullopt})),
            Errc::token_not_found);

  // The map in use cannot go; once the token is deleted, it can.
  EXPECT_EQ(code_of(access_->delete_scope_map("alpha01", "writers")), Errc::scope_map_in_use);
  ASSERT_TRUE(access_->delete_token("alpha01", "bare-token"));
  EXPECT_EQ(code_of(access_->delete_token("alpha01", "bare-token")), Errc::token_not_found);
  EXPECT_TRUE(access_->delete_scope_map("alpha01", "writers"));
}

TEST_F(AccessControlTest, GenerateReplacesOnlyTheNamedPassword) {
  auto created = access_->create_token(
      "alpha01", {"gen-token", "_repositories_push", std::nullopt, false, std::nullopt});
  ASSERT_TRUE(created);
  auto id = tenants_->show("alpha01")->record.id;
  auto before = *metadata_->find_token(id, "gen-token");

  std::int64_t expiry = unix_now() + kDay;
  auto generated = access_->generate_token_passwords("alpha01", "gen-token", "password2", expiry);
  ASSERT_TRUE(generated) << generated.error().message;
  ASSERT_EQ(generated->size(), 1u);
  EXPECT_EQ((*generated)[0].name, "password2");
  EXPECT_EQ((*generated)[0].expiry, expiry);
  ASSERT_TRUE((*generated)[0].value);

  auto after = *metadata_->find_token(id, "gen-token");
  EXPECT_EQ(after->passwords[0].secret_hash, before->passwords[0].secret_hash);
  EXPECT_NE(after->passwords[1].secret_hash, before->passwords[1].secret_hash);
  EXPECT_TRUE(auth::verify_secret(key_, *(*generated)[0].value, after->passwords[1].secret_hash));
  EXPECT_FALSE(
      auth::verify_secret(key_, *created->passwords[1].value, after->passwords[1].secret_hash));

  auto both = access_->generate_token_passwords("alpha01", "gen-token", std::nullopt, std::nullopt);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->size(), 2u);

  EXPECT_EQ(
      code_of(access_->generate_token_passwords("alpha01", "gen-token", "password", std::nullopt)),
      Errc::invalid_argument);
  EXPECT_EQ(code_of(access_->generate_token_passwords("alpha01", "gen-token", std::nullopt,
                                                      unix_now() - kDay)),
            Errc::invalid_argument);
  EXPECT_EQ(
      code_of(access_->generate_token_passwords("alpha01", "no-token", std::nullopt, std::nullopt)),
      Errc::token_not_found);

  // A token made without passwords gets them.
  ASSERT_TRUE(access_->create_token(
      "alpha01", {"later-token", "_repositories_pull", std::nullopt, true, std::nullopt}));
  ASSERT_TRUE(
      access_->generate_token_passwords("alpha01", "later-token", "password1", std::nullopt));
  auto later = access_->show_token("alpha01", "later-token");
  ASSERT_EQ(later->passwords.size(), 1u);
  EXPECT_EQ(later->passwords[0].name, "password1");
}

// ------------------------------------------------------------------ identities

TEST_F(AccessControlTest, ServicePrincipalsGetAGeneratedSecretUsersMayChooseOne) {
  NewIdentity sp;
  sp.name = "build-agent";
  sp.kind = "servicePrincipal";
  auto created = access_->create_identity(sp);
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_TRUE(created->secret);
  EXPECT_EQ(created->identity.record.kind, metadata::IdentityKind::service_principal);
  EXPECT_EQ(created->identity.record.id.size(), 36u);
  EXPECT_TRUE(created->identity.record.secret_hash.empty());

  auto stored = metadata_->find_identity(created->identity.record.id);
  ASSERT_TRUE(stored && *stored);
  EXPECT_TRUE(auth::verify_secret(key_, *created->secret, (*stored)->secret_hash));

  NewIdentity user;
  user.name = "alice@example.com";
  user.kind = "user";
  user.password = "correct horse battery";
  auto alice = access_->create_identity(user);
  ASSERT_TRUE(alice) << alice.error().message;
  EXPECT_FALSE(alice->secret);
  auto alice_stored = *metadata_->find_identity(alice->identity.record.id);
  EXPECT_TRUE(alice_stored->secret_hash.starts_with("$argon2id$"));
  EXPECT_TRUE(auth::verify_secret(key_, "correct horse battery", alice_stored->secret_hash));

  auto listed = access_->list_identities();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  for (const auto& identity : *listed) EXPECT_TRUE(identity.record.secret_hash.empty());
  auto shown = access_->show_identity(alice->identity.record.id);
  ASSERT_TRUE(shown);
  EXPECT_TRUE(shown->record.secret_hash.empty());
  EXPECT_EQ(shown->record.name, "alice@example.com");

  EXPECT_EQ(code_of(access_->create_identity(sp)), Errc::conflict);
  EXPECT_EQ(code_of(access_->show_identity("nosuchid")), Errc::identity_not_found);
}

TEST_F(AccessControlTest, IdentityInputIsValidated) {
  auto make = [](std::string name, std::string kind) {
    NewIdentity request;
    request.name = std::move(name);
    request.kind = std::move(kind);
    return request;
  };
  for (std::string name :
       {std::string(""), std::string("ab"), std::string(129, 'a'), std::string("-abc"),
        std::string("a b c"), std::string("abc/def"), std::string("abc\x01")}) {
    EXPECT_EQ(code_of(access_->create_identity(make(name, "user"))), Errc::invalid_argument)
        << name;
  }
  for (std::string kind : {"", "User", "group", "service_principal"}) {
    EXPECT_EQ(code_of(access_->create_identity(make("someone", kind))), Errc::invalid_argument)
        << kind;
  }
  NewIdentity short_password = make("someone", "user");
  short_password.password = "short";
  EXPECT_EQ(code_of(access_->create_identity(short_password)), Errc::invalid_argument);
  NewIdentity sp_password = make("someone", "servicePrincipal");
  sp_password.password = "a long enough password";
  EXPECT_EQ(code_of(access_->create_identity(sp_password)), Errc::invalid_argument);
  NewIdentity user_issuer = make("someone", "user");
  user_issuer.issuer = "https://issuer.example";
  EXPECT_EQ(code_of(access_->create_identity(user_issuer)), Errc::invalid_argument);
  NewIdentity expired = make("someone", "user");
  expired.expiry = unix_now() - 10;
  EXPECT_EQ(code_of(access_->create_identity(expired)), Errc::invalid_argument);
  EXPECT_TRUE(access_->list_identities()->empty());
}

TEST_F(AccessControlTest, FederatedIdentitiesAreCheckedAndShowTheirClaims) {
  NewIdentity request;
  request.name = "github-deploy";
  request.kind = "federated";
  request.issuer = "https://token.actions.githubusercontent.com";
  request.audience = "berth";
  request.jwks = "https://token.actions.githubusercontent.com/.well-known/jwks";
  request.subject = "repo:org/app:ref:refs/heads/main";
  request.claims = {{"repository_owner", "org"}, {"quote\"d", "back\\slash"}};
  auto created = access_->create_identity(request);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_FALSE(created->secret);
  EXPECT_EQ(created->identity.claims, request.claims);
  auto shown = access_->show_identity(created->identity.record.id);
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->claims, request.claims);
  EXPECT_EQ(shown->record.issuer, request.issuer);

  NewIdentity file_keys = request;
  file_keys.name = "file-keys";
  file_keys.jwks = "/etc/berth/issuer-jwks.json";
  EXPECT_TRUE(access_->create_identity(file_keys));

  auto with = [&](auto change) {
    NewIdentity copy = request;
    copy.name = "variant";
    change(copy);
    return access_->create_identity(copy);
  };
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.issuer = ""; })), Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.issuer = "issuer.example"; })),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.issuer = "ftp://issuer.example"; })),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.issuer = "https://"; })), Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.issuer = "https://a b"; })),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.audience = ""; })), Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.subject = ""; })), Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.subject = std::string(600, 's'); })),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.jwks = "relative/path.json"; })),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.jwks = ""; })), Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.password = "a long enough password"; })),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) { r.claims = {{"", "x"}}; })), Errc::invalid_argument);
  EXPECT_EQ(code_of(with([](NewIdentity& r) {
              for (int i = 0; i < 40; ++i) {
                // No operator+ or assignment from a literal: GCC 12 -O3 warns falsely here.
                std::string claim = "c";
                claim += std::to_string(i);
                r.claims.emplace(std::move(claim), "v");
              }
            })),
            Errc::invalid_argument);
}

// ------------------------------------------------------------------ role assignments

TEST_F(AccessControlTest, RoleAssignmentsCreateListDelete) {
  registry("beta0001", "Standard");
  Identity agent = identity("build-agent");
  Identity reader = identity("auditor");

  auto pull = access_->create_role_assignment(
      {agent.record.id, "acrpull", "/registries/ALPHA01/repositories/team/*"});
  ASSERT_TRUE(pull) << pull.error().message;
  EXPECT_EQ(pull->role, "AcrPull");
  EXPECT_EQ(pull->scope, "/registries/alpha01/repositories/team/*");
  EXPECT_EQ(pull->assignee_name, "build-agent");
  auto owner = access_->create_role_assignment({agent.record.id, "Owner", "/registries/beta0001"});
  ASSERT_TRUE(owner) << owner.error().message;
  ASSERT_TRUE(access_->create_role_assignment({reader.record.id, "Reader", "/registries/alpha01"}));

  EXPECT_EQ(code_of(access_->create_role_assignment(
                {agent.record.id, "AcrPull", "/registries/alpha01/repositories/team/*"})),
            Errc::conflict);

  EXPECT_EQ(access_->list_role_assignments(std::nullopt, std::nullopt)->size(), 3u);
  auto on_alpha = access_->list_role_assignments("Alpha01", std::nullopt);
  ASSERT_TRUE(on_alpha);
  EXPECT_EQ(on_alpha->size(), 2u);
  auto of_agent = access_->list_role_assignments(std::nullopt, agent.record.id);
  ASSERT_TRUE(of_agent);
  ASSERT_EQ(of_agent->size(), 2u);
  auto both = access_->list_role_assignments("beta0001", agent.record.id);
  ASSERT_EQ(both->size(), 1u);
  EXPECT_EQ((*both)[0].id, owner->id);
  EXPECT_EQ(code_of(access_->list_role_assignments("nosuchregistry", std::nullopt)),
            Errc::registry_not_found);
  EXPECT_TRUE(access_->list_role_assignments(std::nullopt, "nosuchidentity")->empty());

  ASSERT_TRUE(access_->delete_role_assignment(pull->id));
  EXPECT_EQ(code_of(access_->delete_role_assignment(pull->id)), Errc::role_assignment_not_found);

  // Deleting the identity takes its assignments.
  ASSERT_TRUE(access_->delete_identity(agent.record.id));
  EXPECT_EQ(code_of(access_->delete_identity(agent.record.id)), Errc::identity_not_found);
  auto left = access_->list_role_assignments(std::nullopt, std::nullopt);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].assignee, reader.record.id);
}

TEST_F(AccessControlTest, RoleAssignmentInputIsValidated) {
  Identity agent = identity("build-agent");
  auto assign = [&](std::string role, std::string scope, std::string assignee = "") {
    return access_->create_role_assignment(
        {assignee.empty() ? agent.record.id : assignee, std::move(role), std::move(scope)});
  };
  EXPECT_EQ(code_of(assign("AcrRead", "/registries/alpha01")), Errc::invalid_argument);
  EXPECT_EQ(code_of(assign("", "/registries/alpha01")), Errc::invalid_argument);
  for (std::string scope :
       {"", "/", "/registries", "/registries/", "registries/alpha01", "/registries/alpha01/",
        "/registries/alpha01/repositories/", "/registries/alpha01/repos/team",
        "/registries/alpha01/repositories/Team", "/registries/alpha01/repositories/team/*/x",
        "/registries/alpha01/repositories/team//app", "/subscriptions/x/registries/alpha01"}) {
    EXPECT_EQ(code_of(assign("AcrPull", scope)), Errc::invalid_argument) << scope;
  }
  // Management roles cover a whole registry.
  EXPECT_EQ(code_of(assign("Contributor", "/registries/alpha01/repositories/team")),
            Errc::invalid_argument);
  EXPECT_EQ(code_of(assign("AcrPull", "/registries/nosuchregistry")), Errc::registry_not_found);
  EXPECT_EQ(code_of(assign("AcrPull", "/registries/alpha01", "nosuchidentity")),
            Errc::identity_not_found);
  EXPECT_TRUE(assign("AcrPush", "/registries/alpha01/repositories/*"));
  EXPECT_TRUE(assign("AcrDelete", "/registries/alpha01/repositories/team/app"));
}

// ------------------------------------------------------------------ network rules

TEST_F(AccessControlTest, NetworkRulesNeedATierWithIpRules) {
  auto refused = access_->add_network_rule("alpha01", "10.0.0.0/24");
  EXPECT_EQ(code_of(refused), Errc::limit_exceeded);
  EXPECT_EQ(refused.error().target, "IPRules");
  EXPECT_TRUE(access_->network_rules("alpha01")->ip_rules.empty());
}

TEST_F(AccessControlTest, NetworkRulesAreCanonicalUniqueAndRemovable) {
  registry("premium1", "Premium");
  auto added = access_->add_network_rule("premium1", "10.0.0.0/24");
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->default_action, "Allow");
  EXPECT_EQ(added->ip_rules, (std::vector<std::string>{"10.0.0.0/24"}));
  auto single = access_->add_network_rule("premium1", "192.0.2.1");
  ASSERT_TRUE(single);
  EXPECT_EQ(single->ip_rules.back(), "192.0.2.1/32");
  auto v6 = access_->add_network_rule("premium1", "2001:DB8:0::/32");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->ip_rules.back(), "2001:db8::/32");

  EXPECT_EQ(code_of(access_->add_network_rule("premium1", "192.0.2.1/32")), Errc::conflict);
  for (std::string_view bad : {"", "10.0.0.1/24", "10.0.0.0/33", "300.0.0.1", "10.0.0.0/24 ",
                               "host.example", "10.0.0.0/-1", "::1%eth0"}) {
    EXPECT_EQ(code_of(access_->add_network_rule("premium1", bad)), Errc::invalid_argument) << bad;
  }

  auto removed = access_->remove_network_rule("premium1", "192.0.2.1");
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(removed->ip_rules, (std::vector<std::string>{"10.0.0.0/24", "2001:db8::/32"}));
  EXPECT_EQ(code_of(access_->remove_network_rule("premium1", "192.0.2.1")),
            Errc::network_rule_not_found);
  EXPECT_EQ(code_of(access_->remove_network_rule("premium1", "garbage")), Errc::invalid_argument);
}

TEST_F(AccessControlTest, NetworkRulesStopAtThePremiumLimit) {
  registry("premium1", "Premium");  // 200 IP rules
  for (int i = 0; i < 200; ++i) {
    std::string range = "10." + std::to_string(i) + ".0.0/16";
    ASSERT_TRUE(access_->add_network_rule("premium1", range)) << range;
  }
  EXPECT_EQ(code_of(access_->add_network_rule("premium1", "192.0.2.1")), Errc::limit_exceeded);
  // The downgrade to a tier without IP rules is blocked while they exist.
  RegistryChanges downgrade;
  downgrade.tier = "Standard";
  auto blocked = access_->update_registry("premium1", downgrade);
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, TenantErrc::downgrade_blocked);
}

// ------------------------------------------------------------------ login audit

TEST_F(AccessControlTest, LoginEventsAreFilteredNewestFirst) {
  auto alpha = tenants_->show("alpha01")->record.id;
  registry("beta0001", "Standard");
  auto beta = tenants_->show("beta0001")->record.id;
  std::vector<metadata::LoginEventRecord> events;
  for (int i = 0; i < 6; ++i) {
    metadata::LoginEventRecord event;
    event.time = 1000 + i;
    event.registry = alpha;
    event.identity = i % 2 == 0 ? "ci-token" : "alpha01";
    event.identity_kind = i % 2 == 0 ? "token" : "adminUser";
    event.client_address = "192.0.2.10";
    event.success = i != 3;
    event.method = "basic";
    event.reason = i == 3 ? "wrong password" : "";
    events.push_back(event);
  }
  metadata::LoginEventRecord elsewhere = events[0];
  elsewhere.registry = beta;
  events.push_back(elsewhere);
  ASSERT_TRUE(metadata_->append_login_events(events));

  auto all = access_->login_events("alpha01", {});
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 6u);
  EXPECT_EQ((*all)[0].record.time, 1005);
  EXPECT_EQ((*all)[5].record.time, 1000);
  EXPECT_EQ((*all)[0].registry, "alpha01");

  LoginAuditQuery failures;
  failures.success = false;
  auto failed = access_->login_events("alpha01", failures);
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ((*failed)[0].record.reason, "wrong password");

  LoginAuditQuery window;
  window.identity = "ci-token";
  window.since = 1001;
  window.until = 1004;
  auto windowed = access_->login_events("alpha01", window);
  ASSERT_EQ(windowed->size(), 1u);
  EXPECT_EQ((*windowed)[0].record.time, 1002);

  LoginAuditQuery top;
  top.top = 2;
  EXPECT_EQ(access_->login_events("alpha01", top)->size(), 2u);
  for (std::size_t bad : {std::size_t{0}, kMaxLoginEvents + 1}) {
    LoginAuditQuery wrong;
    wrong.top = bad;
    EXPECT_EQ(code_of(access_->login_events("alpha01", wrong)), Errc::invalid_argument);
  }
  LoginAuditQuery backwards;
  backwards.since = 2000;
  backwards.until = 1000;
  EXPECT_EQ(code_of(access_->login_events("alpha01", backwards)), Errc::invalid_argument);
  EXPECT_EQ(code_of(access_->login_events("nosuchregistry", {})), Errc::registry_not_found);
}

}  // namespace
}  // namespace berth::registry
