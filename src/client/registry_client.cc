#include "client/registry_client.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "client/challenge.h"
#include "client/retry_after.h"
#include "client/transport.h"
#include "oci/media_types.h"
#include "oci/reference.h"

namespace berth::client {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxTokenAnswerBytes = 1024 * 1024;
// The spec's default lifetime of a token that does not say (distribution's token auth spec).
constexpr std::chrono::seconds kDefaultTokenLifetime{60};
constexpr std::size_t kMaxTagPages = 10'000;
constexpr std::size_t kMaxTags = 1'000'000;

constexpr std::string_view kHeaderContentDigest = "docker-content-digest";
constexpr std::string_view kHeaderContentType = "content-type";
constexpr std::string_view kHeaderContentLength = "content-length";
constexpr std::string_view kHeaderContentRange = "content-range";
constexpr std::string_view kHeaderRetryAfter = "retry-after";
constexpr std::string_view kHeaderAuthenticate = "www-authenticate";
constexpr std::string_view kHeaderLink = "link";
constexpr std::string_view kHeaderFiltersApplied = "oci-filters-applied";

std::string manifest_accept_header() {
  std::string header = "Accept: ";
  header += oci::media_type::kOciManifest;
  header += ", ";
  header += oci::media_type::kOciIndex;
  header += ", ";
  header += oci::media_type::kDockerManifest;
  header += ", ";
  header += oci::media_type::kDockerManifestList;
  return header;
}

std::string empty_index() {
  json::object index;
  index["schemaVersion"] = 2;
  index["mediaType"] = oci::media_type::kOciIndex;
  index["manifests"] = json::array();
  return json::serialize(index);
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(std::max(written, 0)));
  return out;
}

std::string basic_authorization(const Credentials& credentials) {
  std::string pair = credentials.username;
  pair += ':';
  pair += credentials.password;
  std::string value = "Basic " + base64(pair);
  std::fill(pair.begin(), pair.end(), '\0');
  return value;
}

// A media type without its parameters ("application/json; charset=utf-8" -> "application/json").
std::string bare_media_type(std::string_view value) {
  auto semicolon = value.find(';');
  if (semicolon != std::string_view::npos) value = value.substr(0, semicolon);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return std::string(value);
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// The upstream's OCI error envelope, shortened, for messages: "MANIFEST_UNKNOWN: manifest
// unknown"; "" when the body is not one.
std::string upstream_error_text(std::string_view body) {
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return {};
  const auto* errors = parsed.as_object().if_contains("errors");
  if (errors == nullptr || !errors->is_array() || errors->as_array().empty()) return {};
  const auto& first = errors->as_array().front();
  if (!first.is_object()) return {};
  std::string text;
  if (const auto* code = first.as_object().if_contains("code"); code && code->is_string()) {
    text = std::string(code->as_string());
  }
  if (const auto* message = first.as_object().if_contains("message");
      message && message->is_string()) {
    if (!text.empty()) text += ": ";
    text += std::string(message->as_string());
  }
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return text;
}

// The error for an answer that is not the success the call expected.
ClientError status_error(const HttpResponse& response, std::string_view what) {
  int status = response.status;
  std::string detail = upstream_error_text(response.body);
  std::string message = fmt::format("{}: the upstream answered HTTP {}", what, status);
  if (!detail.empty()) message += fmt::format(" ({})", detail);
  ClientErrc code = ClientErrc::upstream_error;
  if (status == 401) code = ClientErrc::unauthorized;
  if (status == 403) code = ClientErrc::denied;
  if (status == 404) code = ClientErrc::not_found;
  if (status == 429) code = ClientErrc::rate_limited;
  return client_error(code, std::move(message), status);
}

// The "next" target of a Link header (RFC 8288): `<url>; rel="next"`; "" when there is none.
std::string next_link(const std::vector<std::string>& values) {
  for (const auto& value : values) {
    std::size_t at = 0;
    while (true) {
      auto open = value.find('<', at);
      if (open == std::string::npos) break;
      auto close = value.find('>', open);
      if (close == std::string::npos) break;
      auto end = value.find('<', close);
      std::string params = value.substr(close + 1, end == std::string::npos ? end : end - close - 1);
      std::string lowered = params;
      std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (lowered.find("rel=\"next\"") != std::string::npos ||
          lowered.find("rel=next") != std::string::npos) {
        return value.substr(open + 1, close - open - 1);
      }
      at = close;
    }
  }
  return {};
}

// "bytes 100-199/200" -> 100.
std::optional<std::uint64_t> content_range_start(std::string_view value) {
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  auto dash = value.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  return parse_size(value.substr(0, dash));
}

ClientError digest_mismatch(std::string message) {
  return client_error(ClientErrc::digest_mismatch, std::move(message));
}

// Checks `bytes` against the Docker-Content-Digest header, when there is one.
std::optional<ClientError> check_content_digest(const HttpResponse& response,
                                                std::string_view bytes, std::string_view what) {
  std::string header = response.header(kHeaderContentDigest);
  if (header.empty()) return std::nullopt;
  auto stated = oci::Digest::parse(header);
  if (!stated) {
    return client_error(ClientErrc::invalid_response,
                        fmt::format("{}: the upstream's Docker-Content-Digest is not a digest", what));
  }
  if (oci::digest_of(bytes, stated->algorithm()) != *stated) {
    return digest_mismatch(
        fmt::format("{}: the bytes do not match the upstream's Docker-Content-Digest {}", what,
                    stated->str()));
  }
  return std::nullopt;
}

struct CachedToken {
  std::string token;
  Clock::time_point expires;
};

}  // namespace

