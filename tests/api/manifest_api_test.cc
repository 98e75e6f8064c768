// Manifests, tags, the catalog and referrers, through the real HTTP stack.

#include "api/api_test_support.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <vector>

namespace berth::testing {
namespace {

using ManifestApi = ApiTest;

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";

TEST_F(ManifestApi, PutByTagThenGetByTagAndDigestByteForByte) {
  // Unusual spacing must survive: the digest is over the exact bytes.
  std::string manifest = make_image("repo", "one") + "\n  ";
  auto put = put_manifest("repo", "v1", manifest);
  ASSERT_EQ(put.status, 201) << put.body;
  std::string digest = sha256(manifest);
  EXPECT_EQ(put.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(path_of(put.header("Location")), "/v2/repo/manifests/" + digest);

  for (std::string reference : {std::string("v1"), digest}) {
    auto get = client().get("/v2/repo/manifests/" + reference,
                            {std::string("Accept: ") + kOciManifest});
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(get.body, manifest);
    EXPECT_EQ(get.header("Content-Type"), kOciManifest);
    EXPECT_EQ(get.header("Docker-Content-Digest"), digest);
    auto head = client().head("/v2/repo/manifests/" + reference);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("Content-Length"), std::to_string(manifest.size()));
    EXPECT_EQ(head.header("Docker-Content-Digest"), digest);
  }
}

TEST_F(ManifestApi, PutByDigest) {
  std::string manifest = make_image("repo", "bydigest");
  std::string digest = sha256(manifest);
  ASSERT_EQ(put_manifest("repo", digest, manifest).status, 201);
  EXPECT_EQ(client().get("/v2/repo/manifests/" + digest).body, manifest);
  auto wrong = put_manifest("repo", sha256("other"), manifest);
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(error_code(wrong), "DIGEST_INVALID");
}

TEST_F(ManifestApi, MissingBlobsAreRefused) {
  std::string manifest = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[]}})", kOciManifest,
      descriptor_json({"application/vnd.oci.image.config.v1+json", sha256("absent"), 6}));
  auto r = put_manifest("repo", "v1", manifest);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "MANIFEST_BLOB_UNKNOWN");
  EXPECT_EQ(client().get("/v2/repo/manifests/v1").status, 404);
}

TEST_F(ManifestApi, InvalidManifestsAreRefused) {
  for (std::string bad : {std::string("not json"), std::string("[1,2]"),
                          std::string(R"({"schemaVersion":2})"),
                          std::string(R"({"schemaVersion":3,"config":{},"layers":[]})")}) {
    auto r = put_manifest("repo", "bad", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(error_code(r), "MANIFEST_INVALID") << bad;
  }
  EXPECT_EQ(client().get("/v2/repo/manifests/bad").status, 404);
}

TEST_F(ManifestApi, SchemaOneIsRefusedClearly) {
  std::string schema1 = R"({"schemaVersion":1,"name":"repo","tag":"v1","fsLayers":[],"history":[]})";
  auto r = put_manifest("repo", "v1", schema1,
                        "application/vnd.docker.distribution.manifest.v1+prettyjws");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "MANIFEST_INVALID");
  EXPECT_NE(r.body.find("chema 1"), std::string::npos) << r.body;
}

