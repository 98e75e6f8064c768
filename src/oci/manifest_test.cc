#include "oci/manifest.h"

#include <gtest/gtest.h>

#include <string>

#include "oci/media_types.h"

namespace berth::oci {
namespace {

const std::string kConfigDigest =
    "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7";
const std::string kLayer1Digest =
    "sha256:9b857f539cb1e5e2d4e1a9b6d8d1d2a1d6c9a7ff6e1f0c8b6a1e6f3c2d1b0a99";
const std::string kLayer2Digest =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kChildDigest =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";

// An OCI image manifest as buildah/podman push it.
const std::string kOciManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7",
    "size": 1472
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:9b857f539cb1e5e2d4e1a9b6d8d1d2a1d6c9a7ff6e1f0c8b6a1e6f3c2d1b0a99",
      "size": 3370706
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "size": 0
    }
  ],
  "annotations": {
    "org.opencontainers.image.created": "2024-01-02T03:04:05Z",
    "org.opencontainers.image.title": "demo"
  }
})";

const std::string kOciIndex = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
      "size": 1000,
      "platform": {"architecture": "amd64", "os": "linux"}
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
      "size": 1001,
      "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:3333333333333333333333333333333333333333333333333333333333333333",
      "size": 1002,
      "platform": {"architecture": "amd64", "os": "windows", "os.version": "10.0.20348.2227",
                   "os.features": ["win32k"]}
    },
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:4444444444444444444444444444444444444444444444444444444444444444",
      "size": 566,
      "annotations": {"vnd.docker.reference.type": "attestation-manifest"}
    }
  ],
  "annotations": {"org.opencontainers.image.ref.name": "1.0"}
})";

const std::string kDockerManifest = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 7023,
      "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 32654,
         "digest": "sha256:9b857f539cb1e5e2d4e1a9b6d8d1d2a1d6c9a7ff6e1f0c8b6a1e6f3c2d1b0a99"
      }
   ]
})";

const std::string kDockerList = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "manifests": [
    {
      "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
      "size": 7143,
      "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
      "platform": {"architecture": "ppc64le", "os": "linux"}
    },
    {
      "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
      "size": 7682,
      "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
      "platform": {"architecture": "amd64", "os": "linux", "features": ["sse4"]}
    }
  ]
})";

// A signature/SBOM artifact as oras and notation push them: empty config, artifactType, subject.
const std::string kArtifact = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/vnd.example.sbom.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
    "size": 2,
    "data": "e30="
  },
  "layers": [
    {
      "mediaType": "application/spdx+json",
      "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "size": 812,
      "annotations": {"org.opencontainers.image.title": "sbom.spdx.json"}
    }
  ],
  "subject": {
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    "size": 1234
  },
  "annotations": {"org.opencontainers.image.created": "2024-05-06T07:08:09Z"}
})";

// A Windows image: the base layers are foreign and carry urls.
const std::string kWindowsManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {
    "mediaType": "application/vnd.docker.container.image.v1+json",
    "size": 1822,
    "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
  },
  "layers": [
    {
      "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
      "size": 1579374981,
      "digest": "sha256:9b857f539cb1e5e2d4e1a9b6d8d1d2a1d6c9a7ff6e1f0c8b6a1e6f3c2d1b0a99",
      "urls": ["https://mcr.microsoft.com/v2/windows/servercore/blobs/sha256:9b857f539cb1e5e2d4e1a9b6d8d1d2a1d6c9a7ff6e1f0c8b6a1e6f3c2d1b0a99"]
    },
    {
      "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "size": 1210,
      "digest": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    }
  ]
})";

// Returns `text` with the first `from` replaced by `to`; fails the test when `from` is absent so
// a mutation can never silently test the unmutated document.
std::string replaced(const std::string& text, std::string_view from, std::string_view to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "fixture does not contain: " << from;
  if (at == std::string::npos) return text;
  std::string out = text;
  out.replace(at, from.size(), to);
  return out;
}

// Removes the `"key": value,` line (the fixtures keep such fields on a line of their own).
std::string without_line(const std::string& text, std::string_view key) {
  auto at = text.find(key);
  EXPECT_NE(at, std::string::npos) << "fixture does not contain: " << key;
  if (at == std::string::npos) return text;
  auto start = text.rfind('\n', at);
  auto end = text.find('\n', at);
  std::string out = text;
  out.erase(start, end - start);
  return out;
}

ManifestError expect_error(const std::string& bytes, std::string_view content_type,
                           ManifestErrc code) {
  auto result = parse_manifest(bytes, content_type);
  EXPECT_FALSE(result) << "accepted:\n" << bytes;
  if (result) return {};
  EXPECT_EQ(int(result.error().code), int(code)) << result.error().message;
  EXPECT_FALSE(result.error().message.empty());
  return result.error();
}

ManifestError expect_invalid(const std::string& bytes, std::string_view expected_in_message) {
  auto error = expect_error(bytes, "", ManifestErrc::invalid);
  EXPECT_NE(error.message.find(expected_in_message), std::string::npos)
      << "message: " << error.message << "\nexpected to contain: " << expected_in_message;
  return error;
}

// --- Accepted documents ----------------------------------------------------------------------

