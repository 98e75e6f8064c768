#include "client/transport.h"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace berth::client {
namespace {

constexpr int kMaxRedirects = 5;
// Of an answer that is not a success, only the start is kept (for its error message).
constexpr std::size_t kErrorBodyExcerpt = 64 * 1024;
constexpr std::size_t kMaxHeaders = 200;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == '\r' || text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

bool is_success(int status) { return status >= 200 && status < 300; }
bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

enum class Stop { none, too_large, cancelled, error_body_full };

// One curl transfer's state, reached from curl's callbacks.
struct Exchange {
  const HttpRequest* request = nullptr;
  const DestinationPolicy* policy = nullptr;
  HttpResponse response;
  std::optional<std::string> refused;
  Stop stop = Stop::none;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new answer (after a 100 Continue, say): its status and headers replace the last's.
    auto space = line.find(' ');
    int status = 0;
    if (space != std::string_view::npos) {
      for (std::size_t i = space + 1; i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])); ++i) {
        status = status * 10 + (line[i] - '0');
      }
    }
    exchange->response.status = status;
    exchange->response.headers.clear();
    return size * count;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos && exchange->response.headers.size() < kMaxHeaders) {
    exchange->response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                            std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  std::size_t bytes = size * count;
  std::string_view chunk(data, bytes);
  const HttpRequest& request = *exchange->request;
  std::string& body = exchange->response.body;
  if (!is_success(exchange->response.status)) {
    if (body.size() + bytes > kErrorBodyExcerpt) {
      body.append(chunk.substr(0, kErrorBodyExcerpt - body.size()));
      exchange->stop = Stop::error_body_full;
      return 0;
    }
    body.append(chunk);
    return bytes;
  }
  if (request.on_body) {
    if (!request.on_body(exchange->response, chunk)) {
      exchange->stop = Stop::cancelled;
      return 0;
    }
    return bytes;
  }
  if (body.size() + bytes > request.body_limit) {
    exchange->stop = Stop::too_large;
    return 0;
  }
  body.append(chunk);
  return bytes;
}

// Called by curl for every address it is about to connect to, after name resolution.
curl_socket_t open_checked_socket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* exchange = static_cast<Exchange*>(user);
  if (auto refused = refuse_socket_address(&address->addr, *exchange->policy)) {
    exchange->refused = *refused;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

bool is_tls_failure(CURLcode rc) {
  switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

// Failures after which an answer that had begun is merely cut short.
bool is_interruption(CURLcode rc) {
  return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
         rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING || rc == CURLE_HTTP2_STREAM ||
         rc == CURLE_HTTP2;
}

std::string default_port(std::string_view scheme) { return scheme == "https" ? "443" : "80"; }

}  // namespace

std::string Origin::str() const { return scheme + "://" + host + ":" + port; }

std::string HttpResponse::header(std::string_view name) const {
  std::string key = lower(name);
  for (const auto& [header_name, value] : headers) {
    if (header_name == key) return value;
  }
  return {};
}

std::vector<std::string> HttpResponse::all(std::string_view name) const {
  std::string key = lower(name);
  std::vector<std::string> values;
  for (const auto& [header_name, value] : headers) {
    if (header_name == key) values.push_back(value);
  }
  return values;
}

std::optional<Origin> origin_of(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || !parsed->has_authority() || parsed->encoded_host().empty()) return std::nullopt;
  std::string scheme = lower(parsed->scheme());
  if (scheme != "http" && scheme != "https") return std::nullopt;
  Origin origin;
  origin.scheme = scheme;
  origin.host = lower(parsed->encoded_host());
  origin.port = parsed->has_port() && !parsed->port().empty() ? std::string(parsed->port())
                                                              : default_port(scheme);
  return origin;
}

std::optional<std::string> resolve_url(std::string_view base, std::string_view reference) {
  auto base_url = boost::urls::parse_absolute_uri(base);
  auto ref = boost::urls::parse_uri_reference(reference);
  if (!base_url || !ref) return std::nullopt;
  boost::urls::url resolved;
  if (!boost::urls::resolve(*base_url, *ref, resolved)) return std::nullopt;
  return std::string(resolved.buffer());
}

// Easy handles kept for reuse: a handle keeps its connections open between exchanges.
struct Transport::Pool {
  std::mutex mutex;
  std::vector<CURL*> idle;

  CURL* acquire() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }
  void release(CURL* handle) {
    curl_easy_reset(handle);
    std::lock_guard lock(mutex);
    if (idle.size() < 16) {
      idle.push_back(handle);
      return;
    }
    curl_easy_cleanup(handle);
  }
  ~Pool() {
    for (CURL* handle : idle) curl_easy_cleanup(handle);
  }
};

Transport::Transport(ClientOptions options)
    : options_(std::move(options)), pool_(std::make_unique<Pool>()) {
  for (const auto& entry : options_.insecure_hosts) {
    auto authority = boost::urls::parse_authority(entry);
    if (!authority || authority->encoded_host().empty()) continue;
    std::string port = authority->has_port() && !authority->port().empty()
                           ? std::string(authority->port())
                           : default_port("http");
    insecure_.push_back(lower(authority->encoded_host()) + ":" + port);
  }
}

