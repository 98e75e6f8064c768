#pragma once
// MetadataStore: what the registry knows about repositories, blobs, manifests, tags and
// uploads. Backends: SqliteMetadataStore (embedded default). Every backend passes the one
// conformance suite in metadata/conformance_test.cc.
//
// Listings are index scans with keyset pagination: callers pass the last item they saw and a
// limit, never an offset. All methods are safe to call concurrently from any thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "oci/digest.h"

namespace berth::metadata {

enum class Errc {
  not_found,
  conflict,  // e.g. a unique key already taken by a different value
  invalid_argument,
  schema_too_new,  // the database was written by a newer berth
  database_error,  // the backend failed (I/O, corruption, busy past the timeout)
};
using MetadataError = Error<Errc>;
template <class T>
using Result = berth::Result<T, MetadataError>;

struct UploadRecord {
  std::string id;
  std::string repository;
  std::int64_t created_at = 0;  // Unix seconds
};

struct ManifestRecord {
  oci::Digest digest;
  std::string media_type;
  std::string artifact_type;           // effective artifact type (may be empty)
  std::optional<oci::Digest> subject;  // the manifest this one refers to, if any
  std::string annotations_json;        // compact JSON object or empty
  std::string content;                 // the exact bytes pushed
  std::int64_t created_at = 0;         // Unix seconds
};

enum class ReferenceKind { blob, manifest };

// An edge from a manifest to what it needs: its config/layers (blob) or child manifests.
struct ManifestReference {
  oci::Digest digest;
  ReferenceKind kind = ReferenceKind::blob;
};

// One entry of a referrers listing: the referring manifest's descriptor.
struct Referrer {
  oci::Digest digest;
  std::string media_type;
  std::string artifact_type;
  std::uint64_t size = 0;
  std::string annotations_json;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // --- repositories (created implicitly by the first upload, blob link or manifest) ---
  virtual Result<bool> repository_exists(std::string_view repository) = 0;
  // Names sorted ascending, strictly after `last` (empty: from the start), at most `limit`.
  virtual Result<std::vector<std::string>> list_repositories(std::string_view last,
                                                             std::size_t limit) = 0;

  // --- blobs ---
  // Records that `repository` holds blob `digest` of `size` bytes. Idempotent.
  virtual Result<void> link_blob(std::string_view repository, const oci::Digest& digest,
                                 std::uint64_t size) = 0;
  // The blob's size if `repository` holds it, else nullopt.
  virtual Result<std::optional<std::uint64_t>> linked_blob_size(std::string_view repository,
                                                                const oci::Digest& digest) = 0;
  // Removes the link; false when there was none.
  virtual Result<bool> unlink_blob(std::string_view repository, const oci::Digest& digest) = 0;

  // --- upload sessions ---
  virtual Result<void> create_upload(const UploadRecord& upload) = 0;
  virtual Result<std::optional<UploadRecord>> get_upload(std::string_view id) = 0;
  // Idempotent.
  virtual Result<void> delete_upload(std::string_view id) = 0;

  // --- manifests and tags ---
  // In one transaction: stores the manifest (no-op if the same digest is already there), its
  // references, and points `tag` at it when given (moving the tag if it existed).
  virtual Result<void> put_manifest(std::string_view repository, const ManifestRecord& manifest,
                                    const std::vector<ManifestReference>& references,
                                    const std::optional<std::string>& tag) = 0;
  virtual Result<std::optional<ManifestRecord>> get_manifest(std::string_view repository,
                                                             const oci::Digest& digest) = 0;
  // Whether the manifest is stored, without reading its content.
  virtual Result<bool> manifest_exists(std::string_view repository, const oci::Digest& digest) = 0;
  virtual Result<std::optional<oci::Digest>> resolve_tag(std::string_view repository,
                                                         std::string_view tag) = 0;
  // Removes the manifest, every tag pointing at it and its references; false when absent.
  virtual Result<bool> delete_manifest(std::string_view repository, const oci::Digest& digest) = 0;
  // Removes only the tag; false when absent.
  virtual Result<bool> delete_tag(std::string_view repository, std::string_view tag) = 0;
  // Tag names sorted ascending (byte order), strictly after `last`, at most `limit`.
  virtual Result<std::vector<std::string>> list_tags(std::string_view repository,
                                                     std::string_view last, std::size_t limit) = 0;
  // Manifests in `repository` whose subject is `subject`, optionally only those of
  // `artifact_type`, ordered by digest.
  virtual Result<std::vector<Referrer>> list_referrers(
      std::string_view repository, const oci::Digest& subject,
      const std::optional<std::string>& artifact_type) = 0;
};

}  // namespace berth::metadata
