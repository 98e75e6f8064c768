#include "server/migrate_blobs.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <thread>
#include <vector>

namespace berth::server {
namespace {

constexpr std::size_t kListingPage = 1000;
// Appends of whole aligned pages take the filesystem driver's direct path (no page cache).
constexpr std::size_t kPageSize = 4096;
constexpr std::string_view kUploadIdPrefix = "migrate-";

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<std::byte, FreeDeleter>;

AlignedBuffer aligned_buffer(std::size_t size) {
  auto* memory = static_cast<std::byte*>(std::aligned_alloc(kPageSize, size));
  if (memory == nullptr) throw std::bad_alloc();
  return AlignedBuffer(memory);
}

MigrateError failed(const oci::Digest& digest, std::string_view what,
                    const storage::StorageError& error) {
  return {MigrateErrc::copy_failed,
          fmt::format("blob {}: {}: {}", digest.str(), what, error.message), digest.str()};
}

// Every blob of the source, one listing page at a time: `visit(page)` returns a failure to
// stop.
template <class Visit>
MigrateResult<void> walk_pages(storage::ByteStore& source, Visit&& visit) {
  std::string after;
  for (;;) {
    auto page = source.list_blobs(after, kListingPage);
    if (!page) {
      return MigrateError{MigrateErrc::copy_failed,
                          "listing the source's blobs: " + page.error().message};
    }
    if (auto visited = visit(page->blobs); !visited) return visited;
    if (page->next.empty()) return {};
    after = std::move(page->next);
  }
}

// The writer that continues the blob's copy: the upload an earlier run left (when it holds no
// more than the blob), else a new one.
MigrateResult<std::unique_ptr<storage::UploadWriter>> open_copy(storage::BlobStorage& destination,
                                                                const storage::StoredBlob& blob,
                                                                std::uint64_t size) {
  const std::string id = migration_upload_id(blob.digest);
  auto resumed = destination.open_upload(id);
  if (resumed && (*resumed)->size() <= size) return std::move(*resumed);
  if (resumed) {
    // Longer than the blob: not a copy of it. Start again.
    if (auto discarded = (*resumed)->discard(); !discarded) {
      return failed(blob.digest, "dropping an unusable earlier copy", discarded.error());
    }
  } else if (resumed.error().code == storage::Errc::upload_busy) {
    return MigrateError{
        MigrateErrc::copy_failed,
        fmt::format("blob {}: its copy is in use by another migration (or one that stopped "
                    "less than a minute ago, whose lease has not expired yet); try again later",
                    blob.digest.str()),
        blob.digest.str()};
  } else if (resumed.error().code != storage::Errc::not_found) {
    return failed(blob.digest, "opening an earlier copy", resumed.error());
  }
  auto created = destination.create_upload(id);
  if (!created) return failed(blob.digest, "starting the copy", created.error());
  return std::move(*created);
}

// What the copiers share: the counts and the progress, behind one lock.
class CopyLedger {
 public:
  CopyLedger(Progress& progress, BlobCopyStats& stats) : progress_(progress), stats_(stats) {}

  void found_present(std::uint64_t size) {
    std::lock_guard lock(mutex_);
    ++stats_.blobs_present;
    progress_.skipped(size);
    progress_.items_done();
  }
  void resuming(std::uint64_t kept) {
    std::lock_guard lock(mutex_);
    ++stats_.blobs_resumed;
    stats_.bytes_resumed += kept;
    progress_.skipped(kept);
  }
  void sent(std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    stats_.bytes_copied += bytes;
    progress_.copied(bytes);
  }
  void committed() {
    std::lock_guard lock(mutex_);
    ++stats_.blobs_copied;
    progress_.items_done();
  }

 private:
  std::mutex mutex_;
  Progress& progress_;
  BlobCopyStats& stats_;
};

// Copies one blob at a time, with a buffer of its own; several work side by side.
class BlobCopier {
 public:
  BlobCopier(storage::ByteStore& source, storage::BlobStorage& destination,
             const BlobCopyOptions& options, CopyLedger& ledger)
      : source_(source),
        destination_(destination),
        options_(options),
        ledger_(ledger),
        chunk_size_(
            std::max(kPageSize, (options.chunk_bytes + kPageSize - 1) / kPageSize * kPageSize)),
        buffer_(aligned_buffer(chunk_size_)) {}

  MigrateResult<void> copy_if_missing(const storage::StoredBlob& blob) {
    auto present = destination_.stat(blob.digest);
    if (present) {
      if (present->size != blob.size) {
        return MigrateError{
            MigrateErrc::copy_failed,
            fmt::format("blob {}: the destination holds it with {} bytes, the source with {}",
                        blob.digest.str(), present->size, blob.size),
            blob.digest.str()};
      }
      ledger_.found_present(blob.size);
      return {};
    }
    if (present.error().code != storage::Errc::not_found) {
      return failed(blob.digest, "looking for it at the destination", present.error());
    }
    if (auto copied = copy(blob); !copied) return copied;
    ledger_.committed();
    return {};
  }

