// main() of every gtest binary (berth_test): runs the tests, then fails the run when any test
// skipped itself. gtest counts a GTEST_SKIP as a pass in its exit status, and so does ctest, so
// a test that skips where CI runs (as root, say) would look green while never running.
// BERTH_ALLOW_SKIP=1 lets a developer accept skips, as it does for the integration scripts.

#include <gtest/gtest.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/lsan_suppressions.h"

namespace {

bool skips_allowed() {
  const char* allow = std::getenv("BERTH_ALLOW_SKIP");
  return allow != nullptr && std::string_view(allow) == "1";
}

// When the suite collects artifacts (BERTH_TEST_ARTIFACTS), every log line the binary writes
// also goes to <dir>/logs/<binary>-<pid>.log, which the no-secrets-in-logs check greps.
void copy_logs_to_artifacts(const char* argv0) {
  const char* dir = std::getenv("BERTH_TEST_ARTIFACTS");
  if (dir == nullptr || *dir == '\0') return;
  std::filesystem::path logs = std::filesystem::path(dir) / "logs";
  std::error_code ec;
  std::filesystem::create_directories(logs, ec);
  std::string name = std::filesystem::path(argv0).filename().string() + "-" +
                     std::to_string(::getpid()) + ".log";
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>((logs / name).string());
  auto console = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("berth", spdlog::sinks_init_list{console, file});
  logger->set_level(spdlog::get_level());
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  copy_logs_to_artifacts(argv[0]);
  const int status = RUN_ALL_TESTS();
  const int skipped = ::testing::UnitTest::GetInstance()->skipped_test_count();
  if (status == 0 && skipped > 0 && !skips_allowed()) {
    std::fprintf(stderr,
                 "%d test(s) skipped: a skip is not a pass (BERTH_ALLOW_SKIP=1 accepts skips)\n",
                 skipped);
    return 1;
  }
  return status;
}
