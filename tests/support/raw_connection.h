#pragma once
// A bare TCP connection to a test server, for requests an ordinary client will not send:
// partial headers, pipelining, HTTP/1.0, a body cut off midway, broken chunk framing, a body that
// stalls, a request held open while another one runs.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace berth::testing {

class RawConnection {
 public:
  // Every read gives up after `receive_timeout`, so a missing answer fails the test instead of
  // hanging it.
  explicit RawConnection(std::uint16_t port, int receive_timeout_seconds = 5)
      : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{receive_timeout_seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `marker` has arrived; returns everything up to and including it.
  std::optional<std::string> read_until(std::string_view marker) {
    for (;;) {
      if (auto pos = buffered_.find(marker); pos != std::string::npos) {
        std::string out = buffered_.substr(0, pos + marker.size());
        buffered_.erase(0, pos + marker.size());
        return out;
      }
      if (!fill()) return std::nullopt;
    }
  }

  struct Response {
    int status = 0;
    std::string head;
    std::string body;
  };
  // Reads one response with a Content-Length body (or none when `head_only`).
  std::optional<Response> read_response(bool head_only = false) {
    auto head = read_until("\r\n\r\n");
    if (!head) return std::nullopt;
    Response response;
    response.head = *head;
    response.status = std::atoi(head->substr(9, 3).c_str());
    std::string lower = *head;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    std::size_t length = 0;
    if (auto pos = lower.find("\r\ncontent-length: "); pos != std::string::npos) {
      length = std::stoul(lower.substr(pos + 18));
    }
    if (head_only) return response;
    while (buffered_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    response.body = buffered_.substr(0, length);
    buffered_.erase(0, length);
    return response;
  }

  // The status of the next response; 0 when none arrived.
  int read_status() {
    auto response = read_response();
    return response ? response->status : 0;
  }

  // True when the server closed the connection (EOF or reset) within the receive timeout.
  bool closed_by_peer() {
    if (!buffered_.empty()) return false;
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  bool fill() {
    char buffer[64 * 1024];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    buffered_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  std::string buffered_;
};

}  // namespace berth::testing