 private:
  MigrateResult<void> copy(const storage::StoredBlob& blob) {
    auto reader = source_.open(blob.digest);
    if (!reader) return failed(blob.digest, "opening it in the source", reader.error());
    const std::uint64_t size = (*reader)->size();
    auto writer = open_copy(destination_, blob, size);
    if (!writer) return writer.error();
    std::uint64_t offset = (*writer)->size();
    if (offset > 0) ledger_.resuming(offset);
    std::uint64_t unflushed = 0;
    while (offset < size) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, size - offset));
      std::span<std::byte> chunk(buffer_.get(), want);
      auto read = fill(**reader, offset, chunk, blob.digest);
      if (!read) return read.error();
      if (auto appended = (*writer)->append(chunk); !appended) {
        return failed(blob.digest, "writing it to the destination", appended.error());
      }
      offset += want;
      unflushed += want;
      ledger_.sent(want);
      if (unflushed >= options_.flush_bytes && offset < size) {
        if (auto flushed = (*writer)->flush(); !flushed) {
          return failed(blob.digest, "making the copied part durable", flushed.error());
        }
        unflushed = 0;
      }
    }
    auto committed = (*writer)->commit(blob.digest);
    if (committed) return {};
    if (committed.error().code == storage::Errc::digest_mismatch) {
      return MigrateError{
          MigrateErrc::digest_mismatch,
          fmt::format("blob {}: the source's bytes do not match its digest (the copy in the "
                      "source data directory is damaged; nothing of it was stored): {}",
                      blob.digest.str(), committed.error().message),
          blob.digest.str()};
    }
    return failed(blob.digest, "committing it at the destination", committed.error());
  }

  // Reads exactly chunk.size() bytes at `offset`.
  MigrateResult<void> fill(storage::BlobReader& reader, std::uint64_t offset,
                           std::span<std::byte> chunk, const oci::Digest& digest) {
    std::size_t got = 0;
    while (got < chunk.size()) {
      auto n = reader.read(offset + got, chunk.subspan(got));
      if (!n) return failed(digest, "reading it in the source", n.error());
      if (*n == 0) {
        return MigrateError{
            MigrateErrc::copy_failed,
            fmt::format("blob {}: the source's file ended before its size", digest.str()),
            digest.str()};
      }
      got += *n;
    }
    return {};
  }

  storage::ByteStore& source_;
  storage::BlobStorage& destination_;
  const BlobCopyOptions& options_;
  CopyLedger& ledger_;
  std::size_t chunk_size_;
  AlignedBuffer buffer_;
};

// The copiers working through the blobs of one listing page side by side. After the first
// failure no copier starts another blob (those under way finish), and the walk stops.
class CopyCrew {
 public:
  explicit CopyCrew(std::vector<std::unique_ptr<BlobCopier>> copiers)
      : copiers_(std::move(copiers)) {}

  MigrateResult<void> copy(const std::vector<storage::StoredBlob>& blobs) {
    std::atomic<std::size_t> next{0};
    auto work = [&](BlobCopier& copier) {
      while (!stopped_.load()) {
        const std::size_t index = next.fetch_add(1);
        if (index >= blobs.size()) return;
        if (auto copied = copier.copy_if_missing(blobs[index]); !copied) {
          std::lock_guard lock(mutex_);
          if (!failure_) failure_ = copied.error();
          stopped_ = true;
        }
      }
    };
    std::vector<std::thread> helpers;
    for (std::size_t i = 1; i < copiers_.size(); ++i) {
      helpers.emplace_back(work, std::ref(*copiers_[i]));
    }
    work(*copiers_.front());
    for (auto& helper : helpers) helper.join();
    if (failure_) return *failure_;
    return {};
  }

 private:
  std::vector<std::unique_ptr<BlobCopier>> copiers_;
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::optional<MigrateError> failure_;
};

}  // namespace

std::string migration_upload_id(const oci::Digest& digest) {
  // Upload ids are at most 64 characters: the prefix and 56 hex digits (224 bits) name the
  // blob well enough, and the writer checks the whole digest at commit anyway.
  std::string id(kUploadIdPrefix);
  id += digest.hex().substr(0, 64 - kUploadIdPrefix.size());
  return id;
}

MigrateResult<BlobCopyStats> copy_blobs(storage::ByteStore& source,
                                        storage::BlobStorage& destination,
                                        const BlobCopyOptions& options, Progress& progress) {
  BlobCopyStats stats;
  // A first walk for the totals, so the progress has an end and an ETA; listing is cheap next
  // to copying.
  auto counted = walk_pages(source, [&](const std::vector<storage::StoredBlob>& page) {
    for (const auto& blob : page) {
      ++stats.blobs;
      stats.bytes += blob.size;
    }
    return MigrateResult<void>();
  });
  if (!counted) return counted.error();

  progress.begin("copying blobs", stats.bytes, stats.blobs);
  CopyLedger ledger(progress, stats);
  std::vector<std::unique_ptr<BlobCopier>> copiers;
  for (unsigned i = 0; i < std::max(1u, options.parallel_copies); ++i) {
    copiers.push_back(std::make_unique<BlobCopier>(source, destination, options, ledger));
  }
  CopyCrew crew(std::move(copiers));
  auto copied = walk_pages(
      source, [&](const std::vector<storage::StoredBlob>& page) { return crew.copy(page); });
  progress.end();
  if (!copied) return copied.error();
  return stats;
}

}  // namespace berth::server
