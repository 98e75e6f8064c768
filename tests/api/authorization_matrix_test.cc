// The authorization matrix: every route berthd serves (data plane, token service, management,
// /healthz, /metrics) against every kind of caller, through the real HTTP stack, with the expected
// answer: allowed (the handler ran), 401 (authenticate) or 403 (denied). The rows are written
// out by hand, one per route name; a route without a row, or a row without a route, fails.
//
// Then the leaks the matrix cannot see: what the catalog lists, cross-repository mounts, and
// that a denial reads the same whether the repository exists or not.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <map>
#include <set>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "api/api_test_support.h"
#include "auth/authenticator.h"
#include "auth/encoding.h"
#include "auth/secrets.h"
#include "auth/token_signer.h"
#include "common/clock.h"
#include "metadata/sqlite_metadata_store.h"
#include "support/route_tables.h"

namespace berth::testing {
namespace {

namespace json = boost::json;

// The callers, one column each.
enum Column {
  kAnonymous,
  kAdminToken,     // the deployment administrator token (Bearer)
  kAdminUser,      // the registry's admin user (Basic)
  kNarrowToken,    // a token whose scope map reads team/app only (Basic)
  kDisabledToken,  // a disabled token's right password (Basic)
  kExpiredToken,   // a token password past its expiry (Basic)
  kUserPull,       // users with one role on the registry (Basic: id + secret)
  kUserPush,
  kUserDelete,
  kUserReader,
  kUserContributor,
  kUserOwner,
  kNarrowJwt,      // an access token from the token service for the narrow token
  kForgedJwt,      // that token with its claims changed (the signature no longer fits)
  kExpiredJwt,     // signed with the registry's key, expired
  kOtherRegistryJwt,
  kUnknownKidJwt,  // signed by a key berthd does not know
  kUserSigner,     // a user with AcrImageSigner
  kColumns
};

constexpr const char* kColumnNames[kColumns] = {
    "anonymous",  "admin-token", "admin-user", "narrow-token", "disabled-token", "expired-token",
    "AcrPull",    "AcrPush",     "AcrDelete",  "Reader",       "Contributor",    "Owner",
    "narrow-jwt", "forged-jwt",  "expired-jwt", "other-registry-jwt", "unknown-kid-jwt",
    "AcrImageSigner"};

// Expected answers, a character per column: A allowed (the handler ran: neither 401 nor 403
// nor a server error), U 401 with a challenge, D 403.
constexpr const char* kPull = "UAAAUUAADAAAAUUUUA";
constexpr const char* kPush = "UAADUUDADDAADUUUUD";
constexpr const char* kDelete = "UAADUUDDADAADUUUUD";
constexpr const char* kBase = "UAAAUUAAAAAAAUUUUA";
// metadata_read: every role that pulls has it (AcrDelete too); the narrow scope map reads
// content only.
constexpr const char* kMetadataRead = "UAADUUAAAAAADUUUUA";
constexpr const char* kMetadataWrite = "UAADUUDADDAADUUUUD";
constexpr const char* kEveryone = "AAAAAAAAAAAAAAAAAA";
constexpr const char* kTokenGet = "AUAAUUAAAAAAUUUUUA";  // Basic or nothing; Bearer is refused
constexpr const char* kAdminOnly = "UAUUUUDDDDDDUUUUUD";
constexpr const char* kRegistryRead = "UAUUUUDDDAAAUUUUUD";
constexpr const char* kRegistryWrite = "UAUUUUDDDDAAUUUUUD";
constexpr const char* kRegistryOwn = "UAUUUUDDDDDAUUUUUD";

const std::map<std::string, std::string> kMatrix = {
    {"healthz", kEveryone},
    {"metrics", kEveryone},  // the test's client is on loopback (metrics_api_test: the others)
    {"base", kBase},
    {"catalog.list", kPull},
    {"tags.list", kPull},
    {"referrers.list", kPull},
    {"manifest.get", kPull},
    {"manifest.head", kPull},
    {"manifest.put", kPush},
    {"manifest.delete", kDelete},
    {"upload.start", kPush},
    {"upload.status", kPush},
    {"upload.patch", kPush},
    {"upload.finish", kPush},
    {"upload.cancel", kPush},
    {"blob.get", kPull},
    {"blob.head", kPull},
    {"blob.delete", kDelete},
    {"acr.catalog.list", kPull},
    {"acr.repository.show", kMetadataRead},
    {"acr.repository.update", kMetadataWrite},  // the empty body: 400 from the handler
    {"acr.repository.delete", kDelete},         // of team/none: 404 from the handler
    {"acr.tags.list", kMetadataRead},
    {"acr.tag.show", kMetadataRead},
    {"acr.tag.update", kMetadataWrite},
    {"acr.tag.delete", kDelete},  // a digest names no tag: 404 from the handler
    {"acr.manifests.list", kMetadataRead},
    {"acr.manifest.show", kMetadataRead},
    {"acr.manifest.update", kMetadataWrite},
    {"oauth2.token", kTokenGet},
    {"oauth2.token.post", kEveryone},  // no form: 400 from the handler, for everyone
    {"oauth2.exchange", kEveryone},
    {"mgmt.openapi", kEveryone},
    {"mgmt.tiers.list", kAdminOnly},
    {"mgmt.registries.list", kAdminOnly},
    {"mgmt.registries.create", kAdminOnly},
    {"mgmt.registries.show", kRegistryRead},
    {"mgmt.registries.update", kRegistryWrite},
    {"mgmt.registries.delete", kRegistryOwn},
    {"mgmt.registries.usage", kRegistryRead},
    {"mgmt.registries.health", kRegistryRead},
    {"mgmt.repositories.list", kRegistryRead},
    {"mgmt.repositories.show", kRegistryRead},
    {"mgmt.repositories.delete", kRegistryWrite},
    {"mgmt.tags.list", kRegistryRead},
    {"mgmt.tags.delete", kRegistryWrite},
    {"mgmt.manifests.list", kRegistryRead},
    {"mgmt.manifests.show", kRegistryRead},
    {"mgmt.manifests.delete", kRegistryWrite},
    {"mgmt.repositories.update", kRegistryWrite},  // the empty body: 400 from the handler
    {"mgmt.tags.update", kRegistryWrite},
    {"mgmt.manifests.update", kRegistryWrite},
    {"mgmt.credentials.show", kRegistryWrite},
    {"mgmt.credentials.renew", kRegistryWrite},
    {"mgmt.scopemaps.list", kRegistryRead},
    {"mgmt.scopemaps.create", kRegistryWrite},
    {"mgmt.scopemaps.show", kRegistryRead},
    {"mgmt.scopemaps.update", kRegistryWrite},
    {"mgmt.scopemaps.delete", kRegistryWrite},
    {"mgmt.tokens.list", kRegistryRead},
    {"mgmt.tokens.create", kRegistryWrite},
    {"mgmt.tokens.credentials.generate", kRegistryWrite},
    {"mgmt.tokens.show", kRegistryRead},
    {"mgmt.tokens.update", kRegistryWrite},
    {"mgmt.tokens.delete", kRegistryWrite},
    {"mgmt.networkrules.list", kRegistryRead},
    {"mgmt.networkrules.add", kRegistryWrite},
    {"mgmt.networkrules.remove", kRegistryWrite},
    {"mgmt.audit.logins", kRegistryRead},
    {"mgmt.audit.events", kRegistryRead},
    {"mgmt.webhooks.list", kRegistryRead},
    {"mgmt.webhooks.create", kRegistryWrite},
    {"mgmt.webhooks.show", kRegistryRead},
    {"mgmt.webhooks.update", kRegistryWrite},
    {"mgmt.webhooks.delete", kRegistryWrite},
    {"mgmt.webhooks.ping", kRegistryWrite},
    {"mgmt.webhooks.config", kRegistryWrite},
    {"mgmt.webhooks.events", kRegistryRead},
    {"mgmt.webhooks.redeliver", kRegistryWrite},
    {"mgmt.identities.list", kAdminOnly},
    {"mgmt.identities.create", kAdminOnly},
    {"mgmt.identities.show", kAdminOnly},
    {"mgmt.identities.delete", kAdminOnly},
    {"mgmt.roleassignments.list", kAdminOnly},
    {"mgmt.roleassignments.create", kAdminOnly},
    {"mgmt.roleassignments.delete", kAdminOnly},
    {"mgmt.signingkeys.list", kAdminOnly},
    {"mgmt.signingkeys.rotate", kAdminOnly},
    {"mgmt.gc.start", kAdminOnly},
    {"mgmt.gc.runs.list", kAdminOnly},
    {"mgmt.gc.runs.show", kAdminOnly},
    {"mgmt.registries.gc.start", kRegistryWrite},
    {"mgmt.registries.gc.runs.list", kRegistryRead},
    {"mgmt.registries.gc.runs.show", kRegistryRead},
    {"mgmt.policies.soft_delete.show", kRegistryRead},
    {"mgmt.policies.soft_delete.update", kRegistryWrite},
    {"mgmt.policies.retention.show", kRegistryRead},
    {"mgmt.policies.retention.update", kRegistryWrite},
    {"mgmt.policies.retention.run", kRegistryWrite},
    {"mgmt.quota.show", kRegistryRead},
    {"mgmt.quota.update", kRegistryWrite},
    {"mgmt.deleted_repositories.list", kRegistryRead},
    {"mgmt.purge.run", kRegistryWrite},
    {"mgmt.purge_schedules.list", kRegistryRead},
    {"mgmt.credential_sets.list", kRegistryRead},
    {"mgmt.credential_sets.create", kRegistryWrite},
    {"mgmt.credential_sets.show", kRegistryRead},
    {"mgmt.credential_sets.update", kRegistryWrite},
    {"mgmt.credential_sets.delete", kRegistryWrite},
    {"mgmt.cache_rules.list", kRegistryRead},
    {"mgmt.cache_rules.create", kRegistryWrite},
    {"mgmt.cache_rules.show", kRegistryRead},
    {"mgmt.cache_rules.update", kRegistryWrite},
    {"mgmt.cache_rules.delete", kRegistryWrite},
    {"mgmt.imports.start", kRegistryWrite},
    {"mgmt.imports.list", kRegistryRead},
    {"mgmt.imports.show", kRegistryRead},
    {"mgmt.sources.upload", kRegistryWrite},  // the empty body: 400 DigestMismatch
    {"mgmt.runs.queue", kRegistryWrite},      // the empty body: 400 from the handler
    {"mgmt.runs.list", kRegistryRead},
    {"mgmt.runs.show", kRegistryRead},        // of cb999999: 404 from the service
    {"mgmt.runs.cancel", kRegistryWrite},
    {"mgmt.runs.log", kRegistryRead},
    {"mgmt.purge_schedules.put", kRegistryWrite},
    {"mgmt.purge_schedules.delete", kRegistryWrite},
    {"mgmt.repositories.quota.show", kRegistryRead},
    {"mgmt.repositories.quota.update", kRegistryWrite},
    {"mgmt.deleted_manifests.list", kRegistryRead},
    {"mgmt.deleted_tags.list", kRegistryRead},
    {"mgmt.manifests.restore", kRegistryWrite},
};

std::string base64(std::string_view in) { return auth::detail::base64_encode(in); }

std::string basic(std::string_view user, std::string_view password) {
  std::string pair(user);
  pair += ':';
  pair += password;
  std::string header = "Authorization: Basic ";
  header += base64(pair);
  return header;
}

std::string bearer(std::string_view token) {
  std::string header = "Authorization: Bearer ";
  header += token;
  return header;
}

json::value parse(const HttpResponse& r) {
  boost::system::error_code ec;
  auto value = json::parse(r.body, ec);
  if (ec) ADD_FAILURE() << "not JSON: " << r.body;
  return value;
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

const std::string kMissingDigest = "sha256:" + std::string(64, 'e');

class AuthorizationMatrix : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    push_content();
    make_tokens();
    make_users();
    make_jwts();
  }

