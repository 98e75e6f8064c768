#include "api/distribution.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <charconv>
#include <vector>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api/blocking_pool.h"
#include "api/errors.h"
#include "api/pipeline.h"
#include "api/wire.h"
#include "http/range.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "oci/reference.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using registry::Registry;

void set(Response& response, std::string_view name, std::string value) {
  response.headers.set(std::string(name), std::move(value));
}

// What the handlers that block work on: the registry the request addresses, and the request's
// context, which says where disk and database work runs (off the event loop on a server).
struct Scope {
  Registry& registry;
  RequestContext& context;
  const DataPlane& plane;

  template <class Work>
  auto offload(Work work) {
    return context.run_blocking(std::move(work));
  }
  // Work that waits on an upstream registry.
  template <class Work>
  auto offload_upstream(Work work) {
    if (plane.upstream_pool == nullptr) return context.run_blocking(std::move(work));
    return api::offload(plane.upstream_pool, std::move(work));
  }
};

// Content the registry does not have (in a repository that may not exist yet).
bool is_missing(const registry::RegistryError& error) {
  return error.code == registry::Errc::blob_unknown || error.code == registry::Errc::name_unknown;
}

// The cache rule covering the repository, when the registry has a pull-through cache.
registry::Result<std::optional<upstream::PullThrough>> cache_rule(Scope& scope,
                                                                  std::string_view repository) {
  if (scope.plane.cache == nullptr) return std::optional<upstream::PullThrough>();
  return scope.plane.cache->rule_for(scope.registry.id(), repository);
}

// Pushes into a repository a cache rule fills are refused unless the rule allows them.
std::optional<Response> refuse_push_into_cache(Scope& scope, std::string_view repository) {
  auto rule = cache_rule(scope, repository);
  if (!rule) return error_response(rule.error());
  if (!*rule || (*rule)->rule.allow_push) return std::nullopt;
  return error_response(registry::RegistryError{
      registry::Errc::push_refused,
      fmt::format("repository '{}' is a pull-through cache of {}/{} (cache rule '{}'), which "
                  "refuses pushes",
                  repository, (*rule)->upstream.login_server, (*rule)->upstream.repository,
                  (*rule)->rule.name)});
}

// Says how a cached repository's manifest was answered; a stale one says so in the standard way
// too (RFC 9111's Warning 110).
void add_cache_headers(Response& response, upstream::CacheStatus status) {
  set(response, "X-Berth-Cache", std::string(upstream::cache_status_name(status)));
  if (status == upstream::CacheStatus::stale) {
    set(response, "Warning", "110 berth \"Response is Stale\"");
  }
}

// A blob streamed on from its upstream fetch as it arrives.
class FetchBody final : public http::BodySource {
 public:
  explicit FetchBody(std::shared_ptr<upstream::BlobFetch> fetch) : fetch_(std::move(fetch)) {}
  berth::Result<std::size_t, http::HttpError> read(std::uint64_t offset,
                                                   std::span<std::byte> out) override {
    std::int64_t n = fetch_->read(offset, out);
    if (n < 0) return http::HttpError{http::Errc::closed, fetch_->error().message};
    return static_cast<std::size_t>(n);
  }
  bool may_grow() const override { return true; }

 private:
  std::shared_ptr<upstream::BlobFetch> fetch_;
};

// How long a client waits for the first byte of a blob its upstream is sending.
constexpr auto kFirstByteWait = std::chrono::seconds(60);
constexpr auto kFirstBytePoll = std::chrono::milliseconds(2);

