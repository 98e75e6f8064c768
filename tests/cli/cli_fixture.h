#pragma once
// The whole command line in-process: a fake transport, a scratch HOME and the environment of a
// configured CLI; run() drives berth and checks that the token never shows.

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"
#include "fake_transport.h"
#include "test_env.h"

namespace berth::cli::testing {
namespace json = boost::json;

inline constexpr const char* kToken = "tok-7f3a9c-secret";

// Hands every request to the test's one FakeTransport, so the test sees all the requests of
// a run whatever transport the run makes.
class Forwarding final : public HttpTransport {
 public:
  explicit Forwarding(HttpTransport& target) : target_(target) {}
  Result<HttpResponse> send(const HttpRequest& request) override { return target_.send(request); }

 private:
  HttpTransport& target_;
};

class CliTest : public ::testing::Test {
 protected:
  FakeTransport fake;
  testing::ScratchDir home;
  std::map<std::string, std::string> env_vars{
      {"HOME", home.path().string()}, {"BERTH_SERVER", "http://srv:5000"}, {"BERTH_TOKEN", kToken}};
  std::string out, err, input;
  // Whether the run's standard error is a terminal (the progress of a waiting verb).
  bool err_is_terminal = false;

  int run(std::vector<std::string> args) {
    args.insert(args.begin(), "berth");
    std::ostringstream o, e;
    std::istringstream i(input);
    Environment env = testing::map_env(env_vars);
    int code = berth::cli::run(
        args, env, [this] { return std::make_unique<Forwarding>(fake); }, o, e, i,
        err_is_terminal);
    out = o.str();
    err = e.str();
    // Whatever happened, the token never shows.
    EXPECT_EQ(out.find(kToken), std::string::npos) << out;
    EXPECT_EQ(err.find(kToken), std::string::npos) << err;
    return code;
  }

  // A failed run: one "berth: " line on stderr, nothing on stdout.
  void expect_error(int code, ExitCode expected, std::string_view fragment = {}) {
    EXPECT_EQ(code, static_cast<int>(expected)) << err;
    EXPECT_EQ(out, "");
    EXPECT_TRUE(err.starts_with("berth: ")) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_TRUE(err.ends_with("\n"));
    if (!fragment.empty()) {
      EXPECT_NE(err.find(fragment), std::string::npos) << err;
    }
  }

  json::value last_body() { return json::parse(fake.requests.back().body); }
};

}  // namespace berth::cli::testing
