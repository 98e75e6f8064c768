// The UpstreamStore conformance suite: every backend runs it (see conformance_test.h). It covers
// credential sets and cache rules (values kept exactly, every refusal of the contract, the
// limit on rules, the reference from rules to sets), cached tags, the life of an import job
// (claim, progress, end, takeover of a stale job, listing and pruning), what deleting a
// registry or a repository takes with it, and concurrent callers on several threads and
// several stores on one database: creates never pass the limit, each job goes to one claimer.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "metadata/conformance_test.h"

namespace berth::metadata {
namespace {

using namespace conformance;

constexpr std::size_t kManyRules = 100;

CredentialSet credential_set(std::string name, RegistryId registry = kDefaultRegistryId) {
  return CredentialSet{
      .registry = registry,
      .name = std::move(name),
      .login_server = "registry-1.docker.io",
      .username = "robot",
      .sealed_password = "v1:sealed-password",
      .created_at = 1'700'000'000,
      .updated_at = 1'700'000'000,
  };
}

CacheRule cache_rule(std::string name, std::string target, std::string credentials = "",
                     RegistryId registry = kDefaultRegistryId) {
  return CacheRule{
      .registry = registry,
      .name = std::move(name),
      .source_repository = "docker.io/library/*",
      .target_repository = std::move(target),
      .credential_set = std::move(credentials),
      .tag_ttl_seconds = 3600,
      .allow_push = false,
      .created_at = 1'700'000'100,
      .updated_at = 1'700'000'100,
  };
}

ImportJob import_request(std::string request, RegistryId registry = kDefaultRegistryId,
                         std::int64_t created_at = 1'700'000'000) {
  return ImportJob{
      .registry = registry,
      .request = std::move(request),
      .sealed_credentials = "v1:sealed-login",
      .created_at = created_at,
  };
}

std::vector<std::string> names_of(const std::vector<CacheRule>& rules) {
  std::vector<std::string> names;
  for (const CacheRule& rule : rules) names.push_back(rule.name);
  return names;
}

std::vector<std::int64_t> ids_of(const std::vector<ImportJob>& jobs) {
  std::vector<std::int64_t> ids;
  for (const ImportJob& job : jobs) ids.push_back(job.id);
  return ids;
}

// --- credential sets ---

TEST_P(UpstreamStoreConformance, CredentialSetsKeepTheirValuesExactly) {
  const CredentialSet hub = credential_set("docker-hub");
  EXPECT_EQ(MUST(upstream().create_credential_set(hub)), hub);
  // Empty strings are values too, kept as such.
  CredentialSet bare = credential_set("bare");
  bare.username = "";
  bare.sealed_password = "";
  bare.login_server = "ghcr.io:443";
  EXPECT_EQ(MUST(upstream().create_credential_set(bare)), bare);
  // Names are exact: another spelling is another set.
  const CredentialSet upper = credential_set("Docker-Hub");
  EXPECT_EQ(MUST(upstream().create_credential_set(upper)), upper);

  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "docker-hub")), hub);
  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "bare")), bare);
  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "DOCKER-HUB")), std::nullopt);
  EXPECT_EQ(MUST(upstream().list_credential_sets(kDefaultRegistryId)),
            (std::vector<CredentialSet>{upper, bare, hub}));

  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "bare")), bare);
  EXPECT_EQ(MUST(upstream().list_credential_sets(kDefaultRegistryId)).size(), 3u);
}

TEST_P(UpstreamStoreConformance, CredentialSetTimesDefaultToNow) {
  CredentialSet set = credential_set("hub");
  set.created_at = 0;
  set.updated_at = 0;
  const std::int64_t before = unix_now();
  const CredentialSet created = MUST(upstream().create_credential_set(set));
  const std::int64_t after = unix_now();
  EXPECT_GE(created.created_at, before);
  EXPECT_LE(created.created_at, after);
  EXPECT_EQ(created.updated_at, created.created_at);

  set.updated_at = 0;
  set.username = "other";
  const CredentialSet updated = MUST(upstream().update_credential_set(set));
  EXPECT_GE(updated.updated_at, before);
  EXPECT_EQ(updated.created_at, created.created_at);
}

TEST_P(UpstreamStoreConformance, UpdatingACredentialSetKeepsWhenItWasCreated) {
  const CredentialSet original = MUST(upstream().create_credential_set(credential_set("hub")));
  CredentialSet changed = original;
  changed.login_server = "mirror.example:5000";
  changed.username = "";
  changed.sealed_password = "v1:new";
  changed.created_at = 42;  // not the store's to change
  changed.updated_at = 1'800'000'000;

  CredentialSet expected = changed;
  expected.created_at = original.created_at;
  EXPECT_EQ(MUST(upstream().update_credential_set(changed)), expected);
  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "hub")), expected);
}