// Waits (without holding a thread) until the fetch has a byte or has ended.
asio::awaitable<void> wait_for_first_byte(const upstream::BlobFetch& fetch) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  const auto until = std::chrono::steady_clock::now() + kFirstByteWait;
  while (fetch.available() == 0 && fetch.size() > 0 &&
         fetch.state() == upstream::BlobFetch::State::running &&
         std::chrono::steady_clock::now() < until) {
    timer.expires_after(kFirstBytePoll);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

// Upload bodies go to storage through two buffers this large: one fills from the socket while
// the other is written and hashed. Big enough to keep syscalls rare, small enough that many
// concurrent uploads stay cheap in memory.
constexpr std::size_t kBodyBufferBytes = 512 * 1024;
// Without "n", listings answer in one page of at most this many items.
constexpr std::size_t kMaxListingItems = 100000;
// Chunked uploads may use chunks of any size; announce that no minimum applies.
constexpr std::string_view kChunkMinLength = "1";


Response empty_response(unsigned status) {
  Response response;
  response.status = status;
  add_common_headers(response);
  return response;
}

Response json_response(std::string body, std::string_view content_type = "application/json") {
  Response response = empty_response(200);
  set(response, header::kContentType, std::string(content_type));
  response.body = std::move(body);
  return response;
}

// Absolute URLs for Location, the way the reference registry answers; relative without Host.
std::string url_for(const Request& request, std::string_view path) {
  auto host = request.header("Host");
  if (!host || host->empty()) return std::string(path);
  return fmt::format("{}://{}{}", request.tls ? "https" : "http", *host, path);
}

// "0-<last byte>" as the Range header of upload responses ("0-0" for an empty upload, as the
// reference registry does).
std::string upload_range(std::uint64_t size) {
  return fmt::format("0-{}", size == 0 ? 0 : size - 1);
}

Response upload_accepted(const Request& request, std::string_view name, std::string_view id,
                         std::uint64_t size, unsigned status) {
  Response response = empty_response(status);
  set(response, header::kLocation,
      url_for(request, fmt::format("/v2/{}/blobs/uploads/{}", name, id)));
  set(response, header::kRange, upload_range(size));
  set(response, header::kUploadUuid, std::string(id));
  return response;
}

Response blob_created(const Request& request, std::string_view name, const oci::Digest& digest) {
  Response response = empty_response(201);
  set(response, header::kLocation,
      url_for(request, fmt::format("/v2/{}/blobs/{}", name, digest.str())));
  set(response, header::kContentDigest, digest.str());
  return response;
}

// Parsed path parameters; `error` is set when one is malformed.
struct Target {
  std::string_view name;
  std::optional<Response> error;
};

Target parse_name(const Request& request) {
  Target target{request.param("name"), std::nullopt};
  if (!oci::is_valid_repository_name(target.name)) {
    target.error = error_response(400, code::kNameInvalid,
                                  fmt::format("invalid repository name '{}'", target.name));
  }
  return target;
}

std::optional<oci::Digest> parse_digest(std::string_view text) { return oci::Digest::parse(text); }

Response digest_invalid(std::string_view text) {
  return error_response(400, code::kDigestInvalid,
                        fmt::format("'{}' is not a valid sha256 or sha512 digest", text));
}

// ------------------------------------------------------------------ base and fallback

asio::awaitable<Response> get_base(Request&) {
  co_return json_response("{}\n");
}

// ------------------------------------------------------------------ blobs

class BlobBody final : public http::BodySource {
 public:
  explicit BlobBody(std::unique_ptr<storage::BlobReader> reader) : reader_(std::move(reader)) {}
  berth::Result<std::size_t, http::HttpError> read(std::uint64_t offset,
                                                   std::span<std::byte> out) override {
    auto count = reader_->read(offset, out);
    if (!count) return http::HttpError{http::Errc::closed, count.error().message};
    return *count;
  }
  int native_handle() const override { return reader_->native_handle(); }

 private:
  std::unique_ptr<storage::BlobReader> reader_;
};

void add_blob_headers(Response& response, const registry::BlobInfo& info) {
  set(response, header::kContentType, "application/octet-stream");
  set(response, header::kContentDigest, info.digest.str());
  set(response, "Accept-Ranges", "bytes");
  set(response, "ETag", fmt::format("\"{}\"", info.digest.str()));
  set(response, "Cache-Control", "max-age=31536000");
}

// A blob a cached repository lacks: its size from the fetch or the upstream (never a fetch).
asio::awaitable<std::optional<registry::Result<std::uint64_t>>> cached_blob_size(
    Scope& scope, std::string_view repository, const oci::Digest& digest) {
  auto rule = cache_rule(scope, repository);
  if (!rule) co_return registry::Result<std::uint64_t>(rule.error());
  if (!*rule) co_return std::nullopt;
  co_return co_await scope.offload_upstream([&] {
    return scope.plane.cache->blob_size(scope.registry, repository, digest, **rule);
  });
}

asio::awaitable<Response> head_blob(Scope& scope, Request& request) {
  Registry& registry = scope.registry;
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  auto digest = parse_digest(request.param("digest"));
  if (!digest) co_return digest_invalid(request.param("digest"));
  auto info = registry.stat_blob(target.name, *digest);
  if (!info && is_missing(info.error())) {
    if (auto size = co_await cached_blob_size(scope, target.name, *digest)) {
      if (!*size) co_return error_response(size->error());
      info = registry::BlobInfo{*digest, **size};
    }
  }
  if (!info) co_return error_response(info.error());
  Response response = empty_response(200);
  add_blob_headers(response, *info);
  response.head_content_length = info->size;
  co_return response;
}

// How long a redirect to the storage stays usable: long enough for a client to follow it and
// read a large layer, short enough that a leaked URL soon stops working.
constexpr std::chrono::seconds kDirectDownloadLifetime{10 * 60};

// A registry with dedicated data endpoints answers a blob GET with 307 to a short-lived read
// URL of the storage, so the bytes bypass berthd. The caller got here through the pipeline
// (network rules, identity, authorization), so no one who may not pull gets a URL. nullopt:
// serve the bytes here (the setting is off, or the storage has no such URLs).
std::optional<Response> redirect_to_storage(Scope& scope, const Target& target,
                                            const oci::Digest& digest) {
  if (!scope.context.registry || !scope.context.registry->record.data_endpoint_enabled) {
    return std::nullopt;
  }
  auto url = scope.registry.direct_blob_url(target.name, digest, kDirectDownloadLifetime);
  if (!url) return error_response(url.error());
  if (!*url) return std::nullopt;
  Response response = empty_response(307);
  set(response, "Location", std::move(**url));
  set(response, "Docker-Content-Digest", digest.str());
  // The URL is a credential of its own: no cache may keep it past its lifetime.
  set(response, "Cache-Control", "no-store");
  return response;
}

// The byte range of a blob of `size` a request asks for, or the answer refusing it; sets the
// 206 status and Content-Range on `response` for a partial answer.
std::variant<http::ByteRange, Response> requested_range(const Request& request,
                                                        std::uint64_t size, Response& response) {
  http::ByteRange range{0, size == 0 ? 0 : size - 1};
  if (auto range_header = request.header("Range")) {
    auto requested = http::parse_range(*range_header, size);
    if (std::holds_alternative<http::RangeUnsatisfiable>(requested)) {
      Response refused = error_response(416, code::kRangeInvalid,
                                        fmt::format("range not satisfiable for a blob of {} bytes",
                                                    size));
      set(refused, header::kContentRange, fmt::format("bytes */{}", size));
      return refused;
    }
    if (const auto* byte_range = std::get_if<http::ByteRange>(&requested)) {
      range = *byte_range;
      response.status = 206;
      set(response, header::kContentRange,
          fmt::format("bytes {}-{}/{}", range.first, range.last, size));
    }
  }
  return range;
}

// A blob a cached repository lacks: streamed on from its upstream as it arrives (one fetch for
// every client asking at once). nullopt: the repository is not a cache.
asio::awaitable<std::optional<Response>> get_cached_blob(Scope& scope, Request& request,
                                                         std::string_view repository,
                                                         const oci::Digest& digest) {
  auto rule = cache_rule(scope, repository);
  if (!rule) co_return error_response(rule.error());
  if (!*rule) co_return std::nullopt;
  auto cached = co_await scope.offload_upstream(
      [&] { return scope.plane.cache->blob(scope.registry, repository, digest, **rule); });
  if (!cached) co_return error_response(cached.error());
  if (!cached->fetch) co_return std::nullopt;  // stored meanwhile: the registry answers
  std::shared_ptr<upstream::BlobFetch> fetch = std::move(cached->fetch);
  co_await wait_for_first_byte(*fetch);
  if (fetch->state() == upstream::BlobFetch::State::failed) {
    co_return error_response(fetch->error());
  }
  Response response = empty_response(200);
  add_blob_headers(response, registry::BlobInfo{digest, fetch->size()});
  set(response, "X-Berth-Cache", "miss");
  const std::uint64_t size = fetch->size();
  auto range = requested_range(request, size, response);
  if (auto* refused = std::get_if<Response>(&range)) co_return std::move(*refused);
  const auto& bytes = std::get<http::ByteRange>(range);
  response.source = std::make_unique<FetchBody>(std::move(fetch));
  response.source_offset = bytes.first;
  response.source_length = size == 0 ? 0 : bytes.length();
  co_return response;
}

asio::awaitable<Response> get_blob(Scope& scope, Request& request) {
  Registry& registry = scope.registry;
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  auto digest = parse_digest(request.param("digest"));
  if (!digest) co_return digest_invalid(request.param("digest"));
  if (auto redirect = redirect_to_storage(scope, target, *digest)) co_return std::move(*redirect);
  auto blob = registry.open_blob(target.name, *digest);
  if (!blob && is_missing(blob.error())) {
    if (auto cached = co_await get_cached_blob(scope, request, target.name, *digest)) {
      co_return std::move(*cached);
    }
  }
  if (!blob) co_return error_response(blob.error());

  Response response = empty_response(200);
  add_blob_headers(response, blob->info);
  const std::uint64_t size = blob->info.size;
  auto range = requested_range(request, size, response);
  if (auto* refused = std::get_if<Response>(&range)) co_return std::move(*refused);
  const auto& bytes = std::get<http::ByteRange>(range);
  response.source = std::make_unique<BlobBody>(std::move(blob->reader));
  response.source_offset = bytes.first;
  response.source_length = size == 0 ? 0 : bytes.length();
  co_return response;
}

asio::awaitable<Response> delete_blob(Scope& scope, Request& request) {
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  auto digest = parse_digest(request.param("digest"));
  if (!digest) co_return digest_invalid(request.param("digest"));
  auto deleted =
      co_await scope.offload([&] { return scope.registry.delete_blob(target.name, *digest); });
  if (!deleted) {
    co_return error_response(deleted.error());
  }
  Response response = empty_response(202);
  set(response, header::kContentDigest, digest->str());
  co_return response;
}

// ------------------------------------------------------------------ uploads

// Two body buffers, allocated uninitialised (only the bytes a body fills become resident), no
// larger than the body when its length is known, and page-aligned so that storage can write
// them without copying through the page cache.
class BodyBuffers {
 public:
  explicit BodyBuffers(std::optional<std::uint64_t> content_length)
      : size_(content_length && *content_length > 0
                  ? static_cast<std::size_t>(std::min<std::uint64_t>(*content_length,
                                                                       kBodyBufferBytes))
                  : kBodyBufferBytes),
        filling_(allocate(size_)),
        draining_(allocate(size_)) {}

  std::span<std::byte> filling() { return {filling_.get(), size_}; }
  std::span<std::byte> draining() { return {draining_.get(), size_}; }
  void swap() { std::swap(filling_, draining_); }

 private:
  static constexpr std::align_val_t kAlignment{4096};
  struct Free {
    void operator()(std::byte* p) const { ::operator delete[](p, kAlignment); }
  };
  using Buffer = std::unique_ptr<std::byte[], Free>;
  static Buffer allocate(std::size_t size) {
    return Buffer(static_cast<std::byte*>(::operator new[](size, kAlignment)));
  }

  std::size_t size_;
  Buffer filling_;
  Buffer draining_;
};

// What one fill of a buffer brought: the bytes read, and the error that stopped it early.
struct Filled {
  std::size_t bytes = 0;
  std::optional<http::HttpError> error;
};

// Reads body bytes until `buffer` is full or the body ends.
asio::awaitable<Filled> fill(http::BodyReader& body, std::span<std::byte> buffer) {
  Filled filled;
  while (filled.bytes < buffer.size()) {
    auto count = co_await body.read_some(buffer.subspan(filled.bytes));
    if (!count) {
      filled.error = count.error();
      break;
    }
    if (*count == 0) break;
    filled.bytes += *count;
  }
  co_return filled;
}

Response body_ended_early(const http::HttpError& error) {
  return error_response(400, code::kBlobUploadInvalid,
                        fmt::format("the request body ended early: {}", error.message));
}

// Streams the request body into the session: while one buffer is appended (written and hashed)
// on the blocking pool, the next fills from the socket. Returns an error response, or nullopt
// with `copied` set to the number of body bytes appended. After an error some of the body may
// have been appended: the caller reverts (a chunk counts whole or not at all) or abandons the
// session.
asio::awaitable<std::optional<Response>> copy_body(Scope& scope, Request& request,
                                                   registry::UploadSession& session,
                                                   std::uint64_t& copied) {
  using namespace asio::experimental::awaitable_operators;
  BodyBuffers buffers(request.body->content_length());
  copied = 0;
  Filled current = co_await fill(*request.body, buffers.filling());
  while (current.bytes > 0) {
    buffers.swap();
    auto chunk = buffers.draining().first(current.bytes);
    auto append = scope.offload([&session, chunk] { return session.append(chunk); });
    registry::Result<void> appended;
    Filled next;
    if (current.error) {
      appended = co_await std::move(append);
    } else {
      std::tie(appended, next) =
          co_await (std::move(append) && fill(*request.body, buffers.filling()));
    }
    if (!appended) co_return error_response(appended.error());
    copied += current.bytes;
    if (current.error) break;
    current = std::move(next);
  }
  if (current.error) co_return body_ended_early(*current.error);
  co_return std::nullopt;
}

// Checks a chunk's Content-Range against the upload. Returns an error response when the chunk
// does not continue the upload where it stands.
std::optional<Response> check_chunk_start(const Request& request, std::string_view name,
                                          const registry::UploadSession& session,
                                          std::optional<http::ByteRange>& range) {
  auto header_value = request.header("Content-Range");
  if (!header_value) return std::nullopt;
  range = http::parse_content_range(*header_value);
  if (!range) {
    return error_response(400, code::kBlobUploadInvalid,
                          fmt::format("malformed Content-Range '{}'", *header_value));
  }
  if (range->first != session.size()) {
    Response refused = error_response(
        416, code::kRangeInvalid,
        fmt::format("chunk starts at byte {} but the upload has {} bytes; resume from there",
                    range->first, session.size()));
    set(refused, header::kLocation,
        url_for(request, fmt::format("/v2/{}/blobs/uploads/{}", name, session.id())));
    set(refused, header::kRange, upload_range(session.size()));
    set(refused, header::kUploadUuid, session.id());
    return refused;
  }
  return std::nullopt;
}

// Appends the body as one chunk, checking Content-Range and that the announced length arrived.
// A chunk that is refused for any reason (its length, a broken or stalled body, a failed write)
// is reverted: the session stays where the last accepted chunk left it, which is what its
// status reports and where the client resumes.
asio::awaitable<std::optional<Response>> append_chunk(Scope& scope, Request& request,
                                                      std::string_view name,
                                                      registry::UploadSession& session) {
  std::optional<http::ByteRange> range;
  if (auto refused = check_chunk_start(request, name, session, range)) co_return refused;
  std::uint64_t copied = 0;
  std::optional<Response> failed = co_await copy_body(scope, request, session, copied);
  if (!failed && range && copied != range->length()) {
    failed = error_response(400, code::kSizeInvalid,
                            fmt::format("Content-Range announces {} bytes but {} arrived",
                                        range->length(), copied));
  }
  if (failed) {
    auto reverted = co_await scope.offload([&session] { return session.revert(); });
    if (!reverted) co_return error_response(reverted.error());
  }
  co_return failed;
}

asio::awaitable<Response> monolithic_upload(Scope& scope, Request& request,
                                            std::string_view name, const oci::Digest& digest) {
  Registry& registry = scope.registry;
  auto session =
      co_await scope.offload([&] { return registry.start_single_request_upload(name); });
  if (!session) co_return error_response(session.error());
  // A one-request upload that fails leaves nothing: no session to resume, no bytes.
  auto abandon = [&] { return scope.offload([&] { (*session)->abandon(); }); };
  std::uint64_t copied = 0;
  if (auto failed = co_await copy_body(scope, request, **session, copied)) {
    co_await abandon();
    co_return std::move(*failed);
  }
  auto committed = co_await scope.offload([&] { return (*session)->commit(digest); });
  if (!committed) {
    co_await abandon();
    co_return error_response(committed.error());
  }
  co_return blob_created(request, name, committed->digest);
}

asio::awaitable<Response> start_upload(Scope& scope, Request& request) {
  Registry& registry = scope.registry;
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  if (auto refused = refuse_push_into_cache(scope, target.name)) co_return std::move(*refused);

  if (auto mount = request.query_param("mount")) {
    auto digest = parse_digest(*mount);
    if (!digest) co_return digest_invalid(*mount);
    auto from = request.query_param("from");
    // A blob is mounted only from a repository the caller may read; otherwise the client
    // uploads it, and learns nothing about the other repository.
    if (from && oci::is_valid_repository_name(*from) && scope.context.may_read(*from)) {
      auto mounted = co_await scope.offload(
          [&] { return registry.mount_blob(target.name, *from, *digest); });
      if (mounted) co_return blob_created(request, target.name, mounted->digest);
      if (mounted.error().code != registry::Errc::blob_unknown) {
        co_return error_response(mounted.error());
      }
    }
    // Not mountable: fall back to a regular upload session, as the spec asks.
  } else if (auto digest_text = request.query_param("digest")) {
    auto digest = parse_digest(*digest_text);
    if (!digest) co_return digest_invalid(*digest_text);
    co_return co_await monolithic_upload(scope, request, target.name, *digest);
  }

  auto session = co_await scope.offload([&] { return registry.start_upload(target.name); });
  if (!session) co_return error_response(session.error());
  Response response = upload_accepted(request, target.name, (*session)->id(), 0, 202);
  set(response, header::kChunkMinLength, std::string(kChunkMinLength));
  co_return response;
}

asio::awaitable<Response> patch_upload(Scope& scope, Request& request) {
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  std::string_view id = request.param("uuid");
  auto session =
      co_await scope.offload([&] { return scope.registry.resume_upload(target.name, id); });
  if (!session) co_return error_response(session.error());
  if (auto failed = co_await append_chunk(scope, request, target.name, **session)) {
    co_return std::move(*failed);
  }
  auto flushed = co_await scope.offload([&] {
    auto kept = (*session)->flush();
    // A chunk that cannot be made durable is not accepted either.
    if (!kept) (void)(*session)->revert();
    return kept;
  });
  if (!flushed) co_return error_response(flushed.error());
  co_return upload_accepted(request, target.name, id, (*session)->size(), 202);
}

asio::awaitable<Response> finish_upload(Scope& scope, Request& request) {
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  std::string_view id = request.param("uuid");
  auto digest_text = request.query_param("digest");
  if (!digest_text) {
    co_return error_response(400, code::kDigestInvalid,
                             "the digest query parameter is required to complete an upload");
  }
  auto digest = parse_digest(*digest_text);
  if (!digest) co_return digest_invalid(*digest_text);
  auto session =
      co_await scope.offload([&] { return scope.registry.resume_upload(target.name, id); });
  if (!session) co_return error_response(session.error());
  if (auto failed = co_await append_chunk(scope, request, target.name, **session)) {
    co_return std::move(*failed);
  }
  auto committed = co_await scope.offload([&] {
    auto stored = (*session)->commit(*digest);
    // The final chunk counts only with the commit: a retry of the same PUT must find the
    // session as it was. (After a digest mismatch the session is gone and this does nothing.)
    if (!stored) (void)(*session)->revert();
    return stored;
  });
  if (!committed) co_return error_response(committed.error());
  co_return blob_created(request, target.name, committed->digest);
}

asio::awaitable<Response> get_upload(Registry& registry, Request& request) {
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  std::string_view id = request.param("uuid");
  auto size = registry.upload_size(target.name, id);
  if (!size) co_return error_response(size.error());
  co_return upload_accepted(request, target.name, id, *size, 204);
}

asio::awaitable<Response> cancel_upload(Scope& scope, Request& request) {
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  auto cancelled = co_await scope.offload(
      [&] { return scope.registry.cancel_upload(target.name, request.param("uuid")); });
  if (!cancelled) {
    co_return error_response(cancelled.error());
  }
  co_return empty_response(204);
}

// ------------------------------------------------------------------ manifests

// For PUT, which names the manifest it stores: a malformed name is the client's mistake.
std::optional<oci::Reference> parse_reference_to_store(std::string_view text, Response& error) {
  auto reference = oci::parse_reference(text);
  if (!reference) {
    error = text.find(':') != std::string_view::npos
                ? digest_invalid(text)
                : error_response(400, code::kTagInvalid, fmt::format("invalid tag '{}'", text));
  }
  return reference;
}

// For GET, HEAD and DELETE, which look a manifest up: no manifest can be stored under a name
// that is neither a tag nor a digest, so it is unknown. Clients and the OCI conformance tests
// expect 404 here (the reference registry's routes do not match such names at all).
std::optional<oci::Reference> parse_reference_to_find(std::string_view text, Response& error) {
  auto reference = oci::parse_reference(text);
  if (!reference) {
    error = error_response(
        404, code::kManifestUnknown,
        fmt::format("manifest unknown: '{}' is neither a valid tag nor a valid digest", text));
  }
  return reference;
}

asio::awaitable<Response> get_manifest(Scope& scope, Request& request, bool head) {
  Registry& registry = scope.registry;
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  Response error;
  auto reference = parse_reference_to_find(request.param("reference"), error);
  if (!reference) co_return error;
  auto rule = cache_rule(scope, target.name);
  if (!rule) co_return error_response(rule.error());
  std::optional<upstream::CacheStatus> cache_status;
  registry::Result<registry::StoredManifest> manifest =
      registry::RegistryError{registry::Errc::internal, ""};
  if (*rule) {
    // What the registry answers itself, like any manifest; the upstream only when needed.
    auto fresh = scope.plane.cache->fresh_manifest(registry, target.name, *reference, **rule,
                                                   !head);
    if (!fresh) co_return error_response(fresh.error());
    if (!*fresh) {
      auto cached = co_await scope.offload_upstream([&] {
        return scope.plane.cache->manifest(registry, target.name, *reference, **rule, !head);
      });
      if (!cached) co_return error_response(cached.error());
      *fresh = std::move(*cached);
    }
    cache_status = (*fresh)->status;
    manifest = std::move((*fresh)->manifest);
  } else {
    manifest = registry.get_manifest(target.name, *reference, /*pull=*/!head);
  }
  if (!manifest) co_return error_response(manifest.error());
  Response response = empty_response(200);
  if (cache_status) add_cache_headers(response, *cache_status);
  set(response, header::kContentType, manifest->media_type);
  set(response, header::kContentDigest, manifest->digest.str());
  set(response, "ETag", fmt::format("\"{}\"", manifest->digest.str()));
  if (head) {
    response.head_content_length = manifest->content.size();
  } else {
    response.body = std::move(manifest->content);
  }
  co_return response;
}

asio::awaitable<Response> put_manifest(Scope& scope, Request& request) {
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  Response error;
  auto reference = parse_reference_to_store(request.param("reference"), error);
  if (!reference) co_return error;
  if (auto refused = refuse_push_into_cache(scope, target.name)) co_return std::move(*refused);
  auto body = co_await http::read_body(*request.body, oci::kMaxManifestBytes);
  if (!body) {
    if (body.error().code == http::Errc::too_large) {
      co_return error_response(413, code::kManifestInvalid,
                               fmt::format("manifest is larger than the {} byte limit",
                                           oci::kMaxManifestBytes));
    }
    co_return error_response(400, code::kManifestInvalid,
                             fmt::format("the manifest body ended early: {}",
                                         body.error().message));
  }
  std::string_view content_type = request.header("Content-Type").value_or("");
  auto stored = co_await scope.offload([&] {
    return scope.registry.put_manifest(target.name, *reference, *body, content_type);
  });
  if (!stored) co_return error_response(stored.error());
  Response response = empty_response(201);
  set(response, header::kLocation,
      url_for(request, fmt::format("/v2/{}/manifests/{}", target.name, stored->digest.str())));
  set(response, header::kContentDigest, stored->digest.str());
  if (stored->subject) set(response, header::kSubject, stored->subject->str());
  co_return response;
}

asio::awaitable<Response> delete_manifest(Scope& scope, Request& request) {
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  Response error;
  auto reference = parse_reference_to_find(request.param("reference"), error);
  if (!reference) co_return error;
  auto deleted = co_await scope.offload(
      [&] { return scope.registry.delete_manifest(target.name, *reference); });
  if (!deleted) {
    co_return error_response(deleted.error());
  }
  co_return empty_response(202);
}

// ------------------------------------------------------------------ listings

struct Pagination {
  std::string last;
  std::size_t limit = kMaxListingItems;
  bool explicit_limit = false;
};

// nullopt when "n" is not a non-negative integer.
std::optional<Pagination> parse_pagination(const Request& request) {
  Pagination pagination;
  if (auto last = request.query_param("last")) pagination.last = std::string(*last);
  if (auto n = request.query_param("n")) {
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(n->data(), n->data() + n->size(), value);
    if (ec != std::errc() || end != n->data() + n->size()) return std::nullopt;
    pagination.limit = std::min(value, kMaxListingItems);
    pagination.explicit_limit = true;
  }
  return pagination;
}

Response pagination_invalid() {
  return error_response(400, code::kPaginationNumberInvalid,
                        "the n query parameter must be a non-negative integer");
}

std::string json_string_array(const std::vector<std::string>& items) {
  boost::json::array array;
  array.reserve(items.size());
  for (const auto& item : items) array.emplace_back(item);
  return boost::json::serialize(array);
}

void add_next_link(Response& response, std::string_view path, const Pagination& pagination,
                   const Registry::Page& page) {
  if (!page.more || page.items.empty()) return;
  set(response, header::kLink,
      fmt::format("<{}?last={}&n={}>; rel=\"next\"", path, page.items.back(), pagination.limit));
}

asio::awaitable<Response> list_tags(Registry& registry, Request& request) {
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  auto pagination = parse_pagination(request);
  if (!pagination) co_return pagination_invalid();
  auto page = registry.list_tags(target.name, pagination->last, pagination->limit);
  if (!page) co_return error_response(page.error());
  Response response = json_response(fmt::format(R"({{"name":{},"tags":{}}})",
                                                boost::json::serialize(boost::json::string(
                                                    target.name)),
                                                json_string_array(page->items)));
  add_next_link(response, fmt::format("/v2/{}/tags/list", target.name), *pagination, *page);
  co_return response;
}

asio::awaitable<Response> list_catalog(Scope& scope, Request& request) {
  auto pagination = parse_pagination(request);
  if (!pagination) co_return pagination_invalid();
  auto page = readable_repositories(scope.registry, scope.context, std::string(pagination->last),
                                    pagination->limit);
  if (!page) co_return error_response(page.error());
  Response response =
      json_response(fmt::format(R"({{"repositories":{}}})", json_string_array(page->items)));
  add_next_link(response, "/v2/_catalog", *pagination, *page);
  co_return response;
}

asio::awaitable<Response> list_referrers(Registry& registry, Request& request) {
  Target target = parse_name(request);
  if (target.error) co_return std::move(*target.error);
  auto subject = parse_digest(request.param("digest"));
  if (!subject) co_return digest_invalid(request.param("digest"));
  std::optional<std::string> artifact_type;
  if (auto filter = request.query_param("artifactType")) artifact_type = std::string(*filter);
  auto referrers = registry.list_referrers(target.name, *subject, artifact_type);
  if (!referrers) co_return error_response(referrers.error());

  boost::json::array manifests;
  for (const auto& referrer : *referrers) {
    boost::json::object descriptor;
    descriptor["mediaType"] = referrer.media_type;
    descriptor["digest"] = referrer.digest.str();
    descriptor["size"] = referrer.size;
    if (!referrer.artifact_type.empty()) descriptor["artifactType"] = referrer.artifact_type;
    if (!referrer.annotations_json.empty()) {
      boost::system::error_code ec;
      auto annotations = boost::json::parse(referrer.annotations_json, ec);
      if (!ec) descriptor["annotations"] = std::move(annotations);
    }
    manifests.emplace_back(std::move(descriptor));
  }
  boost::json::object index;
  index["schemaVersion"] = 2;
  index["mediaType"] = oci::media_type::kOciIndex;
  index["manifests"] = std::move(manifests);
  Response response = json_response(boost::json::serialize(index), oci::media_type::kOciIndex);
  if (artifact_type) set(response, header::kFiltersApplied, "artifactType");
  co_return response;
}

}  // namespace