TEST_F(ManifestApi, MediaTypeMismatchIsRefused) {
  std::string manifest = make_image("repo", "mismatch");
  auto r = put_manifest("repo", "v1", manifest, "application/vnd.docker.distribution.manifest.v2+json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "MANIFEST_INVALID");
}

TEST_F(ManifestApi, ManifestOverFourMebibytesIsRefused) {
  std::string huge(4 * 1024 * 1024 + 1, ' ');
  auto r = put_manifest("repo", "huge", huge);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(error_code(r), "MANIFEST_INVALID");
}

TEST_F(ManifestApi, ManifestWithoutMediaTypeTakesTheContentType) {
  std::string with_type = make_image("repo", "notype");
  std::string field = std::string(R"("mediaType":")") + kOciManifest + R"(",)";
  std::string manifest = with_type;
  manifest.erase(manifest.find(field), field.size());
  ASSERT_EQ(put_manifest("repo", "v1", manifest).status, 201);
  auto get = client().get("/v2/repo/manifests/v1");
  EXPECT_EQ(get.header("Content-Type"), kOciManifest);
  EXPECT_EQ(get.body, manifest);
}

// GETs a pushed manifest back by `tag` and by digest, the way a pull does: the exact bytes, the
// media type it was pushed as, its digest.
void expect_served(HttpClient& client, const std::string& repo, const std::string& tag,
                   const std::string& manifest, const std::string& media_type) {
  const std::string digest = sha256(manifest);
  for (const std::string& reference : {tag, digest}) {
    SCOPED_TRACE(repo + ":" + reference);
    auto get = client.get(fmt::format("/v2/{}/manifests/{}", repo, reference),
                          {"Accept: " + media_type});
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(get.body, manifest);
    EXPECT_EQ(get.header("Content-Type"), media_type);
    EXPECT_EQ(get.header("Docker-Content-Digest"), digest);
  }
}

TEST_F(ManifestApi, DockerSchema2ManifestAndList) {
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  std::string layer = "docker layer";
  std::string manifest = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{},"layers":[{}]}})",
      descriptor_json({"application/vnd.docker.container.image.v1+json", push_blob("d", config),
                       config.size()}),
      descriptor_json({"application/vnd.docker.image.rootfs.diff.tar.gzip", push_blob("d", layer),
                       layer.size()}));
  ASSERT_EQ(put_manifest("d", "v1", manifest,
                         "application/vnd.docker.distribution.manifest.v2+json")
                .status,
            201);
  std::string list = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{}]}})",
      descriptor_json({"application/vnd.docker.distribution.manifest.v2+json", sha256(manifest),
                       manifest.size()},
                      R"(,"platform":{"architecture":"amd64","os":"linux"})"));
  auto r = put_manifest("d", "list", list,
                        "application/vnd.docker.distribution.manifest.list.v2+json");
  ASSERT_EQ(r.status, 201) << r.body;
  expect_served(client(), "d", "v1", manifest,
                "application/vnd.docker.distribution.manifest.v2+json");
  expect_served(client(), "d", "list", list,
                "application/vnd.docker.distribution.manifest.list.v2+json");
}

TEST_F(ManifestApi, IndexNeedsItsChildren) {
  std::string child = make_image("repo", "child");
  std::string index = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}})", kOciIndex,
      descriptor_json({kOciManifest, sha256(child), child.size()},
                      R"(,"platform":{"architecture":"amd64","os":"linux"})"));
  auto missing = put_manifest("repo", "multi", index, kOciIndex);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(error_code(missing), "MANIFEST_BLOB_UNKNOWN");
  ASSERT_EQ(put_manifest("repo", sha256(child), child).status, 201);
  ASSERT_EQ(put_manifest("repo", "multi", index, kOciIndex).status, 201);
  expect_served(client(), "repo", "multi", index, kOciIndex);
  expect_served(client(), "repo", sha256(child), child, kOciManifest);
}

