// Fuzzes what clients send to authenticate (src/auth/credentials.h) and the JWT verifiers
// (src/auth/token_signer.h, src/auth/federation.h), and checks the properties the pipeline
// relies on: a parsed scope formats back to itself, parsed credentials hold no control
// characters, and a token only verifies within its issuer and time window.
//
// The whole input goes to every parser and verifier. An input holding a NUL is also read as
// "<JWKS document>\0<token>": the document is parsed and, when it holds keys, the token is
// verified against it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "auth/credentials.h"
#include "auth/federation.h"
#include "auth/token_signer.h"

namespace {

namespace auth = berth::auth;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool has_control(std::string_view text) {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return true;
  }
  return false;
}

// A fixed P-256 key, so the seed corpus can hold tokens it signed (fuzz/corpus/fuzz_auth).
constexpr std::string_view kRingKey = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSV7D6zLTcO7mTRur
H4vPnpy7MhXGuoQfOdqIl1S1TcehRANCAAQfhWDx2itAzcz9Ulx7b/JjLGsrfKBC
xNoxuOSCn32EbTbQOCiEPVNaUnZYAYlYH/5b9mG5+WE5LzjT97DQZqVb
-----END PRIVATE KEY-----
)";

// The public halves of an RSA and a P-256 key of a made-up external issuer.
constexpr std::string_view kJwks =
    R"({"keys":[)"
    R"({"kty":"RSA","kid":"rsa-1","use":"sig","alg":"RS256","n":"xl1oTmA48Dbd3rrakB5pTXT4W3vAQu)"
    R"(l4bOWtT7ROXM4PbLo6vcWPAwU7uSXgjce2jcQA_yfY4T3AqB9BoYiFWly6I-Jn4bWdN8g7f6fAsjiQgIG7bTvQDD)"
    R"(GSpj9HA91TKdO3dKtevBtRBYOpTFRSyn1UU_-ZrTCLfteBVXNOc3VuTjqgsIGyuVDzvk5Kaxq-f26lsHbKvXlXPh)"
    R"(u0AFjvgDvV01Rx8WEreTrC82nImpTfU8dk-Khv9Xq-JBRs-79Xe9Ryw7OYznsEUeFnqwEwWc4jL0-vrlsr7aDxag)"
    R"(OPzLOHbI3fSt_a3tR0hGQGBXoql-tQQLpmcjbXmE3NKXh-Dw","e":"AQAB"})"
    R"(,)"
    R"({"kty":"EC","kid":"ec-1","crv":"P-256","x":"v8ipqy9CQDitMFt8c1cJWmL1tfiwfyd5-hkddqeu75Y")"
    R"(,"y":"YqExIWgsZtWlD-lkJ2rXMUIqUNKz20C0KIckNrZzSv8"})"
    R"(]})";

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::string_view kIssuer = "berth-fuzz";
constexpr std::string_view kExternalIssuer = "https://issuer.test";
constexpr std::string_view kAudience = "berth";

const auth::KeyRing& ring() {
  static const auth::KeyRing ring({auth::SigningKey::from_private_pem(kRingKey).value()});
  return ring;
}

const auth::JwkSet& jwks() {
  static const auth::JwkSet keys = auth::JwkSet::parse(kJwks).value();
  return keys;
}

void fuzz_authorization(std::string_view input) {
  auto parsed = auth::parse_authorization(input);
  if (const auto* basic = std::get_if<auth::BasicCredentials>(&parsed)) {
    check(basic->username.find(':') == std::string::npos);
    check(!has_control(basic->username) && !has_control(basic->password));
    check(basic->username.size() + basic->password.size() < input.size());
  } else if (const auto* bearer = std::get_if<auth::BearerToken>(&parsed)) {
    check(!bearer->token.empty() && bearer->token.size() < input.size());
    check(bearer->token.find(' ') == std::string::npos && !has_control(bearer->token));
  } else {
    check(std::holds_alternative<auth::MalformedAuthorization>(parsed));
  }
}

void fuzz_scopes(std::string_view input) {
  if (auto scope = auth::parse_scope(input)) {
    check(!scope->name.empty() && !scope->actions.empty());
    check(auth::format_scope(*scope) == input);
  }
  std::vector<std::string_view> parameters;
  for (std::string_view rest = input;;) {
    auto end = rest.find('\0');
    parameters.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  if (auto scopes = auth::parse_scopes(parameters)) {
    for (const auth::Scope& scope : *scopes) {
      auto again = auth::parse_scope(auth::format_scope(scope));
      check(again && again->name == scope.name && again->actions == scope.actions);
    }
  }
}

void fuzz_token(std::string_view input) {
  auto claims = auth::verify_token(ring(), input, kIssuer, kNow);
  if (claims) {
    check(claims->issuer == kIssuer);
    check(claims->not_before - 30 <= kNow && kNow < claims->expires_at);
  }
}

void check_external(const auth::TokenResult<std::map<std::string, std::string>>& claims) {
  if (!claims) return;
  check(claims->count("exp") == 1);
  check(claims->at("iss") == "\"https://issuer.test\"");
}

void fuzz_external(std::string_view input) {
  check_external(auth::verify_external_token(jwks(), input, kExternalIssuer, kAudience, kNow));
  auto split = input.find('\0');
  std::string_view document = input.substr(0, split);
  auto keys = auth::JwkSet::parse(document);
  if (!keys) return;
  check(keys->size() > 0);
  if (split == std::string_view::npos) return;
  std::string_view token = input.substr(split + 1);
  check_external(auth::verify_external_token(*keys, token, kExternalIssuer, kAudience, kNow));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz_authorization(input);
  fuzz_scopes(input);
  fuzz_token(input);
  fuzz_external(input);
  return 0;
}
