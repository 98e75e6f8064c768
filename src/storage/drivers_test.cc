// The storage suites (storage/conformance.h) instantiated for the drivers of this folder.

#include <gtest/gtest.h>

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

}  // namespace

INSTANTIATE_TEST_SUITE_P(Drivers, ByteStoreConformance, ::testing::ValuesIn(kDrivers),
                         driver_name);
INSTANTIATE_TEST_SUITE_P(Drivers, BlobStorageConformance, ::testing::ValuesIn(kDrivers),
                         driver_name);

}  // namespace berth::storage::testing