namespace {

// Runs `handler` on the content of the registry the pipeline resolved: with the Scope when the
// handler blocks (and so needs to know where that work runs), else with the registry alone.
// `records_events`: the route changes content or pulls a manifest, so the registry gets the
// request as the origin of its events (other routes skip building it).
template <class Handler>
asio::awaitable<Response> in_registry(const DataPlane& plane, RequestContext& context,
                                      Request& request, bool records_events, Handler handler) {
  // The distribution family resolves the registry before any handler runs.
  Registry registry = plane.registries.for_registry(context.registry->id);
  if (records_events) registry.set_origin(event_origin(context, request));
  if constexpr (std::is_invocable_v<Handler&, Scope&, Request&>) {
    Scope scope{registry, context, plane};
    co_return co_await handler(scope, request);
  } else {
    co_return co_await handler(registry, request);
  }
}

}  // namespace

registry::Result<Registry::Page> readable_repositories(Registry& registry,
                                                       const RequestContext& context,
                                                       std::string last, std::size_t limit) {
  Registry::Page readable;
  while (true) {
    auto page = registry.list_repositories(last, limit);
    if (!page) return page.error();
    for (auto& name : page->items) {
      if (readable.items.size() == limit) {
        readable.more = true;
        return readable;
      }
      if (context.may_read(name)) readable.items.push_back(std::move(name));
    }
    if (!page->more || page->items.empty()) return readable;
    last = page->items.empty() ? last : std::string(page->items.back());
    if (readable.items.size() == limit) {
      readable.more = true;
      return readable;
    }
  }
}

