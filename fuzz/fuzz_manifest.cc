// Feeds arbitrary bytes to parse_manifest under every way the media type can be resolved, and
// checks that whatever is accepted is internally consistent.

#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "oci/manifest.h"
#include "oci/media_types.h"

namespace {

namespace oci = berth::oci;
namespace media_type = berth::oci::media_type;

// Trap rather than abort with a message: libFuzzer reports the stack and saves the input.
void check(bool condition) {
  if (!condition) __builtin_trap();
}

void check_descriptor(const oci::Descriptor& descriptor) {
  check(!descriptor.media_type.empty());
  check(descriptor.size >= 0);
  auto reparsed = oci::Digest::parse(descriptor.digest.str());
  check(reparsed.has_value() && *reparsed == descriptor.digest);
  if (!descriptor.annotations_json.empty()) {
    boost::system::error_code ec;
    auto annotations = boost::json::parse(descriptor.annotations_json, ec);
    check(!ec && annotations.is_object());
  }
  (void)oci::must_be_present(descriptor);
}

void check_manifest(const oci::Manifest& manifest) {
  check(oci::is_manifest_media_type(manifest.media_type));
  bool index = manifest.media_type == media_type::kOciIndex ||
               manifest.media_type == media_type::kDockerManifestList;
  check(index == (manifest.kind == oci::ManifestKind::index));
  if (index) {
    check(!manifest.config && manifest.layers.empty());
  } else {
    check(manifest.config.has_value() && manifest.manifests.empty());
    check_descriptor(*manifest.config);
  }
  for (const auto& layer : manifest.layers) check_descriptor(layer);
  for (const auto& child : manifest.manifests) check_descriptor(child);
  if (manifest.subject) check_descriptor(*manifest.subject);
  if (!manifest.annotations_json.empty()) {
    boost::system::error_code ec;
    auto annotations = boost::json::parse(manifest.annotations_json, ec);
    check(!ec && annotations.is_object());
  }
  (void)manifest.effective_artifact_type();
}

constexpr std::string_view kContentTypes[] = {
    "",
    "application/json; charset=utf-8",
    media_type::kOciManifest,
    media_type::kOciIndex,
    media_type::kDockerManifest,
    media_type::kDockerManifestList,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (std::string_view content_type : kContentTypes) {
    auto result = oci::parse_manifest(bytes, content_type);
    if (result) {
      check_manifest(*result);
    } else {
      check(!result.error().message.empty());
    }
  }
  return 0;
}