TEST(ParseManifest, OciImageManifest) {
  auto result = parse_manifest(kOciManifest, media_type::kOciManifest);
  ASSERT_TRUE(result) << result.error().message;
  const Manifest& m = *result;
  EXPECT_EQ(m.media_type, media_type::kOciManifest);
  EXPECT_EQ(m.kind, ManifestKind::image);
  EXPECT_FALSE(m.artifact_type);
  ASSERT_TRUE(m.config);
  EXPECT_EQ(m.config->media_type, media_type::kOciConfig);
  EXPECT_EQ(m.config->digest.str(), kConfigDigest);
  EXPECT_EQ(m.config->size, 1472);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[0].digest.str(), kLayer1Digest);
  EXPECT_EQ(m.layers[0].size, 3370706);
  EXPECT_EQ(m.layers[1].digest.str(), kLayer2Digest);
  EXPECT_EQ(m.layers[1].size, 0);
  EXPECT_TRUE(m.layers[0].urls.empty());
  EXPECT_FALSE(m.layers[0].platform);
  EXPECT_TRUE(m.layers[0].annotations_json.empty());
  EXPECT_TRUE(m.manifests.empty());
  EXPECT_FALSE(m.subject);
  EXPECT_EQ(m.annotations_json, R"({"org.opencontainers.image.created":"2024-01-02T03:04:05Z",)"
                                R"("org.opencontainers.image.title":"demo"})");
  EXPECT_EQ(m.effective_artifact_type(), media_type::kOciConfig);
  EXPECT_TRUE(must_be_present(m.layers[0]));
  EXPECT_TRUE(must_be_present(*m.config));
}

TEST(ParseManifest, OciIndexMixingLinuxAndWindows) {
  auto result = parse_manifest(kOciIndex, media_type::kOciIndex);
  ASSERT_TRUE(result) << result.error().message;
  const Manifest& m = *result;
  EXPECT_EQ(m.kind, ManifestKind::index);
  EXPECT_EQ(m.media_type, media_type::kOciIndex);
  EXPECT_FALSE(m.config);
  EXPECT_TRUE(m.layers.empty());
  ASSERT_EQ(m.manifests.size(), 4u);
  EXPECT_EQ(m.manifests[0].digest.str(), kChildDigest);
  EXPECT_EQ(m.manifests[0].size, 1000);
  ASSERT_TRUE(m.manifests[0].platform);
  EXPECT_EQ(m.manifests[0].platform->architecture, "amd64");
  EXPECT_EQ(m.manifests[0].platform->os, "linux");
  EXPECT_EQ(m.manifests[0].platform->os_version, "");
  EXPECT_EQ(m.manifests[0].platform->variant, "");
  ASSERT_TRUE(m.manifests[1].platform);
  EXPECT_EQ(m.manifests[1].platform->architecture, "arm64");
  EXPECT_EQ(m.manifests[1].platform->variant, "v8");
  ASSERT_TRUE(m.manifests[2].platform);
  EXPECT_EQ(m.manifests[2].platform->os, "windows");
  EXPECT_EQ(m.manifests[2].platform->os_version, "10.0.20348.2227");
  EXPECT_FALSE(m.manifests[3].platform);
  EXPECT_EQ(m.manifests[3].annotations_json,
            R"({"vnd.docker.reference.type":"attestation-manifest"})");
  EXPECT_EQ(m.annotations_json, R"({"org.opencontainers.image.ref.name":"1.0"})");
  EXPECT_EQ(m.effective_artifact_type(), "");
}

TEST(ParseManifest, DockerSchema2Manifest) {
  auto result = parse_manifest(kDockerManifest, media_type::kDockerManifest);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->kind, ManifestKind::image);
  EXPECT_EQ(result->media_type, media_type::kDockerManifest);
  ASSERT_TRUE(result->config);
  EXPECT_EQ(result->config->media_type, media_type::kDockerConfig);
  ASSERT_EQ(result->layers.size(), 1u);
  EXPECT_EQ(result->layers[0].media_type, media_type::kDockerLayerGzip);
  EXPECT_EQ(result->layers[0].size, 32654);
  EXPECT_TRUE(result->annotations_json.empty());
  EXPECT_EQ(result->effective_artifact_type(), media_type::kDockerConfig);
}

TEST(ParseManifest, DockerManifestList) {
  auto result = parse_manifest(kDockerList, media_type::kDockerManifestList);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->kind, ManifestKind::index);
  ASSERT_EQ(result->manifests.size(), 2u);
  EXPECT_EQ(result->manifests[0].media_type, media_type::kDockerManifest);
  EXPECT_EQ(result->manifests[0].platform->architecture, "ppc64le");
  EXPECT_EQ(result->manifests[1].platform->architecture, "amd64");
}

TEST(ParseManifest, ArtifactWithEmptyConfigAndSubject) {
  auto result = parse_manifest(kArtifact, media_type::kOciManifest);
  ASSERT_TRUE(result) << result.error().message;
  const Manifest& m = *result;
  ASSERT_TRUE(m.artifact_type);
  EXPECT_EQ(*m.artifact_type, "application/vnd.example.sbom.v1+json");
  EXPECT_EQ(m.effective_artifact_type(), "application/vnd.example.sbom.v1+json");
  ASSERT_TRUE(m.config);
  EXPECT_EQ(m.config->media_type, media_type::kOciEmpty);
  EXPECT_EQ(m.config->size, 2);
  ASSERT_TRUE(m.subject);
  EXPECT_EQ(m.subject->media_type, media_type::kOciManifest);
  EXPECT_EQ(m.subject->digest.str(), kChildDigest);
  EXPECT_EQ(m.subject->size, 1234);
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.layers[0].annotations_json, R"({"org.opencontainers.image.title":"sbom.spdx.json"})");
}

