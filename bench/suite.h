#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client_auth.h"

namespace berth::bench {

struct TargetSpec {
  std::string name;
  std::string host;
  std::uint16_t port = 0;
  pid_t pid = 0;
  std::optional<ClientAuth> auth;   // credentials; a target with them runs the -auth workloads
  bool auth_workloads_only = false;  // runs only the -auth workloads
  std::string admin_token;           // berth's administrator token (management API); may be empty
};

struct SuiteOptions {
  std::vector<TargetSpec> targets;
  bool quick = false;
  std::string workdir;             // scratch space for blob files
  std::string out;                 // JSON-lines results, appended
  std::vector<std::string> only;   // workload names; empty = all
  std::string containerd_socket;   // for ctr-pull
  std::string client_dir;          // RAM-backed scratch for the clients' output (default: workdir)
};

// Runs every workload against every target; returns non-zero if any answer was wrong.
int run_suite(const SuiteOptions& options);

// Prints the comparison table of a results file and writes the summary JSON.
int run_report(const std::string& results, const std::string& json_out,
               const std::string& baseline, const std::string& candidate);

}  // namespace berth::bench