  HttpResponse admin(std::string_view method, const std::string& path, std::string_view body = {}) {
    auto r = client().request(method, path, body, {"Content-Type: application/json"});
    EXPECT_LT(r.status, 300) << method << ' ' << path << ": " << r.body;
    return r;
  }

  void push_content() {
    for (const std::string repo : {"team/app", "other/app"}) {
      std::string manifest = make_image(repo, repo);
      ASSERT_EQ(put_manifest(repo, "v1", manifest).status, 201);
      manifest_digest_ = sha256(manifest);
    }
    config_digest_ = sha256(R"({"architecture":"amd64","os":"linux","seed":"team/app"})");
    auto credentials = parse(admin("GET", "/mgmt/v1/registries/default/credentials"));
    admin_password_ = str(credentials.at("passwords").at(0).at("value"));
  }

  std::string token_password(const std::string& body) {
    auto token = parse(admin("POST", "/mgmt/v1/registries/default/tokens", body));
    return str(token.at("credentials").at("passwords").at(0).at("value"));
  }

  void make_tokens() {
    admin("POST", "/mgmt/v1/registries/default/scope-maps",
          R"({"name":"teamread","actions":["repositories/team/app/content/read"]})");
    admin("POST", "/mgmt/v1/registries/default/scope-maps",
          R"({"name":"teampush","actions":["repositories/team/*/content/read",
              "repositories/team/*/content/write"]})");
    narrow_password_ = token_password(R"({"name":"narrow","scopeMapName":"teamread"})");
    team_push_password_ = token_password(R"({"name":"teampusher","scopeMapName":"teampush"})");
    disabled_password_ =
        token_password(R"({"name":"disabled","scopeMapName":"_repositories_admin","status":"disabled"})");
    expiring_at_ = unix_now() + 2;
    admin("POST", "/mgmt/v1/registries/default/tokens",
          R"({"name":"expiring","scopeMapName":"_repositories_admin","noPasswords":true})");
    auto generated = parse(admin(
        "POST", "/mgmt/v1/registries/default/tokens/expiring/credentials/generate",
        fmt::format(R"({{"passwordName":"password1","expiry":"{}"}})",
                    format_rfc3339(expiring_at_))));
    expired_password_ = str(generated.at("passwords").at(0).at("value"));
  }