TEST_F(ManifestApi, BlobSizesMustMatchTheDescriptors) {
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  std::string layer = "layer of known size";
  std::string config_digest = push_blob("repo", config);
  std::string layer_digest = push_blob("repo", layer);
  auto image = [&](std::size_t config_size, std::size_t layer_size) {
    return fmt::format(
        R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}})", kOciManifest,
        descriptor_json({"application/vnd.oci.image.config.v1+json", config_digest, config_size}),
        descriptor_json({"application/vnd.oci.image.layer.v1.tar+gzip", layer_digest,
                         layer_size}));
  };
  for (std::string wrong : {image(config.size() + 1, layer.size()),
                            image(config.size(), layer.size() - 1), image(config.size(), 0)}) {
    auto r = put_manifest("repo", "sized", wrong);
    EXPECT_EQ(r.status, 400) << wrong;
    EXPECT_EQ(error_code(r), "MANIFEST_INVALID") << r.body;
    EXPECT_NE(r.body.find("size mismatch"), std::string::npos) << r.body;
  }
  EXPECT_EQ(client().get("/v2/repo/manifests/sized").status, 404);
  // A blob that is not there at all is still unknown, whatever size the descriptor gives.
  std::string absent = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[]}})", kOciManifest,
      descriptor_json({"application/vnd.oci.image.config.v1+json", sha256("absent"), 99}));
  EXPECT_EQ(error_code(put_manifest("repo", "sized", absent)), "MANIFEST_BLOB_UNKNOWN");

  auto right = put_manifest("repo", "sized", image(config.size(), layer.size()));
  EXPECT_EQ(right.status, 201) << right.body;
}

TEST_F(ManifestApi, IndexChildSizesMustMatch) {
  std::string child = make_image("repo", "sized-child");
  ASSERT_EQ(put_manifest("repo", sha256(child), child).status, 201);
  auto index = [&](std::size_t child_size) {
    return fmt::format(R"({{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}})", kOciIndex,
                       descriptor_json({kOciManifest, sha256(child), child_size}));
  };
  auto wrong = put_manifest("repo", "multi", index(child.size() + 10), kOciIndex);
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(error_code(wrong), "MANIFEST_INVALID");
  EXPECT_NE(wrong.body.find("size mismatch"), std::string::npos) << wrong.body;
  EXPECT_EQ(client().get("/v2/repo/manifests/multi").status, 404);
  auto right = put_manifest("repo", "multi", index(child.size()), kOciIndex);
  EXPECT_EQ(right.status, 201) << right.body;
}

TEST_F(ManifestApi, StoredSubjectSizeMustMatch) {
  std::string subject = make_image("repo", "sized-subject");
  std::string empty_digest = push_blob("repo", "{}");
  auto referrer = [&](const std::string& subject_digest, std::size_t subject_size) {
    return fmt::format(
        R"({{"schemaVersion":2,"mediaType":"{}","artifactType":"application/vnd.example.sig","config":{},"layers":[],"subject":{}}})",
        kOciManifest, descriptor_json({"application/vnd.oci.empty.v1+json", empty_digest, 2}),
        descriptor_json({kOciManifest, subject_digest, subject_size}));
  };
  // A subject not pushed yet is accepted whatever its size: referrers may come first.
  auto early = put_manifest("repo", "early", referrer(sha256("not pushed yet"), 12345));
  EXPECT_EQ(early.status, 201) << early.body;

  ASSERT_EQ(put_manifest("repo", "v1", subject).status, 201);
  auto wrong = put_manifest("repo", "sig", referrer(sha256(subject), subject.size() - 1));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(error_code(wrong), "MANIFEST_INVALID");
  EXPECT_NE(wrong.body.find("size mismatch"), std::string::npos) << wrong.body;
  auto right = put_manifest("repo", "sig", referrer(sha256(subject), subject.size()));
  EXPECT_EQ(right.status, 201) << right.body;
}

TEST_F(ManifestApi, DuplicateJsonKeysAreRefused) {
  std::string manifest = make_image("repo", "dup");
  auto refused = [&](const std::string& bad) {
    auto r = put_manifest("repo", "dup", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(error_code(r), "MANIFEST_INVALID") << r.body;
    EXPECT_NE(r.body.find("twice"), std::string::npos) << r.body;
  };
  // At the top level, in a descriptor, and spelled differently but equal once unescaped.
  std::string at_top = manifest;
  at_top.insert(1, R"("mediaType":"application/vnd.oci.image.index.v1+json",)");
  refused(at_top);
  std::string in_config = manifest;
  in_config.insert(in_config.find(R"("digest")"), R"("\u0064igest":")" + sha256("other") + "\",");
  refused(in_config);
  EXPECT_EQ(client().get("/v2/repo/manifests/dup").status, 404);
  EXPECT_EQ(put_manifest("repo", "dup", manifest).status, 201);
}