struct RegistryClient::State {
  State(ClientOptions options, std::string host_, Origin origin_,
        std::optional<Credentials> credentials_)
      : transport(std::move(options)),
        host(std::move(host_)),
        origin(std::move(origin_)),
        credentials(std::move(credentials_)) {}

  Transport transport;
  std::string host;
  Origin origin;
  std::optional<Credentials> credentials;

  // What the upstream asked for, learnt from its challenges; and the tokens, per scope.
  enum class Scheme { unknown, basic, bearer };
  std::mutex mutex;
  Scheme scheme = Scheme::unknown;
  std::string realm;
  std::string service;
  std::map<std::string, CachedToken> tokens;

  std::string url(std::string_view path) const {
    std::string text = origin.scheme + "://" + host;
    text += path;
    return text;
  }

  ClientResult<HttpResponse> send(HttpRequest request, const std::string& scope,
                                  std::string_view what);
  std::optional<ClientError> learn_challenge(const HttpResponse& response, std::string_view what);
  ClientResult<std::string> authorization_for(const std::string& scope, bool fresh);
  ClientResult<CachedToken> fetch_token(const std::string& scope);
  std::optional<ClientError> wait_out(const HttpResponse& response, int& waits,
                                      std::string_view what);
  ClientResult<HttpResponse> get_small(std::string_view path, const std::string& scope,
                                       std::vector<std::string> headers, std::string_view what,
                                       std::string method = "GET");
};

namespace {

std::string pull_scope(std::string_view repository) {
  std::string scope = "repository:";
  scope += repository;
  scope += ":pull";
  return scope;
}

std::optional<ClientError> check_repository(std::string_view repository) {
  if (oci::is_valid_repository_name(repository)) return std::nullopt;
  return client_error(ClientErrc::invalid_argument,
                      fmt::format("'{}' is not a valid repository name", repository));
}

}  // namespace

// The Authorization value for `scope` ("" for none): Basic, or a cached (or, with `fresh`, a
// newly fetched) Bearer token.
ClientResult<std::string> RegistryClient::State::authorization_for(const std::string& scope,
                                                                   bool fresh) {
  Scheme known;
  {
    std::lock_guard lock(mutex);
    known = scheme;
    if (known == Scheme::bearer && !fresh) {
      auto cached = tokens.find(scope);
      if (cached != tokens.end() && cached->second.expires > Clock::now()) {
        return "Bearer " + cached->second.token;
      }
    }
  }
  if (known == Scheme::unknown) return std::string();
  if (known == Scheme::basic) return credentials ? basic_authorization(*credentials) : std::string();
  auto token = fetch_token(scope);
  if (!token) return token.error();
  std::string value = "Bearer " + token->token;
  std::lock_guard lock(mutex);
  tokens.insert_or_assign(scope, std::move(*token));
  return value;
}

