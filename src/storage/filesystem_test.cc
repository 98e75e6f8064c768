// FilesystemByteStore behaviour beyond the storage suites: the on-disk layout, restarts, the
// saved hash state as a file, staging hygiene and unusable roots.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <new>
#include <fstream>
#include <string>
#include <vector>

#include "storage/blob_storage.h"
#include "storage/filesystem_byte_store.h"
#include "storage/test_support.h"
#include "support/unprivileged.h"

namespace berth::storage {
namespace {

namespace fs = std::filesystem;
using testing::as_bytes;
using testing::random_content;
using testing::read_all;
using testing::sha256_of;
using testing::sha512_of;

std::string file_content(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path());
  return out;
}

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

// Sets a file's modification time `age` into the past (as a crashed run's file would be).
void age_file(const fs::path& path, std::chrono::seconds age) {
  fs::last_write_time(path, fs::file_time_type::clock::now() - age);
}

class FilesystemTest : public ::testing::Test {
 protected:
  std::unique_ptr<FilesystemByteStore> open_store() {
    auto store = FilesystemByteStore::open(root_);
    if (!store) {
      ADD_FAILURE() << store.error().message;
      return nullptr;
    }
    return std::move(*store);
  }

  // The verifying storage over a new driver object on the root.
  std::unique_ptr<BlobStorage> open_storage() {
    auto store = open_store();
    if (!store) return nullptr;
    return std::make_unique<BlobStorage>(std::move(store));
  }

  testing::TempDir scratch_;
  fs::path root_ = scratch_.path() / "data";
};

TEST_F(FilesystemTest, CreatesTheRootAndItsLayout) {
  auto storage = open_store();
  ASSERT_TRUE(storage);
  EXPECT_TRUE(fs::is_directory(root_ / "blobs"));
  EXPECT_TRUE(fs::is_directory(root_ / "uploads"));
  EXPECT_TRUE(fs::is_directory(root_ / "tmp"));
  EXPECT_TRUE(entries(root_ / "tmp").empty());
  EXPECT_EQ(storage->root(), fs::absolute(root_).lexically_normal());
}

TEST_F(FilesystemTest, BlobsAreStoredByAlgorithmAndHexPrefix) {
  auto storage = open_storage();
  ASSERT_TRUE(storage);
  auto d256 = sha256_of("layout");
  auto d512 = sha512_of("layout");
  ASSERT_TRUE(storage->put(d256, as_bytes("layout")));
  ASSERT_TRUE(storage->put(d512, as_bytes("layout")));
  std::string hex256(d256.hex());
  std::string hex512(d512.hex());
  EXPECT_EQ(file_content(root_ / "blobs" / "sha256" / hex256.substr(0, 2) / hex256), "layout");
  EXPECT_EQ(file_content(root_ / "blobs" / "sha512" / hex512.substr(0, 2) / hex512), "layout");

  auto w = storage->create_upload("layout-up");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->append(as_bytes("partial")));
  EXPECT_EQ(file_content(root_ / "uploads" / "layout-up" / "data"), "partial");
  EXPECT_FALSE(fs::exists(root_ / "uploads" / "layout-up" / "state"));
  ASSERT_TRUE((*w)->flush());
  // The hash state sits next to the data, whole, with no temporary file left beside it.
  auto saved = oci::Hasher::import_state(
      as_bytes(file_content(root_ / "uploads" / "layout-up" / "state")));
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->digest(), sha256_of("partial"));
  EXPECT_EQ(entries(root_ / "uploads" / "layout-up").size(), 2u);
}

TEST_F(FilesystemTest, NoLeftoversAfterPutAndCommit) {
  auto storage = open_storage();
  ASSERT_TRUE(storage);
  ASSERT_TRUE(storage->put(sha256_of("put"), as_bytes("put")));
  ASSERT_TRUE(storage->put(sha256_of("put"), as_bytes("put")));  // already stored
  EXPECT_FALSE(storage->put(sha256_of("other"), as_bytes("put")));
  {
    auto w = storage->create_upload("c1");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes("committed")));
    ASSERT_TRUE((*w)->commit(sha256_of("committed")));
  }
  {
    auto w = storage->create_upload("c2");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes("committed")));
    ASSERT_TRUE((*w)->commit(sha256_of("committed")));
  }
  {
    auto w = storage->create_upload("c3");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes("rejected")));
    ASSERT_TRUE((*w)->flush());
    ASSERT_FALSE((*w)->commit(sha256_of("committed")));
  }
  {
    auto w = storage->create_upload("c4");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes("flushed, then committed")));
    ASSERT_TRUE((*w)->flush());
    ASSERT_TRUE((*w)->commit(sha256_of("flushed, then committed")));
  }
  EXPECT_TRUE(entries(root_ / "tmp").empty());
  EXPECT_TRUE(entries(root_ / "uploads").empty());
}

