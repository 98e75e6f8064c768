// The only translation unit that includes Beast: handlers see http::Request/Response only.
#include "http/server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "common/ids.h"
#include "http/request_checks.h"

namespace berth::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Response bodies from a non-file source are copied through a buffer this large: big enough to
// keep syscalls and TLS records few, small enough to allocate once per session.
constexpr std::size_t kStreamChunk = 512 * 1024;
// Unconsumed request bodies up to this size are read and dropped to keep the connection alive;
// larger ones close the connection instead.
constexpr std::uint64_t kDrainLimit = 64 * 1024;
// Bytes asked of one socket read while decoding a chunked body.
constexpr std::size_t kChunkedReadBytes = 64 * 1024;
// Gathered writes up to this size go out as one TLS write.
constexpr std::size_t kCoalesceLimit = 16 * 1024;
// Bytes asked of one sendfile(2) call. Measured on loopback: 1 MiB calls served a 1 GiB blob at
// 3.9 GB/s and 0.23 CPU-s/GB, 4 MiB at 2.4 GB/s, and one call for the whole body at 1.6 GB/s
// and 0.43 CPU-s/GB (the kernel then splices page after page while the socket stays full).
constexpr std::size_t kSendfileCallBytes = 1 << 20;
// How often a response whose body is still arriving (BodySource::may_grow) looks for more.
constexpr auto kGrowingBodyPoll = std::chrono::milliseconds(2);
// sendfile(2) yields to other sessions on the same thread after this many bytes.
constexpr std::uint64_t kSendfileYieldBytes = 8 * 1024 * 1024;
// A file body is read ahead this far past what was sent, in steps of kReadaheadStep. The
// kernel's own readahead (128 KiB by default) reads a blob that is not in the page cache at a
// third of the disk's speed here, and sendfile(2) waits for the disk on the event loop's
// thread meanwhile. The window is bounded so that a client that goes away early has caused
// at most this much reading.
constexpr std::uint64_t kReadaheadWindow = 32 * 1024 * 1024;
constexpr std::uint64_t kReadaheadStep = 8 * 1024 * 1024;
// After answering with Connection: close while the client is still sending, keep reading (and
// discarding) for a moment so the kernel does not reset the connection before the client has
// read the response.
constexpr std::chrono::seconds kLingerTime{1};
constexpr std::uint64_t kLingerBytes = 4 * 1024 * 1024;
// Between the deadline cancelling sessions and the io_context being stopped outright.
constexpr std::chrono::seconds kHardStopGrace{2};

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// Header names and values from handlers go to the wire verbatim; CR or LF would let one forge
// headers or split the response.
bool header_safe(std::string_view text) {
  return text.find_first_of("\r\n") == std::string_view::npos;
}

// Log lines carry client-controlled text (path, user agent); control characters are replaced so
// that a client cannot forge log lines.
struct LogText {
  explicit LogText(std::string_view text) : view(text) {
    if (std::any_of(text.begin(), text.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      copy.assign(text);
      for (char& c : copy) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
      }
      view = copy;
    }
  }
  std::string_view view;
  std::string copy;
};

std::string endpoint_text(std::string_view host, std::uint16_t port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Both run on the session's strand.
  virtual void on_shutdown() = 0;  // close if waiting for a next request
  virtual void on_deadline() = 0;  // close whatever it is doing
  virtual asio::any_io_executor executor() = 0;
};

struct AcceptorSlot {
  std::unique_ptr<tcp::acceptor> acceptor;
  std::shared_ptr<ssl::context> tls;  // null for plain TCP
  std::string listener;               // Listener::name
};

class ServerCore {
 public:
  ServerCore(ServerOptions opts, const Router& r)
      : options(std::move(opts)),
        router(r),
        control(asio::make_strand(ioc)),
        signals(control),
        deadline(control),
        hard_stop(control) {}

  void start();
  std::uint16_t bind_listener(const Listener& listener);
  std::uint16_t add_listener(const Listener& listener);
  void run(bool handle_signals);
  void stop();
  void begin_shutdown();
  void on_deadline();
  asio::awaitable<void> accept_loop(AcceptorSlot& slot);
  void start_session(tcp::socket socket, const AcceptorSlot& slot);
  void register_session(const std::shared_ptr<SessionBase>& session);
  void unregister_session(SessionBase* session);
  template <class F>
  void for_each_session(F f);

  // Declared first so that it is destroyed last: everything below uses its services.
  asio::io_context ioc;
  ServerOptions options;
  const Router& router;
  Strand control;  // acceptors, signals and the shutdown timers live here
  asio::signal_set signals;
  asio::steady_timer deadline;
  asio::steady_timer hard_stop;
  // A deque: accept loops hold references to their slots while listeners are added.
  std::deque<AcceptorSlot> acceptors;  // guarded by acceptors_mutex once run() began
  std::mutex acceptors_mutex;
  bool accepting = false;              // guarded by acceptors_mutex: run() spawned the loops
  std::vector<std::uint16_t> ports;
  bool started = false;
  std::atomic<bool> stopping{false};