  void make_users() {
    const std::pair<Column, const char*> roles[] = {
        {kUserPull, "AcrPull"},         {kUserPush, "AcrPush"},
        {kUserDelete, "AcrDelete"},     {kUserReader, "Reader"},
        {kUserContributor, "Contributor"}, {kUserOwner, "Owner"},
        {kUserSigner, "AcrImageSigner"}};
    for (const auto& [column, role] : roles) {
      auto identity = parse(admin("POST", "/mgmt/v1/identities",
                                  fmt::format(R"({{"name":"user-{}","kind":"user"}})", role)));
      std::string id = str(identity.at("id"));
      users_[column] = {id, str(identity.at("secret"))};
      admin("POST", "/mgmt/v1/role-assignments",
            fmt::format(R"({{"assignee":"{}","role":"{}","scope":"/registries/default"}})", id,
                        role));
    }
  }

  void make_jwts() {
    auto token = client().get(
        "/oauth2/token?service=default.registry.local&scope=repository:team/app:pull,push,delete"
        "&scope=registry:catalog:*",
        {basic("narrow", narrow_password_)});
    ASSERT_EQ(token.status, 200) << token.body;
    narrow_jwt_ = str(parse(token).at("access_token"));

    // The forged one: the narrow token's signature over claims that grant more.
    auto first = narrow_jwt_.find('.');
    auto second = narrow_jwt_.find('.', first + 1);
    std::string claims = decode_base64url(narrow_jwt_.substr(first + 1, second - first - 1));
    auto at = claims.find(R"("actions":["pull"])");
    ASSERT_NE(at, std::string::npos) << claims;
    claims.replace(at, 18, R"("actions":["pull","push","delete"])");
    forged_jwt_ = narrow_jwt_.substr(0, first + 1) + encode_base64url(claims) +
                  narrow_jwt_.substr(second);

    // Signed with berthd's own keys (read from its database, as another node would).
    auto other = parse(admin("POST", "/mgmt/v1/registries", R"({"name":"otherreg","tier":"Basic"})"));
    (void)other;
    auto store = metadata::SqliteMetadataStore::open(dir_.path() / "data" / "metadata.db");
    ASSERT_TRUE(store) << store.error().message;
    auto key = auth::DeploymentKey::open(dir_.path() / "data", std::nullopt);
    ASSERT_TRUE(key);
    auto keys = auth::SigningKeys::open(**store, *key);
    ASSERT_TRUE(keys);
    auto other_record = (*store)->find_registry("otherreg");
    ASSERT_TRUE(other_record && *other_record);

    auth::TokenClaims base;
    base.issuer = std::string(auth::kTokenIssuer);
    base.subject = "token:1:narrow";
    base.audience = "default.registry.local";
    base.issued_at = unix_now();
    base.not_before = base.issued_at;
    base.expires_at = base.issued_at + 300;
    base.id = "matrix";
    base.kind = auth::TokenKind::access;
    base.registry_id = metadata::kDefaultRegistryId;
    base.access = {{"repository", "team/app", {"pull", "push", "delete"}},
                   {"registry", "catalog", {"*"}}};

    auth::TokenClaims expired = base;
    expired.issued_at -= 1000;
    expired.not_before = expired.issued_at;
    expired.expires_at = unix_now() - 100;
    expired_jwt_ = auth::sign_token(*(*keys)->ring(), expired).value();

    auth::TokenClaims elsewhere = base;
    elsewhere.subject = "admin";
    elsewhere.audience = "otherreg.registry.local";
    elsewhere.registry_id = (*other_record)->id;
    other_registry_jwt_ = auth::sign_token(*(*keys)->ring(), elsewhere).value();

    auto stranger = auth::SigningKey::generate().value();
    auth::KeyRing stranger_ring({stranger});
    auth::TokenClaims admin_claims = base;
    admin_claims.subject = "admin";
    unknown_kid_jwt_ = auth::sign_token(stranger_ring, admin_claims).value();
  }

