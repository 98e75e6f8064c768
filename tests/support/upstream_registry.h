#pragma once
// For tests: a real upstream registry, Debian's docker-registry (distribution 2.8), on a free
// port of 127.0.0.1 in a temp dir of its own, with a generated configuration:
//   - plain: HTTP, no authentication;
//   - tls_htpasswd: HTTPS with a self-signed certificate for 127.0.0.1 (made by `openssl`),
//     whose PEM tests pass to clients as their CA bundle, and Basic authentication against an
//     htpasswd file (bcrypt, made by `htpasswd -Bbn`).
// Its access log is kept, so tests can count what clients asked the upstream for.
//
//   std::string error;
//   auto upstream = UpstreamRegistry::start(UpstreamRegistry::Mode::plain, error);
//   if (!upstream) { if (skips_allowed()) GTEST_SKIP() << error; FAIL() << error; }
//
// A missing program (docker-registry, htpasswd, openssl) is named in `error`.

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace berth::testing {

// One line of the access log.
struct LoggedRequest {
  std::string method;
  std::string target;  // path and query, as sent
  int status = 0;
  std::string path() const;  // the target without its query
};

class UpstreamRegistry {
 public:
  enum class Mode { plain, tls_htpasswd };

  // nullptr with `error` set (what is missing, or the end of the registry's log).
  static std::unique_ptr<UpstreamRegistry> start(Mode mode, std::string& error);
  ~UpstreamRegistry();
  UpstreamRegistry(const UpstreamRegistry&) = delete;
  UpstreamRegistry& operator=(const UpstreamRegistry&) = delete;

  Mode mode() const { return mode_; }
  int port() const { return port_; }
  std::string host() const;      // "127.0.0.1:<port>"
  std::string base_url() const;  // "http://127.0.0.1:<port>" or "https://..."
  // tls_htpasswd only: the one user's name and password, and the certificate (PEM).
  const std::string& username() const { return username_; }
  const std::string& password() const { return password_; }
  std::filesystem::path certificate() const { return directory_ / "cert.pem"; }
  const std::filesystem::path& directory() const { return directory_; }

  // Stops the registry (its content stays); restart() starts it again on the same port with
  // the same content, false with `error` set when it cannot.
  void stop();
  bool restart(std::string& error);

  // Every request logged so far, in order. The registry logs a request as it finishes, so
  // this waits until the log has been still for a moment.
  std::vector<LoggedRequest> requests() const;
  // How many `method` requests for `path` (without query) are in the log.
  std::size_t count(std::string_view method, std::string_view path) const;

 private:
  UpstreamRegistry() = default;
  // On `port`, or a free port when 0.
  bool launch(std::string& error, int port = 0);

  Mode mode_ = Mode::plain;
  std::filesystem::path directory_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string username_;
  std::string password_;
};

// A self-signed certificate and key for 127.0.0.1, written as <directory>/<name>.pem and
// <directory>/<name>-key.pem by `openssl`. "" on success, else the error.
std::string make_self_signed_certificate(const std::filesystem::path& directory,
                                         const std::string& name);

}  // namespace berth::testing