  std::mutex sessions_mutex;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
};

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... Args>
  Session(ServerCore& server, std::string remote, std::string listener, Args&&... args)
      : server_(server), options_(server.options), remote_(std::move(remote)),
        listener_(std::move(listener)), stream_(std::forward<Args>(args)...) {}

  void on_shutdown() override {
    if (idle_) lowest().cancel();
  }
  void on_deadline() override {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }
  asio::any_io_executor executor() override { return stream_.get_executor(); }

  asio::awaitable<void> run() {
    buffer_.reserve(8 * 1024);
    if constexpr (kTls) {
      idle_ = true;
      if (server_.stopping.load()) co_return;
      lowest().expires_after(options_.header_timeout);
      auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, kUseTuple);
      idle_ = false;
      if (ec) co_return;
    }
    bool first = true;
    while (co_await serve_one(first)) first = false;
    co_await close();
  }

  // Streams the request body; see BodyReader.
  class Reader final : public BodyReader {
   public:
    explicit Reader(Session& session) : session_(session) {}
    asio::awaitable<Result<std::size_t, HttpError>> read_some(
        std::span<std::byte> buffer) override {
      return session_.read_body_some(buffer);
    }
    std::optional<std::uint64_t> content_length() const override {
      return session_.content_length_;
    }

   private:
    Session& session_;
  };

 private:
  auto& lowest() { return beast::get_lowest_layer(stream_); }

  // Serves one request; true to keep the connection for another.
  asio::awaitable<bool> serve_one(bool first) {
    // Waiting for the first byte of a request is "idle": shutdown closes such connections.
    if (buffer_.size() == 0) {
      idle_ = true;
      if (server_.stopping.load()) co_return false;
      lowest().expires_after(first ? options_.header_timeout : options_.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(16 * 1024), kUseTuple);
      idle_ = false;
      if (ec) co_return false;
      buffer_.commit(n);
      if (!first) lowest().expires_after(options_.header_timeout);
    } else {
      lowest().expires_after(options_.header_timeout);
    }
    auto started = Clock::now();
    request_id_ = random_hex(8);
    reset_body_state();

    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(options_.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(boost::none);  // handlers impose their own limits
    {
      auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer_, *parser_, kUseTuple);
      if (ec) {
        if (ec == bhttp::error::header_limit) {
          co_return co_await refuse(431, "request header too large\n", started);
        }
        if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          co_return co_await refuse(400, "malformed request\n", started);
        }
        co_return false;
      }
    }
    auto& header = parser_->get();

    if (auto refusal = check_framing_and_host(header)) {
      co_return co_await refuse(refusal->status, refusal->body, started);
    }
    auto url = boost::urls::parse_origin_form(header.target());
    if (!url) co_return co_await refuse(400, "malformed request target\n", started);

    Request request;
    request.method = std::string(header.method_string());
    request.target = std::string(header.target());
    request.path = url->path();
    if (url->has_query()) {
      for (auto param : url->params()) {
        request.query.emplace_back(std::move(param.key), std::move(param.value));
      }
    }
    for (const auto& field : header) {
      request.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    request.remote_address = remote_;
    request.tls = kTls;
    request.listener = listener_;
    request.request_id = request_id_;

    // Body framing: Content-Length bodies are read straight into the handler's buffer; chunked
    // ones go through the parser.
    if (!parser_->is_done()) {
      if (parser_->chunked()) {
        chunked_ = true;
      } else if (auto length = parser_->content_length()) {
        content_length_ = *length;
        remaining_ = *length;
      }
    } else {
      content_length_ = 0;
    }
    expect_continue_ = header.version() >= 11 &&
                       iequals(header[bhttp::field::expect], "100-continue") && !body_done();

    Reader reader(*this);
    request.body = &reader;

    Response response;
    const Route* route = nullptr;
    bool failed = false;
    try {
      auto match = server_.router.match(request);
      route = match.route;
      if (route) {
        response = co_await route->handler(request);
      } else {
        response = server_.router.fallback(request, match.method_not_allowed);
      }
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} failed: {} (request id {})", request.method,
                    LogText(request.path).view, e.what(), request.request_id);
      failed = true;
    } catch (...) {
      spdlog::error("handler for {} {} failed with an unknown exception (request id {})",
                    request.method, LogText(request.path).view, request.request_id);
      failed = true;
    }
    if (failed) response = fault_response();
    if (!response.log_detail.empty()) {
      spdlog::error("id={} {} {}: {}", request.request_id, request.method,
                    LogText(request.path).view, response.log_detail);
    }

    bool keep_alive = !failed && parser_->keep_alive() && !server_.stopping.load();
    if (keep_alive && !body_done()) keep_alive = co_await drain_leftover();

    bool head = header.method() == bhttp::verb::head;
    auto written = co_await write_response(response, head, header.version(), keep_alive);
    if (!written.ok) keep_alive = false;

    log_access(request.method, request.path, response.status, written.body_bytes, started,
               route ? std::string_view(route->name) : "-",
               request.headers.get("User-Agent").value_or(""), request.log_fields);

    if (!keep_alive && written.ok && !body_done() && !body_error_) co_await linger();
    co_return keep_alive;
  }

  void reset_body_state() {
    content_length_.reset();
    body_error_.reset();
    chunked_ = false;
    remaining_ = 0;
    expect_continue_ = false;
    continue_sent_ = false;
    rate_window_waited_ = Clock::duration::zero();
    rate_window_bytes_ = 0;
    rate_deadline_armed_ = false;
  }

  struct Refusal {
    unsigned status;
    std::string_view body;
  };

  // The checks of RFC 9112 that Beast leaves to the server. Each failure closes the connection:
  // after a request whose framing is in doubt, nothing read from the connection can be trusted
  // to start the next request.
  std::optional<Refusal> check_framing_and_host(const bhttp::request_header<>& header) {
    std::vector<std::string_view> codings;
    for (auto [it, end] = header.equal_range(bhttp::field::transfer_encoding); it != end; ++it) {
      codings.push_back(it->value());
    }
    if (!codings.empty()) {
      // HTTP/1.0 has no chunked coding: a 1.0 recipient behind us would frame it differently.
      if (header.version() < 11) {
        return Refusal{400, "Transfer-Encoding is not allowed in HTTP/1.0\n"};
      }
      if (header.count(bhttp::field::content_length) > 0) {
        return Refusal{400, "Transfer-Encoding together with Content-Length\n"};
      }
      switch (check_transfer_encoding(codings)) {
        case TransferCoding::chunked: break;
        case TransferCoding::unsupported:
          return Refusal{501, "only the chunked transfer coding is supported\n"};
        case TransferCoding::invalid:
          return Refusal{400, "Transfer-Encoding must end in exactly one chunked\n"};
      }
    }
    auto hosts = header.count(bhttp::field::host);
    if (hosts > 1) return Refusal{400, "more than one Host header\n"};
    if (hosts == 0 && header.version() >= 11) return Refusal{400, "missing Host header\n"};
    if (hosts == 1 && !is_valid_host(header[bhttp::field::host])) {
      // The value is not echoed: it is not safe to reflect.
      return Refusal{400, "malformed Host header\n"};
    }
    return std::nullopt;
  }

  // Answers a request the server refuses before any handler sees it, logs it, and ends the
  // connection (the result for serve_one).
  asio::awaitable<bool> refuse(unsigned status, std::string_view body, Clock::time_point started) {
    Response response;
    response.status = status;
    response.headers.add("Content-Type", "text/plain; charset=utf-8");
    response.body = body;
    auto written = co_await write_response(response, false, 11, false);
    // The start line may be all that was read (e.g. before a header that is too large).
    const auto& header = parser_->get();
    log_access(header.method_string(), header.target(), status, written.body_bytes, started, "-",
               "", {});
    // Whatever the client sent after the header is unread: closing at once could reset the
    // connection before the client has read the answer.
    if (written.ok) co_await linger();
    co_return false;
  }

  Response fault_response() const {
    Response response;
    response.status = 500;
    response.headers.add("Content-Type", options_.fault_response.content_type);
    response.body = options_.fault_response.body;
    return response;
  }

  // Log values are bare words when they can be, else quoted; never raw control characters.
  static void append_log_value(std::string& out, std::string_view value) {
    LogText text(value);
    bool bare = !text.view.empty() && text.view.find_first_of(" \"\\") == std::string_view::npos;
    if (bare) {
      out += text.view;
      return;
    }
    out += '"';
    for (char c : text.view) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }

  void log_access(std::string_view method, std::string_view path, unsigned status,
                  std::uint64_t body_bytes, Clock::time_point started, std::string_view route,
                  std::string_view user_agent,
                  const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string extra;
    for (const auto& name : options_.access_log_fields) {
      auto it = std::find_if(fields.begin(), fields.end(),
                             [&](const auto& field) { return field.first == name; });
      extra += ' ';
      append_log_value(extra, name);
      extra += '=';
      if (it == fields.end()) {
        extra += '-';
      } else {
        append_log_value(extra, it->second);
      }
    }
    for (const auto& [name, value] : fields) {
      if (std::find(options_.access_log_fields.begin(), options_.access_log_fields.end(), name) !=
          options_.access_log_fields.end()) {
        continue;
      }
      extra += ' ';
      append_log_value(extra, name);
      extra += '=';
      append_log_value(extra, value);
    }
    auto elapsed = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    spdlog::info("{} {} {} {}B {:.3f}ms remote={} id={} route={}{} ua=\"{}\"",
                 method.empty() ? "-" : LogText(method).view,
                 path.empty() ? "-" : LogText(path).view, status, body_bytes, elapsed, remote_,
                 request_id_, route, extra, LogText(user_agent).view);
  }

  bool body_done() const {
    if (chunked_) return parser_->is_done();
    return remaining_ == 0;
  }

  asio::awaitable<Result<std::size_t, HttpError>> read_body_some(std::span<std::byte> out) {
    if (body_error_) co_return *body_error_;
    if (body_done() || out.empty()) co_return 0;
    if (expect_continue_ && !continue_sent_) {
      continue_sent_ = true;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      lowest().expires_after(options_.write_timeout);
      auto [ec, n] = co_await asio::async_write(
          stream_, asio::const_buffer(kContinue.data(), kContinue.size()), kUseTuple);
      if (ec) co_return fail_body(ec);
    }

    if (!chunked_) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), remaining_));
      if (buffer_.size() > 0) {
        std::size_t n = std::min(want, buffer_.size());
        std::memcpy(out.data(), buffer_.data().data(), n);
        buffer_.consume(n);
        remaining_ -= n;
        co_return n;
      }
      auto waiting_since = arm_body_deadline();
      auto [ec, n] = co_await stream_.async_read_some(asio::mutable_buffer(out.data(), want),
                                                      kUseTuple);
      bool too_slow = account_body_wait(waiting_since, n);
      if (n > 0) {
        remaining_ -= n;
        if (ec) {
          body_error_ = to_error(ec);
        } else if (too_slow) {
          body_error_ = too_slow_error();
        }
        co_return n;
      }
      if (!ec) ec = asio::error::eof;
      co_return fail_body(ec);
    }

    // Chunked: the parser decodes what is buffered straight into `out`; the socket is read
    // only when it needs more. Not bhttp::async_read_some, so that the bytes the parser is
    // waiting on can be checked (see has_bare_lf).
    auto& body = parser_->get().body();
    body.data = out.data();
    body.size = out.size();
    body.more = true;
    for (;;) {
      if (buffer_.size() > 0) {
        beast::error_code ec;
        std::size_t used = parser_->put(buffer_.data(), ec);
        buffer_.consume(used);
        std::size_t got = out.size() - body.size;
        if (ec == bhttp::error::need_more) {
          ec = {};
          // The parser waits for a CRLF that ends a chunk line or the trailer, and skips a bare
          // LF while it waits: a client framing with bare LFs would hang until the timeout.
          if (has_bare_lf(buffer_)) {
            co_return fail_body(HttpError{Errc::bad_request,
                                          "malformed request body: chunk line ends in a bare LF"},
                                got);
          }
          // Nor does it bound a chunk line (extensions) or the trailer.
          if (buffer_.size() > options_.max_header_bytes) {
            co_return fail_body(HttpError{Errc::bad_request,
                                          "malformed request body: chunk line or trailer too long"},
                                got);
          }
        } else if (ec == bhttp::error::need_buffer) {
          ec = {};
        }
        if (ec) co_return fail_body(to_error(ec), got);
        if (got > 0 || parser_->is_done()) co_return got;
        if (used > 0) continue;
      }
      auto waiting_since = arm_body_deadline();
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kChunkedReadBytes),
                                                      kUseTuple);
      buffer_.commit(n);
      bool too_slow = account_body_wait(waiting_since, n);
      if (n > 0 && !too_slow) continue;  // parse it; a read error shows on the next read
      if (too_slow) co_return fail_body(too_slow_error(), 0);
      if (!ec) ec = asio::error::eof;
      co_return fail_body(ec);
    }
  }

  static bool has_bare_lf(const beast::flat_buffer& buffer) {
    auto data = buffer.data();
    std::string_view text(static_cast<const char*>(data.data()), data.size());
    for (std::size_t at = text.find('\n'); at != std::string_view::npos;
         at = text.find('\n', at + 1)) {
      if (at == 0 || text[at - 1] != '\r') return true;
    }
    return false;
  }

  // Records a body error; returns the bytes already read, if any, else the error.
  Result<std::size_t, HttpError> fail_body(HttpError error, std::size_t got) {
    body_error_ = std::move(error);
    if (got > 0) return got;
    return *body_error_;
  }

  bool rate_check_enabled() const {
    return options_.min_body_rate > 0 && options_.body_rate_window.count() > 0;
  }
  std::uint64_t rate_window_quota() const {
    return options_.min_body_rate * static_cast<std::uint64_t>(options_.body_rate_window.count());
  }

  // Sets the deadline of the next body read: the read timeout, or the end of the rate window
  // when that comes first and the window's quota is not met yet. Returns when waiting starts.
  Clock::time_point arm_body_deadline() {
    Clock::duration limit = options_.body_read_timeout;
    rate_deadline_armed_ = false;
    if (rate_check_enabled() && rate_window_bytes_ < rate_window_quota()) {
      Clock::duration left = options_.body_rate_window - rate_window_waited_;
      if (left < limit) {
        limit = std::max(left, Clock::duration::zero());
        rate_deadline_armed_ = true;
      }
    }
    lowest().expires_after(limit);
    return Clock::now();
  }

  // Counts a finished body read against the rate window; true when a window ended short of
  // its quota. Only time spent waiting on the socket counts: while the handler is busy, the
  // client cannot send (TCP backpressure), and a slow disk must not fail a fast client.
  bool account_body_wait(Clock::time_point waiting_since, std::size_t bytes) {
    if (!rate_check_enabled()) return false;
    rate_window_waited_ += Clock::now() - waiting_since;
    rate_window_bytes_ += bytes;
    if (rate_window_waited_ < options_.body_rate_window) return false;
    if (rate_window_bytes_ < rate_window_quota()) return true;
    rate_window_waited_ = Clock::duration::zero();
    rate_window_bytes_ = 0;
    return false;
  }

  HttpError too_slow_error() {
    spdlog::warn("request {} from {}: body slower than {} bytes/s over {}s, closing", request_id_,
                 remote_, options_.min_body_rate, options_.body_rate_window.count());
    return HttpError{Errc::timeout, fmt::format("request body slower than {} bytes/s",
                                                options_.min_body_rate)};
  }

  HttpError to_error(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      if (rate_deadline_armed_) return too_slow_error();
      return HttpError{Errc::timeout, "timed out reading the body"};
    }
    if (ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
        ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated) {
      return HttpError{Errc::closed, "the client closed the connection"};
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_chunk).category()) {
      return HttpError{Errc::bad_request, "malformed request body: " + ec.message()};
    }
    return HttpError{Errc::closed, "connection error: " + ec.message()};
  }

  HttpError fail_body(beast::error_code ec) {
    body_error_ = to_error(ec);
    return *body_error_;
  }

  // Reads and drops a small unconsumed body so the connection can be reused.
  asio::awaitable<bool> drain_leftover() {
    if (body_error_) co_return false;
    // Without the 100 Continue the client may never send the body.
    if (expect_continue_ && !continue_sent_) co_return false;
    if (!chunked_ && remaining_ > kDrainLimit) co_return false;
    std::byte scratch[16 * 1024];
    std::uint64_t drained = 0;
    while (!body_done()) {
      auto n = co_await read_body_some(std::span<std::byte>(scratch, sizeof scratch));
      if (!n) co_return false;
      drained += *n;
      if (drained > kDrainLimit) co_return false;
    }
    co_return true;
  }

  // Half-closes and discards what the client is still sending, briefly.
  asio::awaitable<void> linger() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    auto until = Clock::now() + kLingerTime;
    lowest().expires_at(until);
    std::uint64_t discarded = 0;
    std::byte scratch[16 * 1024];
    while (discarded < kLingerBytes) {
      auto [read_ec, n] =
          co_await lowest().async_read_some(asio::mutable_buffer(scratch, sizeof scratch),
                                            kUseTuple);
      if (read_ec) break;
      discarded += n;
    }
  }

  asio::awaitable<void> close() {
    if constexpr (kTls) {
      if (lowest().socket().is_open()) {
        lowest().expires_after(std::chrono::seconds(1));
        co_await stream_.async_shutdown(kUseTuple);
      }
    }
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  asio::awaitable<void> write_internal_error() {
    Response response = fault_response();
    co_await write_response(response, false, 11, false);
  }

  struct WriteResult {
    bool ok = false;
    std::uint64_t body_bytes = 0;
  };

  std::string serialize_head(const Response& response, std::uint64_t content_length,
                             bool announce_length, unsigned version, bool keep_alive) {
    std::string head;
    head.reserve(256);
    head += "HTTP/1.1 ";
    head += std::to_string(response.status);
    head += ' ';
    auto reason = bhttp::obsolete_reason(bhttp::int_to_status(response.status));
    head.append(reason.data(), reason.size());
    head += "\r\n";
    head += kRequestIdHeader;
    head += ": ";
    head += request_id_;
    head += "\r\n";
    for (const auto& [name, value] : options_.response_headers) {
      if (response.headers.get(name)) continue;
      head += name;
      head += ": ";
      head += value;
      head += "\r\n";
    }
    for (const auto& [name, value] : response.headers.all()) {
      // The server owns framing and connection management.
      if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
          iequals(name, "Connection") || iequals(name, kRequestIdHeader)) {
        continue;
      }
      if (!header_safe(name) || !header_safe(value) || name.empty()) {
        spdlog::warn("dropping response header with CR/LF: {}", LogText(name).view);
        continue;
      }
      head += name;
      head += ": ";
      head += value;
      head += "\r\n";
    }
    if (announce_length) {
      head += "Content-Length: ";
      head += std::to_string(content_length);
      head += "\r\n";
    }
    if (!keep_alive) {
      head += "Connection: close\r\n";
    } else if (version < 11) {
      head += "Connection: keep-alive\r\n";
    }
    head += "\r\n";
    return head;
  }

  asio::awaitable<WriteResult> write_response(Response& response, bool head_request,
                                              unsigned version, bool keep_alive) {
    WriteResult result;
    unsigned status = response.status;
    bool no_body_status = status < 200 || status == 204 || status == 304;
    std::uint64_t length = response.source ? response.source_length : response.body.size();
    if (head_request) length = response.head_content_length.value_or(length);
    bool announce = !(status < 200 || status == 204);
    std::string head_text = serialize_head(response, length, announce, version, keep_alive);
    bool send_body = !head_request && !no_body_status && length > 0;

    if (!send_body) {
      result.ok = co_await write_all(asio::const_buffer(head_text.data(), head_text.size()));
      co_return result;
    }
    if (!response.source) {
      std::array<asio::const_buffer, 2> buffers{
          asio::const_buffer(head_text.data(), head_text.size()),
          asio::const_buffer(response.body.data(), response.body.size())};
      result.ok = co_await write_all(buffers);
      if (result.ok) result.body_bytes = response.body.size();
      co_return result;
    }
    if constexpr (!kTls) {
      if (response.source->native_handle() >= 0) {
        co_return co_await send_file(head_text, *response.source, response.source_offset,
                                     response.source_length);
      }
    }
    co_return co_await send_copied(head_text, *response.source, response.source_offset,
                                   response.source_length);
  }

  asio::awaitable<bool> write_all(asio::const_buffer buffer) {
    lowest().expires_after(options_.write_timeout);
    auto [ec, n] = co_await asio::async_write(stream_, buffer, kUseTuple);
    co_return !ec;
  }

  asio::awaitable<bool> write_all(const std::array<asio::const_buffer, 2>& buffers) {
    if constexpr (kTls) {
      // With Boost 1.81, a gathered write of a small header and a large body through
      // beast::ssl_stream delivered the header but dropped the body (the TlsListener test
      // covers it); small pairs are still coalesced into one TLS record.
      if (buffers[0].size() + buffers[1].size() > kCoalesceLimit) {
        if (!co_await write_all(buffers[0])) co_return false;
        co_return co_await write_all(buffers[1]);
      }
    }
    lowest().expires_after(options_.write_timeout);
    auto [ec, n] = co_await asio::async_write(stream_, buffers, kUseTuple);
    co_return !ec;
  }

  asio::awaitable<WriteResult> send_copied(const std::string& head_text, BodySource& source,
                                           std::uint64_t offset, std::uint64_t length) {
    WriteResult result;
    if (!chunk_) chunk_ = std::make_unique<std::byte[]>(kStreamChunk);
    bool head_sent = false;
    std::uint64_t done = 0;
    auto last_progress = std::chrono::steady_clock::now();
    while (done < length) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kStreamChunk,
                                                                          length - done));
      auto n = source.read(offset + done, std::span<std::byte>(chunk_.get(), want));
      if (n && *n == 0 && source.may_grow() &&
          std::chrono::steady_clock::now() - last_progress < options_.write_timeout) {
        // The bytes are still on their way to the source: look again shortly.
        asio::steady_timer pause(stream_.get_executor());
        pause.expires_after(kGrowingBodyPoll);
        co_await pause.async_wait(kUseTuple);
        continue;
      }
      last_progress = std::chrono::steady_clock::now();
      if (!n || *n == 0) {
        // The length is already promised; the only honest thing left is to close.
        spdlog::error("response body source failed after {} of {} bytes: {}", done, length,
                      n ? std::string("unexpected end") : n.error().message);
        if (!head_sent) co_await write_internal_error();
        co_return result;
      }
      bool ok = false;
      if (!head_sent) {
        std::array<asio::const_buffer, 2> buffers{
            asio::const_buffer(head_text.data(), head_text.size()),
            asio::const_buffer(chunk_.get(), *n)};
        ok = co_await write_all(buffers);
        head_sent = true;
      } else {
        ok = co_await write_all(asio::const_buffer(chunk_.get(), *n));
      }
      if (!ok) co_return result;
      done += *n;
      result.body_bytes = done;
    }
    result.ok = true;
    co_return result;
  }

  // Waits until the socket is writable; false on timeout or error.
  asio::awaitable<bool> wait_writable(tcp::socket& socket) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(socket.get_executor());
    timer.expires_after(options_.write_timeout);
    auto outcome = co_await (socket.async_wait(tcp::socket::wait_write, kUseTuple) ||
                             timer.async_wait(kUseTuple));
    if (outcome.index() != 0) co_return false;
    auto [ec] = std::get<0>(outcome);
    co_return !ec;
  }

  asio::awaitable<WriteResult> send_file(const std::string& head_text, BodySource& source,
                                         std::uint64_t offset, std::uint64_t length) {
    WriteResult result;
    tcp::socket& socket = lowest().socket();
    beast::error_code ec;
    socket.native_non_blocking(true, ec);
    if (ec) co_return result;
    int fd = socket.native_handle();

    // MSG_MORE lets the kernel put the header and the first file bytes in one segment.
    std::size_t head_sent = 0;
    while (head_sent < head_text.size()) {
      ssize_t n = ::send(fd, head_text.data() + head_sent, head_text.size() - head_sent,
                         MSG_MORE | MSG_NOSIGNAL);
      if (n >= 0) {
        head_sent += static_cast<std::size_t>(n);
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!co_await wait_writable(socket)) co_return result;
        // The deadline may have closed the socket meanwhile, and its descriptor number may
        // already belong to another connection.
        if (!socket.is_open()) co_return result;
      } else {
        co_return result;
      }
    }

    int file = source.native_handle();
    off_t file_offset = static_cast<off_t>(offset);
    std::uint64_t remaining = length;
    std::uint64_t since_yield = 0;
    const std::uint64_t end = offset + length;
    // A body of one sendfile call is left to the kernel's readahead: no extra syscall for the
    // many small blobs and manifests.
    std::uint64_t read_ahead_to = length > kSendfileCallBytes ? offset : end;
    while (remaining > 0) {
      read_ahead(file, static_cast<std::uint64_t>(file_offset), end, read_ahead_to);
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kSendfileCallBytes));
      ssize_t n = ::sendfile(fd, file, &file_offset, want);
      if (n > 0) {
        remaining -= static_cast<std::uint64_t>(n);
        result.body_bytes += static_cast<std::uint64_t>(n);
        since_yield += static_cast<std::uint64_t>(n);
        if (since_yield >= kSendfileYieldBytes && remaining > 0) {
          since_yield = 0;
          co_await asio::post(socket.get_executor(), asio::use_awaitable);
          if (!socket.is_open()) co_return result;
        }
        continue;
      }
      if (n == 0) {
        spdlog::error("file-backed response ended after {} of {} bytes", length - remaining,
                      length);
        co_return result;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!co_await wait_writable(socket) || !socket.is_open()) co_return result;
        continue;
      }
      if (errno != EPIPE && errno != ECONNRESET) {
        spdlog::warn("sendfile failed: {}", std::strerror(errno));
      }
      co_return result;
    }
    result.ok = true;
    co_return result;
  }

  // Keeps the page cache kReadaheadWindow ahead of `sent` (up to `end`), asking for
  // kReadaheadStep at a time. Over cached pages this finds nothing to do; its result does not
  // matter (advice).
  static void read_ahead(int file, std::uint64_t sent, std::uint64_t end, std::uint64_t& to) {
    const std::uint64_t want = std::min(end, sent + kReadaheadWindow);
    while (to < want) {
      const std::uint64_t length = std::min(kReadaheadStep, end - to);
      ::posix_fadvise(file, static_cast<off_t>(to), static_cast<off_t>(length),
                      POSIX_FADV_WILLNEED);
      to += length;
    }
  }

  ServerCore& server_;
  const ServerOptions& options_;
  std::string remote_;
  std::string listener_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::unique_ptr<std::byte[]> chunk_;
  bool idle_ = false;

  // The current request's body state.
  std::optional<std::uint64_t> content_length_;
  std::uint64_t remaining_ = 0;  // Content-Length bodies: bytes not yet read
  bool chunked_ = false;
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  std::optional<HttpError> body_error_;
  std::string request_id_;
  // The minimum body rate: time spent waiting for body bytes in the current window, and the
  // body bytes that arrived in it; whether the read in progress ends at the window's end.
  Clock::duration rate_window_waited_{};
  std::uint64_t rate_window_bytes_ = 0;
  bool rate_deadline_armed_ = false;
};