  static std::string decode_base64url(const std::string& text) {
    return auth::detail::base64url_decode(text).value_or("");
  }

  static std::string encode_base64url(std::string_view text) {
    return auth::detail::base64url_encode(text);
  }

  // The Authorization header of a column ("Authorization:" removes the default one).
  std::string credentials(Column column) {
    switch (column) {
      case kAnonymous: return "Authorization:";
      case kAdminToken: return bearer(kApiTestAdminToken);
      case kAdminUser: return basic("default", admin_password_);
      case kNarrowToken: return basic("narrow", narrow_password_);
      case kDisabledToken: return basic("disabled", disabled_password_);
      case kExpiredToken: return basic("expiring", expired_password_);
      case kNarrowJwt: return bearer(narrow_jwt_);
      case kForgedJwt: return bearer(forged_jwt_);
      case kExpiredJwt: return bearer(expired_jwt_);
      case kOtherRegistryJwt: return bearer(other_registry_jwt_);
      case kUnknownKidJwt: return bearer(unknown_kid_jwt_);
      default: {
        const auto& user = users_.at(column);
        return basic(user.first, user.second);
      }
    }
  }

  // A request path for a route pattern that names things which exist where reading them is
  // the point, and things which do not where changing them would alter the other rows.
  std::string concrete(const http::Route& route) const {
    bool removes = route.method == "DELETE";
    const std::pair<std::string, std::string> values[] = {
        {"{name+}", route.name == "acr.repository.delete" ? "team/none" : "team/app"},
        {"{repository+}", removes ? "team/none" : "team/app"},
        {"{registry}", "default"},
        {"{reference}", removes ? kMissingDigest : "v1"},
        {"{digest}", removes ? kMissingDigest
                             : (route.name == "blob.get" || route.name == "blob.head"
                                    ? config_digest_
                                    : manifest_digest_)},
        {"{uuid}", "no-such-upload"},
        {"{tag}", "nosuchtag"},
        {"{name}", "nosuchname"},
        {"{id}", "nosuchid"},
        {"{eventId}", "nosuchevent"},
        {"{runId}", "cb999999"},
    };
    std::string path = route.pattern;
    for (const auto& [param, value] : values) {
      for (auto at = path.find(param); at != std::string::npos; at = path.find(param)) {
        path.replace(at, param.size(), value);
      }
    }
    return path;
  }