TEST_F(FilesystemTest, SecondCommitOfADigestKeepsTheFirstFile) {
  auto storage = open_storage();
  ASSERT_TRUE(storage);
  auto digest = sha256_of("keep me");
  ASSERT_TRUE(storage->put(digest, as_bytes("keep me")));
  std::string hex(digest.hex());
  fs::path blob = root_ / "blobs" / "sha256" / hex.substr(0, 2) / hex;
  struct ::stat before;
  ASSERT_EQ(::stat(blob.c_str(), &before), 0);

  auto w = storage->create_upload("dup");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->append(as_bytes("keep me")));
  ASSERT_TRUE((*w)->commit(digest));
  struct ::stat after;
  ASSERT_EQ(::stat(blob.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(after.st_nlink, 1u);
}

TEST_F(FilesystemTest, UploadResumesAfterRestart) {
  std::string content = random_content(3'000'000, 7);
  auto digest = sha256_of(content);
  {
    auto storage = open_storage();
    ASSERT_TRUE(storage);
    auto w = storage->create_upload("resume-me");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes(std::string_view(content).substr(0, 1'234'567))));
    ASSERT_TRUE((*w)->flush());
  }
  auto storage = open_storage();
  ASSERT_TRUE(storage);
  EXPECT_EQ(*storage->upload_size("resume-me"), 1'234'567u);
  {
    auto w = storage->open_upload("resume-me");
    ASSERT_TRUE(w) << w.error().message;
    EXPECT_EQ((*w)->size(), 1'234'567u);
    ASSERT_TRUE((*w)->append(as_bytes(std::string_view(content).substr(1'234'567, 1'000'000))));
  }
  auto w = storage->open_upload("resume-me");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->append(as_bytes(std::string_view(content).substr(2'234'567))));
  auto info = (*w)->commit(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, content.size());
  EXPECT_EQ(read_all(*storage, digest), content);
}

// Page-aligned copy of `content`, the way the API hands over body buffers, so that appends of
// whole blocks take the direct (page-cache bypassing) path.
struct AlignedBytes {
  explicit AlignedBytes(std::string_view content)
      : size(content.size()),
        data(static_cast<std::byte*>(::operator new[](content.size(), std::align_val_t{4096}))) {
    std::memcpy(data, content.data(), content.size());
  }
  ~AlignedBytes() { ::operator delete[](data, std::align_val_t{4096}); }
  std::span<const std::byte> range(std::size_t offset, std::size_t length) const {
    return {data + offset, length};
  }
  std::size_t size;
  std::byte* data;
};

TEST_F(FilesystemTest, DirectAndBufferedAppendsInterleaveAcrossAResume) {
  // Aligned 1 MiB (direct), an odd tail (buffered), an append at an unaligned offset (buffered),
  // a resume, then aligned blocks again once the offset is aligned: the bytes and the digest
  // must come out exactly as sent, whichever path each piece took.
  const std::size_t mib = 1 << 20;
  std::string content = random_content(4 * mib + 12'345, 11);
  AlignedBytes aligned(content);
  auto digest = sha256_of(content);
  auto storage = open_storage();
  ASSERT_TRUE(storage);
  {
    auto w = storage->create_upload("mixed-paths");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(aligned.range(0, mib)));
    ASSERT_TRUE((*w)->append(aligned.range(mib, 100)));
    ASSERT_TRUE((*w)->append(as_bytes(std::string_view(content).substr(mib + 100, mib - 100))));
    ASSERT_TRUE((*w)->flush());
    EXPECT_EQ(file_content(root_ / "uploads" / "mixed-paths" / "data"), content.substr(0, 2 * mib));
  }
  auto w = storage->open_upload("mixed-paths");
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE((*w)->append(aligned.range(2 * mib, 2 * mib + 12'345)));
  auto info = (*w)->commit(digest);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->size, content.size());
  EXPECT_EQ(read_all(*storage, digest), content);
}

// Bytes in the file the saved state does not cover, e.g. appended by a process that crashed
// before its flush finished: the file is the truth, and only those bytes are read.
TEST_F(FilesystemTest, BytesBeyondTheSavedStateAreHashedFromTheFile) {
  auto storage = open_storage();
  ASSERT_TRUE(storage);
  {
    auto w = storage->create_upload("changed");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes("first ")));
    ASSERT_TRUE((*w)->flush());
  }
  {
    std::ofstream out(root_ / "uploads" / "changed" / "data", std::ios::binary | std::ios::app);
    out << "second ";
  }
  auto w = storage->open_upload("changed");
  ASSERT_TRUE(w);
  EXPECT_EQ((*w)->size(), 13u);
  ASSERT_TRUE((*w)->append(as_bytes("third")));
  auto info = (*w)->commit(sha256_of("first second third"));
  ASSERT_TRUE(info) << info.error().message;
}