TEST_F(ManifestApi, WindowsImagesWithForeignLayersAndMixedIndex) {
  std::string config = R"({"architecture":"amd64","os":"windows","os.version":"10.0.17763.1"})";
  std::string layer = "windows app layer";
  std::string foreign = fmt::format(
      R"({{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{}","size":1000,"urls":["https://mcr.example/layer"]}})",
      sha256("foreign base layer, never pushed"));
  std::string manifest = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{},"layers":[{},{}]}})",
      descriptor_json({"application/vnd.docker.container.image.v1+json", push_blob("win", config),
                       config.size()}),
      foreign,
      descriptor_json({"application/vnd.docker.image.rootfs.diff.tar.gzip",
                       push_blob("win", layer), layer.size()}));
  auto put = put_manifest("win", sha256(manifest), manifest,
                          "application/vnd.docker.distribution.manifest.v2+json");
  ASSERT_EQ(put.status, 201) << put.body;

  std::string linux_image = make_image("win", "linux-side");
  ASSERT_EQ(put_manifest("win", sha256(linux_image), linux_image).status, 201);
  std::string list = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{},{}]}})",
      descriptor_json({"application/vnd.docker.distribution.manifest.v2+json", sha256(manifest),
                       manifest.size()},
                      R"(,"platform":{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1"})"),
      descriptor_json({kOciManifest, sha256(linux_image), linux_image.size()},
                      R"(,"platform":{"architecture":"amd64","os":"linux"})"));
  auto r = put_manifest("win", "latest", list,
                        "application/vnd.docker.distribution.manifest.list.v2+json");
  ASSERT_EQ(r.status, 201) << r.body;
  // The foreign layer was never pushed; the manifest naming it is served all the same.
  expect_served(client(), "win", sha256(manifest), manifest,
                "application/vnd.docker.distribution.manifest.v2+json");
  expect_served(client(), "win", "latest", list,
                "application/vnd.docker.distribution.manifest.list.v2+json");
}

TEST_F(ManifestApi, DeleteByTagRemovesOnlyTheTag) {
  std::string manifest = make_image("repo", "del");
  std::string digest = sha256(manifest);
  ASSERT_EQ(put_manifest("repo", "a", manifest).status, 201);
  ASSERT_EQ(put_manifest("repo", "b", manifest).status, 201);
  EXPECT_EQ(client().request("DELETE", "/v2/repo/manifests/a").status, 202);
  EXPECT_EQ(client().get("/v2/repo/manifests/a").status, 404);
  EXPECT_EQ(client().get("/v2/repo/manifests/b").status, 200);
  EXPECT_EQ(client().get("/v2/repo/manifests/" + digest).status, 200);
}

TEST_F(ManifestApi, DeleteByDigestRemovesManifestAndTags) {
  std::string manifest = make_image("repo", "deldigest");
  std::string digest = sha256(manifest);
  ASSERT_EQ(put_manifest("repo", "a", manifest).status, 201);
  ASSERT_EQ(put_manifest("repo", "b", manifest).status, 201);
  EXPECT_EQ(client().request("DELETE", "/v2/repo/manifests/" + digest).status, 202);
  for (std::string ref : {std::string("a"), std::string("b"), digest}) {
    auto r = client().get("/v2/repo/manifests/" + ref);
    EXPECT_EQ(r.status, 404) << ref;
    EXPECT_EQ(error_code(r), "MANIFEST_UNKNOWN");
  }
  EXPECT_EQ(client().get("/v2/repo/tags/list").body, R"({"name":"repo","tags":[]})");
  EXPECT_EQ(client().request("DELETE", "/v2/repo/manifests/" + digest).status, 404);
}