TEST(ParseManifest, ArtifactTypeFallsBackToConfigMediaType) {
  auto result = parse_manifest(without_line(kArtifact, "\"artifactType\""), "");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->artifact_type);
  EXPECT_EQ(result->effective_artifact_type(), media_type::kOciEmpty);
}

TEST(ParseManifest, IndexWithArtifactTypeAndSubject) {
  std::string index = replaced(kOciIndex, R"("manifests": [)",
                               R"("artifactType": "application/vnd.example.bundle",
  "subject": {"mediaType": "application/vnd.oci.image.index.v1+json",
              "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
              "size": 10},
  "manifests": [)");
  auto result = parse_manifest(index, media_type::kOciIndex);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->effective_artifact_type(), "application/vnd.example.bundle");
  ASSERT_TRUE(result->subject);
  EXPECT_EQ(result->subject->media_type, media_type::kOciIndex);
}

TEST(ParseManifest, WindowsForeignLayers) {
  auto result = parse_manifest(kWindowsManifest, media_type::kDockerManifest);
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_EQ(result->layers.size(), 2u);
  const Descriptor& base = result->layers[0];
  EXPECT_EQ(base.media_type, media_type::kDockerForeignLayerGzip);
  EXPECT_EQ(base.size, 1579374981);
  ASSERT_EQ(base.urls.size(), 1u);
  EXPECT_TRUE(base.urls[0].starts_with("https://mcr.microsoft.com/"));
  EXPECT_FALSE(must_be_present(base));
  EXPECT_TRUE(must_be_present(result->layers[1]));
}

TEST(ParseManifest, EmptyLayersAccepted) {
  std::string empty =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.empty.v1+json",
      "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},
    "layers":[]})";
  auto result = parse_manifest(empty, "");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->layers.empty());
}

TEST(ParseManifest, EmptyManifestsAccepted) {
  auto result = parse_manifest(R"({"schemaVersion":2,"manifests":[]})", media_type::kOciIndex);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->kind, ManifestKind::index);
  EXPECT_TRUE(result->manifests.empty());
}

TEST(ParseManifest, Sha512Digests) {
  std::string sha512 = "sha512:" + std::string(128, 'a');
  auto result = parse_manifest(replaced(kOciManifest, kLayer2Digest, sha512), "");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->layers[1].digest.algorithm(), DigestAlgorithm::sha512);
}

TEST(ParseManifest, UnknownFieldsIgnored) {
  auto result = parse_manifest(
      replaced(kOciManifest, R"("schemaVersion": 2,)",
               R"("schemaVersion": 2, "x-extension": {"nested": [1, 2, {"deep": null}]},)"),
      "");
  ASSERT_TRUE(result) << result.error().message;
}

TEST(ParseManifest, LargestSizeAccepted) {
  auto result = parse_manifest(replaced(kOciManifest, "3370706", "9223372036854775807"), "");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->layers[0].size, 9223372036854775807);
}

// --- Media type resolution -------------------------------------------------------------------

TEST(MediaType, ContentTypeParametersAndCaseIgnored) {
  for (std::string_view content_type :
       {"application/vnd.oci.image.manifest.v1+json; charset=utf-8",
        " application/vnd.oci.image.manifest.v1+json ",
        "Application/VND.OCI.Image.Manifest.v1+JSON;charset=utf-8"}) {
    auto result = parse_manifest(kOciManifest, content_type);
    ASSERT_TRUE(result) << content_type << ": " << result.error().message;
    EXPECT_EQ(result->media_type, media_type::kOciManifest);
  }
}

TEST(MediaType, GenericContentTypeDefersToTheField) {
  for (std::string_view content_type : {"", "application/json", "application/json; charset=utf-8",
                                        "text/plain", "application/octet-stream"}) {
    auto result = parse_manifest(kDockerManifest, content_type);
    ASSERT_TRUE(result) << content_type << ": " << result.error().message;
    EXPECT_EQ(result->media_type, media_type::kDockerManifest);
  }
}

TEST(MediaType, FieldAndContentTypeDisagree) {
  auto error =
      expect_error(kOciManifest, media_type::kDockerManifest, ManifestErrc::media_type_mismatch);
  EXPECT_NE(error.message.find("mediaType"), std::string::npos);
  EXPECT_NE(error.message.find("Content-Type"), std::string::npos);
  expect_error(kOciIndex, media_type::kOciManifest, ManifestErrc::media_type_mismatch);
  expect_error(kDockerList, media_type::kOciIndex, ManifestErrc::media_type_mismatch);
}

TEST(MediaType, ContentTypeUsedWhenFieldAbsent) {
  std::string docker = without_line(kDockerManifest, "distribution.manifest.v2+json\",");
  auto result = parse_manifest(docker, media_type::kDockerManifest);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->media_type, media_type::kDockerManifest);

  std::string index = without_line(kOciIndex, "image.index.v1+json\",");
  result = parse_manifest(index, "application/vnd.oci.image.index.v1+json; charset=utf-8");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->media_type, media_type::kOciIndex);
  EXPECT_EQ(result->kind, ManifestKind::index);
}

