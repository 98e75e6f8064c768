#pragma once

// The webhook side of push-many-webhooks: receivers of webhook deliveries inside the load
// generator, and berth's management API for webhooks (create, delivery record, delete).

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "http_client.h"

namespace berth::bench {

// An HTTP receiver of webhook deliveries on a free 127.0.0.1 port, served by one thread that
// polls the listening socket and every connection. It reads each POST whole (a Content-Length
// body; several requests per keep-alive connection) and then either answers 200 at once or
// never answers: a receiver slower than any delivery timeout, which holds the connection until
// the sender gives up and closes it.
class WebhookReceiver {
 public:
  enum class Answer { at_once, never };

  // Listens and starts serving; throws CheckFailed when it cannot listen.
  explicit WebhookReceiver(Answer answer);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT" followed by `path`.
  std::string uri(const std::string& path) const;

  // Waits until `count` requests have been read whole, at most `timeout_seconds`; returns when
  // the count-th arrived, or nullopt on timeout.
  std::optional<Clock::time_point> wait_for_requests(std::size_t count, double timeout_seconds);
  std::size_t requests() const;
  // The request bodies read so far, in order of arrival.
  std::vector<std::string> bodies() const;
  // The first thing wrong with what was received (not a POST, no Content-Length, too large,
  // too many connections), or empty.
  std::string error() const;

  // Closes the connections and the listening socket and joins the thread. Idempotent.
  void stop();

 private:
  struct Peer {
    int fd = -1;
    std::string in;         // bytes read and not yet consumed
    bool answered = false;  // Answer::never: one request was read, nothing more is expected
  };

  void serve();
  void accept_peers(std::vector<Peer>& peers);
  // Reads what is there and handles every complete request; false: close the connection.
  bool on_readable(Peer& peer);
  // Consumes one complete request from peer.in if there is one; false: close the connection.
  bool next_request(Peer& peer, bool& consumed);
  void record_error(const std::string& error);

  Answer answer_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd: written once to stop the thread
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::string> bodies_;
  std::vector<Clock::time_point> arrivals_;
  std::string error_;
  std::thread thread_;
};

// A webhook on berth's registry `registry` (the management API, docs/management-api.md),
// delivering `push` events of `scope` to `service_uri`.
struct WebhookSpec {
  std::string name;  // 5 to 50 letters and digits
  std::string service_uri;
  std::string scope;  // "repo:*": every tag of repo
};

// One delivery attempt as berth records it.
struct DeliveryAttempt {
  std::string action;  // "push", "ping", ...
  std::string result;  // "delivered", "failed", "gave_up"
};

// The calls authenticate with the administrator token as a Bearer token; each checks the
// answer (status, and the body where there is one) and throws CheckFailed on a wrong one.
void create_webhook(Connection& connection, const std::string& admin_token,
                    const std::string& registry, const WebhookSpec& webhook);
void delete_webhook(Connection& connection, const std::string& admin_token,
                    const std::string& registry, const std::string& name);
// The newest `top` (at most 100) delivery attempts of a webhook, newest first.
std::vector<DeliveryAttempt> webhook_deliveries(Connection& connection,
                                                const std::string& admin_token,
                                                const std::string& registry,
                                                const std::string& name, int top);

}  // namespace berth::bench
