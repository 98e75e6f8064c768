// berthd: the registry server.

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "server/app.h"
#include "server/backends.h"
#include "server/config.h"
#include "server/logging.h"
#include "server/migrate.h"

#include "common/lsan_suppressions.h"

int main(int argc, char** argv) {
  // glibc gives each thread that allocates an arena of its own, up to 8 per core; the blocking
  // pool's threads would each keep one, mostly empty but resident. Two are plenty for a server
  // whose hot paths hardly allocate.
  mallopt(M_ARENA_MAX, 2);
  auto outcome = berth::server::load_config(argc, argv);
  if (!outcome.config) return outcome.exit_code;
  const auto& config = *outcome.config;
  berth::server::configure_logging(config.log_format, config.log_level);
  if (outcome.migrate) return berth::server::run_migrate_command(config, *outcome.migrate);
  try {
    berth::server::App app(config);
    if (const auto& token = app.generated_admin_token()) {
      // Shown once: only its hash is stored. Printed on stdout, never to the log.
      std::cout << "berthd: deployment administrator token: " << *token << std::endl;
    }
    if (const auto& login = app.first_login()) {
      // The default registry's admin user, enabled by this first start; its passwords stay
      // readable with `berth credential show`. Printed on stdout, never to the log.
      std::cout << "berthd: log in to the default registry with:\n  podman login "
                   "--tls-verify=false "
                << login->host << ':' << login->port << " -u " << login->username << " -p "
                << login->password << std::endl;
    }
    spdlog::info("berthd {} serving on port(s) {}: metadata {}, storage {}", BERTH_VERSION,
                 fmt::join(app.bound_ports(), ", "), berth::server::describe_metadata(config),
                 berth::server::describe_storage(config));
    app.run(/*handle_signals=*/true);
    spdlog::info("berthd stopped");
  } catch (const std::exception& e) {
    std::cerr << "berthd: " << e.what() << '\n';
    return berth::server::kExitStartupFailure;
  }
  return 0;
}