TEST(MediaType, InferredWithoutFieldOrSpecificContentType) {
  std::string image = without_line(kOciManifest, "image.manifest.v1+json\",");
  std::string index = without_line(kOciIndex, "image.index.v1+json\",");
  for (std::string_view content_type : {"", "application/json", "application/octet-stream"}) {
    auto result = parse_manifest(image, content_type);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->media_type, media_type::kOciManifest);
    EXPECT_EQ(result->kind, ManifestKind::image);
    result = parse_manifest(index, content_type);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->media_type, media_type::kOciIndex);
    EXPECT_EQ(result->kind, ManifestKind::index);
  }
  // An empty mediaType field counts as absent.
  auto result = parse_manifest(
      replaced(kOciManifest, R"("application/vnd.oci.image.manifest.v1+json")", R"("")"), "");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->media_type, media_type::kOciManifest);
}

TEST(MediaType, NothingToInferFrom) {
  auto error = expect_error(R"({"schemaVersion": 2})", "application/json", ManifestErrc::invalid);
  EXPECT_NE(error.message.find("no mediaType field"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("\"application/json\" is not a manifest media type"),
            std::string::npos)
      << error.message;
  error = expect_error(R"({"schemaVersion": 2, "annotations": {}})", "", ManifestErrc::invalid);
  EXPECT_NE(error.message.find("there is no Content-Type"), std::string::npos) << error.message;
}

// --- Duplicate keys: parsers disagree on which value wins, so none is taken --------------

ManifestError expect_duplicate(const std::string& bytes, std::string_view key) {
  auto error = expect_error(bytes, "", ManifestErrc::duplicate_key);
  EXPECT_NE(error.message.find("the key \"" + std::string(key)), std::string::npos)
      << error.message;
  EXPECT_NE(error.message.find("twice in one JSON object"), std::string::npos) << error.message;
  return error;
}

TEST(DuplicateKeys, TopLevelKeyTwiceIsRefused) {
  // Go's encoding/json (the reference registry, most clients) keeps the last mediaType, other
  // parsers the first: the two would read different manifests.
  expect_duplicate(replaced(kOciManifest, R"("schemaVersion": 2,)",
                            R"("schemaVersion": 2, "mediaType": "application/x.bogus",)"),
                   "mediaType");
  expect_duplicate(replaced(kOciManifest, R"("schemaVersion": 2,)",
                            R"("schemaVersion": 2, "schemaVersion": 2,)"),
                   "schemaVersion");
  // Even an unknown key, with the same value.
  expect_duplicate(replaced(kOciManifest, R"("schemaVersion": 2,)",
                            R"("schemaVersion": 2, "x": 1, "x": 1,)"),
                   "x");
}

TEST(DuplicateKeys, NestedKeyTwiceIsRefused) {
  // In a descriptor: which blob does the manifest refer to?
  expect_duplicate(replaced(kOciManifest, R"("size": 1472)",
                            R"("size": 1472, "digest": ")" + kLayer2Digest + "\""),
                   "digest");
  // In a layer of the array, in annotations, in an index's platform.
  expect_duplicate(replaced(kOciManifest, R"("size": 3370706)", R"("size": 3370706, "size": 1)"),
                   "size");
  expect_duplicate(replaced(kOciManifest, R"("org.opencontainers.image.title": "demo")",
                            R"("org.opencontainers.image.title": "demo", )"
                            R"("org.opencontainers.image.title": "other")"),
                   "org.opencontainers.image.title");
  expect_duplicate(replaced(kOciIndex, R"({"architecture": "amd64", "os": "linux"})",
                            R"({"architecture": "amd64", "os": "linux", "os": "windows"})"),
                   "os");
  // Deep inside a field the registry does not read.
  expect_duplicate(replaced(kOciManifest, R"("schemaVersion": 2,)",
                            R"("schemaVersion": 2, "x": {"y": [[{"z": {"a": 1, "b": 2, "a": 3}}]]},)"),
                   "a");
}

TEST(DuplicateKeys, MessageSaysWhereTheObjectEnds) {
  // Bytes counted from 0: the offending object's closing brace.
  auto error = expect_duplicate(R"({"a": 1, "a": 2})", "a\"");
  EXPECT_NE(error.message.find("ending at byte 15"), std::string::npos) << error.message;
  error = expect_duplicate(R"({"x": {"a": 1, "a": 2}, "y": 0})", "a\"");
  EXPECT_NE(error.message.find("ending at byte 21"), std::string::npos) << error.message;
}

TEST(DuplicateKeys, KeysEqualAfterUnescapingAreDuplicates) {
  // What counts is the key a parser sees, not how it is spelled.
  expect_duplicate(R"({"a": 1, "\u0061": 2})", "a\"");
  expect_duplicate(replaced(kOciManifest, R"("schemaVersion": 2,)",
                            R"("schemaVersion": 2, "\u006dediaType": "application/x.bogus",)"),
                   "mediaType");
  expect_duplicate(R"({"a/b": 1, "a\/b": 2})", "a/b");
  // Non-ASCII keys are quoted with '?' for each byte of the UTF-8 sequence.
  expect_duplicate("{\"\xc3\xa9\": 1, \"\\u00e9\": 2}", "??\"");
  expect_duplicate(R"({"\ud83d\ude00": 1, "\uD83D\uDE00": 2})", "????\"");
}

