#pragma once
// An HttpTransport that records requests and answers from a queue, for tests that must not
// touch the network.

#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli/http_client.h"

namespace berth::cli::testing {

class FakeTransport final : public HttpTransport {
 public:
  // Answers are consumed in order; with none left the transport fails like a dead network.
  void answer(long status, std::string body = {},
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    answers_.push_back({status, std::move(body), std::move(headers)});
  }

  // A request with a body_file is recorded with the file's bytes as its body, read when it is
  // sent (the file may be gone by the time the test looks).
  Result<HttpResponse> send(const HttpRequest& request) override {
    requests.push_back(request);
    if (!request.body_file.empty()) {
      std::ifstream in(request.body_file, std::ios::binary);
      std::ostringstream bytes;
      bytes << in.rdbuf();
      requests.back().body = bytes.str();
    }
    if (answers_.empty()) return failure("cannot reach the server: no answer queued");
    HttpResponse response = answers_.front();
    answers_.pop_front();
    return response;
  }

  // "" when the request did not carry the header.
  static std::string header(const HttpRequest& request, std::string_view name) {
    for (const auto& line : request.headers) {
      if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
          line[name.size()] == ':') {
        std::string value = line.substr(name.size() + 1);
        return value.starts_with(' ') ? value.substr(1) : value;
      }
    }
    return "";
  }

  std::vector<HttpRequest> requests;

 private:
  std::deque<HttpResponse> answers_;
};

}  // namespace berth::cli::testing
