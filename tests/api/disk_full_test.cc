// A push that runs out of disk space: a clear 507, /healthz says so, nothing partial stays, and
// pushes work again once space is freed. The data directory lives on a small tmpfs that the
// test mounts (it needs root, as the test environment is; without it the test fails, it does not
// skip).

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "api/api_test_support.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(generator() & 0xff);
  return bytes;
}

std::size_t entries_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
  return n;
}

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(mount_point());
    if (::mount("tmpfs", mount_point().c_str(), "tmpfs", 0, "size=16m") != 0) {
      FAIL() << "cannot mount a tmpfs at " << mount_point() << ": " << std::strerror(errno)
             << " (this test needs root or CAP_SYS_ADMIN)";
    }
    mounted_ = true;
    app_ = std::make_unique<RunningApp>(data_dir(), std::string(kAdminToken));
    client_ = std::make_unique<HttpClient>(app_->base_url());
    client_->set_default_headers({bearer_header(kAdminToken)});
  }
  void TearDown() override {
    client_.reset();
    app_.reset();
    if (mounted_) ::umount2(mount_point().c_str(), MNT_DETACH);
  }

  static constexpr std::string_view kAdminToken = "disk-full-test-admin-token-0123456789";
  fs::path mount_point() const { return dir_.path() / "small"; }
  fs::path data_dir() const { return mount_point() / "data"; }
  fs::path filler() const { return mount_point() / "filler"; }
  HttpClient& client() { return *client_; }

  // Takes every free byte of the filesystem.
  void fill_the_disk() {
    std::FILE* file = std::fopen(filler().c_str(), "wb");
    ASSERT_NE(file, nullptr);
    std::string block(64 * 1024, 'f');
    while (std::fwrite(block.data(), 1, block.size(), file) == block.size()) {
    }
    std::string byte(1, 'f');
    while (std::fwrite(byte.data(), 1, 1, file) == 1 && std::fflush(file) == 0) {
    }
    std::fclose(file);
  }
  void free_space() { fs::remove(filler()); }

  void expect_storage_full(const HttpResponse& r) {
    EXPECT_EQ(r.status, 507) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_NE(r.body.find("\"errors\":[{\"code\":"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("storage is full"), std::string::npos) << r.body;
  }

  TempDir dir_;
  bool mounted_ = false;
  std::unique_ptr<RunningApp> app_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(DiskFull, MonolithicPushAnswers507AndLeavesNothingPartial) {
  ASSERT_EQ(client().get("/healthz").status, 200);
  fill_the_disk();
  std::string content = random_bytes(256 * 1024, 1);
  std::string digest = sha256(content);
  auto r = client().request("POST", "/v2/repo/blobs/uploads/?digest=" + digest, content);
  expect_storage_full(r);
  EXPECT_EQ(entries_in(data_dir() / "uploads"), 0u);
  EXPECT_EQ(entries_in(data_dir() / "tmp"), 0u);
  EXPECT_EQ(client().head("/v2/repo/blobs/" + digest).status, 404);
  expect_storage_full(client().get("/healthz"));

  free_space();
  EXPECT_EQ(client().get("/healthz").status, 200);
  EXPECT_EQ(client().request("POST", "/v2/repo/blobs/uploads/?digest=" + digest, content).status,
            201);
  EXPECT_EQ(client().get("/v2/repo/blobs/" + digest).body, content);
}

TEST_F(DiskFull, SessionThatCannotBeRecordedAnswers507AndLeavesNoBytes) {
  // Enough sessions that the metadata database must grow past what it had allocated.
  fill_the_disk();
  HttpResponse r;
  std::size_t started = 0;
  for (int i = 0; i < 2000; ++i) {
    r = client().request("POST", "/v2/repo/blobs/uploads/");
    if (r.status != 202) break;
    ++started;
  }
  expect_storage_full(r);
  // Every recorded session has its directory; the refused one left none behind.
  EXPECT_EQ(entries_in(data_dir() / "uploads"), started);
  free_space();
  EXPECT_EQ(client().request("POST", "/v2/repo/blobs/uploads/").status, 202);
}

TEST_F(DiskFull, ChunkThatDoesNotFitIsRefusedWholeAndTheSessionResumes) {
  auto start = client().request("POST", "/v2/repo/blobs/uploads/");
  ASSERT_EQ(start.status, 202);
  std::string path = path_of(start.header("Location"));
  std::string id = start.header("Docker-Upload-UUID");
  std::string first = random_bytes(64 * 1024, 2);
  ASSERT_EQ(client().request("PATCH", path, first, {"Content-Range: 0-65535"}).status, 202);

  fill_the_disk();
  std::string second = random_bytes(512 * 1024, 3);
  auto r = client().request("PATCH", path, second,
                            {fmt::format("Content-Range: 65536-{}", 65536 + second.size() - 1)});
  expect_storage_full(r);
  EXPECT_EQ(client().get(path).header("Range"), "0-65535");
  EXPECT_EQ(fs::file_size(data_dir() / "uploads" / id / "data"), first.size());

  free_space();
  ASSERT_EQ(client()
                .request("PATCH", path, second,
                         {fmt::format("Content-Range: 65536-{}", 65536 + second.size() - 1)})
                .status,
            202);
  std::string digest = sha256(first + second);
  ASSERT_EQ(client().request("PUT", path + "?digest=" + digest).status, 201);
  EXPECT_EQ(client().get("/v2/repo/blobs/" + digest).body, first + second);
}

}  // namespace
}  // namespace berth::testing
