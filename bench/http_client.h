#pragma once

// A small blocking HTTP/1.1 client over plain TCP sockets, for the load generator only.
// One Connection is one keep-alive socket used by one thread. It sends request bodies from
// memory or straight from a file with sendfile(2), and hands large response bodies to a sink
// chunk by chunk so that nothing the size of a blob is ever buffered.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::bench {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Where a request body comes from: nothing, a memory range (not owned), or a file range.
struct Body {
  std::string_view memory;
  int fd = -1;
  off_t file_offset = 0;
  std::uint64_t file_length = 0;

  static Body none() { return {}; }
  static Body from_memory(std::string_view bytes) { return Body{bytes}; }
  static Body from_file(int fd, off_t offset, std::uint64_t length) {
    return Body{{}, fd, offset, length};
  }
  bool is_file() const { return fd >= 0; }
  std::uint64_t size() const { return is_file() ? file_length : memory.size(); }
};

struct Request {
  std::string method;
  std::string target;  // origin-form: path and query
  Headers headers;
  Body body;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;             // filled only when no sink was given
  std::uint64_t body_bytes = 0;  // bytes of body received (also with a sink)

  // Case-insensitive lookup of the first header with this name.
  std::optional<std::string_view> header(std::string_view name) const;
};

// Receives the response body piece by piece; returning false aborts the request.
using BodySink = std::function<bool(const char* data, std::size_t size)>;

class ClientAuth;

class Connection {
 public:
  // With `auth`, every request without an Authorization header of its own gets the session's
  // credentials (see client_auth.h); `auth` must outlive the connection.
  Connection(std::string host, std::uint16_t port, ClientAuth* auth = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends the request and reads the whole response. Returns false with error() set on any
  // transport or framing error; an HTTP error status is not a failure here. A request that
  // fails on a reused connection before any response byte arrived is retried once on a
  // fresh connection (the server may have closed an idle keep-alive socket).
  // With credentials, a 401 is answered once more after renewing the token (it may have
  // expired). The sink only sees the body of a 2xx answer; other bodies are collected.
  bool send(const Request& request, Response& response, const BodySink& sink = nullptr);
  // Sends the request exactly as given, without adding credentials.
  bool send_unauthenticated(const Request& request, Response& response,
                            const BodySink& sink = nullptr);

  // Changes the credentials of the following requests (a new client session).
  void set_auth(ClientAuth* auth) { auth_ = auth; }

  const std::string& error() const { return error_; }
  std::string authority() const;
  void close();

  // Upper bound for any single send/receive wait.
  static constexpr int kIoTimeoutSeconds = 300;
  // Bodies collected in memory (no sink) larger than this are refused.
  static constexpr std::uint64_t kMaxBufferedBody = 256ull << 20;

 private:
  bool connect_socket();
  bool write_all(const char* data, std::size_t size, bool more);
  bool write_file(int fd, off_t offset, std::uint64_t length);
  bool fill();  // reads more bytes into the buffer; false on EOF or error
  bool read_line(std::string& line);
  bool read_exact(std::uint64_t size, Response& response, const BodySink& sink);
  bool read_until_close(Response& response, const BodySink& sink);
  bool read_chunked(Response& response, const BodySink& sink);
  bool deliver(const char* data, std::size_t size, Response& response, const BodySink& sink);
  bool attempt(const Request& request, Response& response, const BodySink& sink,
               bool& got_response_bytes);

  std::string host_;
  std::uint16_t port_;
  ClientAuth* auth_ = nullptr;
  int fd_ = -1;
  bool fresh_ = true;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::uint64_t received_ = 0;
  std::string error_;
};

// Splits "http://host:port/path?q" or "/path?q" into the origin-form target.
std::string target_of(std::string_view location);

}  // namespace berth::bench
