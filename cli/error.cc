#include "cli/error.h"

namespace berth::cli {

ExitCode exit_code_for_status(long status) {
  switch (status) {
    case 400:
    case 422:
      return ExitCode::kUsage;
    case 401:
    case 403:
      return ExitCode::kAuth;
    case 404:
      return ExitCode::kNotFound;
    case 409:
      return ExitCode::kConflict;
    default:
      return ExitCode::kFailure;
  }
}

std::string_view exit_codes_help() {
  return "Exit codes:\n"
         "  0  success\n"
         "  1  server or network error (5xx, unreachable server, unreadable config file), a\n"
         "     purge that could not delete some of what it chose, or a job berth waited for\n"
         "     (import, gc run --wait, build, run) that did not succeed\n"
         "  2  usage error: bad flags or arguments (checked before calling the server), or a\n"
         "     request the server rejected as invalid (400)\n"
         "  3  authentication failure: no token, or the server refused it (401, 403)\n"
         "  4  not found (404): no such registry, repository, tag, manifest, token, scope\n"
         "     map, identity, role assignment, webhook, webhook event, credential set, cache\n"
         "     rule, import or run\n"
         "  5  conflict (409): name taken, tier downgrade blocked, limit exceeded, deleting\n"
         "     the default registry, admin user disabled, scope map or credential set in use\n"
         "Errors are one line on standard error, \"berth: <message>\"; nothing goes to standard\n"
         "output then. A purge prints what it deleted, then one such line per item it could\n"
         "not delete; a verb that waits for a job writes its progress there first.";
}

}  // namespace berth::cli
