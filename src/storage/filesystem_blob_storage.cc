// On-disk layout under the storage root:
//
//   <root>/
//   ├── blobs/                         committed content, one file per digest, written once
//   │   ├── sha256/
//   │   │   └── ab/                    first two hex digits, keeps directories small
//   │   │       └── abcdef0123…        the blob bytes (name = full hex of the digest)
//   │   └── sha512/
//   │       └── 9f/
//   │           └── 9f86d081…
//   ├── uploads/                       upload sessions, resumable across restarts
//   │   └── <id>/                      id: [A-Za-z0-9-]{1,64}
//   │       └── data                   bytes received so far, renamed into blobs/ on commit
//   └── tmp/                           staging for put(); emptied when the root is opened
//
// The root owns uploads/ and tmp/: they are real directories, never symbolic links. Cleaning
// them never follows a link: a link found in tmp/ (or tmp/ itself being a link) is removed as
// a link, so the cleanup cannot reach files outside the root.
//
// A blob appears in blobs/ only by an atomic rename of a fully written, fsynced file, so a
// reader never sees a partial blob and a crash leaves at most an orphan in uploads/ or tmp/.
//
// Upload bytes in whole aligned blocks bypass the page cache (O_DIRECT) where the filesystem
// allows it: a registry receives far more bytes than it serves again at once, and copying each
// pushed byte into newly allocated cache pages cost more CPU than hashing it. Small and
// unaligned pieces (the tail of a body, odd-sized chunks) take the ordinary buffered path.

#include "storage/filesystem_blob_storage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

namespace berth::storage {

namespace fs = std::filesystem;

struct FilesystemBlobStorage::State {
  struct CachedHash {
    oci::Hasher hasher;
    std::uint64_t size = 0;  // bytes of the upload the hasher has absorbed
  };

  fs::path root;
  fs::path blobs;
  fs::path uploads;
  fs::path tmp;

  std::mutex mutex;
  // Uploads that have a writer (or a delete) in progress.
  std::set<std::string, std::less<>> busy;
  // Running sha256 of uploads between requests, so resuming does not reread the file.
  std::map<std::string, CachedHash, std::less<>> hashes;
};

namespace {

using State = FilesystemBlobStorage::State;

// Large enough that rehashing a multi-GiB file is a few thousand syscalls.
constexpr std::size_t kReadBufferSize = std::size_t{1} << 20;
// Start kernel writeback every this many appended bytes, so that commit's fdatasync finds most
// of a large upload already on disk instead of flushing it all at once.
constexpr std::uint64_t kWritebackChunk = std::uint64_t{8} << 20;
// Offset, length and memory alignment of a direct write: the page size covers the logical
// block size of every common device.
constexpr std::size_t kDirectAlignment = 4096;
// Below this a direct write saves too little to be worth a synchronous trip to the disk.
constexpr std::size_t kDirectMinimum = 64 * 1024;
constexpr mode_t kFileMode = 0644;
constexpr mode_t kDirMode = 0755;

std::string errno_text(int err) { return std::generic_category().message(err); }

bool is_out_of_space(int err) { return err == ENOSPC || err == EDQUOT; }

StorageError io_error(std::string_view operation, const fs::path& path, int err) {
  std::string message(operation);
  message += ' ';
  message += path.string();
  message += ": ";
  message += errno_text(err);
  return {is_out_of_space(err) ? Errc::storage_full : Errc::io_error, std::move(message)};
}

StorageError invalid_id(std::string_view id) {
  return {Errc::invalid_argument, "malformed upload id '" + std::string(id.substr(0, 80)) + "'"};
}

StorageError upload_not_found(std::string_view id) {
  return {Errc::not_found, "upload " + std::string(id) + " not found"};
}

StorageError upload_busy(std::string_view id) {
  return {Errc::upload_busy, "upload " + std::string(id) + " has an open writer"};
}

StorageError blob_not_found(const oci::Digest& digest) {
  return {Errc::not_found, "blob " + digest.str() + " not found"};
}

StorageError mismatch(const oci::Digest& expected, const oci::Digest& actual) {
  return {Errc::digest_mismatch,
          "content digest " + actual.str() + " does not match " + expected.str()};
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    // close(2) must not be retried on EINTR on Linux: the descriptor is already released.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

UniqueFd open_fd(const fs::path& path, int flags, mode_t mode = kFileMode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return UniqueFd(fd);
}

// Writes all of `data` at `offset`; 0 or the errno of the failure.
int write_all(int fd, std::span<const std::byte> data, std::uint64_t offset) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;  // no progress on a regular file: treat as a device failure
    data = data.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return 0;
}

int sync_data(int fd) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

// Makes directory entries (creations, renames) in `dir` durable; 0 or errno.
int sync_dir(const fs::path& dir) {
  UniqueFd fd = open_fd(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return errno;
  while (::fsync(fd.get()) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

// Creates `dir` (whose parent exists) unless present; a new entry is made durable in the parent.
Result<void> ensure_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), kDirMode) == 0) {
    if (int err = sync_dir(dir.parent_path()))
      return io_error("sync directory", dir.parent_path(), err);
    return {};
  }
  if (errno == EEXIST) return {};
  return io_error("create directory", dir, errno);
}

// Hashes the first `size` bytes of `fd` with `algorithm`, reading in large sequential chunks.
Result<oci::Hasher> hash_file(int fd, std::uint64_t size, oci::DigestAlgorithm algorithm,
                              const fs::path& path) {
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto buffer = std::make_unique_for_overwrite<std::byte[]>(kReadBufferSize);
  oci::Hasher hasher(algorithm);
  std::uint64_t offset = 0;
  while (offset < size) {
    std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kReadBufferSize, size - offset));
    ssize_t n = ::pread(fd, buffer.get(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("read", path, errno);
    }
    if (n == 0) return io_error("read", path, EIO);  // shrank under us
    hasher.update(std::span<const std::byte>(buffer.get(), static_cast<std::size_t>(n)));
    offset += static_cast<std::uint64_t>(n);
  }
  return hasher;
}

