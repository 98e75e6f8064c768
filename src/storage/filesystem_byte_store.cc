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
//   ├── uploads/                       upload sessions, resumable across restarts and processes
//   │   └── <id>/                      id: [A-Za-z0-9-]{1,64}; an upload exists while `data` does
//   │       ├── data                   bytes received so far, renamed into blobs/ on commit;
//   │       │                          the open handle holds a lock on it
//   │       ├── state                  the upload's record (the writer's hash state)
//   │       └── state.<unique>         a record being written, renamed over `state` when whole
//   └── tmp/                           staging for store() and the writability probe
//
// The root owns uploads/ and tmp/: they are real directories, never symbolic links. Cleaning
// them never follows a link: a link found in tmp/ (or tmp/ itself being a link) is removed as
// a link, so the cleanup cannot reach files outside the root.
//
// A blob appears in blobs/ only by an atomic rename of a fully written, fsynced file, so a
// reader never sees a partial blob and a crash leaves at most an orphan in uploads/ or tmp/.
//
// Several processes may share the root. An upload handle holds an open-file-description lock
// (F_OFD_SETLK) on its data file, which conflicts across processes and across store objects;
// after taking it the handle checks that the path still names the locked file, so a handle
// never holds an upload that was committed or removed meanwhile. Files are removed before the
// lock is released. Opening a root removes only staging files older than any live store() can
// be, never another process's file in flight.
//
// The record (`state`) is replaced by writing a new file and renaming it over the old one, so
// a reader sees the old record or the new one. It is not fsynced: the record is a cache of the
// hash of bytes that are durable already, and after a machine crash a record that did not reach
// the disk is an older one (still valid: it covers fewer, unchanged bytes), a missing one, or a
// damaged one (refused by the writer's checksum); in each case the writer hashes the bytes it
// lacks again. Saving it therefore costs no disk flush per request.
//
// Upload bytes in whole aligned blocks bypass the page cache (O_DIRECT) where the filesystem
// allows it: a registry receives far more bytes than it serves again at once, and copying each
// pushed byte into newly allocated cache pages cost more CPU than hashing it. Small and
// unaligned pieces (the tail of a body, odd-sized chunks) take the ordinary buffered path.

#include "storage/filesystem_byte_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <system_error>
#include <utility>

namespace berth::storage {

namespace fs = std::filesystem;

struct FilesystemByteStore::State {
  fs::path root;
  fs::path blobs;
  fs::path uploads;
  fs::path tmp;