TEST_P(UpstreamStoreConformance, CredentialSetRefusalsStoreNothing) {
  const CredentialSet hub = MUST(upstream().create_credential_set(credential_set("hub")));

  CredentialSet again = credential_set("hub");
  again.username = "someone-else";
  EXPECT_EQ(error_of(upstream().create_credential_set(again)), Errc::conflict);
  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "hub")), hub);

  EXPECT_EQ(error_of(upstream().create_credential_set(credential_set("x", 999))), Errc::not_found);
  EXPECT_EQ(error_of(upstream().update_credential_set(credential_set("hub", 999))),
            Errc::not_found);
  EXPECT_EQ(error_of(upstream().update_credential_set(credential_set("missing"))), Errc::not_found);
  EXPECT_EQ(error_of(upstream().create_credential_set(credential_set(""))), Errc::invalid_argument);
  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "missing")), std::nullopt);
  EXPECT_EQ(error_of(upstream().list_credential_sets(999)), Errc::not_found);
  EXPECT_EQ(error_of(upstream().find_credential_set(999, "hub")), Errc::not_found);
  EXPECT_EQ(MUST(upstream().list_credential_sets(kDefaultRegistryId)),
            std::vector<CredentialSet>{hub});

  EXPECT_FALSE(MUST(upstream().delete_credential_set(kDefaultRegistryId, "missing")));
  EXPECT_EQ(error_of(upstream().delete_credential_set(999, "hub")), Errc::not_found);
  EXPECT_TRUE(MUST(upstream().delete_credential_set(kDefaultRegistryId, "hub")));
  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "hub")), std::nullopt);
  EXPECT_FALSE(MUST(upstream().delete_credential_set(kDefaultRegistryId, "hub")));
}

TEST_P(UpstreamStoreConformance, SetsOfOneNameInTwoRegistriesAreApart) {
  const RegistryId team = NEW_REGISTRY("team");
  const CredentialSet mine = MUST(upstream().create_credential_set(credential_set("hub")));
  CredentialSet theirs = credential_set("hub", team);
  theirs.username = "team-robot";
  EXPECT_EQ(MUST(upstream().create_credential_set(theirs)), theirs);
  EXPECT_EQ(MUST(upstream().find_credential_set(team, "hub")), theirs);
  EXPECT_TRUE(MUST(upstream().delete_credential_set(team, "hub")));
  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "hub")), mine);
}

TEST_P(UpstreamStoreConformance, ASetNamedByARuleCannotBeDeleted) {
  const CredentialSet hub = MUST(upstream().create_credential_set(credential_set("hub")));
  MUST(upstream().create_cache_rule(cache_rule("library", "hub/library/*", "hub"), kManyRules));

  auto refused = upstream().delete_credential_set(kDefaultRegistryId, "hub");
  ASSERT_EQ(error_of(refused), Errc::conflict);
  EXPECT_NE(refused.error().message.find("library"), std::string::npos) << refused.error().message;
  EXPECT_EQ(MUST(upstream().find_credential_set(kDefaultRegistryId, "hub")), hub);

  // Once no rule names it (the rule pulls anonymously now), it goes.
  CacheRule anonymous = cache_rule("library", "hub/library/*");
  MUST(upstream().update_cache_rule(anonymous));
  EXPECT_TRUE(MUST(upstream().delete_credential_set(kDefaultRegistryId, "hub")));
}

// --- cache rules ---

TEST_P(UpstreamStoreConformance, CacheRulesKeepTheirValuesExactly) {
  MUST(upstream().create_credential_set(credential_set("hub")));
  CacheRule library = cache_rule("library", "hub/library/*", "hub");
  library.allow_push = true;
  library.tag_ttl_seconds = 0;
  EXPECT_EQ(MUST(upstream().create_cache_rule(library, kManyRules)), library);
  // No credential set: pulled anonymously, and it reads back empty.
  CacheRule nginx = cache_rule("nginx", "mirror/nginx");
  nginx.source_repository = "registry.k8s.io:443/ingress-nginx/controller";
  EXPECT_EQ(MUST(upstream().create_cache_rule(nginx, kManyRules)), nginx);

  EXPECT_EQ(MUST(upstream().find_cache_rule(kDefaultRegistryId, "library")), library);
  EXPECT_EQ(MUST(upstream().find_cache_rule(kDefaultRegistryId, "nginx")), nginx);
  EXPECT_EQ(MUST(upstream().find_cache_rule(kDefaultRegistryId, "Nginx")), std::nullopt);
  EXPECT_EQ(MUST(upstream().list_cache_rules(kDefaultRegistryId)),
            (std::vector<CacheRule>{library, nginx}));

  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(upstream().list_cache_rules(kDefaultRegistryId)),
            (std::vector<CacheRule>{library, nginx}));

  EXPECT_TRUE(MUST(upstream().delete_cache_rule(kDefaultRegistryId, "library")));
  EXPECT_FALSE(MUST(upstream().delete_cache_rule(kDefaultRegistryId, "library")));
  EXPECT_EQ(MUST(upstream().list_cache_rules(kDefaultRegistryId)), std::vector<CacheRule>{nginx});
}