fs::path blob_dir(const State& state, const oci::Digest& digest) {
  // The digest is validated (algorithm name + lower-case hex), so no component can escape.
  return state.blobs / oci::algorithm_name(digest.algorithm()) / digest.hex().substr(0, 2);
}

fs::path blob_path(const State& state, const oci::Digest& digest) {
  return blob_dir(state, digest) / digest.hex();
}

bool file_exists(const fs::path& path) {
  struct ::stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Moves the fully written, fsynced file `source` to `target` without replacing an existing
// target: the first copy of a digest stays, later identical copies are dropped by the caller.
// Returns true when `source` became the blob, false when a copy was already there.
Result<bool> publish(const fs::path& source, const fs::path& target) {
  if (::renameat2(AT_FDCWD, source.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) {
    return true;
  }
  int err = errno;
  if (err == EEXIST) return false;
  if (err != EINVAL && err != ENOSYS && err != EOPNOTSUPP) {
    return io_error("rename into", target, err);
  }
  // The filesystem lacks RENAME_NOREPLACE: link(2) is the other atomic no-replace primitive.
  if (::link(source.c_str(), target.c_str()) == 0) return true;
  err = errno;
  if (err == EEXIST) return false;
  if (err != EPERM && err != EOPNOTSUPP && err != ENOSYS) return io_error("link into", target, err);
  // No hard links either: a plain rename may replace a concurrent copy, which is harmless
  // because both hold the same verified bytes.
  if (::rename(source.c_str(), target.c_str()) == 0) return true;
  return io_error("rename into", target, errno);
}

// Puts a verified, durable file in its content-addressed place and makes the entry durable.
Result<void> install_blob(const State& state, const oci::Digest& digest, const fs::path& source) {
  fs::path dir = blob_dir(state, digest);
  if (auto r = ensure_dir(dir.parent_path()); !r) return r.error();
  if (auto r = ensure_dir(dir); !r) return r.error();
  auto published = publish(source, dir / digest.hex());
  if (!published) return published.error();
  if (*published) {
    if (int err = sync_dir(dir)) return io_error("sync directory", dir, err);
  }
  return {};
}

// Removes an upload's files. Best effort: a leftover empty directory is not an upload.
void remove_upload_files(const fs::path& dir) {
  ::unlink((dir / "data").c_str());
  ::rmdir(dir.c_str());
}

// Holds the in-process claim on an upload id; releases it unless handed over to a writer.
class BusyClaim {
 public:
  BusyClaim() = default;
  BusyClaim(std::shared_ptr<State> state, std::string id)
      : state_(std::move(state)), id_(std::move(id)) {}
  BusyClaim(BusyClaim&&) noexcept = default;
  BusyClaim& operator=(BusyClaim&&) = delete;
  ~BusyClaim() { release(); }

  // Claims `id`; nullopt when someone else holds it.
  static std::optional<BusyClaim> acquire(const std::shared_ptr<State>& state,
                                          std::string_view id) {
    std::lock_guard lock(state->mutex);
    if (!state->busy.emplace(id).second) return std::nullopt;
    return BusyClaim(state, std::string(id));
  }

  const std::string& id() const { return id_; }
  const std::shared_ptr<State>& state() const { return state_; }

  // Releases the claim; when `hash` is given it is cached for the next writer in the same
  // critical section, so that writer cannot miss it.
  void release(std::optional<State::CachedHash> hash = std::nullopt, bool forget_hash = false) {
    if (!state_) return;
    std::lock_guard lock(state_->mutex);
    if (hash) {
      state_->hashes.insert_or_assign(id_, std::move(*hash));
    } else if (forget_hash) {
      state_->hashes.erase(id_);
    }
    state_->busy.erase(id_);
    state_.reset();
  }

 private:
  std::shared_ptr<State> state_;
  std::string id_;
};

class FilesystemBlobReader final : public BlobReader {
 public:
  FilesystemBlobReader(UniqueFd fd, std::uint64_t size, fs::path path)
      : fd_(std::move(fd)), size_(size), path_(std::move(path)) {}

  std::uint64_t size() const override { return size_; }

  Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) override {
    std::size_t total = 0;
    while (total < out.size() && offset < size_) {
      ssize_t n =
          ::pread(fd_.get(), out.data() + total, out.size() - total, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("read", path_, errno);
      }
      if (n == 0) break;
      total += static_cast<std::size_t>(n);
      offset += static_cast<std::uint64_t>(n);
    }
    return total;
  }

  int native_handle() const override { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::uint64_t size_;
  fs::path path_;
};

class FilesystemUploadWriter final : public UploadWriter {
 public:
  FilesystemUploadWriter(BusyClaim claim, fs::path dir, UniqueFd fd, std::uint64_t size,
                         oci::Hasher hasher)
      : claim_(std::move(claim)),
        dir_(std::move(dir)),
        data_path_(dir_ / "data"),
        fd_(std::move(fd)),
        size_(size),
        writeback_from_(size),
        hasher_(std::move(hasher)),
        kept_size_(size),
        kept_hasher_(hasher_) {}

  ~FilesystemUploadWriter() override {
    if (done_) return;
    fd_.reset();
    direct_fd_.reset();
    if (broken_) {
      claim_.release(std::nullopt, /*forget_hash=*/true);
    } else {
      claim_.release(State::CachedHash{std::move(hasher_), size_});
    }
  }

  std::uint64_t size() const override { return size_; }

  Result<void> append(std::span<const std::byte> data) override {
    if (auto r = usable(); !r) return r;
    if (data.empty()) return {};
    if (int err = write_and_hash(data)) {
      // Drop whatever part landed so the file again matches size_ and the running hash.
      if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) broken_ = true;
      return io_error("append to", data_path_, err);
    }
    size_ += data.size();
    if (size_ - writeback_from_ >= kWritebackChunk) {
      // Only buffered writes leave dirty pages; over direct writes this finds nothing to do.
      // Advisory (and unsupported on some filesystems), so its result does not matter.
      ::sync_file_range(fd_.get(), static_cast<off_t>(writeback_from_),
                        static_cast<off_t>(size_ - writeback_from_), SYNC_FILE_RANGE_WRITE);
      writeback_from_ = size_;
    }
    return {};
  }

  Result<void> revert() override {
    if (done_) return upload_not_found(claim_.id());
    if (size_ == kept_size_ && !broken_) return {};
    if (::ftruncate(fd_.get(), static_cast<off_t>(kept_size_)) != 0) {
      broken_ = true;
      return io_error("truncate", data_path_, errno);
    }
    size_ = kept_size_;
    writeback_from_ = std::min(writeback_from_, size_);
    hasher_ = kept_hasher_;
    broken_ = false;
    return {};
  }

  Result<void> discard() override {
    if (done_) return upload_not_found(claim_.id());
    finish();
    return {};
  }

  Result<void> flush() override {
    if (auto r = usable(); !r) return r;
    if (int err = sync_data(fd_.get())) return io_error("sync", data_path_, err);
    if (!dirs_synced_) {
      // The upload's directory entries must be durable too, or a crash could lose the file.
      if (int err = sync_dir(dir_)) return io_error("sync directory", dir_, err);
      if (int err = sync_dir(dir_.parent_path())) {
        return io_error("sync directory", dir_.parent_path(), err);
      }
      dirs_synced_ = true;
    }
    kept_size_ = size_;
    kept_hasher_ = hasher_;
    return {};
  }

  Result<BlobInfo> commit(const oci::Digest& expected) override {
    if (auto r = usable(); !r) return r.error();
    const State& state = *claim_.state();
    std::optional<oci::Digest> actual;
    if (expected.algorithm() == hasher_.algorithm()) {
      actual = hasher_.digest();
    } else {
      auto rehashed = hash_file(fd_.get(), size_, expected.algorithm(), data_path_);
      if (!rehashed) return rehashed.error();
      actual = rehashed->digest();
    }
    BlobInfo info{expected, size_};
    if (*actual != expected) {
      finish();
      return mismatch(expected, *actual);
    }
    // An existing copy was verified when it was written; this one only needs to go away.
    if (!file_exists(blob_path(state, expected))) {
      if (int err = sync_data(fd_.get())) return io_error("sync", data_path_, err);
      if (auto r = install_blob(state, expected, data_path_); !r) return r.error();
    }
    finish();
    return info;
  }

 private:
  // Writes `data` at size_ (its aligned part directly to the disk when it qualifies), then adds
  // it to the running hash while the bytes are still hot in cache. 0 or the errno of a failed
  // write (the file may then hold part of `data`; the hash is untouched).
  int write_and_hash(std::span<const std::byte> data) {
    if (int err = write_at_end(data)) return err;
    hasher_.update(data);
    return 0;
  }

  int write_at_end(std::span<const std::byte> data) {
    const bool aligned = size_ % kDirectAlignment == 0 &&
                         reinterpret_cast<std::uintptr_t>(data.data()) % kDirectAlignment == 0;
    const std::size_t bulk = data.size() / kDirectAlignment * kDirectAlignment;
    if (!aligned || bulk < kDirectMinimum || !direct_fd()) {
      return write_all(fd_.get(), data, size_);
    }
    int err = write_all(direct_fd_.get(), data.first(bulk), size_);
    if (err == EINVAL) {
      // The filesystem accepted O_DIRECT at open but not this write: stay buffered from now on.
      direct_fd_.reset();
      direct_refused_ = true;
      err = write_all(fd_.get(), data.first(bulk), size_);
    }
    if (err != 0) return err;
    return write_all(fd_.get(), data.subspan(bulk), size_ + bulk);
  }

  // The data file opened for direct writes, on first use; false where the filesystem refuses.
  bool direct_fd() {
    if (direct_fd_) return true;
    if (direct_refused_) return false;
    direct_fd_ = open_fd(data_path_, O_WRONLY | O_DIRECT);
    direct_refused_ = !direct_fd_;
    return !direct_refused_;
  }

  Result<void> usable() const {
    if (done_) return upload_not_found(claim_.id());
    if (broken_) {
      return StorageError{Errc::io_error, "upload " + claim_.id() +
                                              " is in an unknown state after a failed write; "
                                              "reopen it"};
    }
    return {};
  }

  // The upload is over (committed or rejected): remove its files and forget it.
  void finish() {
    fd_.reset();
    direct_fd_.reset();
    remove_upload_files(dir_);
    claim_.release(std::nullopt, /*forget_hash=*/true);
    done_ = true;
  }

  BusyClaim claim_;
  fs::path dir_;
  fs::path data_path_;
  UniqueFd fd_;
  UniqueFd direct_fd_;
  bool direct_refused_ = false;
  std::uint64_t size_;
  std::uint64_t writeback_from_;
  oci::Hasher hasher_;
  // Where the upload stood when this writer opened it or last flushed it, for revert().
  std::uint64_t kept_size_;
  oci::Hasher kept_hasher_;
  bool dirs_synced_ = false;
  bool broken_ = false;  // a failed write could not be undone: file and hash may disagree
  bool done_ = false;
};

std::string staging_name() {
  static std::atomic<std::uint64_t> counter{0};
  return "put-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

// A staging directory that is a symbolic link (or any non-directory) is replaced by a real
// directory: the link is removed, never what it points at.
Result<void> replace_link_with_dir(const fs::path& dir) {
  struct ::stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return io_error("inspect", dir, errno);
  }
  if (S_ISDIR(st.st_mode)) return {};
  if (::unlink(dir.c_str()) != 0) return io_error("remove non-directory", dir, errno);
  return {};
}

// Upload sessions live under `dir` and the sweeper deletes in it, so it must not lead out of
// the root. Unlike tmp/ it holds sessions clients may resume, so a link is refused, not
// replaced.
Result<void> require_real_dir(const fs::path& dir) {
  struct ::stat st;
  if (::lstat(dir.c_str(), &st) != 0) return io_error("inspect", dir, errno);
  if (!S_ISDIR(st.st_mode)) {
    return StorageError{Errc::io_error, dir.string() + " must be a directory, not a link or file"};
  }
  return {};
}

// Removes everything in `dir`: files, links (as links) and whole subdirectories.
// std::filesystem::remove_all does not follow symbolic links, and `dir` itself was checked to
// be a real directory.
Result<void> empty_dir_without_following_links(const fs::path& dir) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code removed;
    fs::remove_all(it->path(), removed);
    if (removed) return io_error("remove stale staging entry", it->path(), removed.value());
  }
  if (ec) return io_error("list", dir, ec.value());
  return {};
}

}  // namespace

