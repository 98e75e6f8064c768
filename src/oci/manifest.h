#pragma once
// Parsing and validation of image manifests and indexes (OCI and Docker schema 2).
// The parser never rewrites the bytes: the registry stores and serves exactly what it got.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "oci/digest.h"

namespace berth::oci {

inline constexpr std::size_t kMaxManifestBytes = 4 * 1024 * 1024;

struct Platform {
  std::string architecture;
  std::string os;
  std::string os_version;
  std::string variant;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  std::int64_t size = 0;
  std::vector<std::string> urls;
  std::optional<std::string> artifact_type;
  std::optional<Platform> platform;
  // The "annotations" object as compact JSON, empty when absent.
  std::string annotations_json;
};

enum class ManifestKind { image, index };

struct Manifest {
  // The effective media type: the document's "mediaType" field, or the Content-Type it was
  // sent with when the field is absent.
  std::string media_type;
  ManifestKind kind = ManifestKind::image;
  // The "artifactType" field, absent for plain images.
  std::optional<std::string> artifact_type;
  std::optional<Descriptor> config;    // images only
  std::vector<Descriptor> layers;      // images only
  std::vector<Descriptor> manifests;   // indexes only
  std::optional<Descriptor> subject;
  std::string annotations_json;        // compact JSON object, empty when absent

  // What the referrers API reports as this manifest's artifact type: artifactType, else the
  // config's media type (images only), else empty.
  std::string effective_artifact_type() const;
};

enum class ManifestErrc {
  invalid_json,        // not a JSON object
  duplicate_key,       // a JSON object has the same key twice (parsers disagree on which wins)
  invalid,             // a required field is missing or has the wrong type/value
  media_type_mismatch, // mediaType field disagrees with the Content-Type or the structure
  unsupported,         // schema 1 or an unknown manifest media type
  too_large,           // over kMaxManifestBytes
};
using ManifestError = Error<ManifestErrc>;

// Parses `bytes` sent with `content_type` (may be empty). Checks well-formed JSON without a
// repeated key in any object, a known
// manifest media type (field, else Content-Type), schemaVersion 2, required fields, valid
// descriptors (digest, size >= 0, media type syntax), and that the structure matches the media
// type (layers/config for images, manifests for indexes). Schema 1 is refused with a message
// saying so.
Result<Manifest, ManifestError> parse_manifest(std::string_view bytes,
                                               std::string_view content_type);

// False for layers the registry need not hold: foreign/non-distributable layers, and layers
// that carry "urls" (Windows base layers), which clients fetch from elsewhere.
bool must_be_present(const Descriptor& layer);

// True for the media types accepted on manifest endpoints (OCI manifest/index, Docker schema 2
// manifest/list).
bool is_manifest_media_type(std::string_view media_type);

}  // namespace berth::oci
