#pragma once
// The composition root: configuration -> storage, metadata, registry, routes, HTTP server.
// main() and the in-process API tests both run berthd through App.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/config.h"

namespace berth::server {

class App {
 public:
  // Opens (creating if needed) the data directory and the backends, builds the routes and binds
  // the listeners. Throws std::runtime_error with a one-line reason when it cannot.
  explicit App(const Config& config);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  std::vector<std::uint16_t> bound_ports() const;
  // Serves until stop() (or SIGTERM/SIGINT when `handle_signals`), then drains and returns.
  void run(bool handle_signals);
  void stop();
  // The deployment administrator token when this start created it (first start of a data
  // directory without BERTH_INITIAL_ADMIN_TOKEN); main prints it once.
  const std::optional<std::string>& generated_admin_token() const;

  // What a first start (fresh data directory) prints so a push is two steps away: the default
  // registry's admin user, enabled by that start, and where it answers.
  struct FirstLogin {
    std::string username;
    std::string password;
    std::string host;
    std::uint16_t port = 0;
  };
  const std::optional<FirstLogin>& first_login() const;

 private:
  void set_up_access_control(const Config& config);
  void start_events(const Config& config);
  // Garbage collection and the content lifecycle job (expiry, retention, purge schedules).
  void start_gc(const Config& config);
  // Credential sets, cache rules, and the worker that runs imports.
  void start_upstream(const Config& config);
  void start_tasks();
  void start_runner(const Config& config);
  void enable_first_login(const std::string& registry);
  bool open_admin_credential(const Config& config);
  void open_and_check_deployment_key(const Config& config);
  void make_leases(const Config& config);

  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace berth::server