Result<std::unique_ptr<FilesystemBlobStorage>> FilesystemBlobStorage::open(fs::path root) {
  if (root.empty()) return StorageError{Errc::invalid_argument, "empty storage root path"};
  std::error_code ec;
  fs::path absolute = fs::absolute(root, ec);
  if (ec) return io_error("resolve storage root", root, ec.value());

  auto state = std::make_shared<State>();
  state->root = absolute.lexically_normal();
  state->blobs = state->root / "blobs";
  state->uploads = state->root / "uploads";
  state->tmp = state->root / "tmp";

  fs::create_directories(state->root, ec);
  if (ec) return io_error("create storage root", state->root, ec.value());
  if (!fs::is_directory(state->root, ec)) {
    return io_error("open storage root", state->root, ec ? ec.value() : ENOTDIR);
  }
  if (auto r = replace_link_with_dir(state->tmp); !r) return r.error();
  for (const fs::path* dir : {&state->blobs, &state->uploads, &state->tmp}) {
    if (auto r = ensure_dir(*dir); !r) return r.error();
  }
  if (auto r = require_real_dir(state->uploads); !r) return r.error();

  // Clear staging leftovers of a crashed run; the probe then proves the root is writable,
  // which a permission check alone would not (read-only mounts, root-squash, ACLs).
  if (auto r = empty_dir_without_following_links(state->tmp); !r) return r.error();
  fs::path probe = state->tmp / staging_name();
  UniqueFd fd = open_fd(probe, O_WRONLY | O_CREAT | O_EXCL);
  if (!fd) return io_error("storage root is not writable: create", probe, errno);
  fd.reset();
  ::unlink(probe.c_str());

  return std::unique_ptr<FilesystemBlobStorage>(new FilesystemBlobStorage(std::move(state)));
}

