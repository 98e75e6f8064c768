#pragma once
// Blocking HTTP for the CLI: one interface, a libcurl implementation, and fakes in the tests.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/error.h"

namespace berth::cli {

struct HttpRequest {
  std::string method;                // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string url;                   // absolute
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when non-empty
  // A file whose bytes are the body, streamed from disk (an upload too large to hold in
  // memory); when set, `body` is not sent.
  std::string body_file;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  // The response's headers as received (names as sent, values without surrounding blanks).
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of the first header named `name` (ignoring case); nullopt when there is none.
  std::optional<std::string> header(std::string_view name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // An Error only when no HTTP answer arrived (connection refused, timeout, bad URL); any
  // status, 4xx and 5xx included, is a response.
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

struct CurlOptions {
  long connect_timeout_seconds = 10;
  // A whole request, but for an upload from a file, which may take as long as it keeps moving:
  // it fails only after `stalled_seconds` below one byte a second.
  long timeout_seconds = 120;
  long stalled_seconds = 60;
  std::size_t max_response_bytes = 64u << 20;
  std::string user_agent = "berth";
};

// libcurl, one easy handle reused across requests (keep-alive). Never follows redirects, so
// the Authorization header cannot be carried to another host. Call curl_global_init() once
// before constructing one (main does).
class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlOptions options = {});
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  Result<HttpResponse> send(const HttpRequest& request) override;

 private:
  CurlOptions options_;
  void* curl_;
};

}  // namespace berth::cli
