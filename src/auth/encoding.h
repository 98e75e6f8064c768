#pragma once
// Internal to auth/: libsodium start-up and the base64 forms the auth primitives read and
// write. Decoding refuses anything that is not exactly the canonical form of its variant
// (wrong alphabet, missing or extra padding, stray bits), so one value has one spelling.

#include <optional>
#include <string>
#include <string_view>

namespace berth::auth::detail {

// Initializes libsodium once per process; safe to call from any thread, any number of times.
// Aborts when libsodium cannot start (no usable randomness): nothing in auth/ is safe then.
void ensure_sodium();

// Standard alphabet with padding (RFC 4648 section 4), as HTTP Basic and sealed values use.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// URL-safe alphabet without padding (RFC 4648 section 5), as JWTs and JWKs use.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace berth::auth::detail
