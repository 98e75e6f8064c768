// main() of every gtest binary (berth_test): runs the tests, then fails the run when any test
// skipped itself. gtest counts a GTEST_SKIP as a pass in its exit status, and so does ctest, so
// a test that skips where CI runs (as root, say) would look green while never running.
// BERTH_ALLOW_SKIP=1 lets a developer accept skips, as it does for the integration scripts.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

bool skips_allowed() {
  const char* allow = std::getenv("BERTH_ALLOW_SKIP");
  return allow != nullptr && std::string_view(allow) == "1";
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
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
