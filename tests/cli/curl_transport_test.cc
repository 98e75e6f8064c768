// CurlTransport against a one-connection-at-a-time HTTP/1.1 stub on a raw socket.

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "cli/http_client.h"
#include "cli/management_client.h"

namespace berth::cli {
namespace {

// Accepts connections on 127.0.0.1:<ephemeral>, reads one request per connection (headers and
// a Content-Length body), records it and writes `respond(request)` before closing.
class StubServer {
 public:
  explicit StubServer(std::function<std::string(const std::string&)> respond)
      : respond_(std::move(respond)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~StubServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string authority() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string last_request() {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  void serve() {
    while (!stopping_) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string request;
      char buffer[4096];
      std::size_t header_end = std::string::npos;
      std::size_t want = 0;
      for (;;) {
        ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        request.append(buffer, static_cast<std::size_t>(n));
        // Not HTTP (a TLS ClientHello): answer at once, as an HTTP server rejects it.
        if (request.front() < 'A' || request.front() > 'Z') break;
        if (header_end == std::string::npos) {
          header_end = request.find("\r\n\r\n");
          if (header_end == std::string::npos) continue;
          auto at = request.find("Content-Length: ");
          std::size_t length = 0;
          if (at != std::string::npos && at < header_end)
            length = std::stoul(request.substr(at + 16));
          want = header_end + 4 + length;
        }
        if (request.size() >= want) break;
      }
      {
        std::lock_guard lock(mutex_);
        last_ = request;
      }
      std::string response = respond_(request);
      ::send(client, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  std::function<std::string(const std::string&)> respond_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::string last_;
  std::thread thread_;
};

std::string http_response(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

class CurlTransportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  static void TearDownTestSuite() { curl_global_cleanup(); }
};

TEST_F(CurlTransportTest, SendsMethodHeadersAndBodyAndReadsTheAnswer) {
  StubServer server(
      [](const std::string&) { return http_response(201, "Created", R"({"name":"abcde"})"); });
  CurlTransport transport;
  auto response = transport.send({"PATCH",
                                  server.url() + "/mgmt/v1/registries/abcde",
                                  {"Authorization: Bearer xyz", "Content-Type: application/json"},
                                  R"({"tier":"Premium"})"});
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, R"({"name":"abcde"})");
  std::string request = server.last_request();
  EXPECT_TRUE(request.starts_with("PATCH /mgmt/v1/registries/abcde HTTP/1.1\r\n")) << request;
  EXPECT_NE(request.find("\r\nAuthorization: Bearer xyz\r\n"), std::string::npos);
  EXPECT_TRUE(request.ends_with("\r\n\r\n{\"tier\":\"Premium\"}")) << request;
}

TEST_F(CurlTransportTest, UploadsAFileAndReadsTheAnswersHeaders) {
  StubServer server([](const std::string&) {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Berth-Log-Next-Offset:  42 \r\n"
           "Connection: close\r\nContent-Length: 2\r\n\r\nok";
  });
  char pattern[] = "/tmp/berth-upload-XXXXXX";
  int fd = ::mkstemp(pattern);
  ASSERT_GE(fd, 0);
  const std::string bytes(300 * 1024, 'z');
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  CurlTransport transport;
  HttpRequest request{"PUT", server.url() + "/upload", {"Content-Type: application/gzip"}, {}};
  request.body_file = pattern;
  auto response = transport.send(request);
  ::unlink(pattern);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "ok");
  EXPECT_EQ(response->header("x-berth-log-next-offset"), "42");
  EXPECT_EQ(response->header("content-type"), "text/plain");
  EXPECT_EQ(response->header("X-Missing"), std::nullopt);
  std::string received = server.last_request();
  EXPECT_TRUE(received.starts_with("PUT /upload HTTP/1.1\r\n")) << received.substr(0, 200);
  EXPECT_NE(received.find("\r\nContent-Length: 307200\r\n"), std::string::npos);
  EXPECT_TRUE(received.ends_with("\r\n\r\n" + bytes));
}

TEST_F(CurlTransportTest, AnUploadOfAFileThatIsNotThereSendsNothing) {
  CurlTransport transport;
  HttpRequest request{"PUT", "http://127.0.0.1:9/upload", {}, {}};
  request.body_file = "/nonexistent/berth-archive.tar.gz";
  auto response = transport.send(request);
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().message.find("cannot read /nonexistent/berth-archive.tar.gz"),
            std::string::npos)
      << response.error().message;
}

TEST_F(CurlTransportTest, ErrorStatusIsAResponseNotAFailure) {
  StubServer server([](const std::string&) {
    return http_response(404, "Not Found",
                         R"({"error":{"code":"RegistryNotFound","message":"no such registry"}})");
  });
  CurlTransport transport;
  ManagementClient client(transport, {server.url(), "xyz"});
  auto answer = client.get_registry("abcde");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, ExitCode::kNotFound);
  EXPECT_EQ(answer.error().message, "no such registry");
  EXPECT_TRUE(server.last_request().starts_with("GET /mgmt/v1/registries/abcde HTTP/1.1\r\n"));
}

TEST_F(CurlTransportTest, RedirectsAreNotFollowed) {
  StubServer server([](const std::string&) {
    return "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/steal\r\nContent-Length: 0\r\n"
           "Connection: close\r\n\r\n";
  });
  CurlTransport transport;
  auto response = transport.send({"GET", server.url() + "/mgmt/v1/registries", {}, {}});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 302);
}

TEST_F(CurlTransportTest, OversizedAnswerIsRefused) {
  StubServer server(
      [](const std::string&) { return http_response(200, "OK", std::string(4096, 'x')); });
  CurlOptions options;
  options.max_response_bytes = 1000;
  CurlTransport transport(options);
  auto response = transport.send({"GET", server.url() + "/", {}, {}});
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().message.find("larger than 1000 bytes"), std::string::npos);
}

TEST_F(CurlTransportTest, ConnectionRefusedIsANetworkFailure) {
  std::string url;
  {
    StubServer server([](const std::string&) { return std::string(); });
    url = server.url();
  }  // closed: nothing listens on the port now
  CurlTransport transport;
  auto response = transport.send({"GET", url + "/mgmt/v1/registries", {}, {}});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ExitCode::kFailure);
  EXPECT_TRUE(response.error().message.starts_with("cannot reach the server: "))
      << response.error().message;
}

TEST_F(CurlTransportTest, HttpsToAPlainHttpPortSaysSoInOneLine) {
  StubServer server([](const std::string&) { return http_response(400, "Bad Request", ""); });
  CurlTransport transport;
  auto response =
      transport.send({"GET", "https://" + server.authority() + "/mgmt/v1/registries", {}, {}});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ExitCode::kFailure);
  EXPECT_EQ(response.error().message, "cannot reach the server: " + server.authority() +
                                          " does not speak TLS (a plain HTTP port?); use http://" +
                                          server.authority());
}

TEST_F(CurlTransportTest, HttpToATlsPortSaysSoInOneLine) {
  // What a TLS server answers to a plain-HTTP request: a TLS alert record.
  StubServer server(
      [](const std::string&) { return std::string("\x15\x03\x03\x00\x02\x02\x46", 7); });
  CurlTransport transport;
  auto response = transport.send({"GET", server.url() + "/mgmt/v1/registries", {}, {}});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().message, "cannot reach the server: " + server.authority() +
                                          " sent no HTTP answer (a TLS port?); use https://" +
                                          server.authority());
}

}  // namespace
}  // namespace berth::cli