// GET realm?service=..&scope=.., with Basic credentials when the client has them.
ClientResult<CachedToken> RegistryClient::State::fetch_token(const std::string& scope) {
  std::string realm_url;
  std::string service_name;
  {
    std::lock_guard lock(mutex);
    realm_url = realm;
    service_name = service;
  }
  auto parsed = boost::urls::parse_absolute_uri(realm_url);
  if (!parsed) {
    return client_error(ClientErrc::invalid_response,
                        fmt::format("the token realm of {} is not a URL", host));
  }
  boost::urls::url target(*parsed);
  if (!service_name.empty()) target.params().append({"service", service_name});
  if (!scope.empty()) target.params().append({"scope", scope});
  auto realm_origin = transport.allowed_origin(target.buffer());
  if (!realm_origin) return realm_origin.error();

  HttpRequest request;
  request.url = std::string(target.buffer());
  request.body_limit = kMaxTokenAnswerBytes;
  request.headers.push_back("Accept: application/json");
  if (credentials) {
    request.authorization = basic_authorization(*credentials);
    request.authorization_origin = *realm_origin;
  }
  std::string what = fmt::format("the token service of {}", host);
  auto response = transport.perform(request);
  std::fill(request.authorization.begin(), request.authorization.end(), '\0');
  if (!response) return response.error();
  if (response->interrupted) return *response->interrupted;
  if (response->status != 200) {
    auto error = status_error(*response, what);
    if (response->status == 401) {
      error.message = credentials ? what + " refused the credentials"
                                  : what + " refused an anonymous token";
    }
    return error;
  }
  boost::system::error_code ec;
  json::value answer = json::parse(response->body, ec);
  auto invalid = [&](std::string_view why) {
    return client_error(ClientErrc::invalid_response, fmt::format("{}: {}", what, why));
  };
  if (ec || !answer.is_object()) return invalid("the answer is not a JSON object");
  const auto& object = answer.as_object();
  const json::value* token = object.if_contains("token");
  if (token == nullptr || !token->is_string() || token->as_string().empty()) {
    token = object.if_contains("access_token");
  }
  if (token == nullptr || !token->is_string() || token->as_string().empty()) {
    return invalid("the answer holds no token");
  }
  std::chrono::seconds lifetime = kDefaultTokenLifetime;
  if (const auto* expires = object.if_contains("expires_in"); expires && expires->is_number()) {
    boost::system::error_code number_ec;
    auto seconds = expires->to_number<std::int64_t>(number_ec);
    if (!number_ec && seconds > 0) lifetime = std::chrono::seconds(seconds);
  }
  // Renewed a little early, so that a token does not expire on its way to the upstream.
  auto margin = std::min(lifetime / 10, std::chrono::seconds(30));
  return CachedToken{std::string(token->as_string()), Clock::now() + lifetime - margin};
}

// Takes what a 401's challenges ask for. An error when nothing the client speaks is offered.
std::optional<ClientError> RegistryClient::State::learn_challenge(const HttpResponse& response,
                                                                  std::string_view what) {
  auto challenges = parse_challenges(response.all(kHeaderAuthenticate));
  if (!challenges) {
    return client_error(ClientErrc::invalid_response,
                        fmt::format("{}: the upstream's WWW-Authenticate is malformed", what), 401);
  }
  const Challenge* bearer = nullptr;
  const Challenge* basic = nullptr;
  for (const auto& challenge : *challenges) {
    if (challenge.scheme == "bearer" && bearer == nullptr) bearer = &challenge;
    if (challenge.scheme == "basic" && basic == nullptr) basic = &challenge;
  }
  std::lock_guard lock(mutex);
  if (bearer != nullptr && !bearer->param("realm").empty()) {
    if (realm != bearer->param("realm") || service != bearer->param("service")) tokens.clear();
    scheme = Scheme::bearer;
    realm = bearer->param("realm");
    service = bearer->param("service");
    return std::nullopt;
  }
  if (basic != nullptr) {
    if (!credentials) {
      return client_error(ClientErrc::unauthorized,
                          fmt::format("{}: the upstream asks for credentials and none are configured",
                                      what),
                          401);
    }
    scheme = Scheme::basic;
    return std::nullopt;
  }
  return client_error(ClientErrc::unauthorized,
                      fmt::format("{}: the upstream asks for an authentication scheme the client "
                                  "does not speak",
                                  what),
                      401);
}

