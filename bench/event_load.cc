#include "event_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace berth::bench {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct Slot {
  int fd = -1;
  std::vector<std::string> requests;  // the operations' bytes with this connection's headers
  std::string in;
  std::size_t sent = 0;
  std::size_t op = 0;
  std::uint64_t count = 0;
  Clock::time_point begin;
  bool writing = false;
  bool idle = false;
};

// Appends `request` with the header lines `extra` inserted before its blank line.
std::string with_headers(const std::string& request, const std::string& extra,
                         std::vector<std::string>& out) {
  const auto end_of_head = request.find("\r\n\r\n");
  if (end_of_head == std::string::npos) return "operation request without a blank line";
  std::string bytes = request.substr(0, end_of_head + 2);
  bytes.append(extra).append(request, end_of_head + 2);
  out.push_back(std::move(bytes));
  return {};
}

class Engine {
 public:
  Engine(const std::vector<Operation>& operations) : operations_(operations) {}
  ~Engine() {
    for (auto& slot : slots_) {
      if (slot.fd >= 0) ::close(slot.fd);
    }
    if (epoll_ >= 0) ::close(epoll_);
  }

  std::string open(const std::string& host, std::uint16_t port, int connections,
                   const std::vector<std::string>& connection_headers) {
    if (connection_headers.size() > 1 &&
        connection_headers.size() != static_cast<std::size_t>(connections)) {
      return "connection headers: " + std::to_string(connection_headers.size()) + " for " +
             std::to_string(connections) + " connections";
    }
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return std::string("epoll_create1: ") + std::strerror(errno);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return "bad address " + host;
    slots_.resize(static_cast<std::size_t>(connections));
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return std::string("socket: ") + std::strerror(errno);
      slots_[i].fd = fd;
      const std::string none;
      const std::string& extra = connection_headers.empty()       ? none
                                 : connection_headers.size() == 1 ? connection_headers.front()
                                                                  : connection_headers[i];
      for (const auto& operation : operations_) {
        if (auto error = with_headers(operation.request, extra, slots_[i].requests);
            !error.empty()) {
          return error;
        }
      }
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        return std::string("connect: ") + std::strerror(errno);
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
        return std::string("epoll_ctl: ") + std::strerror(errno);
      }
    }
    return {};
  }

  EventLoadResult run(double warmup_seconds, double duration_seconds,
                      const std::function<void()>& on_window_start) {
    EventLoadResult result;
    const auto start = Clock::now();
    auto to_duration = [](double s) {
      return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    };
    from_ = start + to_duration(warmup_seconds);
    until_ = from_ + to_duration(duration_seconds);
    const auto hard_stop = until_ + std::chrono::seconds(30);
    result.window_seconds = duration_seconds;
    result.latencies_us.reserve(1 << 20);
    samples_ = &result.latencies_us;
    for (std::size_t i = 0; i < slots_.size() && error_.empty(); ++i) issue(i);
    bool window_started = false;
    std::vector<epoll_event> events(slots_.size());
    for (long turns = 0; turns < 100'000'000 && error_.empty(); ++turns) {
      const auto now = Clock::now();
      if (!window_started && now >= from_) {
        window_started = true;
        if (on_window_start) on_window_start();
      }
      if (now >= until_ && std::all_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.idle; })) {
        break;
      }
      if (now >= hard_stop) {
        error_ = "requests still unanswered 30 s after the window closed";
        break;
      }
      int ready = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 20);
      if (ready < 0 && errno != EINTR) {
        error_ = std::string("epoll_wait: ") + std::strerror(errno);
        break;
      }
      for (int e = 0; e < ready && error_.empty(); ++e) {
        const auto index = static_cast<std::size_t>(events[e].data.u64);
        if (events[e].events & EPOLLOUT) write_some(index);
        if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_some(index);
      }
    }
    result.error = error_;
    return result;
  }

 private:
  void issue(std::size_t index) {
    Slot& slot = slots_[index];
    if (Clock::now() >= until_) {
      slot.idle = true;
      return;
    }
    slot.op = (slot.count + index) % operations_.size();
    slot.sent = 0;
    slot.in.clear();
    slot.begin = Clock::now();
    write_some(index);
  }

  void set_writing(Slot& slot, std::size_t index, bool writing) {
    if (slot.writing == writing) return;
    slot.writing = writing;
    epoll_event event{};
    event.events = writing ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    event.data.u64 = index;
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, slot.fd, &event);
  }

  void write_some(std::size_t index) {
    Slot& slot = slots_[index];
    const std::string& out = slot.requests[slot.op];
    while (slot.sent < out.size()) {
      ssize_t n = ::send(slot.fd, out.data() + slot.sent, out.size() - slot.sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_writing(slot, index, true);
        return;
      }
      if (n <= 0) {
        error_ = std::string("send: ") + std::strerror(errno);
        return;
      }
      slot.sent += static_cast<std::size_t>(n);
    }
    set_writing(slot, index, false);
  }

  void read_some(std::size_t index) {
    Slot& slot = slots_[index];
    char buffer[16384];
    for (int reads = 0; reads < 1024; ++reads) {
      ssize_t n = ::recv(slot.fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        error_ = n == 0 ? "connection closed by the server"
                        : std::string("recv: ") + std::strerror(errno);
        return;
      }
      slot.in.append(buffer, static_cast<std::size_t>(n));
      if (slot.in.size() > (1u << 20)) {
        error_ = "response larger than 1 MiB";
        return;
      }
    }
    complete(index);
  }

  void complete(std::size_t index) {
    Slot& slot = slots_[index];
    const std::string_view in = slot.in;
    const auto head_end = in.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return;
    SmallResponse response;
    response.head = in.substr(0, head_end + 2);
    if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0 ||
        std::from_chars(in.data() + 9, in.data() + 12, response.status).ec != std::errc()) {
      error_ = "bad status line";
      return;
    }
    if (response.status < 200) {
      error_ = "unexpected interim response";
      return;
    }
    std::uint64_t length = 0;
    const Operation& op = operations_[slot.op];
    if (!op.head) {
      if (response.header("Transfer-Encoding")) {
        error_ = "chunked responses are not expected for small requests";
        return;
      }
      auto value = response.header("Content-Length");
      if (!value ||
          std::from_chars(value->data(), value->data() + value->size(), length).ec != std::errc()) {
        error_ = "response without a valid Content-Length";
        return;
      }
    }
    const std::size_t total = head_end + 4 + length;
    if (in.size() < total) return;
    if (in.size() > total) {
      error_ = "bytes beyond the end of the response";
      return;
    }
    response.body = in.substr(head_end + 4);
    if (auto problem = op.check(response); !problem.empty()) {
      error_ = problem;
      return;
    }
    const auto end = Clock::now();
    if (slot.begin >= from_ && end <= until_) {
      samples_->push_back(std::chrono::duration<double, std::micro>(end - slot.begin).count());
    }
    ++slot.count;
    issue(index);
  }

  const std::vector<Operation>& operations_;
  std::vector<Slot> slots_;
  int epoll_ = -1;
  Clock::time_point from_, until_;
  std::vector<double>* samples_ = nullptr;
  std::string error_;
};

}  // namespace

std::optional<std::string_view> SmallResponse::header(std::string_view name) const {
  std::string_view rest = head;
  for (int lines = 0; lines < 200 && !rest.empty(); ++lines) {
    auto eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos || !iequals(line.substr(0, colon), name)) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    return value;
  }
  return std::nullopt;
}

EventLoadResult run_event_load(const std::string& host, std::uint16_t port, int connections,
                               const std::vector<Operation>& operations, double warmup_seconds,
                               double duration_seconds,
                               const std::function<void()>& on_window_start,
                               const std::vector<std::string>& connection_headers) {
  Engine engine(operations);
  if (auto error = engine.open(host, port, connections, connection_headers); !error.empty()) {
    EventLoadResult failed;
    failed.error = error;
    return failed;
  }
  return engine.run(warmup_seconds, duration_seconds, on_window_start);
}

}  // namespace berth::bench
