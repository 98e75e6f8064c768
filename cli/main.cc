// berth: the command-line client of berthd's management API.

#include <curl/curl.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/app.h"

int main(int argc, char** argv) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::cerr << "berth: cannot initialise libcurl\n";
    return 1;
  }
  std::vector<std::string> args(argv, argv + argc);
  auto make_transport = [] {
    berth::cli::CurlOptions options;
    options.user_agent = "berth/" BERTH_VERSION;
    return std::make_unique<berth::cli::CurlTransport>(options);
  };
  int code = berth::cli::run(args, berth::cli::Environment::process(), make_transport, std::cout,
                             std::cerr, std::cin, ::isatty(STDERR_FILENO) != 0);
  std::cout.flush();
  curl_global_cleanup();
  return code;
}