  std::mutex mutex;
  // Uploads that have a handle (or a delete) in progress in this store object. The file lock
  // extends the rule to other objects and processes; this set keeps it where locks are missing.
  std::set<std::string, std::less<>> busy;
};

namespace {

using State = FilesystemByteStore::State;

// Start kernel writeback every this many appended bytes, so that commit's fdatasync finds most
// of a large upload already on disk instead of flushing it all at once.
constexpr std::uint64_t kWritebackChunk = std::uint64_t{8} << 20;
// Offset, length and memory alignment of a direct write: the page size covers the logical
// block size of every common device.
constexpr std::size_t kDirectAlignment = 4096;
// Below this a direct write saves too little to be worth a synchronous trip to the disk.
constexpr std::size_t kDirectMinimum = 64 * 1024;
// A staging file is written and renamed within one store() call: one this old is a leftover
// of a crashed process, not another process's write in flight.
constexpr std::chrono::seconds kStaleStagingAge{60 * 60};
constexpr mode_t kFileMode = 0644;
constexpr mode_t kDirMode = 0755;

constexpr std::string_view kDataFile = "data";
constexpr std::string_view kStateFile = "state";
// Prefixes of the temporary files this driver writes; other names in tmp/ are never its own.
constexpr std::string_view kStagingPrefix = "put-";
constexpr std::string_view kProbePrefix = "probe-";

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

// Reads all of `out` at `offset` unless the file ends first; the count or the errno (negated).
ssize_t read_at(int fd, std::span<std::byte> out, std::uint64_t offset) {
  std::size_t total = 0;
  while (total < out.size()) {
    ssize_t n = ::pread(fd, out.data() + total, out.size() - total,
                        static_cast<off_t>(offset + total));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(total);
}

// A name no other store object, thread or process on the same root picks: process ids alone
// repeat across containers sharing a volume.
std::string unique_suffix() {
  static const std::uint64_t process_token = [] {
    std::random_device random;
    return (std::uint64_t{random()} << 32) ^ random();
  }();
  static std::atomic<std::uint64_t> counter{0};
  std::string out = std::to_string(::getpid());
  out += '-';
  out += std::to_string(process_token);
  out += '-';
  out += std::to_string(counter.fetch_add(1));
  return out;
}

std::string staging_name(std::string_view prefix) {
  std::string name(prefix);
  name += unique_suffix();
  return name;
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

// Removes an upload's files, `data` first so that the upload ends at once even if a crash
// interrupts the rest. Best effort: a directory without `data` is not an upload, and the next
// create_upload() or delete_upload() of the id clears what is left.
void remove_upload_files(const fs::path& dir) {
  ::unlink((dir / kDataFile).c_str());
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::error_code ignored;
    fs::remove_all(it->path(), ignored);  // does not follow links
  }
  ::rmdir(dir.c_str());
}

// Removes a record left by an earlier upload of the same id (and its temporary files).
void remove_state_files(const fs::path& dir) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == kDataFile) continue;
    std::error_code ignored;
    fs::remove_all(it->path(), ignored);
  }
}

bool same_file(const struct ::stat& a, const struct ::stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Takes the cross-process hold on the upload whose data file `fd` is: a write lock on the
// whole file, owned by the open file description (so it conflicts with every other open, also
// in this process). Then checks that `path` still names that file: a handle must not hold an
// upload that was committed (renamed away) or removed between the open and the lock.
Result<void> lock_upload(int fd, const fs::path& path, std::string_view id) {
  struct ::flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;
  if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    const int err = errno;
    if (err == EAGAIN || err == EACCES) return upload_busy(id);
    // A file system without locks: the store object's own claim is all there is.
    if (err != ENOLCK && err != EINVAL && err != EOPNOTSUPP && err != ENOSYS) {
      return io_error("lock", path, err);
    }
  }
  struct ::stat held;
  struct ::stat named;
  if (::fstat(fd, &held) != 0) return io_error("stat", path, errno);
  if (::stat(path.c_str(), &named) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return upload_not_found(id);
    return io_error("stat", path, errno);
  }
  if (!same_file(held, named)) return upload_not_found(id);
  return {};
}

// Opens an existing upload's data file and takes the hold on it.
Result<UniqueFd> open_locked(const fs::path& data, std::string_view id) {
  UniqueFd fd = open_fd(data, O_RDWR);
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return upload_not_found(id);
    return io_error("open", data, errno);
  }
  if (auto locked = lock_upload(fd.get(), data, id); !locked) return locked.error();
  return fd;
}

