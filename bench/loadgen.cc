// berth_loadgen: load generator and report tool of the side-by-side registry benchmark.
//
//   berth_loadgen suite --target NAME=HOST:PORT:PID ... [--auth-target NAME=HOST:PORT:PID ...]
//                       [--credentials NAME=bearer:REFRESH_TOKEN_FILE ...]
//                       [--credentials NAME=basic:USER:PASSWORD_FILE ...]
//                       [--admin-token-file NAME=ADMIN_TOKEN_FILE]
//                       --workdir DIR --out FILE [--quick] [--only WORKLOAD,...]
//                       [--containerd-socket SOCKET] [--client-dir DIR]
//   berth_loadgen startup --name NAME --out FILE (--port-file F | --addr HOST:PORT)
//                         [--bearer-file F] [--log FILE] -- COMMAND ARGS...
//   berth_loadgen wait (--port-file F | --addr HOST:PORT) [--bearer-file F] [--status CODE]
//                      [--timeout SECONDS]
//   berth_loadgen login --addr HOST:PORT --admin-token-file F --out REFRESH_TOKEN_FILE
//   berth_loadgen freeport
//   berth_loadgen report --in FILE [--json FILE] [--candidate berth] [--baseline ref]
//   berth_loadgen scale (populate|measure|connections|report) ...   (see scale.h)
//
// Targets with credentials also run the "-auth" workloads; an --auth-target runs only those.
// A target with an administrator token (berth's, for its management API) also runs
// push-many-webhooks.
// Secrets are read from files (first line), never taken from the command line. `login`
// exchanges berth's administrator token for a refresh token (POST /oauth2/exchange). The
// readiness probe of wait and startup is GET /v2/ answering 200 (or --status: 401 for a
// server that challenges every caller), sent with `Authorization: Bearer <contents of
// --bearer-file>` when given. ctr-pull fetches into the containerd listening on
// --containerd-socket; skopeo-pull writes its image directory under --client-dir (RAM-backed in
// run.sh, so that the client's disk is not what is measured).
//
// Exit status: 0 when every answer was right, 1 when any was wrong, 2 on usage errors.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "client_auth.h"
#include "http_client.h"
#include "recorder.h"
#include "scale.h"
#include "suite.h"

