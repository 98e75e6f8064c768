// The blob and upload endpoints of the distribution API, through the real HTTP stack.

#include "api/api_test_support.h"

namespace berth::testing {
namespace {

using BlobApi = ApiTest;

TEST_F(BlobApi, BaseEndpointAnswersWithApiVersion) {
  auto r = client().get("/v2/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
}

TEST_F(BlobApi, HealthzAnswers) {
  auto r = client().get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("ok"), std::string::npos);
}

TEST_F(BlobApi, MonolithicPostStoresAndServesTheBlob) {
  std::string content = "hello blob";
  std::string digest = sha256(content);
  auto r = client().request("POST", "/v2/team/app/blobs/uploads/?digest=" + digest, content);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(path_of(r.header("Location")), "/v2/team/app/blobs/" + digest);

  auto head = client().head("/v2/team/app/blobs/" + digest);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(content.size()));
  EXPECT_EQ(head.header("Docker-Content-Digest"), digest);
  EXPECT_TRUE(head.body.empty());

  auto get = client().get("/v2/team/app/blobs/" + digest);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, content);
  EXPECT_EQ(get.header("Content-Type"), "application/octet-stream");
}

TEST_F(BlobApi, WrongDigestStoresNothing) {
  std::string claimed = sha256("something else");
  auto r = client().request("POST", "/v2/repo/blobs/uploads/?digest=" + claimed, "actual bytes");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "DIGEST_INVALID");
  EXPECT_EQ(client().head("/v2/repo/blobs/" + claimed).status, 404);
  EXPECT_EQ(client().head("/v2/repo/blobs/" + sha256("actual bytes")).status, 404);
}

TEST_F(BlobApi, MalformedDigestIsRejected) {
  for (std::string bad : std::vector<std::string>{"sha256:abc", "md5:0123", "sha256:" + std::string(64, 'G'), "nodigest"}) {
    auto r = client().request("POST", "/v2/repo/blobs/uploads/?digest=" + bad, "x");
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(error_code(r), "DIGEST_INVALID") << bad;
    EXPECT_EQ(client().get("/v2/repo/blobs/" + bad).status, 400) << bad;
  }
}

TEST_F(BlobApi, PostThenPutWithBody) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  ASSERT_EQ(start.status, 202);
  EXPECT_FALSE(start.header("Docker-Upload-UUID").empty());
  EXPECT_EQ(start.header("Range"), "0-0");
  EXPECT_FALSE(start.header("OCI-Chunk-Min-Length").empty());
  std::string content(100000, 'a');
  std::string digest = sha256(content);
  auto put = client().request("PUT", start.header("Location") + "?digest=" + digest, content,
                              {"Content-Type: application/octet-stream"});
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(client().get("/v2/repo/blobs/" + digest).body, content);
}

TEST_F(BlobApi, PostPatchPut) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  ASSERT_EQ(start.status, 202);
  std::string content = "streamed without content-range";
  auto patch = client().request("PATCH", start.header("Location"), content,
                                {"Content-Type: application/octet-stream"});
  ASSERT_EQ(patch.status, 202) << patch.body;
  EXPECT_EQ(patch.header("Range"), "0-" + std::to_string(content.size() - 1));
  std::string digest = sha256(content);
  auto put = client().request("PUT", patch.header("Location") + "?digest=" + digest);
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(put.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(client().get("/v2/repo/blobs/" + digest).body, content);
  // The session is gone once completed.
  EXPECT_EQ(client().get(start.header("Location")).status, 404);
}