// What a machine crash can leave of a state file that was not fsynced: nothing, an empty
// file, zeros, half a record, or a record too large to be one. Each resumes correctly.
TEST_F(FilesystemTest, StateFileDamagedOnDiskIsRefusedAndTheUploadHashedAgain) {
  std::string content = random_content(200'000, 9);
  auto digest = sha256_of(content);
  auto storage = open_storage();
  ASSERT_TRUE(storage);
  {
    auto w = storage->create_upload("torn");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(as_bytes(std::string_view(content).substr(0, 150'000))));
    ASSERT_TRUE((*w)->flush());
  }
  const fs::path state = root_ / "uploads" / "torn" / "state";
  const std::string good = file_content(state);
  ASSERT_FALSE(good.empty());
  const std::string damaged[] = {"", std::string(good.size(), '\0'), good.substr(0, 40),
                                 std::string(20'000, 'x')};
  for (const std::string& bytes : damaged) {
    write_file(state, bytes);
    auto w = storage->open_upload("torn");
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_TRUE((*w)->append(as_bytes(std::string_view(content).substr(150'000))));
    ASSERT_TRUE((*w)->revert());
  }
  fs::remove(state);
  auto w = storage->open_upload("torn");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->append(as_bytes(std::string_view(content).substr(150'000))));
  auto info = (*w)->commit(digest);
  ASSERT_TRUE(info) << info.error().message;
}

// The remains of an interrupted removal must not describe a new upload of the same id.
TEST_F(FilesystemTest, LeftoverStateOfAnEarlierUploadIsRemovedOnCreate) {
  auto store = open_store();
  ASSERT_TRUE(store);
  oci::Hasher other;
  other.update("someone else's bytes");
  const auto record = other.export_state();
  fs::create_directories(root_ / "uploads" / "reused");
  write_file(root_ / "uploads" / "reused" / "state",
             std::string(reinterpret_cast<const char*>(record.data()), record.size()));
  write_file(root_ / "uploads" / "reused" / "state.123-456-7", "half written");
  auto h = store->create_upload("reused");
  ASSERT_TRUE(h) << h.error().message;
  auto loaded = (*h)->load_state();
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(loaded->empty());
  EXPECT_EQ(entries(root_ / "uploads" / "reused"),
            std::vector<fs::path>{root_ / "uploads" / "reused" / "data"});
}

// Another process's in-flight store() must survive this process opening the root; a crashed
// run's file is old.
TEST_F(FilesystemTest, OnlyStaleStagingFilesAreClearedOnOpen) {
  ASSERT_TRUE(open_store());
  write_file(root_ / "tmp" / "put-crashed-1", "half a blob");
  age_file(root_ / "tmp" / "put-crashed-1", std::chrono::hours(2));
  write_file(root_ / "tmp" / "probe-crashed-2", "");
  age_file(root_ / "tmp" / "probe-crashed-2", std::chrono::hours(2));
  write_file(root_ / "tmp" / "put-in-flight", "being written");
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(entries(root_ / "tmp"), std::vector<fs::path>{root_ / "tmp" / "put-in-flight"});
}

TEST_F(FilesystemTest, SymlinkedTmpIsReplacedWithoutTouchingWhatItPointsAt) {
  ASSERT_TRUE(open_store());
  fs::path outside = scratch_.path() / "outside";
  fs::create_directories(outside);
  std::ofstream(outside / "precious") << "not berth's";
  fs::remove(root_ / "tmp");
  fs::create_directory_symlink(outside, root_ / "tmp");

  auto storage = open_storage();
  ASSERT_TRUE(storage);
  EXPECT_EQ(file_content(outside / "precious"), "not berth's");
  EXPECT_FALSE(fs::is_symlink(root_ / "tmp"));
  EXPECT_TRUE(fs::is_directory(root_ / "tmp"));
  ASSERT_TRUE(storage->put(sha256_of("staged"), as_bytes("staged")));
}

// Anything in tmp/ that is not a staging file of this driver goes at once, links as links.
TEST_F(FilesystemTest, LinksAndDirectoriesInTmpAreRemovedWithoutFollowing) {
  ASSERT_TRUE(open_store());
  fs::path outside = scratch_.path() / "outside";
  fs::create_directories(outside / "inner");
  std::ofstream(outside / "precious") << "not berth's";
  std::ofstream(outside / "inner" / "also") << "not berth's either";
  fs::create_directory_symlink(outside, root_ / "tmp" / "link-to-dir");
  fs::create_symlink(outside / "precious", root_ / "tmp" / "link-to-file");
  fs::create_symlink(outside / "precious", root_ / "tmp" / "put-named-like-staging");
  fs::create_directories(root_ / "tmp" / "sub" / "deeper");
  std::ofstream(root_ / "tmp" / "sub" / "deeper" / "stale") << "stale";
  fs::create_directory_symlink(outside / "inner", root_ / "tmp" / "sub" / "link");

  auto storage = open_store();
  ASSERT_TRUE(storage);
  EXPECT_TRUE(entries(root_ / "tmp").empty());
  EXPECT_EQ(file_content(outside / "precious"), "not berth's");
  EXPECT_EQ(file_content(outside / "inner" / "also"), "not berth's either");
}

TEST_F(FilesystemTest, EmptyUploadDirectoryIsNotAnUpload) {
  auto storage = open_store();
  ASSERT_TRUE(storage);
  fs::create_directory(root_ / "uploads" / "leftover");
  EXPECT_EQ(storage->upload_size("leftover").error().code, Errc::not_found);
  EXPECT_EQ(storage->open_upload("leftover").error().code, Errc::not_found);
  EXPECT_TRUE(storage->create_upload("leftover"));
}

TEST_F(FilesystemTest, NativeHandleSupportsPread) {
  auto storage = open_storage();
  ASSERT_TRUE(storage);
  std::string content = random_content(100'000, 8);
  auto digest = sha256_of(content);
  ASSERT_TRUE(storage->put(digest, as_bytes(content)));
  auto reader = storage->open(digest);
  ASSERT_TRUE(reader);
  int fd = (*reader)->native_handle();
  ASSERT_GE(fd, 0);
  std::string buffer(1000, '\0');
  ASSERT_EQ(::pread(fd, buffer.data(), buffer.size(), 50'000), 1000);
  EXPECT_EQ(buffer, content.substr(50'000, 1000));
}

TEST_F(FilesystemTest, RootThatIsAFileIsRejected) {
  std::ofstream(root_) << "not a directory";
  auto storage = FilesystemByteStore::open(root_);
  ASSERT_FALSE(storage);
  EXPECT_EQ(storage.error().code, Errc::io_error);
  EXPECT_NE(storage.error().message.find(root_.string()), std::string::npos)
      << storage.error().message;

  auto below = FilesystemByteStore::open(root_ / "sub");
  ASSERT_FALSE(below);
  EXPECT_EQ(below.error().code, Errc::io_error);
}

TEST_F(FilesystemTest, EmptyRootPathIsRejected) {
  auto storage = FilesystemByteStore::open("");
  ASSERT_FALSE(storage);
  EXPECT_EQ(storage.error().code, Errc::invalid_argument);
}

// As nobody (permission checks do not apply to root), in a directory of its own: nobody cannot
// enter the fixture's.
TEST_F(FilesystemTest, RootWithoutWritePermissionIsRejected) {
  auto as_nobody = [] {
    testing::TempDir own;
    const fs::path root = own.path() / "data";
    fs::create_directories(root);
    fs::permissions(root, fs::perms::owner_read | fs::perms::owner_exec);
    auto storage = FilesystemByteStore::open(root);
    ASSERT_FALSE(storage);
    EXPECT_EQ(storage.error().code, Errc::io_error);
    EXPECT_NE(storage.error().message.find(root.string()), std::string::npos);
  };
  EXPECT_TRUE(run_unprivileged(as_nobody));
}

TEST_F(FilesystemTest, ExistingRootWithReadOnlyTmpIsRejected) {
  auto as_nobody = [] {
    testing::TempDir own;
    const fs::path root = own.path() / "data";
    ASSERT_TRUE(FilesystemByteStore::open(root));
    fs::permissions(root / "tmp", fs::perms::owner_read | fs::perms::owner_exec);
    auto storage = FilesystemByteStore::open(root);
    ASSERT_FALSE(storage);
    EXPECT_EQ(storage.error().code, Errc::io_error);
  };
  EXPECT_TRUE(run_unprivileged(as_nobody));
}

}  // namespace
}  // namespace berth::storage
