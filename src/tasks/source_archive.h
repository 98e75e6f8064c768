#pragma once
// Unpacks an uploaded build context (a tar, usually gzip-compressed) into a run's context
// directory with libarchive, refusing what could reach outside it: absolute paths, "..", links
// whose targets leave the directory (hard links and symlinks are kept only inside it), device
// and FIFO entries. Bounded in entries and bytes so that a small archive cannot fill the disk.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace berth::tasks {

struct UnpackLimits {
  std::uint64_t max_bytes = 4ull * 1024 * 1024 * 1024;  // of all files, unpacked
  std::uint64_t max_entries = 200000;
};

// Reads the archive: fills `buffer`, returns the count (0 at the end), or nullopt on failure.
using ArchiveSource = std::function<std::optional<std::size_t>(std::span<std::byte> buffer)>;

// Unpacks into `directory` (which must exist); an error text, or nullopt when done.
std::optional<std::string> unpack_archive(const ArchiveSource& source,
                                          const std::filesystem::path& directory,
                                          const UnpackLimits& limits = {});

}  // namespace berth::tasks