  std::string admin_password_, narrow_password_, team_push_password_, disabled_password_,
      expired_password_;
  std::map<int, std::pair<std::string, std::string>> users_;  // column -> id, secret
  std::string narrow_jwt_, forged_jwt_, expired_jwt_, other_registry_jwt_, unknown_kid_jwt_;
  std::string manifest_digest_, config_digest_;
  std::int64_t expiring_at_ = 0;
};

// Reaches the fixture's base64url decoder from free functions.
struct AuthorizationMatrixKid : AuthorizationMatrix {
  static std::string decode(const std::string& text) { return decode_base64url(text); }
};

char verdict_of(const HttpResponse& r) {
  if (r.status == 401) return 'U';
  if (r.status == 403) return 'D';
  if (r.status >= 500) return '!';
  return 'A';
}

TEST_F(AuthorizationMatrix, EveryRouteHasARowAndEveryRowARoute) {
  AllRoutes all;
  std::set<std::string> routed;
  for (const auto& route : all.router().routes()) {
    routed.insert(route.name);
    EXPECT_TRUE(kMatrix.contains(route.name))
        << "route " << route.name << " (" << route.method << ' ' << route.pattern
        << ") has no row in the authorization matrix";
  }
  routed.insert("healthz");  // served by berthd beside the API route tables
  routed.insert("metrics");
  for (const auto& [name, expected] : kMatrix) {
    EXPECT_TRUE(routed.contains(name)) << "matrix row " << name << " names no route";
    EXPECT_EQ(std::string(expected).size(), static_cast<std::size_t>(kColumns)) << name;
  }
}

TEST_F(AuthorizationMatrix, EveryRouteAnswersEachCallerAsTheMatrixSays) {
  // The expiring token's password is past its expiry by now.
  while (unix_now() <= expiring_at_) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  AllRoutes all;
  std::vector<http::Route> routes = all.router().routes();
  routes.push_back(http::Route{"GET", "/healthz", "healthz", "", {}});
  routes.push_back(http::Route{"GET", "/metrics", "metrics", "metrics", {}});
  std::size_t checked = 0;
  std::size_t expected_checks = 0;
  for (const auto& route : routes) {
    auto row = kMatrix.find(route.name);
    if (row == kMatrix.end()) continue;  // reported by the test above
    std::string path = concrete(route);
    expected_checks += kColumns;
    for (int column = 0; column < kColumns; ++column) {
      auto r = client().request(route.method, path, {},
                                {credentials(static_cast<Column>(column))});
      char expected = row->second[column];
      EXPECT_EQ(verdict_of(r), expected)
          << route.name << " (" << route.method << ' ' << path << ") as "
          << kColumnNames[column] << ": " << r.status << ' ' << r.body;
      if (r.status == 401 && path.starts_with("/v2/")) {
        EXPECT_TRUE(r.header("www-authenticate").starts_with("Bearer realm=\""))
            << route.name << " as " << kColumnNames[column];
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, expected_checks);
  EXPECT_GE(checked, kMatrix.size() * kColumns);
}

// ---------------------------------------------------------------- what the matrix cannot see

std::vector<std::string> catalog_of(HttpClient& client, const std::string& credentials) {
  auto r = client.get("/v2/_catalog", {credentials});
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<std::string> names;
  auto body = parse(r);
  if (!body.is_object()) return names;
  for (const auto& name : body.at("repositories").as_array()) {
    names.push_back(std::string(name.as_string()));
  }
  return names;
}

TEST_F(AuthorizationMatrix, TheCatalogListsOnlyWhatTheCallerMayRead) {
  EXPECT_EQ(catalog_of(client(), credentials(kNarrowToken)), std::vector<std::string>{"team/app"});
  EXPECT_EQ(catalog_of(client(), credentials(kNarrowJwt)), std::vector<std::string>{"team/app"});
  EXPECT_EQ(catalog_of(client(), credentials(kUserPull)),
            (std::vector<std::string>{"other/app", "team/app"}));
  EXPECT_EQ(catalog_of(client(), credentials(kAdminUser)),
            (std::vector<std::string>{"other/app", "team/app"}));
  // Paging through a filtered catalog: one name a page, no name of other/app.
  auto r = client().get("/v2/_catalog?n=1", {credentials(kNarrowToken)});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("other"), std::string::npos) << r.body;
}

TEST_F(AuthorizationMatrix, TheAcrCatalogListsOnlyWhatTheCallerMayRead) {
  auto names_of = [&](Column column, const std::string& query) {
    auto r = client().get("/acr/v1/_catalog" + query, {credentials(column)});
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> names;
    auto body = parse(r);
    if (!body.is_object()) return names;
    for (const auto& name : body.at("repositories").as_array()) names.push_back(str(name));
    return names;
  };
  EXPECT_EQ(names_of(kNarrowToken, ""), std::vector<std::string>{"team/app"});
  EXPECT_EQ(names_of(kNarrowJwt, ""), std::vector<std::string>{"team/app"});
  EXPECT_EQ(names_of(kUserPull, ""), (std::vector<std::string>{"other/app", "team/app"}));
  EXPECT_EQ(names_of(kUserPull, "?n=1"), std::vector<std::string>{"other/app"});
  EXPECT_EQ(names_of(kUserPull, "?n=1&last=other/app"), std::vector<std::string>{"team/app"});
}

TEST_F(AuthorizationMatrix, AMountFromARepositoryTheCallerCannotReadBecomesAnUpload) {
  std::string pusher = basic("teampusher", team_push_password_);
  // other/app's config blob, which team/new does not have.
  std::string other_config = sha256(R"({"architecture":"amd64","os":"linux","seed":"other/app"})");
  auto r = client().request(
      "POST", fmt::format("/v2/team/new/blobs/uploads/?mount={}&from=other/app", other_config), {},
      {pusher});
  EXPECT_EQ(r.status, 202) << r.body;  // an upload session, not the blob
  EXPECT_EQ(client().head(fmt::format("/v2/team/new/blobs/{}", other_config)).status, 404);
  // From a repository it may read, the same mount happens.
  r = client().request(
      "POST", fmt::format("/v2/team/new/blobs/uploads/?mount={}&from=team/app", config_digest_),
      {}, {pusher});
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(AuthorizationMatrix, ADenialReadsTheSameWhetherTheRepositoryExistsOrNot) {
  std::string narrow = credentials(kNarrowToken);
  auto existing = client().get("/v2/other/app/tags/list", {narrow});
  auto missing = client().get("/v2/other/none/tags/list", {narrow});
  // The answers differ only in the name asked for.
  auto without_name = [](std::string body, std::string_view name) {
    for (auto at = body.find(name); at != std::string::npos; at = body.find(name)) {
      body.replace(at, name.size(), "NAME");
    }
    return body;
  };
  EXPECT_EQ(existing.status, 403);
  EXPECT_EQ(missing.status, 403);
  EXPECT_EQ(without_name(existing.body, "other/app"), without_name(missing.body, "other/none"));
  EXPECT_EQ(existing.body.find("v1"), std::string::npos) << existing.body;
  auto manifest = client().get("/v2/other/app/manifests/v1", {narrow});
  auto no_manifest = client().get("/v2/other/none/manifests/v1", {narrow});
  EXPECT_EQ(manifest.status, 403);
  EXPECT_EQ(without_name(manifest.body, "other/app"), without_name(no_manifest.body, "other/none"));
}

TEST_F(AuthorizationMatrix, ATokenLackingAScopeItsPrincipalHoldsIsChallengedForIt) {
  // The admin user may push, but this access token was asked for pull only.
  auto token = client().get("/oauth2/token?service=default.registry.local"
                            "&scope=repository:team/app:pull",
                            {basic("default", admin_password_)});
  ASSERT_EQ(token.status, 200);
  std::string jwt = str(parse(token).at("access_token"));
  auto r = client().request("POST", "/v2/team/app/blobs/uploads/", {}, {bearer(jwt)});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.header("www-authenticate").find(R"(scope="repository:team/app:pull,push")"),
            std::string::npos)
      << r.header("www-authenticate");
  EXPECT_NE(r.header("www-authenticate").find(R"(error="insufficient_scope")"), std::string::npos);
}

}  // namespace
}  // namespace berth::testing