// Holds the in-process claim on an upload id; releases it when destroyed.
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

  void release() {
    if (!state_) return;
    std::lock_guard lock(state_->mutex);
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

class FilesystemUploadBytes final : public UploadBytes {
 public:
  FilesystemUploadBytes(BusyClaim claim, fs::path dir, UniqueFd fd, std::uint64_t size)
      : claim_(std::move(claim)),
        dir_(std::move(dir)),
        data_path_(dir_ / kDataFile),
        state_path_(dir_ / kStateFile),
        fd_(std::move(fd)),
        size_(size),
        durable_size_(size),
        writeback_from_(size) {}

  // The upload stays; closing the data file releases the lock for the next handle.
  ~FilesystemUploadBytes() override = default;

  std::uint64_t size() const override { return size_; }

  Result<void> append(std::span<const std::byte> data) override {
    if (auto r = usable(); !r) return r;
    if (data.empty()) return {};
    if (int err = write_at_end(data)) {
      // Drop whatever part landed so the file again ends at size_.
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
    durable_size_ = size_;
    return {};
  }

  Result<void> revert() override {
    if (done_) return upload_not_found(claim_.id());
    if (size_ == durable_size_ && !broken_) return {};
    if (::ftruncate(fd_.get(), static_cast<off_t>(durable_size_)) != 0) {
      broken_ = true;
      return io_error("truncate", data_path_, errno);
    }
    size_ = durable_size_;
    writeback_from_ = std::min(writeback_from_, size_);
    broken_ = false;
    return {};
  }

  Result<void> discard() override {
    if (done_) return upload_not_found(claim_.id());
    finish();
    return {};
  }

  Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) override {
    if (auto r = usable(); !r) return r.error();
    if (offset >= size_) return std::size_t{0};
    if (!read_advised_) {
      // Reads here hash an upload from the start: let the kernel read ahead generously.
      ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
      read_advised_ = true;
    }
    out = out.first(static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset)));
    ssize_t n = read_at(fd_.get(), out, offset);
    if (n < 0) return io_error("read", data_path_, static_cast<int>(-n));
    return static_cast<std::size_t>(n);
  }

  Result<void> save_state(std::span<const std::byte> record) override {
    if (done_) return upload_not_found(claim_.id());
    if (record.size() > kMaxUploadStateBytes) {
      return StorageError{Errc::invalid_argument, "upload record larger than allowed"};
    }
    if (record.empty()) {
      if (::unlink(state_path_.c_str()) != 0 && errno != ENOENT) {
        return io_error("remove", state_path_, errno);
      }
      return {};
    }
    std::string temp_name(kStateFile);
    temp_name += '.';
    temp_name += unique_suffix();
    const fs::path temp = dir_ / temp_name;
    UniqueFd fd = open_fd(temp, O_WRONLY | O_CREAT | O_EXCL);
    if (!fd) return io_error("create", temp, errno);
    int err = write_all(fd.get(), record, 0);
    fd.reset();
    // No fsync: see the top of this file.
    if (err == 0 && ::rename(temp.c_str(), state_path_.c_str()) != 0) err = errno;
    if (err != 0) {
      ::unlink(temp.c_str());
      return io_error("write", state_path_, err);
    }
    return {};
  }

  Result<std::vector<std::byte>> load_state() override {
    if (done_) return upload_not_found(claim_.id());
    UniqueFd fd = open_fd(state_path_, O_RDONLY);
    if (!fd) {
      if (errno == ENOENT) return std::vector<std::byte>{};
      return io_error("open", state_path_, errno);
    }
    struct ::stat st;
    if (::fstat(fd.get(), &st) != 0) return io_error("stat", state_path_, errno);
    if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > kMaxUploadStateBytes) {
      return std::vector<std::byte>{};
    }
    std::vector<std::byte> record(static_cast<std::size_t>(st.st_size));
    ssize_t n = read_at(fd.get(), record, 0);
    if (n < 0) return io_error("read", state_path_, static_cast<int>(-n));
    record.resize(static_cast<std::size_t>(n));
    return record;
  }

  Result<BlobInfo> commit_as(const oci::Digest& digest) override {
    if (auto r = usable(); !r) return r.error();
    const State& state = *claim_.state();
    // An existing copy is durable already; this one only needs to go away.
    if (!file_exists(blob_path(state, digest))) {
      if (int err = sync_data(fd_.get())) return io_error("sync", data_path_, err);
      if (auto r = install_blob(state, digest, data_path_); !r) return r.error();
    }
    finish();
    return BlobInfo{digest, size_};
  }

 private:
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

  // The upload is over (committed or dropped): remove its files, then let go of the lock, so
  // that another process that takes it next finds the upload gone.
  void finish() {
    direct_fd_.reset();
    remove_upload_files(dir_);
    fd_.reset();
    claim_.release();
    done_ = true;
  }

  BusyClaim claim_;
  fs::path dir_;
  fs::path data_path_;
  fs::path state_path_;
  UniqueFd fd_;  // holds the upload's lock
  UniqueFd direct_fd_;
  bool direct_refused_ = false;
  bool read_advised_ = false;
  std::uint64_t size_;
  std::uint64_t durable_size_;  // where revert() returns to
  std::uint64_t writeback_from_;
  bool dirs_synced_ = false;
  bool broken_ = false;  // a failed write could not be undone: the file's end is unknown
  bool done_ = false;
};

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