// After a 429 or 503: sleeps for its Retry-After and returns nullopt (retry), or the error.
std::optional<ClientError> RegistryClient::State::wait_out(const HttpResponse& response,
                                                           int& waits, std::string_view what) {
  const auto& options = transport.options();
  std::string header = response.header(kHeaderRetryAfter);
  std::optional<std::chrono::seconds> wait;
  if (!header.empty()) wait = parse_retry_after(header, std::chrono::system_clock::now());
  if (!wait) {
    // A 503 without a usable Retry-After is the upstream failing, not asking for patience.
    if (response.status == 503) return status_error(response, what);
    ClientError error = status_error(response, what);
    error.code = ClientErrc::rate_limited;
    return error;
  }
  if (*wait > options.max_retry_after_wait || waits >= options.max_rate_limit_retries) {
    ClientError error = status_error(response, what);
    error.code = ClientErrc::rate_limited;
    error.retry_after = *wait;
    error.message += fmt::format("; it asks to retry after {} seconds", wait->count());
    return error;
  }
  ++waits;
  spdlog::debug("{}: {} answered HTTP {}; retrying in {} seconds", what, host, response.status,
                wait->count());
  std::this_thread::sleep_for(*wait);
  return std::nullopt;
}

// One call's exchange with the upstream: authorization for `scope`, one new attempt after a
// 401 (with a fresh token, or Basic credentials), short 429/503 waits. The answer of any other
// status is the caller's to judge.
ClientResult<HttpResponse> RegistryClient::State::send(HttpRequest request,
                                                       const std::string& scope,
                                                       std::string_view what) {
  bool answered_challenge = false;
  int waits = 0;
  while (true) {
    auto authorization = authorization_for(scope, answered_challenge);
    if (!authorization) return authorization.error();
    request.authorization = std::move(*authorization);
    request.authorization_origin = origin;
    auto response = transport.perform(request);
    std::fill(request.authorization.begin(), request.authorization.end(), '\0');
    if (!response) return response.error();
    if (response->status == 401) {
      if (answered_challenge) {
        auto error = status_error(*response, what);
        error.message = fmt::format("{}: the upstream refused the credentials", what);
        if (!credentials) error.message = fmt::format("{}: the upstream needs credentials", what);
        return error;
      }
      if (auto error = learn_challenge(*response, what)) return *error;
      answered_challenge = true;
      continue;
    }
    if (response->status == 429 || response->status == 503) {
      if (auto error = wait_out(*response, waits, what)) return *error;
      continue;
    }
    return response;
  }
}

ClientResult<HttpResponse> RegistryClient::State::get_small(std::string_view path,
                                                            const std::string& scope,
                                                            std::vector<std::string> headers,
                                                            std::string_view what,
                                                            std::string method) {
  HttpRequest request;
  request.method = std::move(method);
  request.url = url(path);
  request.headers = std::move(headers);
  request.body_limit = kMaxManifestBytes;
  auto response = send(std::move(request), scope, what);
  if (!response) return response.error();
  if (response->interrupted && response->status >= 200 && response->status < 300) {
    return *response->interrupted;
  }
  return response;
}