TEST_F(ManifestApi, LookupsByInvalidReferenceAreUnknownManifests) {
  // What clients and the OCI conformance tests expect: no manifest can be found under a name
  // outside the grammar, whether it looks like a tag or like a digest.
  ASSERT_EQ(put_manifest("repo", "v1", make_image("repo", "lookups")).status, 201);
  for (std::string reference : {std::string("-bad-tag"), std::string(".INVALID_MANIFEST_NAME"),
                                std::string(129, 'a'), std::string("sha256:1234"),
                                std::string("md5:d41d8cd98f00b204e9800998ecf8427e")}) {
    auto get = client().get("/v2/repo/manifests/" + reference);
    EXPECT_EQ(get.status, 404) << reference;
    EXPECT_EQ(error_code(get), "MANIFEST_UNKNOWN") << reference;
    EXPECT_EQ(client().head("/v2/repo/manifests/" + reference).status, 404) << reference;
    auto del = client().request("DELETE", "/v2/repo/manifests/" + reference);
    EXPECT_EQ(del.status, 404) << reference;
    EXPECT_EQ(error_code(del), "MANIFEST_UNKNOWN") << reference;
  }
  EXPECT_EQ(client().get("/v2/repo/manifests/unknown").status, 404);
  EXPECT_EQ(client().get("/v2/repo/manifests/v1").status, 200);
}

TEST_F(ManifestApi, PutByInvalidReferenceIsRefused) {
  std::string manifest = make_image("repo", "invalid-put");
  auto tag = put_manifest("repo", "-bad-tag", manifest);
  EXPECT_EQ(tag.status, 400);
  EXPECT_EQ(error_code(tag), "TAG_INVALID");
  auto digest = put_manifest("repo", "sha256:1234", manifest);
  EXPECT_EQ(digest.status, 400);
  EXPECT_EQ(error_code(digest), "DIGEST_INVALID");
}

TEST_F(ManifestApi, TagsListSortedAndPaginated) {
  std::string manifest = make_image("repo", "tags");
  for (std::string tag : {"b", "a", "d", "c", "e"}) {
    ASSERT_EQ(put_manifest("repo", tag, manifest).status, 201);
  }
  auto all = client().get("/v2/repo/tags/list");
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.body, R"({"name":"repo","tags":["a","b","c","d","e"]})");
  EXPECT_TRUE(all.header("Link").empty());

  // Every page but the last links to the next; clients follow the Links until there is none.
  auto page1 = client().get("/v2/repo/tags/list?n=2");
  EXPECT_EQ(page1.body, R"({"name":"repo","tags":["a","b"]})");
  EXPECT_EQ(page1.header("Link"), R"(</v2/repo/tags/list?last=b&n=2>; rel="next")");
  auto page2 = client().get("/v2/repo/tags/list?n=2&last=b");
  EXPECT_EQ(page2.body, R"({"name":"repo","tags":["c","d"]})");
  EXPECT_EQ(page2.header("Link"), R"(</v2/repo/tags/list?last=d&n=2>; rel="next")");
  auto page3 = client().get("/v2/repo/tags/list?n=2&last=d");
  EXPECT_EQ(page3.body, R"({"name":"repo","tags":["e"]})");
  EXPECT_TRUE(page3.header("Link").empty());
  EXPECT_EQ(client().get("/v2/repo/tags/list?n=0").body, R"({"name":"repo","tags":[]})");

  auto bad_n = client().get("/v2/repo/tags/list?n=abc");
  EXPECT_EQ(bad_n.status, 400);
  auto unknown = client().get("/v2/nothing/tags/list");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(error_code(unknown), "NAME_UNKNOWN");
}

