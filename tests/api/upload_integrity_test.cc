// Upload sessions under failure: a chunk is stored whole or not at all, a session in use is not
// removed from under its writer, failed requests leave no bytes behind, sessions expire and
// are bounded in number.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "api/api_test_support.h"
#include "support/raw_connection.h"

namespace berth::testing {
namespace {

// Reads on a raw connection wait this long for an answer the server may be slow to give.
constexpr int kRawReadTimeoutSeconds = 10;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polls `done` until it holds or a generous bound passes (the bound only keeps a broken build
// from hanging; no assertion depends on how fast the server is).
bool eventually(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class UploadIntegrity : public ::testing::Test {
 protected:
  void start(const std::function<void(server::Config&)>& configure = [](server::Config&) {}) {
    client_.reset();
    app_.reset();
    app_ = std::make_unique<RunningApp>(data_dir(), configure, std::string(kAdminToken));
    client_ = std::make_unique<HttpClient>(app_->base_url());
    client_->set_default_headers({bearer_header(kAdminToken)});
  }
  void SetUp() override { start(); }
  void TearDown() override {
    client_.reset();
    app_.reset();
  }

  static constexpr std::string_view kAdminToken = "upload-integrity-admin-token-0123456789";
  // The administrator's Authorization header line, for requests written by hand.
  static std::string authorization_line() {
    std::string line = bearer_header(kAdminToken);
    line += "\r\n";
    return line;
  }

  fs::path data_dir() const { return dir_.path() / "data"; }
  HttpClient& client() { return *client_; }
  std::uint16_t port() const { return app_->port(); }

  // Entries under uploads/: one directory per upload session with bytes on disk.
  std::size_t upload_dirs() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(data_dir() / "uploads")) ++n;
    return n;
  }

  // Starts a session and returns its path.
  std::string start_session(const std::string& repo = "repo") {
    auto r = client().request("POST", "/v2/" + repo + "/blobs/uploads/");
    EXPECT_EQ(r.status, 202) << r.body;
    return path_of(r.header("Location"));
  }

  HttpResponse patch(const std::string& path, const std::string& body, std::uint64_t first) {
    return client().request("PATCH", path, body,
                            {fmt::format("Content-Range: {}-{}", first, first + body.size() - 1),
                             "Content-Type: application/octet-stream"});
  }

  std::string range_of(const std::string& path) { return client().get(path).header("Range"); }

  TempDir dir_;
  std::unique_ptr<RunningApp> app_;
  std::unique_ptr<HttpClient> client_;
};

// ---------------------------------------------------------------- 4: a chunk is whole or absent

TEST_F(UploadIntegrity, PatchLongerThanItsContentRangeStoresNothing) {
  std::string path = start_session();
  ASSERT_EQ(patch(path, "1234", 0).status, 202);
  auto r = client().request("PATCH", path, "abcdef",
                            {"Content-Range: 4-6", "Content-Type: application/octet-stream"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "SIZE_INVALID");
  EXPECT_EQ(range_of(path), "0-3");
  // Only what was accepted can be committed.
  EXPECT_EQ(client().request("PUT", path + "?digest=" + sha256("1234abcdef")).status, 400);
  path = start_session();
  ASSERT_EQ(patch(path, "1234", 0).status, 202);
  ASSERT_EQ(client()
                .request("PATCH", path, "abcdef",
                         {"Content-Range: 4-6", "Content-Type: application/octet-stream"})
                .status,
            400);
  EXPECT_EQ(client().request("PUT", path + "?digest=" + sha256("1234")).status, 201);
}

TEST_F(UploadIntegrity, PatchShorterThanItsContentRangeStoresNothing) {
  std::string path = start_session();
  ASSERT_EQ(patch(path, "1234", 0).status, 202);
  auto r = client().request("PATCH", path, "abc",
                            {"Content-Range: 4-13", "Content-Type: application/octet-stream"});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "SIZE_INVALID");
  EXPECT_EQ(range_of(path), "0-3");
  ASSERT_EQ(patch(path, "5678", 4).status, 202);
  EXPECT_EQ(client().request("PUT", path + "?digest=" + sha256("12345678")).status, 201);
}

TEST_F(UploadIntegrity, ChunkedPatchThatDisagreesWithItsContentRangeStoresNothing) {
  std::string path = start_session();
  ASSERT_EQ(patch(path, "1234", 0).status, 202);
  RawConnection raw(port(), kRawReadTimeoutSeconds);
  raw.send("PATCH " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + authorization_line() +
           "Content-Range: 4-5\r\n"
           "Transfer-Encoding: chunked\r\n\r\n"
           "5\r\nabcde\r\n0\r\n\r\n");
  EXPECT_EQ(raw.read_status(), 400);
  EXPECT_EQ(range_of(path), "0-3");
  ASSERT_EQ(patch(path, "ab", 4).status, 202);
  EXPECT_EQ(client().request("PUT", path + "?digest=" + sha256("1234ab")).status, 201);
}

TEST_F(UploadIntegrity, PatchWhoseConnectionDropsKeepsThePreviousOffset) {
  std::string path = start_session();
  ASSERT_EQ(patch(path, "1234", 0).status, 202);
  {
    RawConnection raw(port(), kRawReadTimeoutSeconds);
    raw.send("PATCH " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + authorization_line() +
             "Content-Length: 100000\r\n"
             "Content-Type: application/octet-stream\r\n\r\n");
    raw.send(std::string(50000, 'x'));
  }  // closed midway
  // Once the server has dealt with the dropped request the session is free again, and it
  // continues exactly where the last complete chunk ended.
  HttpResponse next;
  ASSERT_TRUE(eventually([&] {
    next = patch(path, "tail", 4);
    return next.status != 409;
  }));
  EXPECT_EQ(next.status, 202) << next.body;
  EXPECT_EQ(range_of(path), "0-7");
  EXPECT_EQ(client().request("PUT", path + "?digest=" + sha256("1234tail")).status, 201);
}

TEST_F(UploadIntegrity, StatusDuringAPatchReportsOnlyCompleteChunks) {
  std::string path = start_session();
  ASSERT_EQ(patch(path, "1234", 0).status, 202);
  // Large enough that the server writes part of it (in 512 KiB buffers) before it ends.
  constexpr std::size_t kChunk = 2 * 1024 * 1024;
  RawConnection raw(port(), kRawReadTimeoutSeconds);
  raw.send("PATCH " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + authorization_line() +
           "Content-Length: " + std::to_string(kChunk) + "\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_EQ(raw.read_status(), 100);
  raw.send(std::string(kChunk / 2, 'h'));
  // The half-received chunk may still be refused; the status must not count it, however much
  // of it the server has written by now.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(range_of(path), "0-3");
  raw.send(std::string(kChunk / 2, 'h'));
  EXPECT_EQ(raw.read_status(), 202);
  EXPECT_EQ(range_of(path), fmt::format("0-{}", 4 + kChunk - 1));
}

// ---------------------------------------------------------------- 5: DELETE during a PATCH

TEST_F(UploadIntegrity, DeleteDuringAPatchIsRefusedAndKeepsTheSession) {
  std::string path = start_session();
  RawConnection raw(port(), kRawReadTimeoutSeconds);
  raw.send("PATCH " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + authorization_line() +
           "Content-Length: 8\r\n"
           "Expect: 100-continue\r\n\r\n");
  // 100 Continue comes when the handler holds the session and starts reading the body.
  ASSERT_EQ(raw.read_status(), 100);
  raw.send("half");

  auto refused = client().request("DELETE", path);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(error_code(refused), "BLOB_UPLOAD_INVALID");

  raw.send("done");
  EXPECT_EQ(raw.read_status(), 202);
  EXPECT_EQ(client().get(path).status, 204);
  EXPECT_EQ(range_of(path), "0-7");
  EXPECT_EQ(client().request("DELETE", path).status, 204);
  EXPECT_EQ(client().get(path).status, 404);
  EXPECT_EQ(upload_dirs(), 0u);
}

// ---------------------------------------------------------------- 6: no orphans

TEST_F(UploadIntegrity, AbortedMonolithicPostLeavesNoBytes) {
  {
    RawConnection raw(port(), kRawReadTimeoutSeconds);
    raw.send("POST /v2/repo/blobs/uploads/?digest=" + sha256("whatever") +
             " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + authorization_line() +
             "Content-Length: 100000\r\n"
             "Expect: 100-continue\r\n\r\n");
    // The handler has created the upload and waits for the body.
    ASSERT_EQ(raw.read_status(), 100);
    ASSERT_EQ(upload_dirs(), 1u);
    raw.send(std::string(30000, 'x'));
  }
  EXPECT_TRUE(eventually([&] { return upload_dirs() == 0; })) << upload_dirs() << " left";
}

TEST_F(UploadIntegrity, MonolithicPostWithBadChunkFramingLeavesNoBytes) {
  RawConnection raw(port(), kRawReadTimeoutSeconds);
  raw.send("POST /v2/repo/blobs/uploads/?digest=" + sha256("whatever") +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + authorization_line() +
           "Transfer-Encoding: chunked\r\n\r\n"
           "4\r\nabcd\r\nzz-not-a-size\r\n");
  EXPECT_EQ(raw.read_status(), 400);
  EXPECT_TRUE(eventually([&] { return upload_dirs() == 0; })) << upload_dirs() << " left";
}

TEST_F(UploadIntegrity, MonolithicPostWhoseBodyStallsLeavesNoBytes) {
  start([](server::Config& config) { config.body_read_timeout = 1s; });
  RawConnection raw(port(), kRawReadTimeoutSeconds);
  raw.send("POST /v2/repo/blobs/uploads/?digest=" + sha256("whatever") +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + authorization_line() +
           "Content-Length: 1000\r\n\r\n");
  raw.send("only a little");
  // The server gives up on the body and closes the connection.
  raw.read_response();
  EXPECT_TRUE(eventually([&] { return upload_dirs() == 0; })) << upload_dirs() << " left";
}

TEST_F(UploadIntegrity, LeftoversWithoutASessionAreSweptAtStartUp) {
  std::string kept = start_session();
  ASSERT_EQ(patch(kept, "keep", 0).status, 202);
  client_.reset();
  app_.reset();
  fs::create_directories(data_dir() / "uploads" / "orphan-1");
  std::ofstream(data_dir() / "uploads" / "orphan-1" / "data") << "bytes nobody will commit";
  fs::create_directories(data_dir() / "uploads" / "orphan-2");  // no data at all
  start();
  EXPECT_FALSE(fs::exists(data_dir() / "uploads" / "orphan-1"));
  EXPECT_FALSE(fs::exists(data_dir() / "uploads" / "orphan-2"));
  EXPECT_EQ(upload_dirs(), 1u);
  EXPECT_EQ(range_of(kept), "0-3");
}

TEST_F(UploadIntegrity, IdleSessionsExpireAndTheirBytesAreSwept) {
  start([](server::Config& config) {
    config.upload_idle_timeout = 1s;
    config.upload_sweep_interval = 1s;
  });
  std::string path = start_session();
  ASSERT_EQ(patch(path, "soon gone", 0).status, 202);
  ASSERT_EQ(upload_dirs(), 1u);
  // Timestamps have one-second resolution: after more than two seconds without a request the
  // session is idle for longer than one second whatever the rounding.
  std::this_thread::sleep_for(2100ms);
  auto status = client().get(path);
  EXPECT_EQ(status.status, 404);
  EXPECT_EQ(error_code(status), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_TRUE(eventually([&] { return upload_dirs() == 0; })) << upload_dirs() << " left";
}

TEST_F(UploadIntegrity, OpenSessionsPerRegistryAreBounded) {
  start([](server::Config& config) { config.max_open_uploads_per_registry = 2; });
  std::string first = start_session("a");
  start_session("b");
  auto refused = client().request("POST", "/v2/c/blobs/uploads/");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(error_code(refused), "TOOMANYREQUESTS");
  EXPECT_NE(refused.body.find("upload sessions"), std::string::npos) << refused.body;
  // Monolithic pushes open no lasting session and still work.
  EXPECT_EQ(
      client().request("POST", "/v2/c/blobs/uploads/?digest=" + sha256("mono"), "mono").status,
      201);
  ASSERT_EQ(client().request("DELETE", first).status, 204);
  EXPECT_EQ(client().request("POST", "/v2/c/blobs/uploads/").status, 202);
}

}  // namespace
}  // namespace berth::testing