// Removes what a crashed run left in tmp/: staging files old enough that no live store() can
// still be writing them, and anything that is not a staging file at all (links are removed as
// links, directories with everything in them, never following a link).
Result<void> remove_stale_staging(const fs::path& dir) {
  const auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool ours = name.starts_with(kStagingPrefix) || name.starts_with(kProbePrefix);
    std::error_code type_ec;
    if (ours && it->is_regular_file(type_ec) && !it->is_symlink(type_ec)) {
      std::error_code time_ec;
      const auto written = fs::last_write_time(it->path(), time_ec);
      if (!time_ec && now - written < kStaleStagingAge) continue;  // maybe in flight elsewhere
    }
    std::error_code removed;
    fs::remove_all(it->path(), removed);
    if (removed) return io_error("remove stale staging entry", it->path(), removed.value());
  }
  if (ec) return io_error("list", dir, ec.value());
  return {};
}

}  // namespace

Result<std::unique_ptr<FilesystemByteStore>> FilesystemByteStore::open(fs::path root) {
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
  if (auto r = remove_stale_staging(state->tmp); !r) return r.error();
  fs::path probe = state->tmp / staging_name(kProbePrefix);
  UniqueFd fd = open_fd(probe, O_WRONLY | O_CREAT | O_EXCL);
  if (!fd) return io_error("storage root is not writable: create", probe, errno);
  fd.reset();
  ::unlink(probe.c_str());

  return std::unique_ptr<FilesystemByteStore>(new FilesystemByteStore(std::move(state)));
}

FilesystemByteStore::FilesystemByteStore(std::shared_ptr<State> state)
    : state_(std::move(state)) {}

FilesystemByteStore::~FilesystemByteStore() = default;

const fs::path& FilesystemByteStore::root() const { return state_->root; }

Result<BlobInfo> FilesystemByteStore::stat(const oci::Digest& digest) {
  fs::path path = blob_path(*state_, digest);
  struct ::stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return blob_not_found(digest);
    return io_error("stat", path, errno);
  }
  return BlobInfo{digest, static_cast<std::uint64_t>(st.st_size)};
}