ClientResult<RegistryClient> RegistryClient::create(ClientOptions options, std::string host,
                                                    std::optional<Credentials> credentials) {
  auto authority = boost::urls::parse_authority(host);
  if (!authority || authority->encoded_host().empty() || authority->has_userinfo()) {
    return client_error(ClientErrc::invalid_argument,
                        fmt::format("'{}' is not a host or host:port", host));
  }
  Transport probe(options);
  std::string scheme = "https";
  auto insecure = origin_of("http://" + host);
  if (insecure && probe.is_insecure(*insecure)) scheme = "http";
  auto origin = origin_of(scheme + "://" + host);
  if (!origin) {
    return client_error(ClientErrc::invalid_argument,
                        fmt::format("'{}' is not a host or host:port", host));
  }
  return RegistryClient(std::make_unique<State>(std::move(options), std::move(host),
                                                std::move(*origin), std::move(credentials)));
}

RegistryClient::RegistryClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
RegistryClient::~RegistryClient() = default;
RegistryClient::RegistryClient(RegistryClient&&) noexcept = default;
RegistryClient& RegistryClient::operator=(RegistryClient&&) noexcept = default;

const std::string& RegistryClient::host() const { return state_->host; }
std::string RegistryClient::base_url() const { return state_->url(""); }

ClientResult<void> RegistryClient::ping() {
  std::string what = fmt::format("ping of {}", state_->host);
  auto response = state_->get_small("/v2/", "", {}, what);
  if (!response) return response.error();
  if (response->status == 200) return {};
  auto error = status_error(*response, what);
  if (response->status == 404) {
    error.message = fmt::format("{} does not serve the distribution API at /v2/", state_->host);
  }
  return error;
}

ClientResult<Manifest> RegistryClient::get_manifest(std::string_view repository,
                                                    std::string_view reference) {
  if (auto bad = check_repository(repository)) return *bad;
  auto parsed = oci::parse_reference(reference);
  if (!parsed) {
    return client_error(ClientErrc::invalid_argument,
                        fmt::format("'{}' is neither a tag nor a digest", reference));
  }
  std::string what = fmt::format("manifest {}:{} of {}", repository, reference, state_->host);
  auto response = state_->get_small(fmt::format("/v2/{}/manifests/{}", repository, reference),
                                    pull_scope(repository), {manifest_accept_header()}, what);
  if (!response) return response.error();
  if (response->status != 200) return status_error(*response, what);

  const std::string& bytes = response->body;
  if (auto bad = check_content_digest(*response, bytes, what)) return *bad;
  std::optional<oci::Digest> digest;
  if (const auto* by_digest = std::get_if<oci::Digest>(&*parsed)) {
    if (oci::digest_of(bytes, by_digest->algorithm()) != *by_digest) {
      return digest_mismatch(fmt::format("{}: the bytes do not have the digest asked for", what));
    }
    digest = *by_digest;
  } else if (auto stated = oci::Digest::parse(response->header(kHeaderContentDigest))) {
    digest = *stated;
  } else {
    digest = oci::digest_of(bytes);
  }

  std::string media_type = bare_media_type(response->header(kHeaderContentType));
  if (media_type.empty() || media_type == "application/json" || media_type == "text/plain") {
    boost::system::error_code ec;
    json::value document = json::parse(bytes, ec);
    const json::value* field = !ec && document.is_object()
                                   ? document.as_object().if_contains("mediaType")
                                   : nullptr;
    if (field == nullptr || !field->is_string()) {
      return client_error(ClientErrc::invalid_response,
                          fmt::format("{}: the upstream did not say its media type", what));
    }
    media_type = std::string(field->as_string());
  }
  return Manifest{std::move(response->body), std::move(media_type), std::move(*digest)};
}