FilesystemBlobStorage::FilesystemBlobStorage(std::shared_ptr<State> state)
    : state_(std::move(state)) {}

FilesystemBlobStorage::~FilesystemBlobStorage() = default;

const fs::path& FilesystemBlobStorage::root() const { return state_->root; }

Result<BlobInfo> FilesystemBlobStorage::stat(const oci::Digest& digest) {
  fs::path path = blob_path(*state_, digest);
  struct ::stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return blob_not_found(digest);
    return io_error("stat", path, errno);
  }
  return BlobInfo{digest, static_cast<std::uint64_t>(st.st_size)};
}

Result<std::unique_ptr<BlobReader>> FilesystemBlobStorage::open(const oci::Digest& digest) {
  fs::path path = blob_path(*state_, digest);
  UniqueFd fd = open_fd(path, O_RDONLY);
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return blob_not_found(digest);
    return io_error("open", path, errno);
  }
  struct ::stat st;
  if (::fstat(fd.get(), &st) != 0) return io_error("stat", path, errno);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<BlobReader>(std::make_unique<FilesystemBlobReader>(
      std::move(fd), static_cast<std::uint64_t>(st.st_size), std::move(path)));
}

Result<void> FilesystemBlobStorage::remove(const oci::Digest& digest) {
  fs::path path = blob_path(*state_, digest);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return blob_not_found(digest);
    return io_error("remove", path, errno);
  }
  return {};
}

