#pragma once
// Request and response as handlers see them. Free of Beast: only the server translation unit
// includes Beast, so handlers compile fast and the protocol layer stays replaceable.

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace berth::http {

enum class Errc {
  closed,       // the peer closed or reset the connection
  timeout,      // the peer stopped sending
  bad_request,  // malformed framing (e.g. chunked encoding)
  too_large,    // a body over the caller's limit
};
using HttpError = Error<Errc>;

// The response header that carries the id the server gives each request (also in the access
// log), so that a client report can be matched with the log line.
inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";

// Case-insensitive header list (names as received; lookups ignore case).
class Headers {
 public:
  void add(std::string name, std::string value);
  // Replaces every header of that name.
  void set(std::string name, std::string value);
  std::optional<std::string_view> get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& all() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Streams a request body. One reader per request, used by one coroutine.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // Reads the next bytes of the body into `buffer`; 0 once the body is complete.
  virtual boost::asio::awaitable<Result<std::size_t, HttpError>> read_some(
      std::span<std::byte> buffer) = 0;
  // The Content-Length, when the body is not chunked.
  virtual std::optional<std::uint64_t> content_length() const = 0;
};

struct Request {
  std::string method;  // upper-case, as sent
  std::string target;  // raw request target
  std::string path;    // percent-decoded path, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  Headers headers;
  std::string remote_address;
  bool tls = false;
  std::string listener;  // Listener::name of the listener the request arrived on
  std::string request_id;  // random, assigned by the server; sent back as X-Request-Id
  // Extra name=value pairs for this request's access-log line, set by handlers (e.g. which
  // tenant served it). Setting a name again replaces its value.
  std::vector<std::pair<std::string, std::string>> log_fields;
  std::map<std::string, std::string, std::less<>> params;  // filled by the router
  BodyReader* body = nullptr;                              // never null inside a handler

  std::optional<std::string_view> query_param(std::string_view name) const;
  std::string_view param(std::string_view name) const;  // "" when absent
  std::optional<std::string_view> header(std::string_view name) const {
    return headers.get(name);
  }
  void set_log_field(std::string name, std::string value);
};

// Random-access source of a response body (e.g. a stored blob). native_handle() >= 0 lets the
// server use sendfile(2) on plain TCP.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual Result<std::size_t, HttpError> read(std::uint64_t offset, std::span<std::byte> out) = 0;
  virtual int native_handle() const { return -1; }
  // Whether the body is still being written while it is sent (a blob streamed on from an
  // upstream as it arrives): then a read of 0 bytes means "not yet", and the server waits
  // and reads again instead of closing, for at most its write timeout without progress.
  virtual bool may_grow() const { return false; }
};

struct Response {
  unsigned status = 200;
  Headers headers;
  // The body: `body`, or when `source` is set, `source_length` bytes from `source_offset`.
  std::string body;
  std::unique_ptr<BodySource> source;
  std::uint64_t source_offset = 0;
  std::uint64_t source_length = 0;
  // For HEAD: the Content-Length to announce without sending a body. Ignored otherwise.
  std::optional<std::uint64_t> head_content_length;
  // A server-side cause to log (never sent): the server logs it at error level with the
  // request's id, so a handler's fault is tied to its request.
  std::string log_detail;
};

// Reads the whole body, failing with too_large past `limit` bytes.
boost::asio::awaitable<Result<std::string, HttpError>> read_body(BodyReader& body,
                                                                 std::size_t limit);

}  // namespace berth::http
