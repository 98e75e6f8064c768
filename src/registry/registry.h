#pragma once
// The registry's domain services: blobs, uploads, manifests, tags, referrers and the catalog of
// one registry. Knows nothing of HTTP: the api module parses requests into these calls and maps
// Errc to wire errors.
//
// Write order (see docs/architecture.md): bytes first (hashed, verified, durable), metadata
// second in one transaction. A crash between the two leaves only unreferenced bytes.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "metadata/metadata_store.h"
#include "oci/digest.h"
#include "oci/reference.h"
#include "storage/blob_storage.h"

namespace berth::registry {

enum class Errc {
  blob_unknown,
  blob_upload_unknown,
  blob_upload_invalid,
  digest_invalid,
  manifest_unknown,
  manifest_invalid,
  manifest_blob_unknown,
  manifest_too_large,
  name_unknown,
  range_invalid,    // a chunk that does not continue the upload
  unsupported,
  internal,         // storage or database failure: not the client's fault
};
using RegistryError = Error<Errc>;
template <class T>
using Result = berth::Result<T, RegistryError>;

struct BlobInfo {
  oci::Digest digest;
  std::uint64_t size = 0;
};

struct OpenedBlob {
  BlobInfo info;
  std::unique_ptr<storage::BlobReader> reader;
};

// One request's hold on an upload session: append, then either commit or let it go (the
// session stays resumable).
class UploadSession {
 public:
  UploadSession(metadata::RegistryId registry, std::string repository, std::string id,
                std::unique_ptr<storage::UploadWriter> writer, storage::BlobStorage& storage,
                metadata::MetadataStore& metadata, bool has_record);
  const std::string& id() const { return id_; }
  std::uint64_t size() const { return writer_->size(); }
  Result<void> append(std::span<const std::byte> data);
  // Makes the bytes received so far durable (end of a PATCH).
  Result<void> flush();
  // Verifies `digest`, stores the blob, links it to the repository and ends the session.
  // On a digest mismatch the session ends too and nothing is stored.
  Result<BlobInfo> commit(const oci::Digest& digest);

 private:
  metadata::RegistryId registry_;
  std::string repository_;
  std::string id_;
  std::unique_ptr<storage::UploadWriter> writer_;
  storage::BlobStorage& storage_;
  metadata::MetadataStore& metadata_;
  bool has_record_;
};

struct StoredManifest {
  oci::Digest digest;
  std::string media_type;
  std::string content;
};

struct PutManifestResult {
  oci::Digest digest;
  std::optional<oci::Digest> subject;
};

// The content of one registry (tenant). Cheap to construct: the API builds one per request for
// the registry the request's Host selects.
class Registry {
 public:
  Registry(storage::BlobStorage& storage, metadata::MetadataStore& metadata,
           metadata::RegistryId registry);
  metadata::RegistryId id() const { return registry_; }

  // --- blobs ---
  Result<BlobInfo> stat_blob(std::string_view repository, const oci::Digest& digest);
  Result<OpenedBlob> open_blob(std::string_view repository, const oci::Digest& digest);
  // Unlinks the blob from the repository; the bytes stay until garbage collection.
  Result<void> delete_blob(std::string_view repository, const oci::Digest& digest);
  // Links a blob that `from` holds into `repository` without moving bytes; blob_unknown when
  // `from` does not hold it.
  Result<BlobInfo> mount_blob(std::string_view repository, std::string_view from,
                              const oci::Digest& digest);

  // --- uploads ---
  // A new resumable session recorded in the metadata store.
  Result<std::unique_ptr<UploadSession>> start_upload(std::string_view repository);
  // A one-request session (monolithic upload): no record, gone if the request fails.
  Result<std::unique_ptr<UploadSession>> start_single_request_upload(std::string_view repository);
  Result<std::unique_ptr<UploadSession>> resume_upload(std::string_view repository,
                                                       std::string_view id);
  Result<std::uint64_t> upload_size(std::string_view repository, std::string_view id);
  Result<void> cancel_upload(std::string_view repository, std::string_view id);
  // Abandons a session (used when a monolithic upload fails midway).
  void discard_upload(std::string_view id);

  // --- manifests ---
  Result<PutManifestResult> put_manifest(std::string_view repository,
                                         const oci::Reference& reference, std::string_view bytes,
                                         std::string_view content_type);
  Result<StoredManifest> get_manifest(std::string_view repository,
                                      const oci::Reference& reference);
  // By digest: removes the manifest and every tag on it. By tag: removes only the tag.
  Result<void> delete_manifest(std::string_view repository, const oci::Reference& reference);

  // --- listings: `limit` + 1 items are read to tell whether more follow ---
  struct Page {
    std::vector<std::string> items;
    bool more = false;
  };
  Result<Page> list_tags(std::string_view repository, std::string_view last, std::size_t limit);
  Result<Page> list_repositories(std::string_view last, std::size_t limit);
  Result<std::vector<metadata::Referrer>> list_referrers(
      std::string_view repository, const oci::Digest& subject,
      const std::optional<std::string>& artifact_type);

  // Cheap end-to-end check of both backends, for /healthz.
  Result<void> check_health();

 private:
  Result<std::optional<oci::Digest>> resolve(std::string_view repository,
                                             const oci::Reference& reference);

  metadata::RepositoryRef ref(std::string_view repository) const {
    return {registry_, repository};
  }

  storage::BlobStorage& storage_;
  metadata::MetadataStore& metadata_;
  metadata::RegistryId registry_;
};

}  // namespace berth::registry
