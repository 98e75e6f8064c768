// The Azurite launcher the Azure driver's tests stand on: it starts a server that answers,
// stops it for good, and says what is missing when Azurite is not installed.

#include "support/azurite_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>

namespace berth::testing {
namespace {

// Restores an environment variable when the test ends.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

bool accepts_connections(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

TEST(AzuriteServer, StartsOnAFreshPortAndStopsWhenAsked) {
  AzuriteServer* shared = nullptr;
  BERTH_REQUIRE_AZURITE(shared);
  ASSERT_NE(shared->port(), 0);
  EXPECT_EQ(shared->blob_endpoint(),
            "http://127.0.0.1:" + std::to_string(shared->port()) + "/devstoreaccount1");
  EXPECT_NE(shared->connection_string().find("BlobEndpoint=" + shared->blob_endpoint()),
            std::string::npos);

  // A second server of its own, on another port, gone once killed.
  std::string error;
  auto own = AzuriteServer::start(error);
  ASSERT_NE(own, nullptr) << error;
  EXPECT_NE(own->port(), shared->port());
  const std::uint16_t port = own->port();
  EXPECT_TRUE(accepts_connections(port));
  own->kill();
  EXPECT_FALSE(accepts_connections(port));
  EXPECT_TRUE(accepts_connections(shared->port()));
}

TEST(AzuriteServer, NamesWhatIsMissingWhenNotInstalled) {
  ScopedEnv missing("BERTH_AZURITE_BLOB", "/nonexistent/azurite-blob");
  EXPECT_EQ(azurite_blob_path(), "/nonexistent/azurite-blob");
  std::string error;
  auto server = AzuriteServer::start(error);
  EXPECT_EQ(server, nullptr);
  EXPECT_NE(error.find("Azurite is not installed"), std::string::npos) << error;
  EXPECT_NE(error.find("/nonexistent/azurite-blob"), std::string::npos) << error;
  EXPECT_NE(error.find("scripts/install-deps.sh"), std::string::npos) << error;
}

TEST(AzuriteServer, ReportsAServerThatExitsAtOnce) {
  // /bin/false stands in for an azurite-blob that cannot start (a broken install).
  ScopedEnv broken("BERTH_AZURITE_BLOB", "/bin/false");
  std::string error;
  auto server = AzuriteServer::start(error);
  EXPECT_EQ(server, nullptr);
  EXPECT_NE(error.find("exited before it listened"), std::string::npos) << error;
}

}  // namespace
}  // namespace berth::testing