TEST_F(BlobApi, ChunkedPatchWithContentRange) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  std::string location = start.header("Location");
  std::string first(1000, 'x'), second(500, 'y');
  auto p1 = client().request("PATCH", location, first,
                             {"Content-Range: 0-999", "Content-Type: application/octet-stream"});
  ASSERT_EQ(p1.status, 202) << p1.body;
  EXPECT_EQ(p1.header("Range"), "0-999");

  // Out of order: a chunk that does not start where the upload stands.
  auto bad = client().request("PATCH", p1.header("Location"), second,
                              {"Content-Range: 2000-2499", "Content-Type: application/octet-stream"});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.header("Range"), "0-999");

  auto status = client().get(p1.header("Location"));
  EXPECT_EQ(status.status, 204);
  EXPECT_EQ(status.header("Range"), "0-999");
  EXPECT_FALSE(status.header("Docker-Upload-UUID").empty());

  auto p2 = client().request("PATCH", p1.header("Location"), second,
                             {"Content-Range: 1000-1499", "Content-Type: application/octet-stream"});
  ASSERT_EQ(p2.status, 202) << p2.body;
  EXPECT_EQ(p2.header("Range"), "0-1499");
  std::string digest = sha256(first + second);
  auto put = client().request("PUT", p2.header("Location") + "?digest=" + digest);
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(client().get("/v2/repo/blobs/" + digest).body, first + second);
}

TEST_F(BlobApi, MalformedContentRangeIsRejected) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  auto r = client().request("PATCH", start.header("Location"), "abc",
                            {"Content-Range: nonsense", "Content-Type: application/octet-stream"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "BLOB_UPLOAD_INVALID");
}

TEST_F(BlobApi, ContentRangeLengthMismatchIsRejected) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  auto r = client().request("PATCH", start.header("Location"), "abc",
                            {"Content-Range: 0-9", "Content-Type: application/octet-stream"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "SIZE_INVALID");
}

TEST_F(BlobApi, PutWithoutDigestIsRejected) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  auto r = client().request("PUT", start.header("Location"), "abc");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "DIGEST_INVALID");
}

TEST_F(BlobApi, CompletingWithTheWrongDigestStoresNothing) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  std::string wrong = sha256("not this");
  auto r = client().request("PUT", start.header("Location") + "?digest=" + wrong, "this");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "DIGEST_INVALID");
  EXPECT_EQ(client().head("/v2/repo/blobs/" + wrong).status, 404);
  EXPECT_EQ(client().head("/v2/repo/blobs/" + sha256("this")).status, 404);
}

TEST_F(BlobApi, CancelUpload) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  std::string location = start.header("Location");
  EXPECT_EQ(client().request("DELETE", location).status, 204);
  auto status = client().get(location);
  EXPECT_EQ(status.status, 404);
  EXPECT_EQ(error_code(status), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(client().request("DELETE", location).status, 404);
  EXPECT_EQ(client().request("PATCH", location, "x").status, 404);
}

TEST_F(BlobApi, UnknownUploadAndUploadOfAnotherRepository) {
  EXPECT_EQ(error_code(client().get("/v2/repo/blobs/uploads/no-such-upload")),
            "BLOB_UPLOAD_UNKNOWN");
  auto start = client().request("POST", "/v2/repo-a/blobs/uploads/");
  std::string id = start.header("Docker-Upload-UUID");
  auto r = client().get("/v2/repo-b/blobs/uploads/" + id);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_code(r), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(BlobApi, CrossRepositoryMount) {
  std::string digest = push_blob("source", "shared layer");
  auto mount = client().request(
      "POST", "/v2/target/blobs/uploads/?mount=" + digest + "&from=source");
  EXPECT_EQ(mount.status, 201) << mount.body;
  EXPECT_EQ(mount.header("Docker-Content-Digest"), digest);
  EXPECT_EQ(client().get("/v2/target/blobs/" + digest).body, "shared layer");

  // The source does not hold it: a regular upload session instead.
  std::string other = sha256("absent");
  auto fallback = client().request(
      "POST", "/v2/target/blobs/uploads/?mount=" + other + "&from=source");
  EXPECT_EQ(fallback.status, 202);
  EXPECT_FALSE(fallback.header("Docker-Upload-UUID").empty());
  // No "from" at all: also a session.
  EXPECT_EQ(client().request("POST", "/v2/target/blobs/uploads/?mount=" + digest).status, 202);
}

TEST_F(BlobApi, BlobsOfOneRepositoryAreNotVisibleInAnother) {
  std::string digest = push_blob("alpha", "private to alpha");
  EXPECT_EQ(client().head("/v2/alpha/blobs/" + digest).status, 200);
  auto r = client().get("/v2/beta/blobs/" + digest);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_code(r), "BLOB_UNKNOWN");
}

