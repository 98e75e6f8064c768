#include "auth/jwt_support.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <boost/json/parse.hpp>
#include <cstdlib>

#include "auth/encoding.h"

namespace berth::auth::detail {
namespace {

std::optional<boost::json::object> decode_json_object(std::string_view part) {
  auto text = base64url_decode(part);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  // Default parse options: no comments, no trailing commas, nesting depth limited to 32.
  boost::json::value value = boost::json::parse(*text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

}  // namespace

void MallocFree::operator()(char* text) const { std::free(text); }

TokenError token_error(TokenErrc code, std::string message) {
  return TokenError{code, std::move(message)};
}

TokenResult<UnverifiedJwt> decode_unverified(std::string_view jwt) {
  if (jwt.size() > kMaxTokenSize) return token_error(TokenErrc::malformed, "token too long");
  auto first = jwt.find('.');
  auto second = first == std::string_view::npos ? first : jwt.find('.', first + 1);
  if (second == std::string_view::npos || jwt.find('.', second + 1) != std::string_view::npos) {
    return token_error(TokenErrc::malformed, "not a JWT: it needs three dot-separated parts");
  }
  auto header = decode_json_object(jwt.substr(0, first));
  auto payload = decode_json_object(jwt.substr(first + 1, second - first - 1));
  std::string_view signature = jwt.substr(second + 1);
  // An empty signature passes here ("alg":"none" tokens have one) so that the algorithm check
  // names the refusal; no accepted algorithm verifies an empty signature.
  if (!header || !payload || !base64url_decode(signature)) {
    return token_error(TokenErrc::malformed,
                       "not a JWT: a part is not base64url or not a JSON object");
  }
  UnverifiedJwt decoded{std::move(*header), std::move(*payload), {}, {}};
  if (const auto* alg = decoded.header.if_contains("alg")) {
    if (!alg->is_string())
      return token_error(TokenErrc::malformed, "the alg header is not a string");
    decoded.algorithm = std::string(alg->get_string());
  }
  if (const auto* kid = decoded.header.if_contains("kid")) {
    if (!kid->is_string())
      return token_error(TokenErrc::malformed, "the kid header is not a string");
    decoded.kid = std::string(kid->get_string());
  }
  return decoded;
}

TokenResult<void> verify_signature(std::string_view jwt, std::string_view public_pem,
                                   jwt_alg_t expected) {
  std::string terminated(jwt);  // libjwt reads a C string
  jwt_t* raw = nullptr;
  int failed = jwt_decode(&raw, terminated.c_str(),
                          reinterpret_cast<const unsigned char*>(public_pem.data()),
                          static_cast<int>(public_pem.size()));
  JwtPtr decoded(raw);
  // libjwt leaves OpenSSL's error queue filled after a failed check; the next OpenSSL user on
  // this thread must not see it.
  ERR_clear_error();
  if (failed != 0 || !decoded) {
    return token_error(TokenErrc::bad_signature, "the token's signature does not verify");
  }
  if (jwt_get_alg(decoded.get()) != expected) {
    return token_error(TokenErrc::wrong_algorithm, "the token's algorithm is not the key's");
  }
  return {};
}

TokenResult<void> check_time_window(std::optional<std::int64_t> not_before,
                                    std::optional<std::int64_t> expires_at, std::int64_t now,
                                    std::int64_t leeway_seconds) {
  // 128-bit arithmetic: nbf - leeway cannot overflow whatever a token claims.
  if (not_before && static_cast<__int128>(now) < static_cast<__int128>(*not_before) -
                                                     static_cast<__int128>(leeway_seconds)) {
    return token_error(TokenErrc::not_yet_valid, "the token is not valid yet");
  }
  if (expires_at && now >= *expires_at) {
    return token_error(TokenErrc::expired, "the token has expired");
  }
  return {};
}

std::optional<std::string> public_key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0) return std::nullopt;
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace berth::auth::detail