Result<std::unique_ptr<BlobReader>> FilesystemByteStore::open(const oci::Digest& digest) {
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

Result<void> FilesystemByteStore::remove(const oci::Digest& digest) {
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
Result<BlobListing> FilesystemByteStore::list_blobs(std::string_view after, std::size_t limit) {
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

Result<BlobInfo> FilesystemByteStore::store(const oci::Digest& digest,
                                           std::span<const std::byte> bytes) {
  BlobInfo info{digest, bytes.size()};
  if (file_exists(blob_path(*state_, digest))) return info;

  fs::path staging = state_->tmp / staging_name(kStagingPrefix);
  UniqueFd fd = open_fd(staging, O_WRONLY | O_CREAT | O_EXCL);
  if (!fd) return io_error("create", staging, errno);
  auto result = [&]() -> Result<void> {
    if (int err = write_all(fd.get(), bytes, 0)) return io_error("write", staging, err);
    if (int err = sync_data(fd.get())) return io_error("sync", staging, err);
    fd.reset();
    return install_blob(*state_, digest, staging);
  }();
  // Gone already when it was renamed; still there after an error or when a copy existed.
  ::unlink(staging.c_str());
  if (!result) return result.error();
  return info;
}

Result<std::unique_ptr<UploadBytes>> FilesystemByteStore::create_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  auto claim = BusyClaim::acquire(state_, id);
  if (!claim) return upload_busy(id);
  fs::path dir = state_->uploads / id;
  // An existing directory without data is the remains of an interrupted removal, not an upload.
  if (::mkdir(dir.c_str(), kDirMode) != 0 && errno != EEXIST) {
    return io_error("create upload directory", dir, errno);
  }
  const fs::path data = dir / kDataFile;
  UniqueFd fd = open_fd(data, O_RDWR | O_CREAT | O_EXCL);
  if (!fd) {
    if (errno == EEXIST) {
      return StorageError{Errc::invalid_argument, "upload " + std::string(id) + " already exists"};
    }
    int err = errno;
    ::rmdir(dir.c_str());
    return io_error("create", data, err);
  }
  if (auto locked = lock_upload(fd.get(), data, id); !locked) return locked.error();
  // A record left by an earlier upload of the same id must not describe this one.
  remove_state_files(dir);
  return std::unique_ptr<UploadBytes>(
      std::make_unique<FilesystemUploadBytes>(std::move(*claim), std::move(dir), std::move(fd), 0));
}

Result<std::unique_ptr<UploadBytes>> FilesystemByteStore::open_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  auto claim = BusyClaim::acquire(state_, id);
  if (!claim) return upload_busy(id);
  fs::path dir = state_->uploads / id;
  const fs::path data = dir / kDataFile;
  auto fd = open_locked(data, id);
  if (!fd) return fd.error();
  struct ::stat st;
  if (::fstat(fd->get(), &st) != 0) return io_error("stat", data, errno);
  return std::unique_ptr<UploadBytes>(std::make_unique<FilesystemUploadBytes>(
      std::move(*claim), std::move(dir), std::move(*fd), static_cast<std::uint64_t>(st.st_size)));
}

Result<std::uint64_t> FilesystemByteStore::upload_size(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  fs::path data = state_->uploads / id / kDataFile;
  struct ::stat st;
  if (::stat(data.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return upload_not_found(id);
    return io_error("stat", data, errno);
  }
  return static_cast<std::uint64_t>(st.st_size);
}

Result<void> FilesystemByteStore::delete_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  auto claim = BusyClaim::acquire(state_, id);
  if (!claim) return upload_busy(id);
  fs::path dir = state_->uploads / id;
  auto fd = open_locked(dir / kDataFile, id);
  if (!fd) {
    if (fd.error().code == Errc::not_found) remove_upload_files(dir);  // remains of a removal
    return fd.error();
  }
  // Removed while locked, so no other process can take the upload in between.
  if (::unlink((dir / kDataFile).c_str()) != 0 && errno != ENOENT) {
    return io_error("remove", dir / kDataFile, errno);
  }
  remove_upload_files(dir);
  return {};
}

Result<std::vector<std::string>> FilesystemByteStore::list_uploads() {
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

Result<void> FilesystemByteStore::check_writable() {
  // One page: the smallest write that needs a new block on every common filesystem.
  constexpr std::size_t kProbeBytes = 4096;
  static const std::vector<std::byte> kProbe(kProbeBytes, std::byte{0});
  fs::path probe = state_->tmp / staging_name(kProbePrefix);
  UniqueFd fd = open_fd(probe, O_WRONLY | O_CREAT | O_EXCL);
  if (!fd) return io_error("create", probe, errno);
  int err = write_all(fd.get(), kProbe, 0);
  fd.reset();
  ::unlink(probe.c_str());
  if (err != 0) return io_error("write", probe, err);
  return {};
}

}  // namespace berth::storage