namespace berth::bench {
namespace {

int usage(const std::string& message) {
  std::cerr << "berth_loadgen: " << message << "\n(see the top of bench/loadgen.cc for usage)\n";
  return 2;
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// "HOST:PORT" -> (host, port)
std::optional<std::pair<std::string, std::uint16_t>> parse_address(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto port = parse_number(text.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return std::nullopt;
  return std::make_pair(std::string(text.substr(0, colon)), static_cast<std::uint16_t>(*port));
}

struct Readiness {
  std::string port_file;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string bearer;  // sent with the probe when not empty
  int status = 200;     // the answer that means ready
};

// The first line of a secret file; throws when it cannot be read or is empty.
std::string read_secret(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) throw std::runtime_error("cannot read " + path);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) throw std::runtime_error(path + " is empty");
  return line;
}

// Polls until GET /v2/ answers readiness.status. Returns the port, or 0 on timeout or when
// `child` exits.
std::uint16_t wait_ready(const Readiness& readiness, double timeout_seconds, pid_t child) {
  const auto start = Clock::now();
  std::uint16_t port = readiness.port;
  for (long polls = 0; polls < 10'000'000 && seconds_since(start) < timeout_seconds; ++polls) {
    if (child > 0) {
      int status = 0;
      if (::waitpid(child, &status, WNOHANG) == child) return 0;
    }
    if (port == 0) {
      std::ifstream in(readiness.port_file);
      std::string text;
      if (in >> text) {
        if (auto value = parse_number(text); value && *value > 0 && *value <= 65535) {
          port = static_cast<std::uint16_t>(*value);
        }
      }
    }
    if (port != 0) {
      Connection connection(readiness.host, port);
      Response response;
      Request probe{"GET", "/v2/", {}, Body::none()};
      if (!readiness.bearer.empty()) {
        probe.headers.emplace_back("Authorization", "Bearer " + readiness.bearer);
      }
      if (connection.send(probe, response) && response.status == readiness.status) {
        return port;
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return 0;
}

bool parse_readiness(const std::vector<std::string>& args, std::size_t& i, Readiness& readiness) {
  if (args[i] == "--port-file" && i + 1 < args.size()) {
    readiness.port_file = args[++i];
    return true;
  }
  if (args[i] == "--addr" && i + 1 < args.size()) {
    auto address = parse_address(args[++i]);
    if (!address) return false;
    readiness.host = address->first;
    readiness.port = address->second;
    return true;
  }
  if (args[i] == "--status" && i + 1 < args.size()) {
    auto status = parse_number(args[++i]);
    if (!status || *status < 200 || *status > 599) return false;
    readiness.status = static_cast<int>(*status);
    return true;
  }
  if (args[i] == "--bearer-file" && i + 1 < args.size()) {
    readiness.bearer = read_secret(args[++i]);
    return true;
  }
  return false;
}

// POST /oauth2/exchange with the administrator token; writes the refresh token (mode 0600).
int command_login(const std::vector<std::string>& args) {
  std::optional<std::pair<std::string, std::uint16_t>> address;
  std::string admin_token_file, out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--addr" && has_value) {
      address = parse_address(args[++i]);
      if (!address) return usage("login: bad --addr");
    } else if (args[i] == "--admin-token-file" && has_value) {
      admin_token_file = args[++i];
    } else if (args[i] == "--out" && has_value) {
      out = args[++i];
    } else {
      return usage("login: unknown argument " + args[i]);
    }
  }
  if (!address || admin_token_file.empty() || out.empty()) return usage("login: missing arguments");
  const std::string form = "grant_type=access_token&access_token=" +
                           url_encode(read_secret(admin_token_file));
  Connection connection(address->first, address->second);
  Response response;
  if (!connection.send({"POST", "/oauth2/exchange",
                        {{"Content-Type", "application/x-www-form-urlencoded"}},
                        Body::from_memory(form)},
                       response)) {
    std::cerr << "berth_loadgen login: " << connection.error() << '\n';
    return 1;
  }
  boost::system::error_code ec;
  auto parsed = boost::json::parse(response.body, ec);
  const boost::json::value* refresh =
      !ec && parsed.is_object() ? parsed.as_object().if_contains("refresh_token") : nullptr;
  if (response.status != 200 || refresh == nullptr || !refresh->is_string() ||
      refresh->as_string().empty()) {
    std::cerr << "berth_loadgen login: POST /oauth2/exchange answered " << response.status
              << " without a refresh_token: " << response.body.substr(0, 300) << '\n';
    return 1;
  }
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const std::string line = std::string(refresh->as_string().c_str()) + "\n";
  const bool written = fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  if (fd >= 0) ::close(fd);
  if (!written) {
    std::cerr << "berth_loadgen login: cannot write " << out << '\n';
    return 1;
  }
  return 0;
}

int command_wait(const std::vector<std::string>& args) {
  Readiness readiness;
  double timeout = 60;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (parse_readiness(args, i, readiness)) continue;
    if (args[i] == "--timeout" && i + 1 < args.size()) {
      timeout = std::stod(args[++i]);
    } else {
      return usage("wait: unknown argument " + args[i]);
    }
  }
  if (readiness.port == 0 && readiness.port_file.empty()) return usage("wait: no address");
  const auto port = wait_ready(readiness, timeout, 0);
  if (port == 0) {
    std::cerr << "berth_loadgen wait: server not ready after " << timeout << " s\n";
    return 1;
  }
  std::cout << port << '\n';
  return 0;
}

int command_freeport() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::cerr << "berth_loadgen freeport: cannot bind\n";
    return 1;
  }
  std::cout << ntohs(address.sin_port) << '\n';
  ::close(fd);
  return 0;
}