ClientResult<ManifestHead> RegistryClient::head_manifest(std::string_view repository,
                                                         std::string_view reference) {
  if (auto bad = check_repository(repository)) return *bad;
  auto parsed = oci::parse_reference(reference);
  if (!parsed) {
    return client_error(ClientErrc::invalid_argument,
                        fmt::format("'{}' is neither a tag nor a digest", reference));
  }
  std::string what = fmt::format("manifest {}:{} of {}", repository, reference, state_->host);
  auto response =
      state_->get_small(fmt::format("/v2/{}/manifests/{}", repository, reference),
                        pull_scope(repository), {manifest_accept_header()}, what, "HEAD");
  if (!response) return response.error();
  if (response->status != 200) return status_error(*response, what);

  auto stated = oci::Digest::parse(response->header(kHeaderContentDigest));
  const auto* by_digest = std::get_if<oci::Digest>(&*parsed);
  if (stated && by_digest && *stated != *by_digest) {
    return digest_mismatch(
        fmt::format("{}: the upstream names another digest, {}", what, stated->str()));
  }
  if (!stated && !by_digest) {
    return client_error(ClientErrc::invalid_response,
                        fmt::format("{}: the upstream did not send Docker-Content-Digest", what));
  }
  auto size = parse_size(response->header(kHeaderContentLength));
  if (!size) {
    return client_error(ClientErrc::invalid_response,
                        fmt::format("{}: the upstream did not send the size", what));
  }
  return ManifestHead{stated ? *stated : *by_digest,
                      bare_media_type(response->header(kHeaderContentType)), *size};
}

ClientResult<BlobHead> RegistryClient::head_blob(std::string_view repository,
                                                 const oci::Digest& digest) {
  if (auto bad = check_repository(repository)) return *bad;
  std::string what = fmt::format("blob {} of {} at {}", digest.str(), repository, state_->host);
  auto response = state_->get_small(fmt::format("/v2/{}/blobs/{}", repository, digest.str()),
                                    pull_scope(repository), {}, what, "HEAD");
  if (!response) return response.error();
  if (response->status != 200) return status_error(*response, what);
  std::string header = response->header(kHeaderContentDigest);
  if (!header.empty() && header != digest.str()) {
    return digest_mismatch(fmt::format("{}: the upstream names another digest, {}", what, header));
  }
  auto size = parse_size(response->header(kHeaderContentLength));
  if (!size) {
    return client_error(ClientErrc::invalid_response,
                        fmt::format("{}: the upstream did not send the size", what));
  }
  return BlobHead{digest, *size};
}

namespace {

// The state of one blob fetch across its attempts.
struct BlobTransfer {
  const BlobSink* sink = nullptr;
  oci::Hasher hasher;
  std::optional<std::uint64_t> expected_size;
  std::uint64_t skip = 0;  // of this attempt's body: bytes the sink already has
  std::optional<ClientError> stopped;

  std::uint64_t received() const { return hasher.byte_count(); }

  std::uint64_t start = 0;  // where this attempt asked to start
  bool judged = false;      // whether this attempt's answer was checked

  // The first bytes of an attempt's answer: a 206 must start where asked; a 200 is the whole
  // blob again, so what the sink already has is skipped.
  bool judge(const HttpResponse& answer) {
    judged = true;
    if (answer.status == 206) {
      auto first = content_range_start(answer.header(kHeaderContentRange));
      if (first && *first == start) return true;
      stopped = client_error(ClientErrc::invalid_response,
                             fmt::format("the upstream answered a Range request from byte {} with "
                                         "another range",
                                         start),
                             206);
      return false;
    }
    skip = start;
    return true;
  }

  bool take(const HttpResponse& answer, std::string_view chunk) {
    if (!judged && !judge(answer)) return false;
    if (skip > 0) {
      auto dropped = std::min<std::uint64_t>(skip, chunk.size());
      chunk.remove_prefix(static_cast<std::size_t>(dropped));
      skip -= dropped;
      if (chunk.empty()) return true;
    }
    if (expected_size && received() + chunk.size() > *expected_size) {
      stopped = digest_mismatch(
          fmt::format("the upstream sent more than the expected {} bytes", *expected_size));
      return false;
    }
    hasher.update(chunk);
    if (!(*sink)(std::as_bytes(std::span(chunk.data(), chunk.size())))) {
      stopped = client_error(ClientErrc::cancelled, "the blob's receiver stopped the transfer");
      return false;
    }
    return true;
  }
};

}  // namespace

