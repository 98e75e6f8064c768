#pragma once
// The HTTP/1.1 server: Beast + Asio with C++20 coroutines on a thread pool. Reads the header
// first, then lets the handler stream the body; keep-alive; header/idle timeouts; optional
// TLS listeners; sendfile(2) for file-backed bodies on plain TCP; an access log line per request;
// graceful shutdown (stop accepting, drain in-flight requests, then cancel at the deadline).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/router.h"

namespace berth::http {

struct TlsFiles {
  std::string certificate_chain;  // PEM
  std::string private_key;        // PEM
};

struct Listener {
  std::string host = "localhost";
  std::uint16_t port = 5000;  // 0 picks a free port
  std::optional<TlsFiles> tls;
  // Handed to handlers as Request::listener, for those that answer differently depending on
  // where a request arrived; opaque to the server.
  std::string name;
};

// What the server answers by itself when a handler fails (throws): the body says nothing of the
// cause. The application sets it to its own error format.
struct FaultResponse {
  std::string content_type = "text/plain; charset=utf-8";
  std::string body = "internal error\n";
};

struct ServerOptions {
  std::vector<Listener> listeners;
  unsigned threads = 0;                        // 0: one per core
  std::size_t max_header_bytes = 64 * 1024;
  std::chrono::seconds header_timeout{30};     // to receive a whole request header
  std::chrono::seconds idle_timeout{120};      // between requests on a kept-alive connection
  std::chrono::seconds body_read_timeout{60};  // with no body byte arriving
  std::chrono::seconds write_timeout{120};     // with no response byte leaving
  // Slow bodies: in every `body_rate_window` of time spent waiting for request body bytes, at
  // least `min_body_rate` bytes per second on average must arrive, or the connection is closed.
  // Time the handler spends not reading does not count. 0 disables the check.
  std::uint64_t min_body_rate = 1024;  // bytes per second
  std::chrono::seconds body_rate_window{30};
  std::chrono::seconds shutdown_deadline{10};
  // Added to every final response, the server's own errors included, unless the handler set a
  // header of the same name.
  std::vector<std::pair<std::string, std::string>> response_headers;
  FaultResponse fault_response;
  // Names of Request::log_fields every access-log line carries, as "-" when no handler set
  // them, so that the lines keep one shape.
  std::vector<std::string> access_log_fields;
};

class Server {
 public:
  // `router` must outlive the server.
  Server(ServerOptions options, const Router& router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener; throws std::runtime_error with a one-line reason when one cannot be
  // bound. After start(), bound_ports() reports the actual ports (for port 0).
  void start();
  std::vector<std::uint16_t> bound_ports() const;
  // Binds one more listener after start(), also while the server runs (e.g. a loopback port
  // dedicated to one registry, opened when a build first needs it), and returns its port. Throws
  // std::runtime_error when it cannot be bound or the server is stopping. Safe from any thread
  // but the server's own.
  std::uint16_t add_listener(const Listener& listener);

  // Serves until stop() or SIGTERM/SIGINT (when `handle_signals`), then drains and returns.
  void run(bool handle_signals);
  // Begins a graceful shutdown; safe from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::http
