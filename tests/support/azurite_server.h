#pragma once
// For tests: a real Azurite blob service (the Azure Storage emulator, npm package `azurite`,
// installed by scripts/install-deps.sh into tests/azurite/), started in a temporary directory
// on a loopback port the kernel picks, and stopped (its process group killed) when the object
// goes. Telemetry is off; nothing leaves the machine.
//
//   class MyTest : public ::testing::Test {
//    protected:
//     void SetUp() override { BERTH_REQUIRE_AZURITE(azurite_); }
//     berth::testing::AzuriteServer* azurite_ = nullptr;
//   };
//
// BERTH_REQUIRE_AZURITE starts one server per test binary on first use and shares it (each
// test makes containers of its own); when Azurite cannot run, the test FAILS naming what is
// missing, or skips with BERTH_ALLOW_SKIP=1 (for developers only).

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace berth::testing {

// Azurite's built-in account. Its key is published in Azure's documentation and is no secret,
// but the tests treat it as one: they record it, so the no-secrets-in-logs check proves that
// nothing berth writes contains an account key.
inline constexpr const char* kAzuriteAccount = "devstoreaccount1";
inline constexpr const char* kAzuriteKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

class AzuriteServer {
 public:
  // Starts azurite-blob and waits (up to 60 s) until it answers HTTP. nullptr and a message
  // naming what is missing or what went wrong in `error` when it cannot.
  static std::unique_ptr<AzuriteServer> start(std::string& error);

  AzuriteServer(const AzuriteServer&) = delete;
  AzuriteServer& operator=(const AzuriteServer&) = delete;
  // Kills the server's process group and removes its directory.
  ~AzuriteServer();

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>/devstoreaccount1": Azurite's path-style account endpoint.
  std::string blob_endpoint() const;
  // A full connection string for the built-in account at this server.
  std::string connection_string() const;

  // Stops the server (SIGKILL to its process group) and waits for it: for tests of what a
  // client does when the service is gone.
  void kill();

 private:
  AzuriteServer(pid_t pid, std::filesystem::path dir, std::uint16_t port)
      : pid_(pid), dir_(std::move(dir)), port_(port) {}

  pid_t pid_;
  std::filesystem::path dir_;
  std::uint16_t port_;
};

// The azurite-blob executable the tests run: $BERTH_AZURITE_BLOB, or the one
// scripts/install-deps.sh installs under tests/azurite/node_modules/.bin/.
std::filesystem::path azurite_blob_path();

// The one server of this test binary, started on first call; nullptr (and why in `error`)
// when it cannot start. The same failure is reported to every later caller.
AzuriteServer* shared_azurite(std::string& error);

// True when BERTH_ALLOW_SKIP=1.
bool azurite_skips_allowed();

}  // namespace berth::testing

// In a test (or SetUp): sets `server` (AzuriteServer*) to the shared server, or fails the test
// naming what is missing (skips it with BERTH_ALLOW_SKIP=1).
#define BERTH_REQUIRE_AZURITE(server)                                       \
  do {                                                                      \
    std::string azurite_error_;                                             \
    (server) = ::berth::testing::shared_azurite(azurite_error_);            \
    if ((server) == nullptr) {                                              \
      if (::berth::testing::azurite_skips_allowed()) {                      \
        GTEST_SKIP() << "Azurite cannot run: " << azurite_error_;           \
      }                                                                     \
      FAIL() << "Azurite cannot run: " << azurite_error_                    \
             << " (BERTH_ALLOW_SKIP=1 skips instead, for developers only)"; \
    }                                                                       \
  } while (false)
