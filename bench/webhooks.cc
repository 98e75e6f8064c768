#include "webhooks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <string_view>

namespace berth::bench {
namespace {

// Limits of what a receiver accepts: deliveries are small JSON documents.
constexpr std::size_t kMaxHead = 64 * 1024;
constexpr std::size_t kMaxBody = 1 << 20;
// Connections open at once; the dispatcher opens one per attempt and closes it after.
constexpr std::size_t kMaxPeers = 256;

constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// What the receiver needs of a request head.
struct Head {
  std::string method;
  std::optional<std::size_t> content_length;
  bool chunked = false;
  bool close = false;
};

Head parse_head(std::string_view head) {
  Head parsed;
  auto line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  parsed.method = std::string(request_line.substr(0, request_line.find(' ')));
  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      std::size_t length = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (ec == std::errc() && ptr == value.data() + value.size()) parsed.content_length = length;
    } else if (iequals(name, "Transfer-Encoding")) {
      parsed.chunked = !iequals(value, "identity");
    } else if (iequals(name, "Connection")) {
      parsed.close = iequals(value, "close");
    }
  }
  return parsed;
}

std::string snippet(std::string_view body) {
  std::string text(body.substr(0, 300));
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

std::string webhooks_path(const std::string& registry) {
  return "/mgmt/v1/registries/" + registry + "/webhooks";
}

Headers admin_headers(const std::string& admin_token) {
  return {{"Authorization", "Bearer " + admin_token}};
}

}  // namespace

WebhookReceiver::WebhookReceiver(Answer answer) : answer_(answer) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool listening =
      listen_fd_ >= 0 && stop_fd_ >= 0 &&
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::listen(listen_fd_, 64) == 0 &&
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  if (!listening) {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (stop_fd_ >= 0) ::close(stop_fd_);
    fail("webhook receiver: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { serve(); });
}

WebhookReceiver::~WebhookReceiver() { stop(); }

std::string WebhookReceiver::uri(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookReceiver::stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  if (::write(stop_fd_, &one, sizeof one) != sizeof one) {
    record_error("webhook receiver: cannot signal its thread to stop");
  }
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
}

std::optional<Clock::time_point> WebhookReceiver::wait_for_requests(std::size_t count,
                                                                    double timeout_seconds) {
  std::unique_lock lock(mutex_);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_seconds));
  if (!arrived_.wait_until(lock, deadline, [&] { return arrivals_.size() >= count; })) {
    return std::nullopt;
  }
  return count == 0 ? Clock::now() : arrivals_[count - 1];
}

std::size_t WebhookReceiver::requests() const {
  std::lock_guard lock(mutex_);
  return arrivals_.size();
}

std::vector<std::string> WebhookReceiver::bodies() const {
  std::lock_guard lock(mutex_);
  return bodies_;
}

std::string WebhookReceiver::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void WebhookReceiver::record_error(const std::string& error) {
  std::lock_guard lock(mutex_);
  if (error_.empty()) error_ = error;
}

void WebhookReceiver::serve() {
  std::vector<Peer> peers;
  std::vector<pollfd> polled;
  for (;;) {
    polled.clear();
    polled.push_back({stop_fd_, POLLIN, 0});
    polled.push_back({listen_fd_, POLLIN, 0});
    for (const Peer& peer : peers) polled.push_back({peer.fd, POLLIN, 0});
    if (::poll(polled.data(), polled.size(), -1) < 0) {
      if (errno == EINTR) continue;
      record_error("webhook receiver: poll failed");
      break;
    }
    if (polled[0].revents != 0) break;
    // Peers first (their indexes match `polled`), then new connections.
    std::vector<Peer> open;
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (polled[i + 2].revents == 0 || on_readable(peers[i])) {
        open.push_back(std::move(peers[i]));
      } else {
        ::close(peers[i].fd);
      }
    }
    peers = std::move(open);
    if (polled[1].revents != 0) accept_peers(peers);
  }
  for (const Peer& peer : peers) ::close(peer.fd);
}

void WebhookReceiver::accept_peers(std::vector<Peer>& peers) {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: no more waiting
    if (peers.size() >= kMaxPeers) {
      ::close(fd);
      record_error("webhook receiver: more than " + std::to_string(kMaxPeers) +
                   " connections at once");
      continue;
    }
    peers.push_back({fd, {}, false});
  }
}