ClientResult<void> RegistryClient::get_blob(std::string_view repository,
                                            const oci::Digest& digest, const BlobSink& sink,
                                            BlobFetchOptions options) {
  if (auto bad = check_repository(repository)) return *bad;
  BlobTransfer transfer{&sink, oci::Hasher(digest.algorithm()), options.expected_size};
  if (options.continue_from) {
    if (options.continue_from->algorithm() != digest.algorithm()) {
      return client_error(ClientErrc::invalid_argument,
                          "the hash to continue from is not of the digest's algorithm");
    }
    transfer.hasher = *options.continue_from;
  }
  std::string what = fmt::format("blob {} of {} at {}", digest.str(), repository, state_->host);
  const auto& client_options = state_->transport.options();
  int resumes = 0;
  bool upstream_answered = false;
  while (true) {
    const std::uint64_t start = transfer.received();
    HttpRequest request;
    request.url = state_->url(fmt::format("/v2/{}/blobs/{}", repository, digest.str()));
    request.streaming = true;
    if (start > 0) request.headers.push_back(fmt::format("Range: bytes={}-", start));
    transfer.stopped.reset();
    transfer.skip = 0;
    transfer.start = start;
    transfer.judged = false;
    request.on_body = [&](const HttpResponse& answer, std::string_view chunk) {
      return transfer.take(answer, chunk);
    };
    auto response = state_->send(std::move(request), pull_scope(repository), what);

    std::optional<ClientError> interruption;
    if (!response) {
      if (transfer.stopped) return *transfer.stopped;
      // A connection that fails after the upstream has answered before is one more drop.
      if (response.error().code != ClientErrc::unreachable || !upstream_answered) {
        return response.error();
      }
      interruption = response.error();
    } else {
      if (response->status != 200 && response->status != 206) return status_error(*response, what);
      upstream_answered = true;
      interruption = response->interrupted;
    }
    if (!interruption) break;
    if (resumes >= client_options.max_resume_attempts) {
      return client_error(
          ClientErrc::unreachable,
          fmt::format("{}: the connection dropped {} times; gave up after {} bytes ({})", what,
                      resumes + 1, transfer.received(), interruption->message));
    }
    ++resumes;
    spdlog::debug("{}: the connection dropped after {} bytes; resuming (attempt {} of {})", what,
                  transfer.received(), resumes, client_options.max_resume_attempts);
    std::this_thread::sleep_for(std::chrono::milliseconds(100) * resumes);
  }
  if (options.expected_size && transfer.received() != *options.expected_size) {
    return digest_mismatch(fmt::format("{}: {} bytes arrived, not the expected {}", what,
                                       transfer.received(), *options.expected_size));
  }
  if (transfer.hasher.digest() != digest) {
    return digest_mismatch(fmt::format("{}: the bytes have digest {}", what,
                                       transfer.hasher.digest().str()));
  }
  return {};
}

}  // namespace berth::client