TEST(DuplicateKeys, LongEscapedKeysAreComparedWhole) {
  // Keys longer than the parser's buffer arrive in parts.
  std::string key;
  for (int i = 0; i < 5000; ++i) key += "\\u0041b";
  expect_duplicate("{\"" + key + "\": 1, \"" + key + "\": 2}", "AbAbAbAb");
  std::string differs_at_the_end = "{\"" + key + "x\": 1, \"" + key + "y\": 2, \"k\": 3}";
  auto result = parse_manifest(differs_at_the_end, "");
  ASSERT_FALSE(result);
  // Refused for not being a manifest, not for its keys.
  EXPECT_NE(int(result.error().code), int(ManifestErrc::duplicate_key)) << result.error().message;
}

TEST(DuplicateKeys, SameKeyInDifferentObjectsIsFine) {
  // Every descriptor has "digest"; a nested object may reuse its parent's keys; sibling objects
  // each have their own keys.
  std::string manifest = replaced(
      kOciManifest, R"("schemaVersion": 2,)",
      R"("schemaVersion": 2, "x": {"x": {"x": 1}, "y": {"x": 2}}, "y": [{"a": 1}, {"a": 2}],)");
  auto result = parse_manifest(manifest, "");
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->layers.size(), 2u);
  ASSERT_TRUE(parse_manifest(kOciIndex, "")) << parse_manifest(kOciIndex, "").error().message;
  // Keys that differ only by case are different keys.
  EXPECT_TRUE(parse_manifest(replaced(kOciManifest, R"("schemaVersion": 2,)",
                                      R"("schemaVersion": 2, "MediaType": "x",)"),
                             ""));
}

TEST(MediaType, FieldMustBeAString) {
  expect_invalid(replaced(kOciManifest, R"("application/vnd.oci.image.manifest.v1+json")", "7"),
                 "mediaType must be a string, got an integer");
  expect_invalid(replaced(kOciManifest, R"("application/vnd.oci.image.manifest.v1+json")", "null"),
                 "mediaType must be a string, got null");
}

TEST(MediaType, SchemaOneRefused) {
  const std::string schema1 = R"({
    "schemaVersion": 1, "name": "library/hello", "tag": "latest", "architecture": "amd64",
    "fsLayers": [{"blobSum": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}],
    "history": [{"v1Compatibility": "{}"}],
    "signatures": []
  })";
  for (std::string_view content_type :
       {std::string_view(), media_type::kDockerSchema1, media_type::kDockerSchema1Signed,
        std::string_view("application/json")}) {
    auto error = expect_error(schema1, content_type, ManifestErrc::unsupported);
    EXPECT_NE(error.message.find("schema 1"), std::string::npos) << error.message;
    EXPECT_NE(error.message.find("schema 2 or OCI"), std::string::npos) << error.message;
  }
  // Declared schema 1 by media type alone, whatever the body says.
  auto error =
      expect_error(kDockerManifest, media_type::kDockerSchema1Signed, ManifestErrc::unsupported);
  EXPECT_NE(error.message.find("schema 1"), std::string::npos);
  error = expect_error(
      replaced(kDockerManifest, media_type::kDockerManifest, media_type::kDockerSchema1), "",
      ManifestErrc::unsupported);
  EXPECT_NE(error.message.find("schema 1"), std::string::npos);
}

TEST(MediaType, UnknownTypesUnsupported) {
  auto error = expect_error(
      replaced(kOciManifest, media_type::kOciManifest, media_type::kOciArtifactManifest), "",
      ManifestErrc::unsupported);
  EXPECT_NE(error.message.find("artifactType"), std::string::npos);
  expect_error(without_line(kOciManifest, "image.manifest.v1+json\","),
               media_type::kOciArtifactManifest, ManifestErrc::unsupported);
  error = expect_error(replaced(kOciManifest, media_type::kOciManifest, "application/vnd.foo+json"),
                       "", ManifestErrc::unsupported);
  EXPECT_NE(error.message.find("application/vnd.foo+json"), std::string::npos);
  expect_error(without_line(kOciManifest, "image.manifest.v1+json\","), media_type::kOciConfig,
               ManifestErrc::unsupported);
}

TEST(MediaType, StructureContradictsType) {
  auto error =
      expect_error(replaced(kOciManifest, R"("layers": [)", R"("manifests": [], "layers": [)"), "",
                   ManifestErrc::media_type_mismatch);
  EXPECT_NE(error.message.find("manifests"), std::string::npos);
  error = expect_error(replaced(kOciIndex, R"("manifests": [)", R"("config": {}, "manifests": [)"),
                       "", ManifestErrc::media_type_mismatch);
  EXPECT_NE(error.message.find("config"), std::string::npos);
  error =
      expect_error(replaced(kDockerList, R"("manifests": [)", R"("layers": [], "manifests": [)"),
                   "", ManifestErrc::media_type_mismatch);
  EXPECT_NE(error.message.find("layers"), std::string::npos);
  // An index sent with an image Content-Type and no mediaType: the structure gives it away.
  expect_error(without_line(kOciIndex, "image.index.v1+json\","), media_type::kOciManifest,
               ManifestErrc::media_type_mismatch);
}

TEST(MediaType, Predicates) {
  EXPECT_TRUE(is_manifest_media_type(media_type::kOciManifest));
  EXPECT_TRUE(is_manifest_media_type(media_type::kOciIndex));
  EXPECT_TRUE(is_manifest_media_type(media_type::kDockerManifest));
  EXPECT_TRUE(is_manifest_media_type(media_type::kDockerManifestList));
  EXPECT_FALSE(is_manifest_media_type(media_type::kDockerSchema1));
  EXPECT_FALSE(is_manifest_media_type(media_type::kDockerSchema1Signed));
  EXPECT_FALSE(is_manifest_media_type(media_type::kOciArtifactManifest));
  EXPECT_FALSE(is_manifest_media_type(media_type::kOciConfig));
  EXPECT_FALSE(is_manifest_media_type(""));
  EXPECT_FALSE(is_manifest_media_type("application/vnd.oci.image.manifest.v1+json; charset=x"));
}

