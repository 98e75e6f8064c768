// The storage suites (storage/conformance.h) instantiated for the drivers of this folder.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>

#include "storage/conformance.h"
#include "storage/filesystem_byte_store.h"
#include "storage/memory_byte_store.h"

namespace berth::storage::testing {
namespace {

// Every store object shares the memory of the first.
class MemoryArea final : public DriverArea {
 public:
  std::unique_ptr<ByteStore> open() override { return first_.share(); }

 private:
  MemoryByteStore first_;
};

// Every store object opens the same root, as processes sharing a volume would.
class FilesystemArea final : public DriverArea {
 public:
  std::unique_ptr<ByteStore> open() override {
    auto store = FilesystemByteStore::open(scratch_.path() / "root");
    if (!store) throw std::runtime_error(store.error().message);
    return std::move(*store);
  }

 private:
  TempDir scratch_;
};

const DriverFactory kDrivers[] = {
    {"memory", [] { return std::make_unique<MemoryArea>(); }},
    {"filesystem", [] { return std::make_unique<FilesystemArea>(); }},
};

// Bytes on a local disk or in memory have no URL of their own: the registry serves them itself.
TEST(LocalDrivers, HaveNoDirectReadUrl) {
  const oci::Digest digest = sha256_of("local bytes");
  for (const DriverFactory& factory : kDrivers) {
    auto area = factory.make_area();
    auto store = area->open();
    ASSERT_TRUE(store->store(digest, as_bytes("local bytes")));
    auto url = store->direct_read_url(digest, std::chrono::seconds(60));
    ASSERT_TRUE(url) << factory.name << ": " << url.error().message;
    EXPECT_FALSE(url->has_value()) << factory.name;
    BlobStorage storage(std::move(store));
    auto through_storage = storage.direct_read_url(digest, std::chrono::seconds(60));
    ASSERT_TRUE(through_storage) << factory.name;
    EXPECT_FALSE(through_storage->has_value()) << factory.name;
  }
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Drivers, ByteStoreConformance, ::testing::ValuesIn(kDrivers),
                         driver_name);
INSTANTIATE_TEST_SUITE_P(Drivers, BlobStorageConformance, ::testing::ValuesIn(kDrivers),
                         driver_name);

}  // namespace berth::storage::testing
