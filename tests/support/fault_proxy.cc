#include "support/fault_proxy.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cctype>
#include <cstring>
#include <optional>
#include <sstream>

namespace berth::testing {
namespace {

constexpr std::size_t kMaxHead = 64 * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads up to the end of the head ("\r\n\r\n"); what came after it stays in `rest`.
std::optional<std::string> read_head(int fd, std::string& rest) {
  std::string buffer;
  char chunk[8192];
  while (buffer.size() < kMaxHead) {
    auto end = buffer.find("\r\n\r\n");
    if (end != std::string::npos) {
      rest = buffer.substr(end + 4);
      return buffer.substr(0, end + 4);
    }
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return std::nullopt;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  return std::nullopt;
}

// The head's lines after the first, as (lower-case name, value).
std::vector<std::pair<std::string, std::string>> header_lines(std::string_view head) {
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t at = head.find("\r\n");
  while (at != std::string_view::npos) {
    at += 2;
    auto end = head.find("\r\n", at);
    if (end == std::string_view::npos || end == at) break;
    std::string_view line = head.substr(at, end - at);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      headers.emplace_back(lower(trim(line.substr(0, colon))),
                           std::string(trim(line.substr(colon + 1))));
    }
    at = end;
  }
  return headers;
}

std::string first_line(std::string_view head) {
  return std::string(head.substr(0, head.find("\r\n")));
}

// The head rebuilt from its first line and headers, without the dropped names, closing after.
std::string rebuild_head(const std::string& line,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::vector<std::string>& dropped) {
  std::string head = line + "\r\n";
  for (const auto& [name, value] : headers) {
    if (name == "connection" || name == "keep-alive") continue;
    if (std::find(dropped.begin(), dropped.end(), name) != dropped.end()) continue;
    head += name + ": " + value + "\r\n";
  }
  head += "Connection: close\r\n\r\n";
  return head;
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void answer_plain(int client, int status, std::string_view reason,
                  const std::vector<std::string>& headers) {
  std::string response = fmt::format("HTTP/1.1 {} {}\r\n", status, reason);
  for (const auto& header : headers) response += header + "\r\n";
  response += "Content-Length: 0\r\nConnection: close\r\n\r\n";
  send_all(client, response);
}

}  // namespace

std::string ProxiedRequest::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

std::unique_ptr<FaultProxy> FaultProxy::start(int upstream_port, std::string& error) {
  std::unique_ptr<FaultProxy> proxy(new FaultProxy());
  proxy->upstream_port_ = upstream_port;
  proxy->listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (proxy->listener_ < 0 ||
      ::bind(proxy->listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(proxy->listener_, 64) != 0 ||
      ::getsockname(proxy->listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    error = std::string("the fault proxy cannot listen: ") + std::strerror(errno);
    return nullptr;
  }
  proxy->port_ = ntohs(address.sin_port);
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->accept_loop(); });
  return proxy;
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  if (listener_ >= 0) ::close(listener_);
  std::vector<std::thread> connections;
  {
    std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (auto& connection : connections) connection.join();
}

std::string FaultProxy::host() const { return fmt::format("127.0.0.1:{}", port_); }

void FaultProxy::add(Fault fault) {
  std::lock_guard lock(mutex_);
  faults_.push_back(std::move(fault));
}

void FaultProxy::clear_faults() {
  std::lock_guard lock(mutex_);
  faults_.clear();
}

std::vector<ProxiedRequest> FaultProxy::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void FaultProxy::accept_loop() {
  while (!stopping_) {
    pollfd waiting{listener_, POLLIN, 0};
    if (::poll(&waiting, 1, 50) <= 0) continue;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(mutex_);
    connections_.emplace_back([this, client] {
      serve(client);
      ::close(client);
    });
  }
}

bool FaultProxy::take_fault(const ProxiedRequest& request, Fault& fault) {
  std::lock_guard lock(mutex_);
  for (auto& candidate : faults_) {
    if (candidate.times == 0) continue;
    if (!candidate.method.empty() && candidate.method != request.method) continue;
    if (request.target.find(candidate.target_contains) == std::string::npos) continue;
    if (candidate.times > 0) --candidate.times;
    fault = candidate;
    return true;
  }
  return false;
}

void FaultProxy::serve(int client) {
  std::string body_start;
  auto head = read_head(client, body_start);
  if (!head) return;
  ProxiedRequest request;
  std::string line = first_line(*head);
  std::istringstream words(line);
  words >> request.method >> request.target;
  request.headers = header_lines(*head);
  Fault fault;
  request.faulted = take_fault(request, fault);
  std::size_t index = 0;
  {
    std::lock_guard lock(mutex_);
    index = requests_.size();
    requests_.push_back(request);
  }
  std::uint64_t sent = 0;
  // However the exchange ends, the record says it ended and how much body went on.
  struct Finish {
    FaultProxy& proxy;
    std::size_t index;
    const std::uint64_t& sent;
    ~Finish() {
      std::lock_guard lock(proxy.mutex_);
      proxy.requests_[index].finished = true;
      proxy.requests_[index].body_bytes = sent;
    }
  } finish{*this, index, sent};
  if (request.faulted && fault.kind == Fault::Kind::too_many_requests) {
    answer_plain(client, 429, "Too Many Requests", {"Retry-After: " + fault.retry_after});
    return;
  }
  if (request.faulted && fault.kind == Fault::Kind::redirect) {
    answer_plain(client, 307, "Temporary Redirect", {"Location: " + fault.location});
    return;
  }

  int upstream = connect_loopback(upstream_port_);
  if (upstream < 0) return;
  std::vector<std::string> dropped;
  if (request.faulted && fault.kind == Fault::Kind::ignore_range) dropped.push_back("range");
  // Requests through the proxy carry no body (GET, HEAD) except what already arrived.
  if (!send_all(upstream, rebuild_head(line, request.headers, dropped)) ||
      !send_all(upstream, body_start)) {
    ::close(upstream);
    return;
  }
  std::string rest;
  auto answer_head = read_head(upstream, rest);
  if (!answer_head) {
    ::close(upstream);
    return;
  }
  send_all(client, rebuild_head(first_line(*answer_head), header_lines(*answer_head), {}));

  const auto started = std::chrono::steady_clock::now();
  auto forward = [&](std::string data) {
    if (request.faulted && fault.kind == Fault::Kind::corrupt_byte && fault.bytes >= sent &&
        fault.bytes < sent + data.size()) {
      data[fault.bytes - sent] = static_cast<char>(data[fault.bytes - sent] ^ 0x5a);
    }
    if (request.faulted && fault.kind == Fault::Kind::drop_after) {
      if (sent + data.size() >= fault.bytes) {
        send_all(client, std::string_view(data).substr(0, fault.bytes - sent));
        sent = fault.bytes;
        return false;
      }
    }
    sent += data.size();
    if (!send_all(client, data)) return false;
    if (request.faulted && fault.kind == Fault::Kind::throttle && fault.bytes > 0) {
      // Hold the rate: `sent` bytes take sent / bytes seconds from the start.
      const auto due = started + std::chrono::microseconds(sent * 1'000'000 / fault.bytes);
      std::this_thread::sleep_until(due);
    }
    return true;
  };
  bool going = rest.empty() || forward(std::move(rest));
  char chunk[16384];
  while (going) {
    ssize_t n = ::recv(upstream, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    going = forward(std::string(chunk, static_cast<std::size_t>(n)));
  }
  ::close(upstream);
}

}  // namespace berth::testing