TEST_P(UpstreamStoreConformance, CacheRuleRefusalsStoreNothing) {
  const RegistryId team = NEW_REGISTRY("team");
  MUST(upstream().create_credential_set(credential_set("team-hub", team)));
  const CacheRule library =
      MUST(upstream().create_cache_rule(cache_rule("library", "hub/library/*"), kManyRules));

  // The name is taken, whatever the target.
  auto same_name = upstream().create_cache_rule(cache_rule("library", "other/*"), kManyRules);
  EXPECT_EQ(error_of(same_name), Errc::conflict);
  // The target is taken, under another name; the message names the rule that has it.
  auto same_target =
      upstream().create_cache_rule(cache_rule("library-2", "hub/library/*"), kManyRules);
  ASSERT_EQ(error_of(same_target), Errc::conflict);
  EXPECT_NE(same_target.error().message.find("'library'"), std::string::npos)
      << same_target.error().message;
  // A credential set the registry lacks, even when another registry has it.
  EXPECT_EQ(error_of(upstream().create_cache_rule(cache_rule("a", "a/*", "missing"), kManyRules)),
            Errc::not_found);
  EXPECT_EQ(error_of(upstream().create_cache_rule(cache_rule("b", "b/*", "team-hub"), kManyRules)),
            Errc::not_found);
  EXPECT_EQ(error_of(upstream().create_cache_rule(cache_rule("c", "c/*", "", 999), kManyRules)),
            Errc::not_found);
  CacheRule unnamed = cache_rule("", "d/*");
  EXPECT_EQ(error_of(upstream().create_cache_rule(unnamed, kManyRules)), Errc::invalid_argument);
  CacheRule no_target = cache_rule("e", "");
  EXPECT_EQ(error_of(upstream().create_cache_rule(no_target, kManyRules)), Errc::invalid_argument);
  CacheRule no_source = cache_rule("f", "f/*");
  no_source.source_repository = "";
  EXPECT_EQ(error_of(upstream().create_cache_rule(no_source, kManyRules)), Errc::invalid_argument);
  CacheRule negative = cache_rule("g", "g/*");
  negative.tag_ttl_seconds = -1;
  EXPECT_EQ(error_of(upstream().create_cache_rule(negative, kManyRules)), Errc::invalid_argument);

  EXPECT_EQ(MUST(upstream().list_cache_rules(kDefaultRegistryId)), std::vector<CacheRule>{library});
  EXPECT_TRUE(MUST(upstream().list_cache_rules(team)).empty());

  // Names and targets are per registry.
  CacheRule theirs = cache_rule("library", "hub/library/*", "team-hub", team);
  EXPECT_EQ(MUST(upstream().create_cache_rule(theirs, kManyRules)), theirs);
  EXPECT_EQ(error_of(upstream().delete_cache_rule(999, "library")), Errc::not_found);
  EXPECT_EQ(error_of(upstream().find_cache_rule(999, "library")), Errc::not_found);
  EXPECT_EQ(error_of(upstream().list_cache_rules(999)), Errc::not_found);
}

TEST_P(UpstreamStoreConformance, TheLimitIsReachedExactlyAtMax) {
  const RegistryId team = NEW_REGISTRY("team");
  constexpr std::size_t kMax = 3;
  for (std::size_t i = 0; i < kMax; ++i) {
    MUST(upstream().create_cache_rule(cache_rule(numbered("rule-", static_cast<long long>(i)),
                                                 numbered("target-", static_cast<long long>(i))),
                                      kMax));
  }
  auto over = upstream().create_cache_rule(cache_rule("one-more", "one-more/*"), kMax);
  ASSERT_EQ(error_of(over), Errc::limit_reached);
  EXPECT_NE(over.error().message.find('3'), std::string::npos) << over.error().message;
  EXPECT_EQ(MUST(upstream().find_cache_rule(kDefaultRegistryId, "one-more")), std::nullopt);
  EXPECT_EQ(MUST(upstream().list_cache_rules(kDefaultRegistryId)).size(), kMax);

  // The limit is per registry, and a deleted rule makes room.
  MUST(upstream().create_cache_rule(cache_rule("one-more", "one-more/*", "", team), kMax));
  ASSERT_TRUE(MUST(upstream().delete_cache_rule(kDefaultRegistryId, "rule-0")));
  MUST(upstream().create_cache_rule(cache_rule("one-more", "one-more/*"), kMax));
  EXPECT_EQ(error_of(upstream().create_cache_rule(cache_rule("last", "last/*"), kMax)),
            Errc::limit_reached);
  // A limit of none allows none.
  EXPECT_EQ(error_of(upstream().create_cache_rule(cache_rule("none", "none/*", "", team), 0)),
            Errc::limit_reached);
}

TEST_P(UpstreamStoreConformance, UpdatingARuleChangesOnlyItsCredentialsTtlAndPush) {
  MUST(upstream().create_credential_set(credential_set("hub")));
  MUST(upstream().create_credential_set(credential_set("mirror")));
  const CacheRule original =
      MUST(upstream().create_cache_rule(cache_rule("library", "hub/library/*", "hub"), kManyRules));

  CacheRule change = original;
  change.credential_set = "mirror";
  change.tag_ttl_seconds = 60;
  change.allow_push = true;
  change.source_repository = "quay.io/other/*";  // stays
  change.target_repository = "elsewhere/*";      // stays
  change.created_at = 7;                         // stays
  change.updated_at = 1'800'000'000;
  CacheRule expected = original;
  expected.credential_set = "mirror";
  expected.tag_ttl_seconds = 60;
  expected.allow_push = true;
  expected.updated_at = 1'800'000'000;
  EXPECT_EQ(MUST(upstream().update_cache_rule(change)), expected);
  EXPECT_EQ(MUST(upstream().find_cache_rule(kDefaultRegistryId, "library")), expected);

  // Refusals change nothing.
  CacheRule unknown_set = expected;
  unknown_set.credential_set = "missing";
  EXPECT_EQ(error_of(upstream().update_cache_rule(unknown_set)), Errc::not_found);
  EXPECT_EQ(error_of(upstream().update_cache_rule(cache_rule("missing", "x/*"))), Errc::not_found);
  EXPECT_EQ(error_of(upstream().update_cache_rule(cache_rule("library", "x/*", "", 999))),
            Errc::not_found);
  CacheRule negative = expected;
  negative.tag_ttl_seconds = -5;
  EXPECT_EQ(error_of(upstream().update_cache_rule(negative)), Errc::invalid_argument);
  EXPECT_EQ(MUST(upstream().find_cache_rule(kDefaultRegistryId, "library")), expected);

  // Back to anonymous; the set it named may go now.
  CacheRule anonymous = expected;
  anonymous.credential_set = "";
  anonymous.updated_at = 1'800'000'001;
  EXPECT_EQ(MUST(upstream().update_cache_rule(anonymous)), anonymous);
  EXPECT_TRUE(MUST(upstream().delete_credential_set(kDefaultRegistryId, "mirror")));
}