TEST(MustBePresent, ForeignAndNondistributableLayers) {
  Descriptor layer{std::string(media_type::kOciLayerTarGzip), *Digest::parse(kLayer1Digest), 1};
  EXPECT_TRUE(must_be_present(layer));
  for (std::string_view type :
       {media_type::kDockerForeignLayerGzip, media_type::kOciLayerNondistributableTar,
        media_type::kOciLayerNondistributableTarGzip,
        media_type::kOciLayerNondistributableTarZstd}) {
    layer.media_type = type;
    EXPECT_FALSE(must_be_present(layer)) << type;
  }
  layer.media_type = media_type::kOciLayerTar;
  layer.urls = {"https://example.com/layer"};
  EXPECT_FALSE(must_be_present(layer));
}

// --- Top-level errors ------------------------------------------------------------------------

TEST(ParseManifestErrors, TooLarge) {
  std::string padded = kOciManifest + std::string(kMaxManifestBytes - kOciManifest.size(), ' ');
  ASSERT_EQ(padded.size(), kMaxManifestBytes);
  EXPECT_TRUE(parse_manifest(padded, ""));
  padded.push_back(' ');
  auto error = expect_error(padded, "", ManifestErrc::too_large);
  EXPECT_NE(error.message.find("4194304"), std::string::npos);
}

TEST(ParseManifestErrors, NotJson) {
  const std::string bad[] = {
      "",
      " ",
      "{",
      "}",
      "{\"schemaVersion\": 2,}",
      "{\"schemaVersion\": 2} x",
      "{\"schemaVersion\": 2}{}",
      "{/* comment */}",
      "{'a': 1}",
      "{\"a\": \"\xff\"}",  // invalid UTF-8
      "{\"a\": \"\x01\"}",  // raw control character
      "\xef\xbb\xbf{}",     // byte order mark
      "{\"a\": NaN}",
  };
  for (const auto& text : bad) {
    auto error = expect_error(text, media_type::kOciManifest, ManifestErrc::invalid_json);
    EXPECT_NE(error.message.find("not valid JSON"), std::string::npos) << error.message;
  }
}

TEST(ParseManifestErrors, NotAnObject) {
  for (std::string text : {"[]", "\"manifest\"", "42", "null", "true", "[{\"schemaVersion\":2}]"}) {
    auto error = expect_error(text, "", ManifestErrc::invalid_json);
    EXPECT_NE(error.message.find("must be a JSON object"), std::string::npos) << error.message;
  }
}

TEST(ParseManifestErrors, DeepNestingDoesNotCrash) {
  constexpr int kDepth = 200000;
  std::string arrays = std::string(kDepth, '[') + std::string(kDepth, ']');
  expect_error(arrays, "", ManifestErrc::invalid_json);

  std::string objects;
  for (int i = 0; i < kDepth; ++i) objects += "{\"a\":";
  objects += "1";
  objects += std::string(kDepth, '}');
  expect_error(objects, "", ManifestErrc::invalid_json);

  // Unterminated nesting inside an otherwise valid manifest.
  std::string inside = replaced(kOciManifest, R"("schemaVersion": 2,)",
                                R"("schemaVersion": 2, "x": )" + std::string(kDepth, '['));
  expect_error(inside, "", ManifestErrc::invalid_json);

  // Moderate nesting in an unknown field is fine.
  std::string moderate =
      replaced(kOciManifest, R"("schemaVersion": 2,)",
               R"("schemaVersion": 2, "x": )" + std::string(40, '[') + std::string(40, ']') + ",");
  EXPECT_TRUE(parse_manifest(moderate, ""));
}

TEST(ParseManifestErrors, MemoryIsBounded) {
  // Close to the size limit, made of millions of tiny values: refused by the memory budget.
  std::string zeros =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","x":[)";
  while (zeros.size() < kMaxManifestBytes - 10) zeros += "0,";
  zeros += "0]}";
  auto error = expect_error(zeros, "", ManifestErrc::invalid);
  EXPECT_NE(error.message.find("too many JSON values"), std::string::npos) << error.message;

  std::string objects = R"({"x":[)";
  while (objects.size() < kMaxManifestBytes - 10) objects += "{},";
  objects += "{}]}";
  expect_error(objects, "", ManifestErrc::invalid);
}

TEST(ParseManifest, LargestRealisticManifestFitsTheBudget) {
  const std::string layer =
      R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + kLayer1Digest +
      R"(","size":12345,"annotations":{"k":"v"}})";
  std::string manifest = R"({"schemaVersion":2,"config":)" + layer + R"(,"layers":[)" + layer;
  std::size_t count = 1;
  while (manifest.size() + layer.size() + 10 < kMaxManifestBytes) {
    manifest += "," + layer;
    ++count;
  }
  manifest += "]}";
  auto result = parse_manifest(manifest, media_type::kOciManifest);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->layers.size(), count);
}

