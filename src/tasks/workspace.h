#pragma once
// A run's workspace: one directory under <data-dir>/tasks/runs/ holding everything the run
// creates: the unpacked context, the container storage (overlay graph root and run root),
// runc's state, temp files and the configuration files that point buildah at them. Nothing of
// a run lives elsewhere, so removing the directory removes the run, and a berthd that was
// killed finds every left-over run by listing one folder.
//
// Reaping (after a run, and at start-up for what a killed predecessor left): stop and delete
// the runc containers in the workspace's state root, unmount every mount below the directory
// (overlay layers, the storage's own bind mounts), deepest first, then delete the tree.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace berth::tasks {

struct WorkspacePaths {
  std::filesystem::path root;          // the run's directory
  std::filesystem::path context;       // the build context (unpacked archive or clone)
  std::filesystem::path graph_root;    // container storage
  std::filesystem::path run_root;
  std::filesystem::path runc_root;     // runc's state (--root)
  std::filesystem::path temp;          // TMPDIR
  std::filesystem::path home;          // HOME (buildah's per-user files)
  std::filesystem::path storage_conf;  // CONTAINERS_STORAGE_CONF
  std::filesystem::path registries_conf;  // CONTAINERS_REGISTRIES_CONF
  std::filesystem::path auth_file;        // REGISTRY_AUTH_FILE (0600)
  std::filesystem::path policy_file;      // signature policy (accept anything: berth pins by digest)
};

// How the run reaches registries: `login_server` (what image names say) is mapped to the
// loopback address berthd serves the run's registry on.
struct RegistryRoute {
  std::string login_server;  // e.g. "myreg.example.com" or "localhost:5000"
  std::string location;      // e.g. "127.0.0.1:41234"
  std::string username;      // the run's credentials
  std::string password;
};

class Workspace {
 public:
  // Creates <runs_dir>/<name> with its folders and configuration (error text on failure).
  static std::optional<Workspace> create(const std::filesystem::path& runs_dir,
                                         const std::string& name,
                                         const std::vector<RegistryRoute>& routes,
                                         std::string& error);
  const WorkspacePaths& paths() const { return paths_; }
  // The environment every process of the run gets (no variable of berthd's own).
  std::vector<std::pair<std::string, std::string>> environment() const;

 private:
  explicit Workspace(WorkspacePaths paths) : paths_(std::move(paths)) {}
  WorkspacePaths paths_;
};

struct ReapReport {
  int containers = 0;  // runc containers stopped and deleted
  int mounts = 0;      // mounts undone
  bool removed = false;
  std::string error;   // what could not be cleaned, if anything
};

// Cleans up one workspace directory completely (see above).
ReapReport reap_workspace(const std::filesystem::path& root);

// The mount points at or below `root`, deepest first (from /proc/self/mountinfo).
std::vector<std::filesystem::path> mounts_below(const std::filesystem::path& root);

}  // namespace berth::tasks
