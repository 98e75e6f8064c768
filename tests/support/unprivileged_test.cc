// run_unprivileged: the check really runs without root's powers, and every way it can go wrong
// reaches the parent as a failure.

#include "support/unprivileged.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "common/temp_dir.h"

namespace berth {
namespace {

namespace fs = std::filesystem;

TEST(RunUnprivileged, RootBecomesNobody) {
  const uid_t parent_uid = ::geteuid();
  EXPECT_TRUE(run_unprivileged([parent_uid] {
    const uid_t expected = parent_uid == 0 ? kNobodyUid : parent_uid;
    EXPECT_EQ(::getuid(), expected);
    EXPECT_EQ(::geteuid(), expected);
    if (parent_uid == 0) {
      EXPECT_EQ(::getegid(), kNobodyGid);
      EXPECT_EQ(::getgroups(0, nullptr), 0) << "supplementary groups kept";
    }
  }));
}

TEST(RunUnprivileged, PermissionBitsApplyInTheCheck) {
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read |
                                  fs::perms::group_exec | fs::perms::others_read |
                                  fs::perms::others_exec);
  const fs::path locked = dir.path() / "locked";
  fs::create_directory(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read |
                              fs::perms::others_exec);
  EXPECT_TRUE(run_unprivileged([&locked] {
    const int fd = ::open((locked / "file").c_str(), O_CREAT | O_WRONLY, 0644);
    const int error = errno;
    EXPECT_EQ(fd, -1) << "created a file in a read-only directory";
    EXPECT_EQ(error, EACCES);
    if (fd >= 0) ::close(fd);
  }));
  EXPECT_FALSE(fs::exists(locked / "file"));
}

TEST(RunUnprivileged, FailedAssertionInTheCheckIsAFailure) {
  auto result = run_unprivileged(
      [] { ADD_FAILURE() << "failure expected by RunUnprivileged.FailedAssertionInTheCheckIsAFailure"; });
  EXPECT_FALSE(result);
}

TEST(RunUnprivileged, ExceptionInTheCheckIsAFailure) {
  auto result = run_unprivileged([] { throw std::runtime_error("expected by the test"); });
  EXPECT_FALSE(result);
}

TEST(RunUnprivileged, CrashInTheCheckIsAFailure) {
  auto result = run_unprivileged([] { ::kill(::getpid(), SIGKILL); });
  ASSERT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("signal"), std::string::npos) << result.message();
}

}  // namespace
}  // namespace berth