// Measures exec -> first 200 from /v2/, then stops the server (SIGTERM, SIGKILL after 20 s).
int command_startup(const std::vector<std::string>& args) {
  Readiness readiness;
  std::string name, out, log = "/dev/null";
  std::vector<std::string> command;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (parse_readiness(args, i, readiness)) continue;
    if (args[i] == "--name" && i + 1 < args.size()) {
      name = args[++i];
    } else if (args[i] == "--out" && i + 1 < args.size()) {
      out = args[++i];
    } else if (args[i] == "--log" && i + 1 < args.size()) {
      log = args[++i];
    } else {
      return usage("startup: unknown argument " + args[i]);
    }
  }
  if (name.empty() || out.empty() || command.empty()) return usage("startup: missing arguments");
  if (readiness.port == 0 && readiness.port_file.empty()) return usage("startup: no address");
  if (!readiness.port_file.empty()) ::unlink(readiness.port_file.c_str());
  Recorder recorder(out);

  std::vector<char*> argv;
  for (auto& word : command) argv.push_back(word.data());
  argv.push_back(nullptr);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const auto start = Clock::now();
  const pid_t child = ::fork();
  if (child == 0) {
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
  if (child < 0) {
    recorder.failure("startup", name, "fork failed");
    return 1;
  }
  const auto port = wait_ready(readiness, 120, child);
  const double elapsed_ms = seconds_since(start) * 1000;
  if (port == 0) {
    recorder.failure("startup", name, "server did not answer GET /v2/ with 200 (see " + log + ")");
  } else {
    recorder.value("startup", "ready", name, elapsed_ms, "ms", "lower");
    const double rss = process_status_mib(child, "VmRSS");
    if (rss >= 0) recorder.value("startup", "rss_ready", name, rss, "MiB", "lower", "max");
  }
  ::kill(child, SIGTERM);
  int status = 0;
  bool reaped = false;
  for (int i = 0; i < 2000 && !reaped; ++i) {
    reaped = ::waitpid(child, &status, WNOHANG) == child;
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!reaped) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    recorder.note("startup", name, "server ignored SIGTERM for 20 s; killed");
  }
  return recorder.failed() ? 1 : 0;
}

// NAME=bearer:REFRESH_TOKEN_FILE or NAME=basic:USER:PASSWORD_FILE; returns what is wrong.
std::string apply_credentials(const std::string& spec, std::vector<TargetSpec>& targets) {
  const auto equals = spec.find('=');
  if (equals == std::string::npos) return "bad --credentials " + spec;
  const std::string name = spec.substr(0, equals);
  const std::string value = spec.substr(equals + 1);
  auto target = std::find_if(targets.begin(), targets.end(),
                             [&](const TargetSpec& t) { return t.name == name; });
  if (target == targets.end()) return "--credentials for unknown target " + name;
  if (value.rfind("bearer:", 0) == 0) {
    target->auth.emplace(ClientAuth::bearer(read_secret(value.substr(7))));
    return {};
  }
  if (value.rfind("basic:", 0) == 0) {
    const auto colon = value.find(':', 6);
    if (colon == std::string::npos || colon == 6) return "bad --credentials " + spec;
    target->auth.emplace(
        ClientAuth::basic(value.substr(6, colon - 6), read_secret(value.substr(colon + 1))));
    return {};
  }
  return "bad --credentials " + spec + " (bearer:FILE or basic:USER:FILE)";
}

// NAME=ADMIN_TOKEN_FILE; returns what is wrong.
std::string apply_admin_token(const std::string& spec, std::vector<TargetSpec>& targets) {
  const auto equals = spec.find('=');
  if (equals == std::string::npos || equals + 1 == spec.size()) {
    return "bad --admin-token-file " + spec;
  }
  const std::string name = spec.substr(0, equals);
  auto target = std::find_if(targets.begin(), targets.end(),
                             [&](const TargetSpec& t) { return t.name == name; });
  if (target == targets.end()) return "--admin-token-file for unknown target " + name;
  target->admin_token = read_secret(spec.substr(equals + 1));
  return {};
}

