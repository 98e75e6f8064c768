#pragma once
// What the registry module's tests share: images as clients push them, and a fixture with the
// embedded backends (SQLite and the filesystem in a temp dir, quotas and soft delete kept by
// the store) and helpers that push and pull through the registry's content path.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/temp_dir.h"
#include "metadata/sqlite_metadata_store.h"
#include "oci/media_types.h"
#include "registry/registry.h"
#include "storage/blob_storage.h"
#include "storage/filesystem_byte_store.h"

namespace berth::registry::testing_support {

namespace fs = std::filesystem;

inline std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// An image as a client pushes it: config and layers, then the manifest.
struct Image {
  std::string config;
  std::vector<std::string> layers;

  std::string manifest() const {
    std::string json =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)";
    json += R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
            oci::digest_of(config).str() + R"(","size":)" + std::to_string(config.size()) + "},";
    json += R"("layers":[)";
    for (std::size_t i = 0; i < layers.size(); ++i) {
      if (i > 0) json += ",";
      json += R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
              oci::digest_of(layers[i]).str() + R"(","size":)" + std::to_string(layers[i].size()) +
              "}";
    }
    json += "]}";
    return json;
  }
  std::vector<std::string> blobs() const {
    std::vector<std::string> all = layers;
    all.push_back(config);
    return all;
  }
};

inline std::string random_bytes(std::mt19937_64& rng, std::size_t size) {
  std::string bytes(size, '\0');
  for (auto& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

class RegistryBackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db");
    ASSERT_TRUE(opened) << opened.error().message;
    metadata_ = std::move(*opened);
    auto bytes = storage::FilesystemByteStore::open(dir_.path() / "storage");
    ASSERT_TRUE(bytes) << bytes.error().message;
    storage_ = std::make_unique<storage::BlobStorage>(std::move(*bytes));
  }

  Registry registry(metadata::RegistryId id = metadata::kDefaultRegistryId) {
    return Registry(*storage_, *metadata_, sessions_, id, nullptr, metadata_.get());
  }

  Result<void> upload(Registry& r, std::string_view repository, std::string_view content) {
    auto session = r.start_single_request_upload(repository);
    if (!session) return session.error();
    if (auto appended = (*session)->append(bytes_of(content)); !appended) return appended;
    auto committed = (*session)->commit(oci::digest_of(content));
    if (!committed) {
      (*session)->abandon();
      return committed.error();
    }
    return {};
  }

  Result<oci::Digest> push(Registry& r, std::string_view repository, std::string_view tag,
                           const Image& image) {
    for (const std::string& blob : image.blobs()) {
      if (auto uploaded = upload(r, repository, blob); !uploaded) return uploaded.error();
    }
    auto put = r.put_manifest(repository, oci::Reference(std::string(tag)), image.manifest(),
                              oci::media_type::kOciManifest);
    if (!put) return put.error();
    return put->digest;
  }

  // The digests of every blob file in storage, from the files themselves.
  std::set<std::string> stored_blobs() {
    std::set<std::string> digests;
    std::string after;
    while (true) {
      auto listing = storage_->list_blobs(after, 1000);
      EXPECT_TRUE(listing);
      if (!listing) break;
      for (const auto& blob : listing->blobs) digests.insert(blob.digest.str());
      if (listing->next.empty()) break;
      after = listing->next;
    }
    return digests;
  }

  std::uint64_t stored_bytes() {
    std::uint64_t total = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir_.path() / "storage" / "blobs")) {
      if (entry.is_regular_file()) total += entry.file_size();
    }
    return total;
  }

  // Pulls the image by tag and checks the manifest's digest and every blob's bytes.
  void expect_pulls(Registry& r, std::string_view repository, std::string_view tag,
                    const oci::Digest& digest, const Image& image) {
    auto manifest = r.get_manifest(repository, oci::Reference(std::string(tag)));
    ASSERT_TRUE(manifest) << repository << ":" << tag << ": " << manifest.error().message;
    EXPECT_EQ(manifest->digest, digest);
    for (const std::string& blob : image.blobs()) {
      auto opened = r.open_blob(repository, oci::digest_of(blob));
      ASSERT_TRUE(opened) << repository << ":" << tag << ": " << opened.error().message;
      std::string read(opened->info.size, '\0');
      std::size_t at = 0;
      while (at < read.size()) {
        auto n = opened->reader->read(
            at, std::as_writable_bytes(std::span(read.data() + at, read.size() - at)));
        ASSERT_TRUE(n);
        ASSERT_GT(*n, 0u);
        at += *n;
      }
      EXPECT_EQ(oci::digest_of(read), oci::digest_of(blob));
    }
  }

  TempDir dir_;
  std::unique_ptr<metadata::SqliteMetadataStore> metadata_;
  std::unique_ptr<storage::BlobStorage> storage_;
  UploadSessions sessions_;
};

}  // namespace berth::registry::testing_support
