// The storage suites every driver runs (storage/conformance.h), unchanged, for the Azure
// driver on a real Azurite: each test gets a container of its own; every store object of a
// test opens the same container, as the nodes of a deployment do.

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include "storage/azure/azure_byte_store.h"
#include "storage/conformance.h"
#include "support/azurite_server.h"

namespace berth::storage::testing {
namespace {

std::string fresh_container() {
  static std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "conformance-";
  for (int i = 0; i < 16; ++i) name += kHex[random() % 16];
  return name;
}

class AzureArea final : public DriverArea {
 public:
  AzureArea() : container_(fresh_container()) {
    std::string error;
    const ::berth::testing::AzuriteServer* server = ::berth::testing::shared_azurite(error);
    // The suites make areas in SetUp: an exception there fails the test with this message.
    if (server == nullptr) throw std::runtime_error("Azurite cannot run: " + error);
    auto account = azure::parse_connection_string(server->connection_string());
    if (!account) throw std::runtime_error(account.error().message);
    account_ = std::move(*account);
  }

  ~AzureArea() override {
    auto client = azure::BlobClient::make(account_, container_);
    if (client) (void)(*client)->delete_container();
  }

  std::unique_ptr<ByteStore> open() override {
    auto store = azure::AzureByteStore::open(account_, container_);
    if (!store) throw std::runtime_error(store.error().message);
    return std::move(*store);
  }

 private:
  azure::ConnectionString account_;
  std::string container_;
};

const DriverFactory kAzure[] = {
    {"azure", [] { return std::make_unique<AzureArea>(); }},
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Azure, ByteStoreConformance, ::testing::ValuesIn(kAzure), driver_name);
INSTANTIATE_TEST_SUITE_P(Azure, BlobStorageConformance, ::testing::ValuesIn(kAzure),
                         driver_name);

}  // namespace berth::storage::testing
