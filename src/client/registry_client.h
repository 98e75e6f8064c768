#pragma once
// An OCI distribution client for one upstream registry: what berth's import and pull-through
// cache (and later replication and tasks) use to read content from other registries.
//
// It speaks the pull side of the distribution spec over libcurl: the /v2/ ping and the
// WWW-Authenticate challenge (Basic, or Bearer tokens from the upstream's token service, cached
// per scope), manifests and indexes with their digests verified, blobs streamed with their
// digest verified at the end and resumed with Range requests after a dropped connection, the
// referrers API with the referrers tag schema as its fallback, and tag listings with Link
// paging. 429 and 503 answers are waited out when their Retry-After is short enough.
//
// Every URL is https with verification, except for insecure hosts (ClientOptions), and every
// address connected to passes the destination policy. Credentials and tokens never appear in
// errors or logs.
//
// A RegistryClient may be used by several threads at once (the token cache is locked, and each
// call uses its own connection from a pool).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/errors.h"
#include "client/options.h"
#include "oci/digest.h"

namespace berth::client {

// Largest manifest, index, referrers answer or tag page read (the registry's own limit).
inline constexpr std::size_t kMaxManifestBytes = 4 * 1024 * 1024;

struct Manifest {
  std::string bytes;       // exactly as the upstream served them
  std::string media_type;  // Content-Type, else the document's mediaType
  oci::Digest digest;      // verified: of `bytes`
};

struct ManifestHead {
  oci::Digest digest;
  std::string media_type;
  std::uint64_t size = 0;
};

struct BlobHead {
  oci::Digest digest;
  std::uint64_t size = 0;
};

// Receives a blob's bytes in order, each byte once; false stops the transfer (cancelled).
using BlobSink = std::function<bool(std::span<const std::byte>)>;

struct BlobFetchOptions {
  // The size the blob must have (from a manifest's descriptor): more or fewer bytes is a
  // digest_mismatch, and a transfer stops as soon as it sends too many.
  std::optional<std::uint64_t> expected_size;
  // The hash of the bytes the caller already has (a transfer of its own that broke off): the
  // fetch starts at its byte count and the final digest covers those bytes too. Its algorithm
  // must be the digest's.
  std::optional<oci::Hasher> continue_from;
};

class RegistryClient {
 public:
  // A client of `host` ("registry.example", "registry.example:5000", "[::1]:5000"): https,
  // or plain http when the host is one of options.insecure_hosts. invalid_argument when the
  // host is not a host[:port].
  static ClientResult<RegistryClient> create(ClientOptions options, std::string host,
                                             std::optional<Credentials> credentials);
  ~RegistryClient();
  RegistryClient(RegistryClient&&) noexcept;
  RegistryClient& operator=(RegistryClient&&) noexcept;

  const std::string& host() const;
  // "https://host:port" or "http://host:port".
  std::string base_url() const;

  // GET /v2/, authenticating as the challenge asks: proves the upstream speaks the API and
  // the credentials work.
  ClientResult<void> ping();

  // A manifest or index by tag or digest, with Accept naming the OCI and Docker v2 manifest
  // and index types. The bytes are checked against a digest reference and against the
  // Docker-Content-Digest header when present; more than kMaxManifestBytes is too_large.
  ClientResult<Manifest> get_manifest(std::string_view repository, std::string_view reference);
  // The same by HEAD, for revalidating a tag without fetching it.
  ClientResult<ManifestHead> head_manifest(std::string_view repository,
                                           std::string_view reference);

  ClientResult<BlobHead> head_blob(std::string_view repository, const oci::Digest& digest);
  // Streams the blob to `sink` (following redirects to blob storage, without the upstream's
  // Authorization on another origin). A dropped or stalled connection is resumed with
  // `Range: bytes=N-` up to max_resume_attempts times; an upstream that answers a Range with
  // the whole blob has the bytes the sink already has skipped. The digest (and the expected
  // size) is verified at the end: digest_mismatch then means the sink got wrong bytes and the
  // caller must discard what it kept.
  ClientResult<void> get_blob(std::string_view repository, const oci::Digest& digest,
                              const BlobSink& sink, BlobFetchOptions options = {});

  // The referrers of `digest` as an OCI image index (JSON): from the referrers API, or, when
  // the upstream has none (404), from the referrers tag schema (tag "sha256-<hex>"), or an
  // empty index when that tag does not exist either. With `artifact_type`, only referrers of
  // that type (filtered here when the upstream did not).
  ClientResult<std::string> get_referrers(std::string_view repository, const oci::Digest& digest,
                                          std::optional<std::string> artifact_type = {});

  // Every tag of the repository, following the Link header's next pages. `page_size` asks for
  // pages of that many tags (n=); the upstream's default otherwise.
  ClientResult<std::vector<std::string>> list_tags(std::string_view repository,
                                                   std::optional<std::size_t> page_size = {});

 private:
  struct State;
  explicit RegistryClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace berth::client