bool WebhookReceiver::on_readable(Peer& peer) {
  char buffer[16 * 1024];
  const ssize_t got = ::recv(peer.fd, buffer, sizeof buffer, MSG_DONTWAIT);
  if (got < 0) return errno == EAGAIN || errno == EINTR;
  if (got == 0) return false;      // the sender closed (after its timeout, for Answer::never)
  if (peer.answered) return true;  // Answer::never: whatever follows is not read as a request
  peer.in.append(buffer, static_cast<std::size_t>(got));
  for (;;) {
    bool consumed = false;
    if (!next_request(peer, consumed)) return false;
    if (!consumed || peer.answered) return true;
  }
}

bool WebhookReceiver::next_request(Peer& peer, bool& consumed) {
  const auto head_end = peer.in.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (peer.in.size() <= kMaxHead) return true;
    record_error("webhook receiver: a request head larger than " + std::to_string(kMaxHead));
    return false;
  }
  const Head head = parse_head(std::string_view(peer.in).substr(0, head_end));
  if (head.method != "POST" || head.chunked || !head.content_length ||
      *head.content_length > kMaxBody) {
    record_error("webhook receiver: expected a POST with a Content-Length of at most " +
                 std::to_string(kMaxBody) +
                 " bytes, got: " + snippet(std::string_view(peer.in).substr(0, head_end)));
    return false;
  }
  const std::size_t body_start = head_end + 4;
  if (peer.in.size() < body_start + *head.content_length) return true;  // more to come
  {
    std::lock_guard lock(mutex_);
    bodies_.push_back(peer.in.substr(body_start, *head.content_length));
    arrivals_.push_back(Clock::now());
  }
  arrived_.notify_all();
  peer.in.erase(0, body_start + *head.content_length);
  consumed = true;
  if (answer_ == Answer::never) {
    peer.answered = true;
    peer.in.clear();
    return true;
  }
  // 38 bytes into an idle connection's empty send buffer: never a partial write.
  if (::send(peer.fd, kOk.data(), kOk.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kOk.size())) {
    return false;
  }
  return !head.close;
}

void create_webhook(Connection& connection, const std::string& admin_token,
                    const std::string& registry, const WebhookSpec& webhook) {
  const std::string body = boost::json::serialize(boost::json::object{
      {"name", webhook.name},
      {"serviceUri", webhook.service_uri},
      {"actions", boost::json::array{"push"}},
      {"scope", webhook.scope},
  });
  Headers headers = admin_headers(admin_token);
  headers.emplace_back("Content-Type", "application/json");
  Response response;
  const std::string what = "create webhook " + webhook.name;
  if (!connection.send({"POST", webhooks_path(registry), headers, Body::from_memory(body)},
                       response)) {
    fail(what + ": " + connection.error());
  }
  check(response.status == 201,
        what + ": status " + std::to_string(response.status) + ": " + snippet(response.body));
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(response.body, ec);
  const auto* name = !ec && parsed.is_object() ? parsed.as_object().if_contains("name") : nullptr;
  check(name != nullptr && name->is_string() && name->as_string() == webhook.name,
        what + ": the answer does not name it: " + snippet(response.body));
}

void delete_webhook(Connection& connection, const std::string& admin_token,
                    const std::string& registry, const std::string& name) {
  Response response;
  const std::string what = "delete webhook " + name;
  if (!connection.send({"DELETE", webhooks_path(registry) + "/" + name, admin_headers(admin_token),
                        Body::none()},
                       response)) {
    fail(what + ": " + connection.error());
  }
  check(response.status == 204,
        what + ": status " + std::to_string(response.status) + ": " + snippet(response.body));
}

std::vector<DeliveryAttempt> webhook_deliveries(Connection& connection,
                                                const std::string& admin_token,
                                                const std::string& registry,
                                                const std::string& name, int top) {
  Response response;
  const std::string what = "deliveries of webhook " + name;
  if (!connection.send(
          {"GET", webhooks_path(registry) + "/" + name + "/events?top=" + std::to_string(top),
           admin_headers(admin_token), Body::none()},
          response)) {
    fail(what + ": " + connection.error());
  }
  check(response.status == 200,
        what + ": status " + std::to_string(response.status) + ": " + snippet(response.body));
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(response.body, ec);
  const auto* events =
      !ec && parsed.is_object() ? parsed.as_object().if_contains("events") : nullptr;
  check(events != nullptr && events->is_array(),
        what + ": no events array: " + snippet(response.body));
  std::vector<DeliveryAttempt> attempts;
  for (const auto& event : events->as_array()) {
    const auto* object = event.if_object();
    const auto* action = object ? object->if_contains("action") : nullptr;
    const auto* result = object ? object->if_contains("result") : nullptr;
    check(action != nullptr && action->is_string() && result != nullptr && result->is_string(),
          what + ": an attempt without action or result: " + snippet(response.body));
    attempts.push_back({std::string(action->as_string()), std::string(result->as_string())});
  }
  return attempts;
}

}  // namespace berth::bench