namespace berth::client {
namespace {

// The referrers tag schema's tag for `digest`: "<algorithm>-<hex, at most 64 characters>".
std::string referrers_tag(const oci::Digest& digest) {
  std::string tag(oci::algorithm_name(digest.algorithm()));
  tag += '-';
  tag += digest.hex().substr(0, 64);
  return tag;
}

// The index with only the referrers of `artifact_type` (all when unset); invalid_response when
// `bytes` is not an image index.
ClientResult<std::string> filter_referrers(std::string_view bytes,
                                           const std::optional<std::string>& artifact_type,
                                           bool already_filtered, std::string_view what) {
  boost::system::error_code ec;
  json::value document = json::parse(bytes, ec);
  const json::value* manifests =
      !ec && document.is_object() ? document.as_object().if_contains("manifests") : nullptr;
  if (manifests == nullptr || !manifests->is_array()) {
    return client_error(ClientErrc::invalid_response,
                        fmt::format("{}: the answer is not an image index", what));
  }
  if (!artifact_type || already_filtered) return std::string(bytes);
  json::array kept;
  for (const auto& descriptor : manifests->as_array()) {
    const json::value* type =
        descriptor.is_object() ? descriptor.as_object().if_contains("artifactType") : nullptr;
    if (type != nullptr && type->is_string() && type->as_string() == *artifact_type) {
      kept.push_back(descriptor);
    }
  }
  document.as_object()["manifests"] = std::move(kept);
  return json::serialize(document);
}

}  // namespace

ClientResult<std::string> RegistryClient::get_referrers(std::string_view repository,
                                                        const oci::Digest& digest,
                                                        std::optional<std::string> artifact_type) {
  if (auto bad = check_repository(repository)) return *bad;
  std::string what = fmt::format("referrers of {} in {} at {}", digest.str(), repository,
                                 state_->host);
  std::string path = fmt::format("/v2/{}/referrers/{}", repository, digest.str());
  if (artifact_type) {
    boost::urls::url query;
    query.params().append({"artifactType", *artifact_type});
    path += query.buffer();
  }
  std::string accept = "Accept: ";
  accept += oci::media_type::kOciIndex;
  auto response = state_->get_small(path, pull_scope(repository), {accept}, what);
  if (!response) return response.error();
  if (response->status == 200) {
    bool filtered = response->header(kHeaderFiltersApplied).find("artifactType") !=
                    std::string::npos;
    return filter_referrers(response->body, artifact_type, filtered, what);
  }
  if (response->status != 404) return status_error(*response, what);

  // No referrers API: the referrers tag schema, where clients that push referrers keep an
  // index of them under a tag named after the subject.
  auto fallback = get_manifest(repository, referrers_tag(digest));
  if (!fallback) {
    if (fallback.error().code == ClientErrc::not_found) return empty_index();
    return fallback.error();
  }
  if (fallback->media_type != oci::media_type::kOciIndex) {
    return client_error(ClientErrc::invalid_response,
                        fmt::format("{}: tag {} is not an image index", what,
                                    referrers_tag(digest)));
  }
  return filter_referrers(fallback->bytes, artifact_type, false, what);
}

ClientResult<std::vector<std::string>> RegistryClient::list_tags(
    std::string_view repository, std::optional<std::size_t> page_size) {
  if (auto bad = check_repository(repository)) return *bad;
  std::string what = fmt::format("tags of {} at {}", repository, state_->host);
  std::string path = fmt::format("/v2/{}/tags/list", repository);
  if (page_size) path += fmt::format("?n={}", *page_size);
  std::vector<std::string> tags;
  std::set<std::string> pages_seen;
  auto invalid = [&](std::string_view why) {
    return client_error(ClientErrc::invalid_response, fmt::format("{}: {}", what, why));
  };
  while (true) {
    if (pages_seen.size() >= kMaxTagPages) return invalid("too many pages");
    if (!pages_seen.insert(path).second) return invalid("the pages loop");
    auto response = state_->get_small(path, pull_scope(repository),
                                      {"Accept: application/json"}, what);
    if (!response) return response.error();
    if (response->status != 200) return status_error(*response, what);
    boost::system::error_code ec;
    json::value page = json::parse(response->body, ec);
    if (ec || !page.is_object()) return invalid("a page is not a JSON object");
    const json::value* list = page.as_object().if_contains("tags");
    if (list != nullptr && list->is_array()) {
      for (const auto& tag : list->as_array()) {
        if (!tag.is_string()) return invalid("a tag is not a string");
        tags.emplace_back(tag.as_string());
      }
    } else if (list != nullptr && !list->is_null()) {
      return invalid("tags is not a list");
    }
    if (tags.size() > kMaxTags) {
      return client_error(ClientErrc::too_large,
                          fmt::format("{}: more than {} tags", what, kMaxTags));
    }
    std::string next = next_link(response->all(kHeaderLink));
    if (next.empty()) return tags;
    auto absolute = resolve_url(response->url, next);
    auto next_origin = absolute ? origin_of(*absolute) : std::nullopt;
    if (!next_origin || *next_origin != state_->origin) {
      return invalid("the next page is not on the upstream");
    }
    auto parsed = boost::urls::parse_absolute_uri(*absolute);
    path = std::string(parsed->encoded_target());
  }
}

}  // namespace berth::client