TEST(ParseManifestErrors, SchemaVersion) {
  expect_invalid(without_line(kOciManifest, "\"schemaVersion\""), "schemaVersion is required");
  expect_invalid(replaced(kOciManifest, R"("schemaVersion": 2)", R"("schemaVersion": "2")"),
                 "schemaVersion must be the integer 2, got a string");
  expect_invalid(replaced(kOciManifest, R"("schemaVersion": 2)", R"("schemaVersion": 2.0)"),
                 "schemaVersion must be the integer 2, got a non-integer number");
  expect_invalid(replaced(kOciManifest, R"("schemaVersion": 2)", R"("schemaVersion": 3)"),
                 "schemaVersion must be 2, got 3");
  expect_invalid(replaced(kOciManifest, R"("schemaVersion": 2)", R"("schemaVersion": -2)"),
                 "schemaVersion must be 2, got -2");
  expect_invalid(
      replaced(kOciManifest, R"("schemaVersion": 2)", R"("schemaVersion": 18446744073709551615)"),
      "schemaVersion must be 2");
}

TEST(ParseManifestErrors, ImageStructure) {
  expect_invalid(replaced(kOciManifest, R"("config": {)", R"("configuration": {)"),
                 "config is required");
  expect_invalid(replaced(kDockerManifest, R"("config": {)", R"("cfg": {)"), "config is required");
  expect_invalid(replaced(kOciManifest, R"("layers": [)", R"("fsLayers": [)"),
                 "layers is required");
  expect_invalid(replaced(kDockerManifest, R"("layers": [)", R"("Layers": [)"),
                 "layers is required");
  expect_invalid(replaced(kOciManifest, R"("layers": [)", R"("layers": null, "x": [)"),
                 "layers must be an array of descriptors, got null");
  expect_invalid(replaced(kOciManifest, R"("layers": [)", R"("layers": {}, "x": [)"),
                 "layers must be an array of descriptors, got an object");
  expect_invalid(replaced(kOciManifest, R"("config": {)", R"("config": [], "x": {)"),
                 "config must be a descriptor object, got an array");
  expect_invalid(replaced(kOciManifest, R"("layers": [)", R"("layers": [7, )"),
                 "layers[0] must be a descriptor object, got an integer");
}

TEST(ParseManifestErrors, IndexStructure) {
  expect_invalid(replaced(kOciIndex, R"("manifests": [)", R"("children": [)"),
                 "manifests is required");
  expect_invalid(replaced(kDockerList, R"("manifests": [)", R"("manifests": "x", "y": [)"),
                 "manifests must be an array of descriptors, got a string");
  expect_invalid(replaced(kOciIndex, R"("manifests": [)", R"("manifests": [null, )"),
                 "manifests[0] must be a descriptor object, got null");
}

TEST(ParseManifestErrors, DescriptorFields) {
  const std::string layer_type = R"("mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",)";
  expect_invalid(replaced(kOciManifest, layer_type, ""), "layers[0].mediaType is required");
  expect_invalid(replaced(kOciManifest, layer_type, R"("mediaType": ["x/y"],)"),
                 "layers[0].mediaType must be a string, got an array");
  for (std::string_view bad : {"tar", "application/", "/json", "a/b/c", "text/plain; charset=x",
                               ".a/b", "a/b c", "", "application/vnd.\u00e9"}) {
    expect_invalid(
        replaced(kOciManifest, layer_type, R"("mediaType": ")" + std::string(bad) + R"(",)"),
        "layers[0].mediaType");
  }
  expect_invalid(
      replaced(kOciManifest, R"("mediaType": "application/vnd.oci.image.config.v1+json")",
               R"("mediaType": "config")"),
      "config.mediaType \"config\" is not a valid media type");

  const std::string config_digest = R"("digest": ")" + kConfigDigest + R"(",)";
  expect_invalid(replaced(kOciManifest, config_digest, ""), "config.digest is required");
  expect_invalid(replaced(kOciManifest, config_digest, R"("digest": 12,)"),
                 "config.digest must be a string, got an integer");
  auto error = expect_invalid(replaced(kOciManifest, kLayer2Digest, "sha256:abc"),
                              "layers[1].digest \"sha256:abc\" is not a valid digest");
  EXPECT_NE(error.message.find("sha256:<64 lower-case hex>"), std::string::npos);
  std::string upper = kLayer2Digest;
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  expect_invalid(replaced(kOciManifest, kLayer2Digest, "sha256:" + upper.substr(7)),
                 "layers[1].digest");
  expect_invalid(replaced(kOciManifest, kLayer2Digest, "md5:d41d8cd98f00b204e9800998ecf8427e"),
                 "layers[1].digest \"md5:");
  expect_invalid(replaced(kOciIndex, kChildDigest, "sha256:" + std::string(64, 'z')),
                 "manifests[0].digest");
}

TEST(ParseManifestErrors, LongBadValuesAreCutInMessages) {
  auto error = expect_invalid(replaced(kOciManifest, kLayer2Digest, std::string(10000, 'x')),
                              "layers[1].digest \"xxxx");
  EXPECT_LT(error.message.size(), 300u);
  error = expect_invalid(replaced(kOciManifest, kLayer2Digest, "sha256:\\u0000\\n"),
                         "layers[1].digest \"sha256:??\"");
}