TEST_F(ManifestApi, CatalogPaginated) {
  for (std::string repo : {"zeta", "alpha", "mid/dle"}) push_blob(repo, "x");
  auto all = client().get("/v2/_catalog");
  EXPECT_EQ(all.body, R"({"repositories":["alpha","mid/dle","zeta"]})");
  auto page1 = client().get("/v2/_catalog?n=1");
  EXPECT_EQ(page1.body, R"({"repositories":["alpha"]})");
  EXPECT_EQ(page1.header("Link"), R"(</v2/_catalog?last=alpha&n=1>; rel="next")");
  auto page2 = client().get("/v2/_catalog?n=1&last=alpha");
  EXPECT_EQ(page2.body, R"({"repositories":["mid/dle"]})");
  EXPECT_EQ(client().get("/v2/_catalog?n=-1").status, 400);
}

// The descriptors of a referrers response, parsed: what a client reads out of the index.
struct Referrer {
  std::string media_type;
  std::string digest;
  std::int64_t size = 0;
  std::string artifact_type;
  std::string kind;  // the org.example.kind annotation
  bool operator==(const Referrer&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Referrer& r) {
  return out << "{" << r.media_type << " " << r.digest << " " << r.size << " " << r.artifact_type
             << " kind=" << r.kind << "}";
}

// Parses an OCI image index of referrers, sorted by digest; fails the test if it is not one.
std::vector<Referrer> referrers_in(const HttpResponse& response) {
  std::vector<Referrer> out;
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(response.body, ec);
  if (ec || !body.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << response.body;
    return out;
  }
  const auto& index = body.as_object();
  EXPECT_EQ(index.contains("schemaVersion") ? index.at("schemaVersion").as_int64() : 0, 2);
  EXPECT_EQ(index.contains("mediaType") ? std::string(index.at("mediaType").as_string()) : "",
            kOciIndex);
  if (!index.contains("manifests") || !index.at("manifests").is_array()) {
    ADD_FAILURE() << "no manifests array: " << response.body;
    return out;
  }
  for (const auto& item : index.at("manifests").as_array()) {
    const auto& d = item.as_object();
    auto text = [&d](std::string_view key) {
      const auto* v = d.if_contains(key);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    Referrer r{text("mediaType"), text("digest"), 0, text("artifactType"), ""};
    if (const auto* size = d.if_contains("size"); size != nullptr && size->is_number()) {
      boost::system::error_code size_ec;
      r.size = size->to_number<std::int64_t>(size_ec);
      EXPECT_FALSE(size_ec) << "size is not an integer: " << response.body;
    }
    if (const auto* annotations = d.if_contains("annotations");
        annotations != nullptr && annotations->is_object()) {
      if (const auto* kind = annotations->as_object().if_contains("org.example.kind");
          kind != nullptr && kind->is_string()) {
        r.kind = std::string(kind->as_string());
      }
    }
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(),
            [](const Referrer& a, const Referrer& b) { return a.digest < b.digest; });
  return out;
}

TEST_F(ManifestApi, ReferrersWithArtifactTypeFilter) {
  std::string subject = make_image("repo", "subject");
  std::string subject_digest = sha256(subject);
  ASSERT_EQ(put_manifest("repo", "v1", subject).status, 201);

  std::string empty_config = "{}";
  std::string empty_digest = push_blob("repo", empty_config);
  auto referrer = [&](const std::string& artifact_type, const std::string& payload) {
    std::string blob_digest = push_blob("repo", payload);
    return fmt::format(
        R"({{"schemaVersion":2,"mediaType":"{}","artifactType":"{}","config":{},"layers":[{}],"subject":{},"annotations":{{"org.example.kind":"{}"}}}})",
        kOciManifest, artifact_type,
        descriptor_json({"application/vnd.oci.empty.v1+json", empty_digest, 2}),
        descriptor_json({"application/octet-stream", blob_digest, payload.size()}),
        descriptor_json({kOciManifest, subject_digest, subject.size()}), artifact_type);
  };
  std::string signature = referrer("application/vnd.example.signature", "sig");
  std::string sbom = referrer("application/vnd.example.sbom", "sbom");
  auto put_sig = put_manifest("repo", sha256(signature), signature);
  ASSERT_EQ(put_sig.status, 201) << put_sig.body;
  EXPECT_EQ(put_sig.header("OCI-Subject"), subject_digest);
  ASSERT_EQ(put_manifest("repo", sha256(sbom), sbom).status, 201);

  // Each referrer is described by its own descriptor: media type, digest and size of the
  // referring manifest, its artifactType and its annotations.
  const Referrer signature_ref{kOciManifest, sha256(signature),
                               static_cast<std::int64_t>(signature.size()),
                               "application/vnd.example.signature",
                               "application/vnd.example.signature"};
  const Referrer sbom_ref{kOciManifest, sha256(sbom), static_cast<std::int64_t>(sbom.size()),
                          "application/vnd.example.sbom", "application/vnd.example.sbom"};
  auto by_digest = [](std::vector<Referrer> v) {
    std::sort(v.begin(), v.end(),
              [](const Referrer& a, const Referrer& b) { return a.digest < b.digest; });
    return v;
  };

  auto all = client().get("/v2/repo/referrers/" + subject_digest);
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.header("Content-Type"), kOciIndex);
  EXPECT_EQ(referrers_in(all), by_digest({signature_ref, sbom_ref}));
  EXPECT_TRUE(all.header("OCI-Filters-Applied").empty());

  auto filtered =
      client().get("/v2/repo/referrers/" + subject_digest + "?artifactType=application/vnd.example.sbom");
  EXPECT_EQ(filtered.status, 200);
  EXPECT_EQ(filtered.header("OCI-Filters-Applied"), "artifactType");
  EXPECT_EQ(referrers_in(filtered), std::vector<Referrer>{sbom_ref});

  auto unmatched = client().get("/v2/repo/referrers/" + subject_digest +
                                "?artifactType=application/vnd.example.nothing");
  EXPECT_EQ(unmatched.status, 200);
  EXPECT_EQ(unmatched.header("OCI-Filters-Applied"), "artifactType");
  EXPECT_EQ(referrers_in(unmatched), std::vector<Referrer>{});

  auto none = client().get("/v2/repo/referrers/" + sha256("no such subject"));
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(referrers_in(none), std::vector<Referrer>{});
  EXPECT_EQ(client().get("/v2/repo/referrers/sha256:bad").status, 400);
}

TEST_F(ManifestApi, ArtifactManifestMediaTypeIsRefused) {
  auto r = put_manifest("repo", "art",
                        R"({"mediaType":"application/vnd.oci.artifact.manifest.v1+json","artifactType":"x/y","blobs":[]})",
                        "application/vnd.oci.artifact.manifest.v1+json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "MANIFEST_INVALID");
}

TEST_F(ManifestApi, PushedManifestsSurviveRestart) {
  std::string manifest = make_image("repo", "persist");
  ASSERT_EQ(put_manifest("repo", "v1", manifest).status, 201);
  restart();
  EXPECT_EQ(client().get("/v2/repo/manifests/v1").body, manifest);
  EXPECT_EQ(client().get("/v2/_catalog").body, R"({"repositories":["repo"]})");
}

TEST_F(ManifestApi, ConcurrentPushesOfTheSameManifestAndTag) {
  std::string manifest = make_image("repo", "concurrent");
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      HttpClient c(app_->base_url());
      c.set_default_headers({bearer_header(kApiTestAdminToken)});
      auto r = c.request("PUT", "/v2/repo/manifests/latest", manifest,
                         {std::string("Content-Type: ") + kOciManifest});
      if (r.status == 201) ++created;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created, 8);
  EXPECT_EQ(client().get("/v2/repo/manifests/latest").body, manifest);
  EXPECT_EQ(client().get("/v2/repo/tags/list").body, R"({"name":"repo","tags":["latest"]})");
}

}  // namespace
}  // namespace berth::testing