// --- cached tags ---

TEST_P(UpstreamStoreConformance, CachedTagsRememberTheirLastCheck) {
  const RegistryId team = NEW_REGISTRY("team");
  MUST(store().link_blob(repo("hub/library/alpine"), oci::digest_of("layer"), 5));
  MUST(store().link_blob(repo("hub/library/alpine", team), oci::digest_of("layer"), 5));
  const RepositoryRef alpine = repo("hub/library/alpine");

  EXPECT_EQ(MUST(upstream().tag_validated_at(alpine, "3.20")), std::nullopt);
  MUST(upstream().set_tag_validated_at(alpine, "3.20", 1'700'000'000));
  EXPECT_EQ(MUST(upstream().tag_validated_at(alpine, "3.20")), 1'700'000'000);
  MUST(upstream().set_tag_validated_at(alpine, "3.20", 1'700'000'500));
  EXPECT_EQ(MUST(upstream().tag_validated_at(alpine, "3.20")), 1'700'000'500);
  // Tags, repositories of other registries and spellings are apart.
  EXPECT_EQ(MUST(upstream().tag_validated_at(alpine, "latest")), std::nullopt);
  EXPECT_EQ(MUST(upstream().tag_validated_at(repo("hub/library/alpine", team), "3.20")),
            std::nullopt);
  EXPECT_EQ(MUST(upstream().tag_validated_at(alpine, "3.20 ")), std::nullopt);

  // Unknown repositories have no checks and take none.
  EXPECT_EQ(MUST(upstream().tag_validated_at(repo("missing"), "3.20")), std::nullopt);
  EXPECT_EQ(error_of(upstream().set_tag_validated_at(repo("missing"), "3.20", 1)), Errc::not_found);
  EXPECT_EQ(error_of(upstream().set_tag_validated_at(repo("hub/library/alpine", 999), "3.20", 1)),
            Errc::not_found);

  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(upstream().tag_validated_at(alpine, "3.20")), 1'700'000'500);
}

TEST_P(UpstreamStoreConformance, DeletingARepositoryForgetsItsCachedTags) {
  const RepositoryRef alpine = repo("hub/library/alpine");
  MUST(store().link_blob(alpine, oci::digest_of("layer"), 5));
  MUST(store().link_blob(repo("hub/library/busybox"), oci::digest_of("layer"), 5));
  MUST(upstream().set_tag_validated_at(alpine, "3.20", 1'700'000'000));
  MUST(upstream().set_tag_validated_at(repo("hub/library/busybox"), "1", 1'700'000'000));

  ASSERT_TRUE(MUST(store().delete_repository(alpine)));
  EXPECT_EQ(MUST(upstream().tag_validated_at(alpine, "3.20")), std::nullopt);
  // A repository of the same name made again starts without checks.
  MUST(store().link_blob(alpine, oci::digest_of("layer"), 5));
  EXPECT_EQ(MUST(upstream().tag_validated_at(alpine, "3.20")), std::nullopt);
  EXPECT_EQ(MUST(upstream().tag_validated_at(repo("hub/library/busybox"), "1")), 1'700'000'000);
}

// --- what a registry's delete takes ---

TEST_P(UpstreamStoreConformance, DeletingARegistryTakesItsUpstreamState) {
  const RegistryId team = NEW_REGISTRY("team");
  const RegistryId other = NEW_REGISTRY("other");
  for (RegistryId registry : {team, other}) {
    MUST(upstream().create_credential_set(credential_set("hub", registry)));
    MUST(upstream().create_cache_rule(cache_rule("library", "hub/library/*", "hub", registry),
                                      kManyRules));
    MUST(upstream().create_cache_rule(cache_rule("anonymous", "mirror/*", "", registry),
                                      kManyRules));
    MUST(store().link_blob(repo("hub/library/alpine", registry), oci::digest_of("layer"), 5));
    MUST(upstream().set_tag_validated_at(repo("hub/library/alpine", registry), "3.20", 100));
    MUST(upstream().create_import(import_request("{}", registry)));
  }
  const ImportJob team_job = MUST(upstream().list_imports(team, std::nullopt, 10)).at(0);

  ASSERT_TRUE(MUST(store().delete_registry(team)));
  // The registry is unknown now: its sets and rules with it.
  EXPECT_EQ(error_of(upstream().list_credential_sets(team)), Errc::not_found);
  EXPECT_EQ(error_of(upstream().list_cache_rules(team)), Errc::not_found);
  EXPECT_TRUE(MUST(upstream().list_imports(team, std::nullopt, 10)).empty());
  EXPECT_EQ(MUST(upstream().find_import(team, team_job.id)), std::nullopt);
  EXPECT_EQ(MUST(upstream().tag_validated_at(repo("hub/library/alpine", team), "3.20")),
            std::nullopt);
  // Nothing of it is left for a job claimer to find.
  std::optional<ImportJob> claimed = MUST(upstream().claim_import("node-a", 200, 0));
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->registry, other);
  EXPECT_EQ(MUST(upstream().claim_import("node-a", 200, 0)), std::nullopt);

  // The other registry keeps all of its own.
  EXPECT_EQ(MUST(upstream().list_credential_sets(other)),
            std::vector<CredentialSet>{credential_set("hub", other)});
  EXPECT_EQ(names_of(MUST(upstream().list_cache_rules(other))),
            (std::vector<std::string>{"anonymous", "library"}));
  EXPECT_EQ(MUST(upstream().tag_validated_at(repo("hub/library/alpine", other), "3.20")), 100);

  // A registry made again under the name starts empty.
  const RegistryId again = NEW_REGISTRY("team");
  EXPECT_TRUE(MUST(upstream().list_credential_sets(again)).empty());
  EXPECT_TRUE(MUST(upstream().list_cache_rules(again)).empty());
}

// --- import jobs ---

TEST_P(UpstreamStoreConformance, AnImportRunsFromQueuedToItsEnd) {
  const ImportJob created =
      MUST(upstream().create_import(import_request(R"({"source":"docker.io/library/alpine"})")));
  EXPECT_GT(created.id, 0);
  EXPECT_EQ(created.status, ImportStatus::queued);
  EXPECT_EQ(created.request, R"({"source":"docker.io/library/alpine"})");
  EXPECT_EQ(created.sealed_credentials, "v1:sealed-login");
  EXPECT_EQ(created.holder, "");
  EXPECT_EQ(created.created_at, 1'700'000'000);
  EXPECT_EQ(created.started_at, 0);
  EXPECT_EQ(created.finished_at, 0);
  EXPECT_EQ(MUST(upstream().find_import(kDefaultRegistryId, created.id)), created);
  // Jobs are found within their registry only.
  const RegistryId team = NEW_REGISTRY("team");
  EXPECT_EQ(MUST(upstream().find_import(team, created.id)), std::nullopt);

  std::optional<ImportJob> claimed = MUST(upstream().claim_import("node-a", 1'700'000'010, 0));
  ASSERT_TRUE(claimed.has_value());
  ImportJob running = created;
  running.status = ImportStatus::running;
  running.holder = "node-a";
  running.heartbeat_at = 1'700'000'010;
  running.started_at = 1'700'000'010;
  EXPECT_EQ(*claimed, running);
  EXPECT_EQ(MUST(upstream().claim_import("node-b", 1'700'000'011, 0)), std::nullopt);

  const ImportProgress progress{
      .bytes_total = 5'000'000'000, .bytes_done = 1'000, .blobs_total = 3, .blobs_done = 1};
  EXPECT_TRUE(
      MUST(upstream().record_import_progress(created.id, "node-a", progress, 1'700'000'020)));
  running.progress = progress;
  running.heartbeat_at = 1'700'000'020;
  EXPECT_EQ(MUST(upstream().find_import(kDefaultRegistryId, created.id)), running);

  EXPECT_TRUE(MUST(upstream().finish_import(created.id, "node-a", ImportStatus::succeeded,
                                            R"({"digest":"sha256:abc"})", "", 1'700'000'030)));
  std::optional<ImportJob> ended = MUST(upstream().find_import(kDefaultRegistryId, created.id));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, ImportStatus::succeeded);
  EXPECT_EQ(ended->result, R"({"digest":"sha256:abc"})");
  EXPECT_EQ(ended->error, "");
  EXPECT_EQ(ended->finished_at, 1'700'000'030);
  EXPECT_EQ(ended->sealed_credentials, "") << "the login is forgotten when the job ends";
  EXPECT_EQ(ended->progress, progress);
  EXPECT_EQ(ended->holder, "node-a");
  EXPECT_EQ(ended->started_at, 1'700'000'010);

  // An ended job takes no more progress, no second end, and is not claimed again.
  const ImportJob settled = *ended;
  EXPECT_FALSE(MUST(upstream().record_import_progress(created.id, "node-a", {}, 1'700'000'040)));
  EXPECT_FALSE(MUST(upstream().finish_import(created.id, "node-a", ImportStatus::failed, "",
                                             "again", 1'700'000'040)));
  EXPECT_EQ(MUST(upstream().claim_import("node-b", 1'800'000'000, 1'800'000'000)), std::nullopt);
  EXPECT_EQ(MUST(upstream().find_import(kDefaultRegistryId, created.id)), settled);

  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(upstream().find_import(kDefaultRegistryId, created.id)), settled);
}

TEST_P(UpstreamStoreConformance, AFailedImportKeepsItsErrorExactly) {
  const ImportJob job = MUST(upstream().create_import(import_request("")));
  EXPECT_EQ(job.request, "");
  ASSERT_TRUE(MUST(upstream().claim_import("node-a", 10, 0)).has_value());
  const std::string error =
      "upstream said: 401 Unauthorized \xe2\x80\x94 \"bad token\"\n\ttry again";
  EXPECT_TRUE(
      MUST(upstream().finish_import(job.id, "node-a", ImportStatus::failed, "", error, 20)));
  std::optional<ImportJob> ended = MUST(upstream().find_import(kDefaultRegistryId, job.id));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, ImportStatus::failed);
  EXPECT_EQ(ended->error, error);
  EXPECT_EQ(ended->result, "");
  EXPECT_EQ(ended->sealed_credentials, "");
}

TEST_P(UpstreamStoreConformance, CreatingAnImportIgnoresWhatIsNotARequest) {
  ImportJob asked = import_request("{}");
  asked.id = 12345;
  asked.status = ImportStatus::succeeded;
  asked.holder = "node-z";
  asked.heartbeat_at = 99;
  asked.progress = {.bytes_total = 1, .bytes_done = 1, .blobs_total = 1, .blobs_done = 1};
  asked.result = "done";
  asked.error = "failed";
  asked.started_at = 5;
  asked.finished_at = 6;
  const ImportJob created = MUST(upstream().create_import(asked));
  EXPECT_NE(created.id, 12345);
  ImportJob expected = import_request("{}");
  expected.id = created.id;
  EXPECT_EQ(created, expected);

  ImportJob now = import_request("{}");
  now.created_at = 0;
  const std::int64_t before = unix_now();
  const ImportJob stamped = MUST(upstream().create_import(now));
  EXPECT_GE(stamped.created_at, before);
  EXPECT_LE(stamped.created_at, unix_now());
  EXPECT_GT(stamped.id, created.id);

  EXPECT_EQ(error_of(upstream().create_import(import_request("{}", 999))), Errc::not_found);
}

TEST_P(UpstreamStoreConformance, OnlyTheHolderRecordsProgressOrEndsAJob) {
  const ImportJob job = MUST(upstream().create_import(import_request("{}")));
  // A queued job has no holder to speak for it.
  EXPECT_FALSE(MUST(upstream().record_import_progress(job.id, "node-a", {}, 5)));
  EXPECT_FALSE(MUST(upstream().finish_import(job.id, "node-a", ImportStatus::failed, "", "x", 5)));
  EXPECT_EQ(MUST(upstream().find_import(kDefaultRegistryId, job.id)), job);

  ASSERT_TRUE(MUST(upstream().claim_import("node-a", 10, 0)).has_value());
  const ImportJob running = MUST(upstream().find_import(kDefaultRegistryId, job.id)).value();
  EXPECT_FALSE(MUST(upstream().record_import_progress(
      job.id, "node-b", {.bytes_total = 9, .bytes_done = 9, .blobs_total = 9, .blobs_done = 9},
      20)));
  EXPECT_FALSE(
      MUST(upstream().finish_import(job.id, "node-b", ImportStatus::succeeded, "{}", "", 20)));
  EXPECT_FALSE(MUST(upstream().record_import_progress(job.id + 1000, "node-a", {}, 20)));
  EXPECT_EQ(MUST(upstream().find_import(kDefaultRegistryId, job.id)), running);

  // Malformed calls are refused before anything is read.
  EXPECT_EQ(error_of(upstream().finish_import(job.id, "node-a", ImportStatus::running, "", "", 20)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(upstream().finish_import(job.id, "node-a", ImportStatus::queued, "", "", 20)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(upstream().claim_import("", 20, 0)), Errc::invalid_argument);
  EXPECT_EQ(error_of(upstream().record_import_progress(job.id, "", {}, 20)),
            Errc::invalid_argument);
  EXPECT_EQ(MUST(upstream().find_import(kDefaultRegistryId, job.id)), running);
}

TEST_P(UpstreamStoreConformance, AStaleJobIsTakenOverAndTheFirstHolderLosesIt) {
  const ImportJob job = MUST(upstream().create_import(import_request("{}")));
  ASSERT_TRUE(MUST(upstream().claim_import("node-a", 100, 0)).has_value());
  ASSERT_TRUE(MUST(upstream().record_import_progress(
      job.id, "node-a", {.bytes_total = 10, .bytes_done = 5, .blobs_total = 2, .blobs_done = 1},
      150)));

  // Its heartbeat (150) is not older than the cutoff: it is still running on node-a.
  EXPECT_EQ(MUST(upstream().claim_import("node-b", 160, 150)), std::nullopt);

  // node-a stopped renewing: node-b takes it over, and it runs again from the start.
  std::optional<ImportJob> taken = MUST(upstream().claim_import("node-b", 400, 151));
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->id, job.id);
  EXPECT_EQ(taken->status, ImportStatus::running);
  EXPECT_EQ(taken->holder, "node-b");
  EXPECT_EQ(taken->heartbeat_at, 400);
  EXPECT_EQ(taken->started_at, 400);
  EXPECT_EQ(taken->progress, ImportProgress{});
  EXPECT_EQ(taken->sealed_credentials, job.sealed_credentials);

  // node-a comes back: it no longer runs the job, and changes nothing.
  EXPECT_FALSE(MUST(upstream().record_import_progress(
      job.id, "node-a", {.bytes_total = 10, .bytes_done = 10, .blobs_total = 2, .blobs_done = 2},
      410)));
  EXPECT_FALSE(
      MUST(upstream().finish_import(job.id, "node-a", ImportStatus::succeeded, "{}", "", 410)));
  EXPECT_EQ(MUST(upstream().find_import(kDefaultRegistryId, job.id)), taken);

  EXPECT_TRUE(
      MUST(upstream().finish_import(job.id, "node-b", ImportStatus::succeeded, "{}", "", 420)));
}

TEST_P(UpstreamStoreConformance, QueuedJobsAreClaimedOldestFirst) {
  const RegistryId team = NEW_REGISTRY("team");
  std::vector<std::int64_t> created;
  for (int i = 0; i < 4; ++i) {
    // Registries alternate: the order is the jobs', whatever registry they are in.
    const RegistryId registry = i % 2 == 0 ? kDefaultRegistryId : team;
    created.push_back(
        MUST(upstream().create_import(import_request(numbered("job-", i), registry))).id);
  }
  EXPECT_TRUE(std::is_sorted(created.begin(), created.end()));
  EXPECT_EQ(std::set<std::int64_t>(created.begin(), created.end()).size(), created.size());

  // Claimed oldest first, whatever registry they are in.
  auto claim_ids = [&](const char* holder, std::int64_t now, std::int64_t stale_before, int n) {
    std::vector<std::int64_t> ids;
    for (int i = 0; i < n; ++i) {
      std::optional<ImportJob> job = MUST(upstream().claim_import(holder, now, stale_before));
      if (!job) break;
      ids.push_back(job->id);
    }
    return ids;
  };
  EXPECT_EQ(claim_ids("node-a", 100, 0, 2), (std::vector<std::int64_t>{created[0], created[1]}));
  // node-a stopped: its two jobs are stale, and older than the queued ones, so they come first.
  EXPECT_EQ(claim_ids("node-b", 500, 200, 5), created);
  EXPECT_EQ(MUST(upstream().claim_import("node-c", 500, 200)), std::nullopt);
}

TEST_P(UpstreamStoreConformance, ImportsAreListedNewestFirstInPages) {
  const RegistryId team = NEW_REGISTRY("team");
  std::vector<std::int64_t> mine;
  for (int i = 0; i < 5; ++i) {
    mine.push_back(MUST(upstream().create_import(import_request(numbered("mine-", i)))).id);
    MUST(upstream().create_import(import_request(numbered("theirs-", i), team)));
  }
  std::vector<std::int64_t> newest_first(mine.rbegin(), mine.rend());

  EXPECT_EQ(ids_of(MUST(upstream().list_imports(kDefaultRegistryId, std::nullopt, 100))),
            newest_first);
  const std::vector<ImportJob> first =
      MUST(upstream().list_imports(kDefaultRegistryId, std::nullopt, 2));
  ASSERT_EQ(ids_of(first), (std::vector<std::int64_t>{newest_first[0], newest_first[1]}));
  const std::vector<ImportJob> second =
      MUST(upstream().list_imports(kDefaultRegistryId, first.back().id, 2));
  EXPECT_EQ(ids_of(second), (std::vector<std::int64_t>{newest_first[2], newest_first[3]}));
  const std::vector<ImportJob> third =
      MUST(upstream().list_imports(kDefaultRegistryId, second.back().id, 2));
  EXPECT_EQ(ids_of(third), (std::vector<std::int64_t>{newest_first[4]}));
  EXPECT_TRUE(MUST(upstream().list_imports(kDefaultRegistryId, third.back().id, 2)).empty());
  EXPECT_TRUE(MUST(upstream().list_imports(kDefaultRegistryId, std::nullopt, 0)).empty());
  EXPECT_EQ(first.front(), MUST(upstream().find_import(kDefaultRegistryId, mine.back())));

  EXPECT_EQ(MUST(upstream().list_imports(team, std::nullopt, 100)).size(), 5u);
  EXPECT_TRUE(MUST(upstream().list_imports(999, std::nullopt, 100)).empty());
}

TEST_P(UpstreamStoreConformance, PruningForgetsJobsThatEndedBeforeTheCutoff) {
  const RegistryId team = NEW_REGISTRY("team");
  // Three ended jobs (at 100, 200 and 300, across registries), one running, one queued.
  std::vector<std::int64_t> ended;
  for (int i = 0; i < 3; ++i) {
    const RegistryId registry = i == 1 ? team : kDefaultRegistryId;
    const ImportJob job = MUST(upstream().create_import(import_request("{}", registry)));
    ASSERT_TRUE(MUST(upstream().claim_import("node-a", 50, 0)).has_value());
    ASSERT_TRUE(MUST(upstream().finish_import(
        job.id, "node-a", i == 2 ? ImportStatus::failed : ImportStatus::succeeded, "", "",
        100 * (i + 1))));
    ended.push_back(job.id);
  }
  const ImportJob running = MUST(upstream().create_import(import_request("{}")));
  ASSERT_TRUE(MUST(upstream().claim_import("node-a", 50, 0)).has_value());
  const ImportJob queued = MUST(upstream().create_import(import_request("{}")));

  // At most `limit`, the longest ended first.
  EXPECT_EQ(MUST(upstream().prune_imports(1'000, 1)), 1u);
  EXPECT_EQ(MUST(upstream().find_import(kDefaultRegistryId, ended[0])), std::nullopt);
  EXPECT_TRUE(MUST(upstream().find_import(team, ended[1])).has_value());
  // Only jobs that ended before the cutoff.
  EXPECT_EQ(MUST(upstream().prune_imports(300, 10)), 1u);
  EXPECT_EQ(MUST(upstream().find_import(team, ended[1])), std::nullopt);
  EXPECT_TRUE(MUST(upstream().find_import(kDefaultRegistryId, ended[2])).has_value());
  EXPECT_EQ(MUST(upstream().prune_imports(1'000, 0)), 0u);
  EXPECT_EQ(MUST(upstream().prune_imports(1'000, 10)), 1u);
  // Jobs that have not ended stay, however old.
  EXPECT_EQ(MUST(upstream().prune_imports(1'000'000, 10)), 0u);
  EXPECT_EQ(ids_of(MUST(upstream().list_imports(kDefaultRegistryId, std::nullopt, 10))),
            (std::vector<std::int64_t>{queued.id, running.id}));
  // A pruned job's id is not handed out again.
  EXPECT_GT(MUST(upstream().create_import(import_request("{}"))).id, queued.id);
}

// --- concurrent callers ---

// Threads on two stores (two nodes, or two processes on one file) create rules against one
// limit at once: exactly the limit's worth succeed, the others are told the limit is reached.
TEST_P(UpstreamStoreConformance, ConcurrentCreatesNeverPassTheLimit) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  constexpr int kCallers = 10;
  constexpr std::size_t kMax = 4;
  for (int round = 0; round < 3; ++round) {
    const RegistryId registry = NEW_REGISTRY(numbered("round-", round));
    std::vector<std::optional<Errc>> outcomes(kCallers);
    std::vector<std::string> unexpected(kCallers);
    std::latch start(kCallers);
    std::vector<std::thread> callers;
    for (int i = 0; i < kCallers; ++i) {
      UpstreamStore& node = i % 2 == 0 ? upstream() : static_cast<UpstreamStore&>(*other);
      callers.emplace_back([&, i] {
        const CacheRule rule =
            cache_rule(numbered("rule-", i), numbered("target-", i), "", registry);
        start.arrive_and_wait();
        auto created = node.create_cache_rule(rule, kMax);
        auto& outcome = outcomes[static_cast<std::size_t>(i)];
        if (!created) {
          outcome = created.error().code;
          if (outcome != Errc::limit_reached) {
            unexpected[static_cast<std::size_t>(i)] = created.error().message;
          }
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    const auto created =
        static_cast<std::size_t>(std::count(outcomes.begin(), outcomes.end(), std::nullopt));
    EXPECT_EQ(created, kMax) << "round " << round;
    for (int i = 0; i < kCallers; ++i) {
      EXPECT_EQ(unexpected[static_cast<std::size_t>(i)], "") << "round " << round << ", " << i;
    }
    EXPECT_EQ(MUST(upstream().list_cache_rules(registry)).size(), kMax) << "round " << round;
    EXPECT_EQ(MUST(other->list_cache_rules(registry)).size(), kMax) << "round " << round;
  }
}

// Threads on two stores claim the queued jobs at once until none is left: every job goes to
// exactly one of them.
TEST_P(UpstreamStoreConformance, ConcurrentClaimersTakeEachJobOnce) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  constexpr int kJobs = 24;
  constexpr int kClaimers = 6;
  std::set<std::int64_t> created;
  for (int i = 0; i < kJobs; ++i) {
    created.insert(MUST(upstream().create_import(import_request(numbered("job-", i)))).id);
  }
  std::mutex mutex;
  std::vector<std::pair<std::int64_t, std::string>> claims;  // guarded by mutex
  std::vector<std::string> errors;                           // guarded by mutex
  std::latch start(kClaimers);
  std::vector<std::thread> claimers;
  for (int c = 0; c < kClaimers; ++c) {
    UpstreamStore& node = c % 2 == 0 ? upstream() : static_cast<UpstreamStore&>(*other);
    claimers.emplace_back([&, c] {
      const std::string holder = numbered("node-", c);
      start.arrive_and_wait();
      for (;;) {
        auto claimed = node.claim_import(holder, 1'000, 0);
        std::lock_guard lock(mutex);
        if (!claimed) {
          errors.push_back(claimed.error().message);
          return;
        }
        if (!*claimed) return;
        claims.emplace_back((*claimed)->id, holder);
      }
    });
  }
  for (std::thread& claimer : claimers) claimer.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  std::set<std::int64_t> taken;
  for (const auto& [id, holder] : claims) {
    EXPECT_TRUE(taken.insert(id).second) << "job " << id << " claimed twice";
    // The job records the claimer that was told it has it.
    std::optional<ImportJob> job = MUST(upstream().find_import(kDefaultRegistryId, id));
    ASSERT_TRUE(job.has_value());
    EXPECT_EQ(job->holder, holder) << "job " << id;
    EXPECT_EQ(job->status, ImportStatus::running);
  }
  EXPECT_EQ(taken, created);
}

// Stale jobs too: claimers on two stores take over jobs whose holder stopped, each once.
TEST_P(UpstreamStoreConformance, ConcurrentTakeoversTakeEachStaleJobOnce) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  constexpr int kJobs = 12;
  constexpr int kClaimers = 4;
  for (int i = 0; i < kJobs; ++i) MUST(upstream().create_import(import_request("{}")));
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(MUST(upstream().claim_import("gone", 100, 0)).has_value());
  }
  std::mutex mutex;
  std::vector<std::int64_t> claimed;  // guarded by mutex
  int failures = 0;                   // guarded by mutex
  std::latch start(kClaimers);
  std::vector<std::thread> claimers;
  for (int c = 0; c < kClaimers; ++c) {
    UpstreamStore& node = c % 2 == 0 ? upstream() : static_cast<UpstreamStore&>(*other);
    claimers.emplace_back([&, c] {
      start.arrive_and_wait();
      for (;;) {
        auto job = node.claim_import(numbered("node-", c), 1'000, 500);
        std::lock_guard lock(mutex);
        if (!job) {
          ++failures;
          return;
        }
        if (!*job) return;
        claimed.push_back((*job)->id);
      }
    });
  }
  for (std::thread& claimer : claimers) claimer.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(),
            static_cast<std::size_t>(kJobs));
}

}  // namespace
}  // namespace berth::metadata
