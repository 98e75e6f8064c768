#pragma once
// The client's HTTP on libcurl (internal to the client module). One exchange per call, with
// redirects followed here rather than by curl so that every hop is checked: the target must be
// https or an insecure host, the destination policy runs on every address connected to, and the
// Authorization header goes only to the origin it was meant for. Easy handles are pooled, so
// connections are reused; a Transport may be used by several threads at once.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/errors.h"
#include "client/options.h"

namespace berth::client {

// An origin: scheme, lower-case host and port (the default port filled in).
struct Origin {
  std::string scheme;
  std::string host;
  std::string port;
  friend bool operator==(const Origin&, const Origin&) = default;
  std::string str() const;  // "https://host:port"
};

struct HttpResponse;

struct HttpRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // "Basic ..." or "Bearer ...": sent to `authorization_origin` only, never to a redirect's
  // other origin; never logged.
  std::string authorization;
  std::optional<Origin> authorization_origin;
  // When set, the body of a 2xx answer streams here, with the answer's status and headers
  // (return false to stop the transfer); otherwise it is collected up to `body_limit` (more is
  // a too_large error).
  std::function<bool(const HttpResponse&, std::string_view)> on_body;
  std::size_t body_limit = 0;
  // Small exchanges have an overall deadline; streams only the stall timeout.
  bool streaming = false;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;  // collected 2xx body, or the start of another status's body
  std::string url;   // the URL that answered (after redirects)
  // Set when the answer's body was cut short (the connection dropped or stalled).
  std::optional<ClientError> interrupted;

  // The first value of a header, "" when absent.
  std::string header(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
};

class Transport {
 public:
  explicit Transport(ClientOptions options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // An answer with any status (the caller judges it), or an error when there is none:
  // unreachable, refused_destination, tls, too_large, cancelled (on_body said stop),
  // invalid_response (a bad redirect).
  ClientResult<HttpResponse> perform(const HttpRequest& request);

  // The origin of an absolute http(s) URL that may be fetched: https, or http to an insecure
  // host. refused_destination otherwise, invalid_response when it is not such a URL.
  ClientResult<Origin> allowed_origin(std::string_view url) const;
  bool is_insecure(const Origin& origin) const;

  const ClientOptions& options() const { return options_; }

 private:
  struct Pool;
  ClientResult<HttpResponse> perform_once(const HttpRequest& request, const std::string& url,
                                          bool send_authorization);

  ClientOptions options_;
  std::vector<std::string> insecure_;  // "host:port", lower case
  std::unique_ptr<Pool> pool_;
};

// The origin of an absolute URL; nullopt when it is not one with an http(s) scheme and a host.
std::optional<Origin> origin_of(std::string_view url);
// `reference` (absolute or relative, as Location and Link give) resolved against `base`.
std::optional<std::string> resolve_url(std::string_view base, std::string_view reference);

}  // namespace berth::client