TEST(ParseManifestErrors, DescriptorSize) {
  expect_invalid(replaced(kOciManifest, R"("size": 1472)", R"("sizes": 1472)"),
                 "config.size is required");
  expect_invalid(replaced(kOciManifest, R"("size": 0)", R"("size": -1)"),
                 "layers[1].size must not be negative, got -1");
  expect_invalid(replaced(kOciManifest, R"("size": 0)", R"("size": "0")"),
                 "layers[1].size must be a non-negative integer, got a string");
  expect_invalid(replaced(kOciManifest, R"("size": 0)", R"("size": 1.5)"),
                 "layers[1].size must be a non-negative integer, got a non-integer number");
  expect_invalid(replaced(kOciManifest, R"("size": 0)", R"("size": 1e30)"),
                 "layers[1].size must be a non-negative integer");
  expect_invalid(replaced(kOciManifest, R"("size": 0)", R"("size": 9223372036854775808)"),
                 "layers[1].size is too large");
  expect_invalid(replaced(kOciManifest, R"("size": 0)", R"("size": 99999999999999999999999)"),
                 "layers[1].size must be a non-negative integer");
  expect_invalid(replaced(kOciManifest, R"("size": 0)", R"("size": null)"),
                 "layers[1].size must be a non-negative integer, got null");
}

TEST(ParseManifestErrors, DescriptorOptionalFields) {
  const std::string urls = R"("urls": ["https://mcr.microsoft.com)";
  expect_invalid(
      replaced(kWindowsManifest, urls, R"("urls": "x", "u": ["https://mcr.microsoft.com)"),
      "layers[0].urls must be an array of strings, got a string");
  expect_invalid(replaced(kWindowsManifest, urls, R"("urls": [1, "https://mcr.microsoft.com)"),
                 "layers[0].urls[0] must be a string, got an integer");

  const std::string size = R"("size": 3370706)";
  expect_invalid(replaced(kOciManifest, size, R"("size": 3370706, "artifactType": 5)"),
                 "layers[0].artifactType must be a string");
  expect_invalid(replaced(kOciManifest, size, R"("size": 3370706, "artifactType": "nope")"),
                 "layers[0].artifactType \"nope\" is not a valid media type");
  auto with_type = parse_manifest(
      replaced(kOciManifest, size, R"("size": 3370706, "artifactType": "application/x.y")"), "");
  ASSERT_TRUE(with_type) << with_type.error().message;
  EXPECT_EQ(with_type->layers[0].artifact_type, "application/x.y");

  expect_invalid(replaced(kOciManifest, size, R"("size": 3370706, "annotations": [])"),
                 "layers[0].annotations must be an object, got an array");
  expect_invalid(replaced(kOciManifest, size, R"("size": 3370706, "annotations": {"k": 1})"),
                 "layers[0].annotations[\"k\"] must be a string, got an integer");
  expect_invalid(replaced(kOciManifest, R"("org.opencontainers.image.title": "demo")",
                          R"("org.opencontainers.image.title": null)"),
                 "annotations[\"org.opencontainers.image.title\"] must be a string, got null");
  expect_invalid(replaced(kOciManifest, R"("annotations": {)", R"("annotations": "x", "y": {)"),
                 "annotations must be an object, got a string");
  auto empty =
      parse_manifest(replaced(kOciManifest, size, R"("size": 3370706, "annotations": {})"), "");
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_EQ(empty->layers[0].annotations_json, "{}");
}

TEST(ParseManifestErrors, Platform) {
  const std::string linux_platform = R"("platform": {"architecture": "amd64", "os": "linux"})";
  expect_invalid(replaced(kOciIndex, linux_platform, R"("platform": "linux/amd64")"),
                 "manifests[0].platform must be an object, got a string");
  expect_invalid(replaced(kOciIndex, linux_platform, R"("platform": {"architecture": "amd64"})"),
                 "manifests[0].platform.os is required");
  expect_invalid(replaced(kOciIndex, linux_platform, R"("platform": {"os": "linux"})"),
                 "manifests[0].platform.architecture is required");
  expect_invalid(replaced(kOciIndex, linux_platform,
                          R"("platform": {"architecture": "amd64", "os": "linux", "variant": 1})"),
                 "manifests[0].platform.variant must be a string, got an integer");
  expect_invalid(replaced(kOciIndex, R"("os.version": "10.0.20348.2227")", R"("os.version": 10)"),
                 "manifests[2].platform.os.version must be a string, got an integer");
}

TEST(ParseManifestErrors, TopLevelOptionalFields) {
  expect_invalid(replaced(kArtifact, R"("application/vnd.example.sbom.v1+json")", "true"),
                 "artifactType must be a string, got a boolean");
  expect_invalid(replaced(kArtifact, R"("application/vnd.example.sbom.v1+json")", R"("sbom")"),
                 "artifactType \"sbom\" is not a valid media type");
  expect_invalid(replaced(kArtifact, R"("subject": {)", R"("subject": [], "s": {)"),
                 "subject must be a descriptor object, got an array");
  expect_invalid(replaced(kArtifact, R"("size": 1234)", R"("size": -5)"),
                 "subject.size must not be negative");
  expect_invalid(replaced(kArtifact, kChildDigest, "sha256:1"), "subject.digest \"sha256:1\"");
}

TEST(ParseManifestErrors, FirstBadDescriptorIsNamed) {
  std::string index =
      replaced(kOciIndex, "sha256:3333333333333333333333333333333333333333333333333333333333333333",
               "sha256:333");
  expect_invalid(index, "manifests[2].digest \"sha256:333\"");
}

}  // namespace
}  // namespace berth::oci