Transport::~Transport() = default;

bool Transport::is_insecure(const Origin& origin) const {
  return std::find(insecure_.begin(), insecure_.end(), origin.host + ":" + origin.port) !=
         insecure_.end();
}

ClientResult<Origin> Transport::allowed_origin(std::string_view url) const {
  auto origin = origin_of(url);
  if (!origin) {
    return client_error(ClientErrc::invalid_response,
                        fmt::format("'{}' is not an http or https URL", url));
  }
  if (origin->scheme == "http" && !is_insecure(*origin)) {
    return client_error(
        ClientErrc::refused_destination,
        fmt::format("{}:{} is not an insecure host: it is spoken to over https only",
                    origin->host, origin->port));
  }
  return *origin;
}

ClientResult<HttpResponse> Transport::perform(const HttpRequest& request) {
  std::string url = request.url;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    auto origin = allowed_origin(url);
    if (!origin) return origin.error();
    bool send_authorization = !request.authorization.empty() &&
                              request.authorization_origin &&
                              *request.authorization_origin == *origin;
    auto response = perform_once(request, url, send_authorization);
    if (!response) return response.error();
    std::string location = response->header("location");
    if (!is_redirect(response->status) || location.empty()) {
      response->url = url;
      return response;
    }
    auto next = resolve_url(url, location);
    if (!next) {
      return client_error(ClientErrc::invalid_response,
                          fmt::format("{} redirected to an invalid location", origin->str()),
                          response->status);
    }
    url = std::move(*next);
  }
  return client_error(ClientErrc::invalid_response,
                      fmt::format("more than {} redirects", kMaxRedirects));
}

ClientResult<HttpResponse> Transport::perform_once(const HttpRequest& request,
                                                   const std::string& url,
                                                   bool send_authorization) {
  CURL* handle = pool_->acquire();
  if (handle == nullptr) return client_error(ClientErrc::unreachable, "out of memory");
  std::unique_ptr<CURL, std::function<void(CURL*)>> owned(handle,
                                                         [this](CURL* h) { pool_->release(h); });
  Exchange exchange;
  exchange.request = &request;
  exchange.policy = &options_.destination;

  curl_slist* list = nullptr;
  for (const auto& header : request.headers) list = curl_slist_append(list, header.c_str());
  std::string authorization;
  if (send_authorization) {
    authorization = "Authorization: " + request.authorization;
    list = curl_slist_append(list, authorization.c_str());
  }
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(list, curl_slist_free_all);
  char error_text[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);  // redirects are checked hop by hop
  curl_easy_setopt(handle, CURLOPT_PROXY, "");           // never a proxy from the environment
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  if (!request.streaming) {
    curl_easy_setopt(handle, CURLOPT_TIMEOUT, static_cast<long>(options_.request_timeout.count()));
  }
  std::string ca_bundle;
  if (options_.ca_bundle) {
    ca_bundle = options_.ca_bundle->string();
    curl_easy_setopt(handle, CURLOPT_CAINFO, ca_bundle.c_str());
  }
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  if (request.method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
  curl_easy_setopt(handle, CURLOPT_OPENSOCKETDATA, &exchange);

  CURLcode rc = curl_easy_perform(handle);
  // The header list names the authorization: gone before anything else can see it.
  header_list.reset();
  if (!authorization.empty()) std::fill(authorization.begin(), authorization.end(), '\0');

  if (rc == CURLE_OK || exchange.stop == Stop::error_body_full) return std::move(exchange.response);
  auto origin = origin_of(url);
  std::string where = origin ? origin->host + ":" + origin->port : std::string("the upstream");
  if (exchange.stop == Stop::too_large) {
    return client_error(ClientErrc::too_large,
                        fmt::format("the answer of {} is larger than {} bytes", where,
                                    request.body_limit),
                        exchange.response.status);
  }
  if (exchange.stop == Stop::cancelled) {
    return client_error(ClientErrc::cancelled, "the transfer was stopped by its receiver",
                        exchange.response.status);
  }
  if (exchange.refused) {
    return client_error(ClientErrc::refused_destination,
                        fmt::format("{} is refused: {}", where, *exchange.refused));
  }
  std::string detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(rc);
  if (is_tls_failure(rc)) {
    return client_error(ClientErrc::tls, fmt::format("TLS with {} failed: {}", where, detail));
  }
  if (exchange.response.status != 0 && is_interruption(rc)) {
    exchange.response.interrupted = client_error(
        ClientErrc::unreachable, fmt::format("the answer of {} was cut short: {}", where, detail),
        exchange.response.status);
    return std::move(exchange.response);
  }
  return client_error(ClientErrc::unreachable, fmt::format("{} is unreachable: {}", where, detail));
}

}  // namespace berth::client