void ServerCore::register_session(const std::shared_ptr<SessionBase>& session) {
  std::lock_guard lock(sessions_mutex);
  sessions.emplace(session.get(), session);
}

void ServerCore::unregister_session(SessionBase* session) {
  bool last = false;
  {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(session);
    last = sessions.empty();
  }
  if (last && stopping.load()) {
    asio::post(control, [this] {
      deadline.cancel();
      hard_stop.cancel();
    });
  }
}

template <class F>
void ServerCore::for_each_session(F f) {
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lock(sessions_mutex);
    live.reserve(sessions.size());
    for (auto& [ptr, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) f(s);
}

void ServerCore::start_session(tcp::socket socket, const AcceptorSlot& slot) {
  beast::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto remote = socket.remote_endpoint(ec);
  std::string remote_text = ec ? std::string("unknown") : remote.address().to_string();
  auto executor = socket.get_executor();

  auto launch = [&](auto session) {
    register_session(session);
    asio::co_spawn(executor, session->run(),
                   [this, session, remote_text](std::exception_ptr e) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         spdlog::error("connection from {} failed: {}", remote_text, ex.what());
                       } catch (...) {
                         spdlog::error("connection failed with an unknown exception");
                       }
                     }
                     unregister_session(session.get());
                   });
  };
  if (slot.tls) {
    launch(std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        *this, remote_text, slot.listener, beast::tcp_stream(std::move(socket)), *slot.tls));
  } else {
    launch(std::make_shared<Session<beast::tcp_stream>>(*this, remote_text, slot.listener,
                                                       std::move(socket)));
  }
}

