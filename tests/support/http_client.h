#pragma once
// A small blocking HTTP client on libcurl for tests that drive a real berthd.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace berth::testing {

// The header that authenticates a request with a Bearer token: "Authorization: Bearer <token>".
inline std::string bearer_header(std::string_view token) {
  std::string header = "Authorization: Bearer ";
  header += token;
  return header;
}

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  // "" when absent.
  std::string header(std::string_view name) const;
};

class HttpClient {
 public:
  explicit HttpClient(std::string base_url);  // e.g. "http://127.0.0.1:5000"
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target` is a path ("/v2/...") or an absolute URL (as Location headers give).
  HttpResponse request(std::string_view method, std::string_view target,
                       std::string_view body = {},
                       const std::vector<std::string>& headers = {});
  HttpResponse get(std::string_view target, const std::vector<std::string>& headers = {}) {
    return request("GET", target, {}, headers);
  }
  HttpResponse head(std::string_view target) { return request("HEAD", target); }

  const std::string& base_url() const { return base_url_; }
  // Headers sent with every request that does not name the same header ("Authorization: ...").
  void set_default_headers(std::vector<std::string> headers) {
    default_headers_ = std::move(headers);
  }

 private:
  std::string base_url_;
  std::vector<std::string> default_headers_;
  void* curl_;  // one handle: connections are reused like a real client's
};

}  // namespace berth::testing
