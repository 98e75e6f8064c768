#include "auth/encoding.h"

#include <sodium.h>

#include <cstdlib>

namespace berth::auth::detail {
namespace {

std::string encode(std::string_view bytes, int variant) {
  ensure_sodium();
  std::string text(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(text.data(), text.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  text.resize(text.size() - 1);  // the encoded length counts the terminating NUL
  return text;
}

std::optional<std::string> decode(std::string_view text, int variant) {
  ensure_sodium();
  // Every 4 characters make at most 3 bytes; a partial group makes at most 2.
  std::string bytes(text.size() / 4 * 3 + 2, '\0');
  std::size_t length = 0;
  // No ignored characters and no end pointer: libsodium then fails unless it consumed the
  // whole input, and it refuses non-zero padding bits and bad padding.
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), text.data(),
                        text.size(), nullptr, &length, nullptr, variant) != 0) {
    return std::nullopt;
  }
  bytes.resize(length);
  return bytes;
}

}  // namespace

void ensure_sodium() {
  // A function-local static is initialized exactly once even when threads race here.
  static const bool started = sodium_init() >= 0;
  if (!started) std::abort();
}

std::string base64_encode(std::string_view bytes) {
  return encode(bytes, sodium_base64_VARIANT_ORIGINAL);
}

std::optional<std::string> base64_decode(std::string_view text) {
  return decode(text, sodium_base64_VARIANT_ORIGINAL);
}

std::string base64url_encode(std::string_view bytes) {
  return encode(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  return decode(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

}  // namespace berth::auth::detail
