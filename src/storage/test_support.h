#pragma once
// Helpers shared by the storage tests (not part of the library).

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/temp_dir.h"
#include "oci/digest.h"
#include "storage/byte_store.h"

namespace berth::storage::testing {

using berth::TempDir;

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

inline std::string random_content(std::size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

inline oci::Digest sha256_of(std::string_view s) { return oci::digest_of(s); }
inline oci::Digest sha512_of(std::string_view s) {
  return oci::digest_of(s, oci::DigestAlgorithm::sha512);
}

// Reads a whole blob through the reader interface in `chunk`-sized pieces, from a ByteStore or
// a BlobStorage.
template <class Storage>
std::string read_all(Storage& storage, const oci::Digest& digest, std::size_t chunk = 1 << 16) {
  auto reader = storage.open(digest);
  if (!reader) {
    ADD_FAILURE() << "open " << digest.str() << ": " << reader.error().message;
    return {};
  }
  std::string out;
  std::vector<std::byte> buffer(chunk);
  std::uint64_t offset = 0;
  while (true) {
    auto n = (*reader)->read(offset, buffer);
    if (!n) {
      ADD_FAILURE() << "read: " << n.error().message;
      return out;
    }
    if (*n == 0) break;
    out.append(reinterpret_cast<const char*>(buffer.data()), *n);
    offset += *n;
  }
  EXPECT_EQ(out.size(), (*reader)->size());
  return out;
}

}  // namespace berth::storage::testing