namespace {

// The entries of `dir` with names above `after`, sorted; a missing directory has none.
Result<std::vector<std::string>> sorted_names_after(const fs::path& dir, std::string_view after) {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name > after) names.push_back(std::move(name));
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return io_error("list", dir, ec.value());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The blob named `hex` in `dir` when it is a regular file with a well-formed name.
std::optional<StoredBlob> stored_blob(const fs::path& dir, oci::DigestAlgorithm algorithm,
                                      const std::string& hex) {
  std::string text(oci::algorithm_name(algorithm));
  text += ':';
  text += hex;
  auto digest = oci::Digest::parse(text);
  if (!digest) return std::nullopt;
  struct ::stat st;
  if (::lstat((dir / hex).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return StoredBlob{std::move(*digest), static_cast<std::uint64_t>(st.st_size),
                    static_cast<std::int64_t>(st.st_mtime)};
}

}  // namespace

// Walks blobs/<algorithm>/<xx>/<hex> in name order, which is digest-text order: algorithms
// sort by name, and a hex's directory is its first two digits.
Result<BlobListing> FilesystemBlobStorage::list_blobs(std::string_view after, std::size_t limit) {
  BlobListing listing;
  if (limit == 0) return listing;
  const std::size_t colon = after.find(':');
  const std::string_view after_algorithm = after.substr(0, colon);
  const std::string_view after_hex =
      colon == std::string_view::npos ? std::string_view() : after.substr(colon + 1);
  for (oci::DigestAlgorithm algorithm : {oci::DigestAlgorithm::sha256,
                                         oci::DigestAlgorithm::sha512}) {
    const std::string_view name = oci::algorithm_name(algorithm);
    if (name < after_algorithm) continue;
    const bool resuming = name == after_algorithm;
    const fs::path root = state_->blobs / name;
    // The directory holding `after` itself may have more names after it, so it is listed
    // again: start just before its prefix.
    std::string prefix_floor;
    if (resuming && after_hex.size() >= 2) {
      prefix_floor = std::string(after_hex.substr(0, 2));
      prefix_floor.back() = static_cast<char>(prefix_floor.back() - 1);
    }
    auto prefixes = sorted_names_after(root, prefix_floor);
    if (!prefixes) return prefixes.error();
    for (const std::string& prefix : *prefixes) {
      if (prefix.size() != 2) continue;
      const fs::path dir = root / prefix;
      auto names = sorted_names_after(dir, resuming ? after_hex : std::string_view());
      if (!names) return names.error();
      for (const std::string& hex : *names) {
        if (hex.substr(0, 2) != prefix) continue;
        auto blob = stored_blob(dir, algorithm, hex);
        if (!blob) continue;
        listing.blobs.push_back(std::move(*blob));
        if (listing.blobs.size() == limit) {
          listing.next = listing.blobs.back().digest.str();
          return listing;
        }
      }
    }
  }
  return listing;
}

Result<BlobInfo> FilesystemBlobStorage::put(const oci::Digest& expected,
                                            std::span<const std::byte> bytes) {
  oci::Hasher hasher(expected.algorithm());
  hasher.update(bytes);
  oci::Digest actual = hasher.digest();
  if (actual != expected) return mismatch(expected, actual);
  BlobInfo info{expected, bytes.size()};
  if (file_exists(blob_path(*state_, expected))) return info;

  fs::path staging = state_->tmp / staging_name();
  UniqueFd fd = open_fd(staging, O_WRONLY | O_CREAT | O_EXCL);
  if (!fd) return io_error("create", staging, errno);
  auto result = [&]() -> Result<void> {
    if (int err = write_all(fd.get(), bytes, 0)) return io_error("write", staging, err);
    if (int err = sync_data(fd.get())) return io_error("sync", staging, err);
    fd.reset();
    return install_blob(*state_, expected, staging);
  }();
  // Gone already when it was renamed; still there after an error or when a copy existed.
  ::unlink(staging.c_str());
  if (!result) return result.error();
  return info;
}

Result<std::unique_ptr<UploadWriter>> FilesystemBlobStorage::create_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  auto claim = BusyClaim::acquire(state_, id);
  if (!claim) return upload_busy(id);
  fs::path dir = state_->uploads / id;
  // An existing directory without data is the remains of an interrupted removal, not an upload.
  if (::mkdir(dir.c_str(), kDirMode) != 0 && errno != EEXIST) {
    return io_error("create upload directory", dir, errno);
  }
  UniqueFd fd = open_fd(dir / "data", O_RDWR | O_CREAT | O_EXCL);
  if (!fd) {
    if (errno == EEXIST) {
      return StorageError{Errc::invalid_argument, "upload " + std::string(id) + " already exists"};
    }
    int err = errno;
    ::rmdir(dir.c_str());
    return io_error("create", dir / "data", err);
  }
  {
    // A hash left by an earlier upload of the same id must not leak into this one.
    std::lock_guard lock(state_->mutex);
    state_->hashes.erase(std::string(id));
  }
  return std::unique_ptr<UploadWriter>(
      std::make_unique<FilesystemUploadWriter>(std::move(*claim), std::move(dir), std::move(fd), 0,
                                               oci::Hasher(oci::DigestAlgorithm::sha256)));
}

Result<std::unique_ptr<UploadWriter>> FilesystemBlobStorage::open_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  auto claim = BusyClaim::acquire(state_, id);
  if (!claim) return upload_busy(id);
  std::optional<State::CachedHash> cached;
  {
    std::lock_guard lock(state_->mutex);
    if (auto node = state_->hashes.extract(std::string(id))) cached = std::move(node.mapped());
  }
  fs::path dir = state_->uploads / id;
  fs::path data = dir / "data";
  UniqueFd fd = open_fd(data, O_RDWR);
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return upload_not_found(id);
    return io_error("open", data, errno);
  }
  struct ::stat st;
  if (::fstat(fd.get(), &st) != 0) return io_error("stat", data, errno);
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (!cached || cached->size != size) {
    // After a restart, or when the file changed behind the cache: the file is the truth.
    auto rehashed = hash_file(fd.get(), size, oci::DigestAlgorithm::sha256, data);
    if (!rehashed) return rehashed.error();
    cached = State::CachedHash{std::move(*rehashed), size};
  }
  return std::unique_ptr<UploadWriter>(std::make_unique<FilesystemUploadWriter>(
      std::move(*claim), std::move(dir), std::move(fd), size, std::move(cached->hasher)));
}

