#include "storage/byte_store.h"

#include <string>

namespace berth::storage {

bool is_valid_upload_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<void> check_direct_read_lifetime(std::chrono::seconds lifetime) {
  if (lifetime <= std::chrono::seconds::zero() || lifetime > kMaxDirectReadLifetime) {
    std::string message = "a direct read URL lives more than 0 and at most ";
    message += std::to_string(kMaxDirectReadLifetime.count());
    message += " seconds, not ";
    message += std::to_string(lifetime.count());
    return StorageError{Errc::invalid_argument, std::move(message)};
  }
  return {};
}

Result<std::optional<std::string>> ByteStore::direct_read_url(const oci::Digest& /*digest*/,
                                                              std::chrono::seconds lifetime) {
  if (auto valid = check_direct_read_lifetime(lifetime); !valid) return valid.error();
  return std::optional<std::string>();
}

}  // namespace berth::storage