asio::awaitable<void> ServerCore::accept_loop(AcceptorSlot& slot) {
  for (;;) {
    auto [ec, socket] = co_await slot.acceptor->async_accept(asio::make_strand(ioc), kUseTuple);
    if (ec) {
      if (stopping.load() || ec == asio::error::operation_aborted || !slot.acceptor->is_open()) {
        co_return;
      }
      // Typically EMFILE: back off instead of spinning on the error.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(control, std::chrono::milliseconds(50));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    start_session(std::move(socket), slot);
  }
}

std::uint16_t ServerCore::bind_listener(const Listener& listener) {
  std::shared_ptr<ssl::context> tls;
  if (listener.tls) {
    tls = std::make_shared<ssl::context>(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                     ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
    beast::error_code ec;
    tls->use_certificate_chain_file(listener.tls->certificate_chain, ec);
    if (ec) {
      throw std::runtime_error(fmt::format("cannot load TLS certificate chain {}: {}",
                                           listener.tls->certificate_chain, ec.message()));
    }
    tls->use_private_key_file(listener.tls->private_key, ssl::context::pem, ec);
    if (ec) {
      throw std::runtime_error(fmt::format("cannot load TLS private key {}: {}",
                                           listener.tls->private_key, ec.message()));
    }
  }

  auto where = endpoint_text(listener.host, listener.port);
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(listener.host, std::to_string(listener.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot listen on {}: {}", where, ec.message()));

  std::uint16_t port = listener.port;
  std::vector<tcp::endpoint> seen;
  std::optional<beast::error_code> first_error;
  std::vector<AcceptorSlot> bound_slots;
  for (const auto& entry : results) {
    tcp::endpoint endpoint = entry.endpoint();
    if (std::find(seen.begin(), seen.end(), endpoint) != seen.end()) continue;
    seen.push_back(endpoint);
    // With port 0, every address of the listener shares the port the first one got.
    endpoint.port(port);
    auto acceptor = std::make_unique<tcp::acceptor>(control);
    auto try_bind = [&]() -> beast::error_code {
      beast::error_code bind_ec;
      acceptor->open(endpoint.protocol(), bind_ec);
      if (bind_ec) return bind_ec;
      acceptor->set_option(asio::socket_base::reuse_address(true), bind_ec);
      if (bind_ec) return bind_ec;
      if (endpoint.address().is_v6()) {
        // Lets "::" and "0.0.0.0" listeners on the same port coexist.
        acceptor->set_option(asio::ip::v6_only(true), bind_ec);
        if (bind_ec) return bind_ec;
      }
      acceptor->bind(endpoint, bind_ec);
      if (bind_ec) return bind_ec;
      acceptor->listen(asio::socket_base::max_listen_connections, bind_ec);
      return bind_ec;
    };
    auto bind_ec = try_bind();
    if (bind_ec) {
      // An address family the host lacks (e.g. ::1 without IPv6) is not an error as long as
      // another address of the listener binds.
      if (bind_ec == boost::system::errc::address_not_available ||
          bind_ec == asio::error::address_family_not_supported) {
        if (!first_error) first_error = bind_ec;
        continue;
      }
      throw std::runtime_error(fmt::format("cannot listen on {}: {}",
                                           endpoint_text(listener.host, port),
                                           bind_ec.message()));
    }
    if (bound_slots.empty()) port = acceptor->local_endpoint().port();
    bound_slots.push_back(AcceptorSlot{std::move(acceptor), tls, listener.name});
  }
  if (bound_slots.empty()) {
    throw std::runtime_error(fmt::format(
        "cannot listen on {}: {}", where,
        first_error ? first_error->message() : std::string("no address to bind")));
  }
  std::lock_guard lock(acceptors_mutex);
  // begin_shutdown closes what is in `acceptors` under this lock: a listener bound after it
  // must not start accepting.
  if (started && stopping.load()) throw std::runtime_error("the server is stopping");
  for (auto& slot : bound_slots) {
    acceptors.push_back(std::move(slot));
    if (accepting) asio::co_spawn(control, accept_loop(acceptors.back()), asio::detached);
  }
  spdlog::info("listening on {}{}", endpoint_text(listener.host, port), tls ? " (TLS)" : "");
  return port;
}

void ServerCore::start() {
  if (started) return;
  for (const auto& listener : options.listeners) ports.push_back(bind_listener(listener));
  started = true;
}

std::uint16_t ServerCore::add_listener(const Listener& listener) {
  if (stopping.load()) throw std::runtime_error("the server is stopping");
  return bind_listener(listener);
}

void ServerCore::run(bool handle_signals) {
  start();
  if (handle_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.async_wait([this](beast::error_code ec, int signal_number) {
      if (ec) return;
      spdlog::info("received signal {}, shutting down", signal_number);
      stop();
    });
  }
  {
    std::lock_guard lock(acceptors_mutex);
    accepting = true;
    for (auto& slot : acceptors) asio::co_spawn(control, accept_loop(slot), asio::detached);
  }
  unsigned count = options.threads;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  pool.reserve(count - 1);
  for (unsigned i = 1; i < count; ++i) pool.emplace_back([this] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  spdlog::info("server stopped");
}

void ServerCore::stop() {
  if (stopping.exchange(true)) return;
  asio::post(control, [this] { begin_shutdown(); });
}

void ServerCore::begin_shutdown() {
  beast::error_code ec;
  {
    std::lock_guard lock(acceptors_mutex);
    for (auto& slot : acceptors) slot.acceptor->close(ec);
  }
  signals.cancel(ec);
  deadline.expires_after(options.shutdown_deadline);
  deadline.async_wait([this](beast::error_code wait_ec) {
    if (!wait_ec) on_deadline();
  });
  bool empty = false;
  {
    std::lock_guard lock(sessions_mutex);
    empty = sessions.empty();
  }
  if (empty) {
    deadline.cancel();
    return;
  }
  for_each_session([](const std::shared_ptr<SessionBase>& session) {
    asio::post(session->executor(), [session] { session->on_shutdown(); });
  });
}

void ServerCore::on_deadline() {
  spdlog::warn("shutdown deadline reached, closing the remaining connections");
  for_each_session([](const std::shared_ptr<SessionBase>& session) {
    asio::post(session->executor(), [session] { session->on_deadline(); });
  });
  // A handler stuck on something other than its connection cannot be cancelled from here.
  hard_stop.expires_after(kHardStopGrace);
  hard_stop.async_wait([this](beast::error_code ec) {
    if (ec) return;
    bool empty = false;
    {
      std::lock_guard lock(sessions_mutex);
      empty = sessions.empty();
    }
    if (!empty) {
      spdlog::error("connections still busy after the shutdown deadline; stopping anyway");
      ioc.stop();
    }
  });
}

}  // namespace

struct Server::Impl : ServerCore {
  using ServerCore::ServerCore;
};

Server::Server(ServerOptions options, const Router& router)
    : impl_(std::make_unique<Impl>(std::move(options), router)) {}

Server::~Server() = default;

void Server::start() { impl_->start(); }

std::vector<std::uint16_t> Server::bound_ports() const { return impl_->ports; }

std::uint16_t Server::add_listener(const Listener& listener) {
  return impl_->add_listener(listener);
}

void Server::run(bool handle_signals) { impl_->run(handle_signals); }

void Server::stop() { impl_->stop(); }

}  // namespace berth::http
