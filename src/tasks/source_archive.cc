#include "tasks/source_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <vector>

namespace berth::tasks {
namespace {

namespace fs = std::filesystem;

struct ReadState {
  const ArchiveSource* source = nullptr;
  std::vector<std::byte> buffer = std::vector<std::byte>(256 * 1024);
};

la_ssize_t read_callback(struct archive* archive, void* data, const void** block) {
  auto* state = static_cast<ReadState*>(data);
  auto got = (*state->source)(state->buffer);
  if (!got) {
    archive_set_error(archive, EIO, "the source could not be read");
    return -1;
  }
  *block = state->buffer.data();
  return static_cast<la_ssize_t>(*got);
}

struct ArchiveCloser {
  void operator()(struct archive* archive) const {
    if (archive != nullptr) archive_read_free(archive);
  }
};
struct WriterCloser {
  void operator()(struct archive* archive) const {
    if (archive != nullptr) archive_write_free(archive);
  }
};

// Whether a path inside the archive stays in the directory: relative, no "..", no empty name.
bool stays_inside(const fs::path& path) {
  if (path.empty() || path.is_absolute()) return false;
  for (const auto& part : path.lexically_normal()) {
    if (part == "..") return false;
  }
  return true;
}

// Whether a symlink at `entry` pointing to `target` resolves inside the directory.
bool link_stays_inside(const fs::path& entry, const fs::path& target) {
  if (target.is_absolute()) return false;
  const fs::path resolved = (entry.parent_path() / target).lexically_normal();
  return stays_inside(resolved) || resolved == ".";
}

std::string message_of(struct archive* archive, const std::string& fallback) {
  const char* text = archive_error_string(archive);
  return text != nullptr ? std::string(text) : fallback;
}

}  // namespace

std::optional<std::string> unpack_archive(const ArchiveSource& source, const fs::path& directory,
                                          const UnpackLimits& limits) {
  std::unique_ptr<struct archive, ArchiveCloser> reader(archive_read_new());
  archive_read_support_filter_gzip(reader.get());
  archive_read_support_filter_none(reader.get());
  archive_read_support_format_tar(reader.get());
  ReadState state;
  state.source = &source;
  if (archive_read_open(reader.get(), &state, nullptr, read_callback, nullptr) != ARCHIVE_OK) {
    return "not a tar archive: " + message_of(reader.get(), "cannot open");
  }
  std::unique_ptr<struct archive, WriterCloser> writer(archive_write_disk_new());
  // libarchive's own guards too, on top of the checks below (not its refusal of absolute
  // paths: entries are written under `directory` by their absolute path, after the check that
  // the archive's own path is relative).
  archive_write_disk_set_options(writer.get(), ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                   ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                   ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME);
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;
  while (true) {
    struct archive_entry* entry = nullptr;
    const int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) break;
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
      return "the archive is damaged: " + message_of(reader.get(), "cannot read");
    }
    if (++entries > limits.max_entries) return "the archive has too many entries";
    const char* name = archive_entry_pathname(entry);
    const fs::path path = name != nullptr ? fs::path(name) : fs::path();
    if (path.lexically_normal() == "." || path.lexically_normal() == "./") continue;
    if (!stays_inside(path)) return "the archive names a path outside the context: " + path.string();
    const auto type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
      return "the archive holds a device, FIFO or socket: " + path.string();
    }
    if (const char* hardlink = archive_entry_hardlink(entry)) {
      if (!stays_inside(fs::path(hardlink))) {
        return "the archive links outside the context: " + path.string();
      }
      archive_entry_set_hardlink(entry, (directory / hardlink).c_str());
    }
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      if (target == nullptr || !link_stays_inside(path, fs::path(target))) {
        return "the archive has a symlink leaving the context: " + path.string();
      }
    }
    if (archive_entry_size(entry) > 0) bytes += static_cast<std::uint64_t>(archive_entry_size(entry));
    if (bytes > limits.max_bytes) return "the archive unpacks to more than the limit";
    archive_entry_set_uid(entry, 0);
    archive_entry_set_gid(entry, 0);
    archive_entry_set_pathname(entry, (directory / path).c_str());
    if (archive_write_header(writer.get(), entry) != ARCHIVE_OK) {
      return "cannot unpack " + path.string() + ": " + message_of(writer.get(), "write failed");
    }
    if (type == AE_IFREG && archive_entry_size(entry) > 0) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      while (true) {
        const int data = archive_read_data_block(reader.get(), &block, &size, &offset);
        if (data == ARCHIVE_EOF) break;
        if (data != ARCHIVE_OK) {
          return "the archive is damaged: " + message_of(reader.get(), "cannot read");
        }
        if (archive_write_data_block(writer.get(), block, size, offset) != ARCHIVE_OK) {
          return "cannot unpack " + path.string() + ": " +
                 message_of(writer.get(), "write failed");
        }
      }
    }
    if (archive_write_finish_entry(writer.get()) != ARCHIVE_OK) {
      return "cannot unpack " + path.string() + ": " + message_of(writer.get(), "write failed");
    }
  }
  if (archive_write_close(writer.get()) != ARCHIVE_OK) {
    return "cannot finish unpacking: " + message_of(writer.get(), "close failed");
  }
  return std::nullopt;
}

}  // namespace berth::tasks