TEST_F(BlobApi, Sha512Digests) {
  std::string content = "sha512 content";
  std::string digest = oci::digest_of(content, oci::DigestAlgorithm::sha512).str();
  auto r = client().request("POST", "/v2/repo/blobs/uploads/?digest=" + digest, content);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(client().get("/v2/repo/blobs/" + digest).body, content);
}

TEST_F(BlobApi, EmptyBlob) {
  std::string digest = push_blob("repo", "");
  auto r = client().get("/v2/repo/blobs/" + digest);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("Content-Length"), "0");
}

TEST_F(BlobApi, RangeRequests) {
  std::string content = "0123456789abcdefghij";
  std::string digest = push_blob("repo", content);
  std::string path = "/v2/repo/blobs/" + digest;

  auto middle = client().get(path, {"Range: bytes=5-9"});
  EXPECT_EQ(middle.status, 206);
  EXPECT_EQ(middle.body, "56789");
  EXPECT_EQ(middle.header("Content-Range"), "bytes 5-9/20");

  auto open_ended = client().get(path, {"Range: bytes=15-"});
  EXPECT_EQ(open_ended.status, 206);
  EXPECT_EQ(open_ended.body, "fghij");

  auto suffix = client().get(path, {"Range: bytes=-3"});
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(suffix.body, "hij");

  auto clamped = client().get(path, {"Range: bytes=18-100"});
  EXPECT_EQ(clamped.status, 206);
  EXPECT_EQ(clamped.body, "ij");

  auto beyond = client().get(path, {"Range: bytes=20-30"});
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.header("Content-Range"), "bytes */20");

  auto ignored = client().get(path, {"Range: lines=1-2"});
  EXPECT_EQ(ignored.status, 200);
  EXPECT_EQ(ignored.body, content);
}

TEST_F(BlobApi, DeleteBlob) {
  std::string digest = push_blob("repo", "to delete");
  auto r = client().request("DELETE", "/v2/repo/blobs/" + digest);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(client().head("/v2/repo/blobs/" + digest).status, 404);
  auto again = client().request("DELETE", "/v2/repo/blobs/" + digest);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(error_code(again), "BLOB_UNKNOWN");
}

TEST_F(BlobApi, InvalidRepositoryNames) {
  for (std::string name : {"UPPER", "a//b", "-lead", "trail-", "a___b"}) {
    auto r = client().request("POST", "/v2/" + name + "/blobs/uploads/");
    EXPECT_EQ(r.status, 400) << name;
    EXPECT_EQ(error_code(r), "NAME_INVALID") << name;
  }
}

TEST_F(BlobApi, UnknownRoutesAndMethods) {
  auto unknown = client().get("/v3/whatever");
  EXPECT_EQ(unknown.status, 404);
  auto method = client().request("POST", "/v2/repo/tags/list");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(error_code(method), "UNSUPPORTED");
}

TEST_F(BlobApi, UploadResumesAcrossRestart) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  std::string path = path_of(start.header("Location"));
  std::string first(4096, 'r');
  ASSERT_EQ(client().request("PATCH", path, first, {"Content-Range: 0-4095"}).status, 202);
  restart();
  auto status = client().get(path);
  ASSERT_EQ(status.status, 204);
  EXPECT_EQ(status.header("Range"), "0-4095");
  std::string second = "tail";
  ASSERT_EQ(client().request("PATCH", path, second, {"Content-Range: 4096-4099"}).status, 202);
  std::string digest = sha256(first + second);
  ASSERT_EQ(client().request("PUT", path + "?digest=" + digest).status, 201);
  EXPECT_EQ(client().get("/v2/repo/blobs/" + digest).body, first + second);
}

TEST_F(BlobApi, ConcurrentPushesOfTheSameBlob) {
  std::string content(256 * 1024, 'c');
  std::string digest = sha256(content);
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      HttpClient c(app_->base_url());
      c.set_default_headers({bearer_header(kApiTestAdminToken)});
      auto r = c.request("POST", "/v2/same/blobs/uploads/?digest=" + digest, content);
      if (r.status == 201) ++created;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created, 8);
  EXPECT_EQ(client().get("/v2/same/blobs/" + digest).body, content);
}

}  // namespace
}  // namespace berth::testing