namespace berth::testing {
namespace {

TEST_F(AuthorizationMatrix, AnonymousPullGivesPullAndNothingElseOnTiersThatHaveIt) {
  // Basic has no anonymous pull: the switch is refused, nothing changes.
  ASSERT_EQ(client()
                .request("PATCH", "/mgmt/v1/registries/default", R"({"tier":"Basic"})",
                         {"Content-Type: application/json"})
                .status,
            200);
  auto refused = client().request("PATCH", "/mgmt/v1/registries/default",
                                  R"({"anonymousPullEnabled":true})",
                                  {"Content-Type: application/json"});
  EXPECT_GE(refused.status, 400);
  EXPECT_LT(refused.status, 500);
  const std::string anonymous = "Authorization:";
  EXPECT_EQ(client().get("/v2/team/app/manifests/v1", {anonymous}).status, 401);

  auto enabled = client().request("PATCH", "/mgmt/v1/registries/default",
                                  R"({"tier":"Standard","anonymousPullEnabled":true})",
                                  {"Content-Type: application/json"});
  ASSERT_EQ(enabled.status, 200) << enabled.body;
  EXPECT_EQ(client().get("/v2/team/app/manifests/v1", {anonymous}).status, 200);
  EXPECT_EQ(client().get("/v2/team/app/tags/list", {anonymous}).status, 200);
  EXPECT_EQ(client().request("HEAD", "/v2/other/app/manifests/v1", {}, {anonymous}).status, 200);
  // Nothing else: no push, no delete, and the token service grants only pull.
  EXPECT_EQ(client().request("POST", "/v2/team/app/blobs/uploads/", {}, {anonymous}).status, 401);
  EXPECT_EQ(client().request("DELETE", "/v2/team/app/manifests/" + kMissingDigest, {}, {anonymous})
                .status,
            401);
  auto token = client().get("/oauth2/token?service=default.registry.local"
                            "&scope=repository:team/app:pull,push,delete",
                            {anonymous});
  ASSERT_EQ(token.status, 200) << token.body;
  std::string jwt = str(parse(token).at("access_token"));
  EXPECT_EQ(client().get("/v2/team/app/manifests/v1", {bearer(jwt)}).status, 200);
  auto push = client().request("POST", "/v2/team/app/blobs/uploads/", {}, {bearer(jwt)});
  EXPECT_EQ(push.status, 401);  // anonymous: asked to log in, not denied
}

std::string kid_of(const std::string& jwt) {
  auto header = json::parse(
      AuthorizationMatrixKid::decode(jwt.substr(0, jwt.find('.'))));
  return std::string(header.at("kid").as_string());
}

TEST_F(AuthorizationMatrix, RotatingTheSigningKeyLogsNoOneOut) {
  auto before = client().get("/oauth2/token?service=default.registry.local"
                             "&scope=repository:team/app:pull",
                             {basic("default", admin_password_)});
  ASSERT_EQ(before.status, 200);
  std::string old_jwt = str(parse(before).at("access_token"));
  auto rotated = client().request("POST", "/mgmt/v1/signing-keys/rotate");
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  std::string new_kid = str(parse(rotated).at("kid"));
  EXPECT_NE(kid_of(old_jwt), new_kid);
  // The old token still works; new ones carry the new kid.
  EXPECT_EQ(client().get("/v2/team/app/manifests/v1", {bearer(old_jwt)}).status, 200);
  auto after = client().get("/oauth2/token?service=default.registry.local"
                            "&scope=repository:team/app:pull",
                            {basic("default", admin_password_)});
  std::string new_jwt = str(parse(after).at("access_token"));
  EXPECT_EQ(kid_of(new_jwt), new_kid);
  EXPECT_EQ(client().get("/v2/team/app/manifests/v1", {bearer(new_jwt)}).status, 200);
  auto keys = parse(client().get("/mgmt/v1/signing-keys"));
  ASSERT_GE(keys.at("keys").as_array().size(), 2u);
  EXPECT_EQ(str(keys.at("keys").at(0).at("kid")), new_kid);
  EXPECT_TRUE(keys.at("keys").at(0).at("active").as_bool());
}

}  // namespace
}  // namespace berth::testing