int command_suite(const std::vector<std::string>& args) {
  SuiteOptions options;
  std::vector<std::string> credentials, admin_tokens;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--quick") {
      options.quick = true;
    } else if ((args[i] == "--target" || args[i] == "--auth-target") && has_value) {
      // NAME=HOST:PORT:PID
      const bool auth_only = args[i] == "--auth-target";
      const std::string spec = args[++i];
      auto equals = spec.find('=');
      auto last_colon = spec.rfind(':');
      if (equals == std::string::npos || last_colon == std::string::npos || last_colon < equals) {
        return usage("bad --target " + spec);
      }
      auto address = parse_address(spec.substr(equals + 1, last_colon - equals - 1));
      auto pid = parse_number(spec.substr(last_colon + 1));
      if (!address || !pid) return usage("bad --target " + spec);
      TargetSpec target{spec.substr(0, equals), address->first, address->second,
                        static_cast<pid_t>(*pid)};
      target.auth_workloads_only = auth_only;
      options.targets.push_back(std::move(target));
    } else if (args[i] == "--credentials" && has_value) {
      credentials.push_back(args[++i]);
    } else if (args[i] == "--admin-token-file" && has_value) {
      admin_tokens.push_back(args[++i]);
    } else if (args[i] == "--workdir" && has_value) {
      options.workdir = args[++i];
    } else if (args[i] == "--containerd-socket" && has_value) {
      options.containerd_socket = args[++i];
    } else if (args[i] == "--client-dir" && has_value) {
      options.client_dir = args[++i];
    } else if (args[i] == "--out" && has_value) {
      options.out = args[++i];
    } else if (args[i] == "--only" && has_value) {
      std::istringstream list(args[++i]);
      std::string name;
      while (std::getline(list, name, ',')) options.only.push_back(name);
    } else {
      return usage("suite: unknown argument " + args[i]);
    }
  }
  if (options.targets.empty() || options.workdir.empty() || options.out.empty()) {
    return usage("suite needs --target, --workdir and --out");
  }
  for (const auto& spec : credentials) {
    if (auto error = apply_credentials(spec, options.targets); !error.empty()) return usage(error);
  }
  for (const auto& spec : admin_tokens) {
    if (auto error = apply_admin_token(spec, options.targets); !error.empty()) return usage(error);
  }
  for (const auto& target : options.targets) {
    if (target.auth_workloads_only && !target.auth) {
      return usage("--auth-target " + target.name + " has no --credentials");
    }
  }
  return run_suite(options);
}

int command_report(const std::vector<std::string>& args) {
  std::string in, json, candidate = "berth", baseline = "ref";
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--in" && has_value) {
      in = args[++i];
    } else if (args[i] == "--json" && has_value) {
      json = args[++i];
    } else if (args[i] == "--candidate" && has_value) {
      candidate = args[++i];
    } else if (args[i] == "--baseline" && has_value) {
      baseline = args[++i];
    } else {
      return usage("report: unknown argument " + args[i]);
    }
  }
  if (in.empty()) return usage("report needs --in");
  return run_report(in, json, baseline, candidate);
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  ::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) return usage("missing command");
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "suite") return command_suite(args);
    if (command == "report") return command_report(args);
    if (command == "startup") return command_startup(args);
    if (command == "wait") return command_wait(args);
    if (command == "freeport") return command_freeport();
    if (command == "login") return command_login(args);
    if (command == "scale") return run_scale(args);
  } catch (const std::exception& e) {
    std::cerr << "berth_loadgen " << command << ": " << e.what() << '\n';
    return 1;
  }
  return usage("unknown command " + command);
}