std::vector<RouteRow> distribution_routes(DataPlane& plane) {
  std::vector<RouteRow> rows;
  const DataPlane* p = &plane;
  auto route = [&rows, p](std::string method, std::string pattern, std::string name,
                          std::string_view action, auto handler) {
    bool records_events = name == "manifest.get" || name == "manifest.put" ||
                          name == "manifest.delete";
    rows.push_back({std::move(method), std::move(pattern), std::move(name), std::string(action),
                    [p, handler, records_events](RequestContext& context, Request& request) {
                      return in_registry(*p, context, request, records_events, handler);
                    }});
  };
  using namespace action;
  route("GET", "/v2/", "base", kBase, [](Registry&, Request& q) { return get_base(q); });
  route("GET", "/v2/_catalog", "catalog.list", kCatalog, list_catalog);
  route("GET", "/v2/{name+}/tags/list", "tags.list", kPull, list_tags);
  route("GET", "/v2/{name+}/referrers/{digest}", "referrers.list", kPull, list_referrers);
  route("GET", "/v2/{name+}/manifests/{reference}", std::string(route_name::kManifestGet), kPull,
        [](Scope& s, Request& q) { return get_manifest(s, q, false); });
  route("HEAD", "/v2/{name+}/manifests/{reference}", "manifest.head", kPull,
        [](Scope& s, Request& q) { return get_manifest(s, q, true); });
  route("PUT", "/v2/{name+}/manifests/{reference}", std::string(route_name::kManifestPut), kPush,
        put_manifest);
  route("DELETE", "/v2/{name+}/manifests/{reference}", "manifest.delete", kDelete,
        delete_manifest);
  for (std::string pattern : {"/v2/{name+}/blobs/uploads/", "/v2/{name+}/blobs/uploads"}) {
    route("POST", pattern, "upload.start", kPush, start_upload);
  }
  route("GET", "/v2/{name+}/blobs/uploads/{uuid}", "upload.status", kPush, get_upload);
  route("PATCH", "/v2/{name+}/blobs/uploads/{uuid}", "upload.patch", kPush, patch_upload);
  route("PUT", "/v2/{name+}/blobs/uploads/{uuid}", "upload.finish", kPush, finish_upload);
  route("DELETE", "/v2/{name+}/blobs/uploads/{uuid}", "upload.cancel", kPush, cancel_upload);
  route("GET", "/v2/{name+}/blobs/{digest}", "blob.get", kPull, get_blob);
  route("HEAD", "/v2/{name+}/blobs/{digest}", "blob.head", kPull, head_blob);
  route("DELETE", "/v2/{name+}/blobs/{digest}", "blob.delete", kDelete, delete_blob);
  return rows;
}

RouteFamily distribution_family(BlockingPool* blocking) {
  RouteFamily family = service_family();
  family.name = "distribution";
  family.resolves_registry = true;
  family.blocking = blocking;
  return family;
}

RouteFamily service_family() {
  RouteFamily family;
  family.name = "service";
  family.errors = oci_family_errors();
  return family;
}

http::Response not_routed(const http::Request& request, bool method_not_allowed) {
  if (method_not_allowed) {
    return error_response(405, code::kUnsupported,
                          fmt::format("{} is not supported on {}", request.method, request.path));
  }
  return error_response(404, code::kNotFound, fmt::format("no such endpoint: {}", request.path));
}

}  // namespace berth::api
