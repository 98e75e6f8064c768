#pragma once
// For tests: puts content into a registry (docker-registry, berthd) with plain distribution
// API calls: monolithic blob uploads (POST, then PUT with the digest) and manifest PUTs. Used
// to give an upstream the images, indexes and referrers that client, import and cache tests
// read back. Failures are gtest failures (ADD_FAILURE) and return "".

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::testing {

struct PushTarget {
  std::string base_url;                       // "http://127.0.0.1:5000"
  std::optional<std::string> authorization;   // "Basic ..." or "Bearer ..."
  std::optional<std::filesystem::path> ca_file;
};

// What push_image() made.
struct PushedImage {
  std::string manifest;          // the bytes pushed
  std::string digest;            // of the manifest
  std::string media_type;
  std::string config_digest;
  std::vector<std::string> layer_digests;
  std::vector<std::string> layers;  // the layers' bytes
};

// "Basic base64(user:password)".
std::string basic_authorization(std::string_view user, std::string_view password);
// `size` bytes that do not repeat in any short period (so a corrupted or misplaced byte is
// always noticed), from `seed`.
std::string pseudo_random_bytes(std::size_t size, unsigned seed);
std::string sha256_digest(std::string_view bytes);

class OciPusher {
 public:
  explicit OciPusher(PushTarget target) : target_(std::move(target)) {}

  // The blob's digest.
  std::string push_blob(std::string_view repository, std::string_view bytes);
  // The manifest's digest; `reference` is a tag or the digest.
  std::string push_manifest(std::string_view repository, std::string_view reference,
                            std::string_view media_type, std::string_view bytes);
  // An OCI image of `layers` (each becomes a layer blob) with a config naming `architecture`,
  // tagged `tag` ("" for untagged).
  PushedImage push_image(std::string_view repository, std::string_view tag,
                         const std::vector<std::string>& layers,
                         std::string_view architecture = "amd64");
  // An OCI index of `images` (their architectures in order), tagged `tag`. Its digest.
  PushedImage push_index(std::string_view repository, std::string_view tag,
                         const std::vector<PushedImage>& images,
                         const std::vector<std::string>& architectures);
  // A referrer of `subject`: an OCI manifest with `artifact_type`, the empty config and one
  // layer, whose `subject` is the image. Also kept in the referrers tag schema's index
  // ("sha256-<hex>"), as clients do for registries without the referrers API, when
  // `update_tag_schema`.
  PushedImage push_referrer(std::string_view repository, const PushedImage& subject,
                            std::string_view artifact_type, std::string_view payload,
                            bool update_tag_schema);

 private:
  struct Answer {
    long status = 0;
    std::string location;
    std::string body;
  };
  Answer send(std::string_view method, const std::string& url, std::string_view body,
              const std::vector<std::string>& headers);

  PushTarget target_;
  // The referrers pushed per subject digest, for the tag schema's index.
  std::vector<std::pair<std::string, std::string>> referrer_descriptors_;
};

}  // namespace berth::testing
