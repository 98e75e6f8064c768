#pragma once
// For tests: run a check as an ordinary user. Root ignores permission bits, so "a directory it
// may not write to" means nothing to a test running as root, and CI runs as root.
// run_unprivileged forks; the child, when it is root, becomes nobody (uid and gid 65534) and
// runs the check; the check's gtest assertions print their failures there and the child's exit
// status carries the verdict back:
//
//   auto as_nobody = [] {
//     TempDir dir;                        // created by nobody, so nobody may enter it
//     ...
//     EXPECT_EQ(result.error().code, Errc::io_error);
//   };
//   EXPECT_TRUE(run_unprivileged(as_nobody));
//
// The check runs in another process: whatever it needs on disk it creates itself (nobody
// cannot enter root's 0700 temp dirs), and nothing it changes in memory reaches the parent.

#include <errno.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

namespace berth {

inline constexpr uid_t kNobodyUid = 65534;
inline constexpr gid_t kNobodyGid = 65534;

namespace unprivileged_detail {

// Exit statuses of the child besides 0 (the check passed).
inline constexpr int kCheckFailed = 1;
inline constexpr int kCheckThrew = 2;
inline constexpr int kStillPrivileged = 3;

// In the child: give up root for good. Groups and gid first; after setuid nothing else may
// change. Returns what went wrong, empty on success (and when not root to begin with).
inline std::string drop_root() {
  if (::geteuid() != 0) return {};
  if (::setgroups(0, nullptr) != 0) return "setgroups failed";
  if (::setgid(kNobodyGid) != 0) return "setgid(65534) failed";
  if (::setuid(kNobodyUid) != 0) return "setuid(65534) failed";
  if (::geteuid() == 0 || ::setuid(0) == 0) return "still root after setuid(65534)";
  return {};
}

// Failed assertions recorded in the current test from part `first` on.
inline bool failed_since(int first) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return false;
  const ::testing::TestResult* result = info->result();
  for (int i = first; i < result->total_part_count(); ++i) {
    if (result->GetTestPartResult(i).failed()) return true;
  }
  return false;
}

inline int parts_so_far() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info == nullptr ? 0 : info->result()->total_part_count();
}

template <typename Check>
[[noreturn]] void run_in_child(Check& check) {
  int code = 0;
  if (std::string error = drop_root(); !error.empty()) {
    std::fprintf(stderr, "run_unprivileged: %s\n", error.c_str());
    code = kStillPrivileged;
  } else {
    const int first = parts_so_far();
    try {
      check();
      code = failed_since(first) ? kCheckFailed : 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "run_unprivileged: the check threw: %s\n", e.what());
      code = kCheckThrew;
    } catch (...) {
      std::fprintf(stderr, "run_unprivileged: the check threw\n");
      code = kCheckThrew;
    }
  }
  std::fflush(stdout);
  std::fflush(stderr);
  // _exit: the parent's atexit handlers and gtest's end-of-run reporting are the parent's.
  ::_exit(code);
}

}  // namespace unprivileged_detail

// Runs `check` in a forked child as nobody (see the top of this file); succeeds when the
// check ran there without a failed assertion or an exception.
template <typename Check>
::testing::AssertionResult run_unprivileged(Check&& check) {
  namespace detail = unprivileged_detail;
  // Nothing buffered before the fork may be printed twice.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) return ::testing::AssertionFailure() << "fork failed";
  if (pid == 0) detail::run_in_child(check);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ::testing::AssertionFailure() << "waitpid failed";
  }
  if (WIFSIGNALED(status)) {
    return ::testing::AssertionFailure()
           << "the unprivileged check was killed by signal " << WTERMSIG(status);
  }
  switch (WEXITSTATUS(status)) {
    case 0:
      return ::testing::AssertionSuccess();
    case detail::kCheckFailed:
      return ::testing::AssertionFailure()
             << "the unprivileged check failed (its failures are printed above)";
    case detail::kCheckThrew:
      return ::testing::AssertionFailure() << "the unprivileged check threw (printed above)";
    case detail::kStillPrivileged:
      return ::testing::AssertionFailure() << "could not become uid 65534 (printed above)";
    default:
      return ::testing::AssertionFailure()
             << "the unprivileged check exited with status " << WEXITSTATUS(status);
  }
}

}  // namespace berth