Result<std::uint64_t> FilesystemBlobStorage::upload_size(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  fs::path data = state_->uploads / id / "data";
  struct ::stat st;
  if (::stat(data.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return upload_not_found(id);
    return io_error("stat", data, errno);
  }
  return static_cast<std::uint64_t>(st.st_size);
}

Result<void> FilesystemBlobStorage::delete_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  auto claim = BusyClaim::acquire(state_, id);
  if (!claim) return upload_busy(id);
  fs::path dir = state_->uploads / id;
  fs::path data = dir / "data";
  if (::unlink(data.c_str()) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      ::rmdir(dir.c_str());  // an empty directory left by an interrupted removal
      return upload_not_found(id);
    }
    return io_error("remove", data, errno);
  }
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return io_error("remove", dir, errno);
  claim->release(std::nullopt, /*forget_hash=*/true);
  return {};
}

Result<std::vector<std::string>> FilesystemBlobStorage::list_uploads() {
  std::vector<std::string> ids;
  std::error_code ec;
  for (auto it = fs::directory_iterator(state_->uploads, ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    // Only real directories with an upload's name are sessions; a link is never followed.
    std::error_code type_ec;
    if (!is_valid_upload_id(name) || !it->is_directory(type_ec) || it->is_symlink(type_ec)) {
      continue;
    }
    ids.push_back(std::move(name));
  }
  if (ec) return io_error("list", state_->uploads, ec.value());
  return ids;
}

Result<void> FilesystemBlobStorage::check_writable() {
  // One page: the smallest write that needs a new block on every common filesystem.
  constexpr std::size_t kProbeBytes = 4096;
  static const std::vector<std::byte> kProbe(kProbeBytes, std::byte{0});
  fs::path probe = state_->tmp / staging_name();
  UniqueFd fd = open_fd(probe, O_WRONLY | O_CREAT | O_EXCL);
  if (!fd) return io_error("create", probe, errno);
  int err = write_all(fd.get(), kProbe, 0);
  fd.reset();
  ::unlink(probe.c_str());
  if (err != 0) return io_error("write", probe, err);
  return {};
}

}  // namespace berth::storage
