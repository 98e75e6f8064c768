#pragma once
// For tests: an HTTP proxy on 127.0.0.1 in front of a real registry (plain HTTP) that breaks
// chosen answers the way networks and upstreams do: it cuts a body after some bytes, answers
// 429 with Retry-After, flips a byte of a body, answers a Range request with the whole body,
// or redirects elsewhere. Faults are matched by method and a substring of the request target;
// each applies to a number of requests, or to every one. Every request is recorded.
//
// One request per connection: the proxy asks the upstream and tells the client to close after
// each answer ("Connection: close"), so a fault never spills into another request.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::testing {

struct Fault {
  enum class Kind {
    drop_after,         // forward the head and `bytes` body bytes, then close the connection
    too_many_requests,  // answer 429 with Retry-After: `retry_after` (the upstream is not asked)
    corrupt_byte,       // flip the body byte at offset `bytes`
    ignore_range,       // ask the upstream without the Range header (it answers 200, whole)
    redirect,           // answer 307 to `location` (the upstream is not asked)
    throttle,           // forward the body at `bytes` bytes per second
  };
  Kind kind = Kind::drop_after;
  std::string method = "GET";  // "" matches every method
  std::string target_contains;  // "" matches every target
  std::uint64_t bytes = 0;
  std::string retry_after = "1";
  std::string location;
  int times = 1;  // requests it applies to; -1: every matching request
};

// A request as the proxy saw it.
struct ProxiedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  bool faulted = false;
  // Whether the proxy has sent the whole answer on (or given up), and how many body bytes.
  bool finished = false;
  std::uint64_t body_bytes = 0;
  std::string header(const std::string& name) const;  // "" when absent
};

class FaultProxy {
 public:
  // A proxy to 127.0.0.1:`upstream_port`; nullptr with `error` set when it cannot listen.
  static std::unique_ptr<FaultProxy> start(int upstream_port, std::string& error);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  std::string host() const;  // "127.0.0.1:<port>"

  void add(Fault fault);
  void clear_faults();
  std::vector<ProxiedRequest> requests() const;

 private:
  FaultProxy() = default;
  void accept_loop();
  void serve(int client);
  bool take_fault(const ProxiedRequest& request, Fault& fault);

  int listener_ = -1;
  int port_ = 0;
  int upstream_port_ = 0;
  std::atomic<bool> stopping_ = false;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<Fault> faults_;
  std::vector<ProxiedRequest> requests_;
  std::vector<std::thread> connections_;
};

}  // namespace berth::testing
