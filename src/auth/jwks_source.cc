#include "auth/jwks_source.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace berth::auth {
namespace {

struct Download {
  std::string body;
  bool too_large = false;
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
  auto* download = static_cast<Download*>(user);
  std::size_t bytes = size * count;
  if (download->body.size() + bytes > JwksSource::kMaxDocumentBytes) {
    download->too_large = true;
    return 0;  // aborts the transfer
  }
  download->body.append(data, bytes);
  return bytes;
}

std::optional<std::string> fetch(const std::string& url) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return std::nullopt;
  Download download;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, static_cast<long>(JwksSource::kFetchTimeout.count()));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &download);
  CURLcode rc = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (download.too_large) {
    spdlog::warn("JWKS at {} is larger than {} bytes; not used", url, JwksSource::kMaxDocumentBytes);
    return std::nullopt;
  }
  if (rc != CURLE_OK || status != 200) {
    spdlog::warn("JWKS at {} could not be fetched: {} (HTTP {})", url, curl_easy_strerror(rc),
                 status);
    return std::nullopt;
  }
  return std::move(download.body);
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    spdlog::warn("JWKS file {} cannot be read", path);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string document = text.str();
  if (document.size() > JwksSource::kMaxDocumentBytes) return std::nullopt;
  return document;
}

}  // namespace

bool is_jwks_url(std::string_view location) {
  return location.starts_with("http://") || location.starts_with("https://");
}

std::optional<std::string> JwksSource::document(const std::string& location) {
  if (location.starts_with('{')) return location;  // the document itself
  if (!is_jwks_url(location)) return read_file(location);
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    auto cached = cache_.find(location);
    if (cached != cache_.end() && now - cached->second.fetched < kCacheFor) {
      return cached->second.document;
    }
  }
  auto fetched = fetch(location);
  if (!fetched) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (cache_.size() > 1000) cache_.clear();
  cache_[location] = Cached{*fetched, now};
  return fetched;
}

}  // namespace berth::auth
