#pragma once
// The storage suites every driver runs unchanged (not part of the library):
//
//   ByteStoreConformance     the driver contract of storage/byte_store.h, on the driver alone
//   BlobStorageConformance   the verifying writer (hashing, digest checks, resuming from the
//                            saved hash state, falling back to hashing again) over the driver
//
// A driver instantiates both with a factory of fresh storage areas, in its own test file:
//
//   const DriverFactory kMine[] = {{"mine", [] { return std::make_unique<MyArea>(); }}};
//   INSTANTIATE_TEST_SUITE_P(Mine, ByteStoreConformance, ::testing::ValuesIn(kMine),
//                            driver_name);
//   INSTANTIATE_TEST_SUITE_P(Mine, BlobStorageConformance, ::testing::ValuesIn(kMine),
//                            driver_name);
//
// and links the berth_storage_conformance object library (src/storage/CMakeLists.txt).

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "storage/blob_storage.h"
#include "storage/byte_store.h"
#include "storage/test_support.h"

namespace berth::storage::testing {

// One test's storage: empty when made, removed when destroyed. Every open() is a new store
// object on the same bytes, as another process or node of a deployment sees them; objects
// opened earlier stay valid.
class DriverArea {
 public:
  virtual ~DriverArea() = default;
  virtual std::unique_ptr<ByteStore> open() = 0;
};

struct DriverFactory {
  std::string name;
  std::function<std::unique_ptr<DriverArea>()> make_area;
};

// Names the driver in test output (instead of gtest dumping the factory's bytes).
inline void PrintTo(const DriverFactory& factory, std::ostream* out) { *out << factory.name; }

inline std::string driver_name(const ::testing::TestParamInfo<DriverFactory>& info) {
  return info.param.name;
}

// Fixture of the driver suite: `store_` is the first store object on a fresh area.
class ByteStoreConformance : public ::testing::TestWithParam<DriverFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Another store object on the same area (a second node).
  std::unique_ptr<ByteStore> open_again() { return area_->open(); }

  std::unique_ptr<DriverArea> area_;
  std::unique_ptr<ByteStore> store_;
};

// Fixture of the writer suite: `storage_` is a BlobStorage over the first store object on a
// fresh area; reads of upload bytes through it are counted, and saving records can be made
// to fail, to prove what the writer reads when it resumes.
class BlobStorageConformance : public ::testing::TestWithParam<DriverFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // A BlobStorage over another store object on the same area (a second node), also counted.
  std::unique_ptr<BlobStorage> open_again();

  // Upload bytes read through any store of this test (to hash what a state does not cover).
  std::uint64_t bytes_read() const { return bytes_read_->load(); }
  void reset_bytes_read() { *bytes_read_ = 0; }
  // Whether save_state() fails (with io_error) in every store of this test.
  void fail_saving_records(bool fail) { *fail_saves_ = fail; }

  std::unique_ptr<DriverArea> area_;
  std::unique_ptr<BlobStorage> storage_;

 private:
  // Shared with the counting wrappers, which writers may keep beyond the test's stores.
  std::shared_ptr<std::atomic<std::uint64_t>> bytes_read_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  std::shared_ptr<std::atomic<bool>> fail_saves_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace berth::storage::testing
