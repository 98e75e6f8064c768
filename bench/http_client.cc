#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "client_auth.h"

namespace berth::bench {
namespace {

constexpr std::size_t kBufferSize = 1 << 20;
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr int kMaxHeaders = 200;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_u64(std::string_view text, std::uint64_t& value, int base = 10) {
  text = trim(text);
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::optional<std::string_view> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::string target_of(std::string_view location) {
  if (auto scheme = location.find("://"); scheme != std::string_view::npos) {
    auto path = location.find('/', scheme + 3);
    return path == std::string_view::npos ? std::string("/") : std::string(location.substr(path));
  }
  return std::string(location);
}

Connection::Connection(std::string host, std::uint16_t port, ClientAuth* auth)
    : host_(std::move(host)), port_(port), auth_(auth), buffer_(kBufferSize) {}

Connection::~Connection() { close(); }

std::string Connection::authority() const { return host_ + ":" + std::to_string(port_); }

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  begin_ = end_ = 0;
}

bool Connection::connect_socket() {
  close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{kIoTimeoutSeconds, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  if (::inet_pton(AF_INET, host_.c_str(), &address.sin_addr) != 1) {
    error_ = "bad IPv4 address " + host_;
    close();
    return false;
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    error_ = "connect " + authority() + ": " + std::strerror(errno);
    close();
    return false;
  }
  fresh_ = true;
  return true;
}

bool Connection::write_all(const char* data, std::size_t size, bool more) {
  while (size > 0) {
    ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = std::string("send: ") + (n < 0 ? std::strerror(errno) : "closed");
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool Connection::write_file(int fd, off_t offset, std::uint64_t length) {
  while (length > 0) {
    std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(length, 1ull << 30));
    ssize_t n = ::sendfile(fd_, fd, &offset, step);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = std::string("sendfile: ") + (n < 0 ? std::strerror(errno) : "short file");
      return false;
    }
    length -= static_cast<std::uint64_t>(n);
  }
  return true;
}

bool Connection::fill() {
  if (begin_ == end_) begin_ = end_ = 0;
  if (end_ == buffer_.size()) {
    if (begin_ == 0) {
      error_ = "line too long";
      return false;
    }
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  for (;;) {
    ssize_t n = ::recv(fd_, buffer_.data() + end_, buffer_.size() - end_, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = std::string("recv: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) {
      error_ = "connection closed by server";
      return false;
    }
    end_ += static_cast<std::size_t>(n);
    received_ += static_cast<std::uint64_t>(n);
    return true;
  }
}

bool Connection::read_line(std::string& line) {
  std::size_t scanned = begin_;
  for (;;) {
    auto* start = buffer_.data() + scanned;
    auto* found = static_cast<char*>(std::memchr(start, '\n', end_ - scanned));
    if (found) {
      std::size_t stop = static_cast<std::size_t>(found - buffer_.data());
      line.assign(buffer_.data() + begin_, stop - begin_);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      begin_ = stop + 1;
      return true;
    }
    if (end_ - begin_ > kMaxHeaderBytes) {
      error_ = "header line too long";
      return false;
    }
    std::size_t offset = scanned - begin_ + (end_ - scanned);
    if (!fill()) return false;
    scanned = begin_ + offset;
  }
}

bool Connection::deliver(const char* data, std::size_t size, Response& response,
                         const BodySink& sink) {
  response.body_bytes += size;
  // Error bodies are small and explain the status: keep them instead of checking them.
  if (sink && response.status >= 200 && response.status < 300) {
    if (!sink(data, size)) {
      error_ = "body rejected by the checker";
      return false;
    }
    return true;
  }
  if (response.body.size() + size > kMaxBufferedBody) {
    error_ = "response body too large to buffer";
    return false;
  }
  response.body.append(data, size);
  return true;
}

bool Connection::read_exact(std::uint64_t size, Response& response, const BodySink& sink) {
  if (!sink && size <= kMaxBufferedBody) response.body.reserve(static_cast<std::size_t>(size));
  while (size > 0) {
    if (begin_ == end_ && !fill()) return false;
    std::size_t step = static_cast<std::size_t>(std::min<std::uint64_t>(size, end_ - begin_));
    if (!deliver(buffer_.data() + begin_, step, response, sink)) return false;
    begin_ += step;
    size -= step;
  }
  return true;
}

bool Connection::read_until_close(Response& response, const BodySink& sink) {
  for (;;) {
    if (begin_ < end_) {
      if (!deliver(buffer_.data() + begin_, end_ - begin_, response, sink)) return false;
      begin_ = end_;
    }
    ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = std::string("recv: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) return true;
    begin_ = 0;
    end_ = static_cast<std::size_t>(n);
  }
}

bool Connection::read_chunked(Response& response, const BodySink& sink) {
  std::string line;
  for (int chunks = 0; chunks < 10'000'000; ++chunks) {
    if (!read_line(line)) return false;
    std::string_view size_text = line;
    if (auto semicolon = size_text.find(';'); semicolon != std::string_view::npos) {
      size_text = size_text.substr(0, semicolon);
    }
    std::uint64_t size = 0;
    if (!parse_u64(size_text, size, 16)) {
      error_ = "bad chunk size line '" + line + "'";
      return false;
    }
    if (size == 0) {
      for (int trailers = 0; trailers < kMaxHeaders; ++trailers) {
        if (!read_line(line)) return false;
        if (line.empty()) return true;
      }
      error_ = "too many trailers";
      return false;
    }
    if (!read_exact(size, response, sink)) return false;
    if (!read_line(line) || !line.empty()) {
      error_ = "missing CRLF after chunk";
      return false;
    }
  }
  error_ = "too many chunks";
  return false;
}

bool Connection::attempt(const Request& request, Response& response, const BodySink& sink,
                         bool& got_response_bytes) {
  got_response_bytes = false;
  response = Response{};
  std::string head;
  head.reserve(256 + request.target.size());
  head.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\nHost: ");
  head.append(authority()).append("\r\n");
  bool has_length = false;
  for (const auto& [name, value] : request.headers) {
    head.append(name).append(": ").append(value).append("\r\n");
    if (iequals(name, "Content-Length")) has_length = true;
  }
  const auto body_size = request.body.size();
  if (!has_length && (body_size > 0 || request.method == "POST" || request.method == "PUT" ||
                      request.method == "PATCH")) {
    head.append("Content-Length: ").append(std::to_string(body_size)).append("\r\n");
  }
  head.append("\r\n");
  if (!request.body.is_file() && body_size > 0 && body_size <= 64 * 1024) {
    head.append(request.body.memory);
    if (!write_all(head.data(), head.size(), false)) return false;
  } else {
    if (!write_all(head.data(), head.size(), body_size > 0)) return false;
    if (request.body.is_file()) {
      if (!write_file(request.body.fd, request.body.file_offset, request.body.file_length)) {
        return false;
      }
    } else if (body_size > 0 &&
               !write_all(request.body.memory.data(), request.body.memory.size(), false)) {
      return false;
    }
  }

  const auto received_before = received_ + (end_ - begin_);
  std::string line;
  if (!read_line(line)) {
    got_response_bytes = received_ + (end_ - begin_) != received_before;
    return false;
  }
  got_response_bytes = true;
  // Skip interim 1xx responses (for example 100 Continue).
  for (int interim = 0; interim < 10; ++interim) {
    if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) {
      error_ = "bad status line '" + line + "'";
      return false;
    }
    std::uint64_t status = 0;
    if (!parse_u64(std::string_view(line).substr(9, 3), status)) {
      error_ = "bad status line '" + line + "'";
      return false;
    }
    response.status = static_cast<int>(status);
    response.headers.clear();
    for (int count = 0;; ++count) {
      if (count > kMaxHeaders) {
        error_ = "too many headers";
        return false;
      }
      if (!read_line(line)) return false;
      if (line.empty()) break;
      auto colon = line.find(':');
      if (colon == std::string::npos) {
        error_ = "bad header line '" + line + "'";
        return false;
      }
      response.headers.emplace_back(line.substr(0, colon),
                                    std::string(trim(std::string_view(line).substr(colon + 1))));
    }
    if (response.status >= 200) break;
    if (!read_line(line)) return false;
  }

  bool close_after = false;
  if (auto connection = response.header("Connection"); connection && iequals(*connection, "close")) {
    close_after = true;
  }
  bool ok = true;
  const bool no_body = request.method == "HEAD" || response.status == 204 ||
                       response.status == 304;
  auto encoding = response.header("Transfer-Encoding");
  if (no_body) {
  } else if (encoding && !iequals(trim(*encoding), "identity")) {
    ok = read_chunked(response, sink);
  } else if (auto length = response.header("Content-Length")) {
    std::uint64_t size = 0;
    if (!parse_u64(*length, size)) {
      error_ = "bad Content-Length";
      return false;
    }
    ok = read_exact(size, response, sink);
  } else {
    ok = read_until_close(response, sink);
    close_after = true;
  }
  if (!ok) return false;
  if (close_after) close();
  fresh_ = false;
  return true;
}

bool Connection::send(const Request& request, Response& response, const BodySink& sink) {
  const bool has_authorization =
      std::any_of(request.headers.begin(), request.headers.end(),
                  [](const auto& header) { return iequals(header.first, "Authorization"); });
  if (auth_ == nullptr || has_authorization) return send_unauthenticated(request, response, sink);
  std::string auth_error;
  auto authorization = auth_->authorization_for(*this, request, auth_error);
  if (!authorization) {
    error_ = "credentials: " + auth_error;
    return false;
  }
  Request with_credentials = request;
  with_credentials.headers.emplace_back("Authorization", std::move(*authorization));
  if (!send_unauthenticated(with_credentials, response, sink)) return false;
  if (response.status != 401) return true;
  auto renewed = auth_->after_rejection(*this, request, response, auth_error);
  if (!renewed) {
    if (!auth_error.empty()) response.body.append(" (renewing the token: " + auth_error + ")");
    return true;  // the caller sees the 401
  }
  with_credentials.headers.back().second = std::move(*renewed);
  return send_unauthenticated(with_credentials, response, sink);
}

bool Connection::send_unauthenticated(const Request& request, Response& response,
                                      const BodySink& sink) {
  for (int tries = 0; tries < 2; ++tries) {
    if (fd_ < 0 && !connect_socket()) return false;
    const bool reused = !fresh_;
    bool got_response_bytes = false;
    if (attempt(request, response, sink, got_response_bytes)) return true;
    close();
    if (!reused || got_response_bytes) return false;
  }
  return false;
}

}  // namespace berth::bench
