#pragma once
// Where a federated issuer's JWKS document comes from: the document itself (stored inline), a
// file path, or an http(s) URL fetched
// with a short timeout and a size cap, no redirects, and cached for a few minutes (an issuer's
// keys change rarely; a new kid is picked up once the cache has expired). Only the deployment
// administrator sets these locations, so fetching them is not a way for callers to make berthd
// reach arbitrary addresses.

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace berth::auth {

class JwksSource {
 public:
  static constexpr std::size_t kMaxDocumentBytes = 1024 * 1024;
  static constexpr std::chrono::seconds kCacheFor{300};
  static constexpr std::chrono::seconds kFetchTimeout{5};

  // The document at `location` (an inline document starting with '{', a path, or an http:// or
  // https:// URL); nullopt when it cannot be read (the reason is logged without the document).
  std::optional<std::string> document(const std::string& location);

 private:
  struct Cached {
    std::string document;
    std::chrono::steady_clock::time_point fetched;
  };
  std::mutex mutex_;
  std::map<std::string, Cached, std::less<>> cache_;  // guarded by mutex_
};

// Whether `location` is a URL JwksSource fetches (http:// or https://).
bool is_jwks_url(std::string_view location);

}  // namespace berth::auth
