#include "tasks/workspace.h"

#include <openssl/evp.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "tasks/process.h"

namespace berth::tasks {
namespace {

namespace fs = std::filesystem;

bool write_file(const fs::path& path, const std::string& text, fs::perms perms,
                std::string& error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    error = "cannot write " + path.string();
    return false;
  }
  std::error_code ec;
  fs::permissions(path, perms, ec);
  if (ec) {
    error = "cannot set the mode of " + path.string() + ": " + ec.message();
    return false;
  }
  return true;
}

// TOML basic strings: the values written here are paths and host names berth made, but quote
// them properly all the same.
std::string toml_string(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string storage_conf(const WorkspacePaths& paths) {
  std::string text = "[storage]\ndriver = \"overlay\"\n";
  text += "graphroot = " + toml_string(paths.graph_root.string()) + "\n";
  text += "runroot = " + toml_string(paths.run_root.string()) + "\n";
  text += "[storage.options.overlay]\nmountopt = \"nodev\"\n";
  return text;
}

std::string registries_conf(const std::vector<RegistryRoute>& routes) {
  // Short names are refused: every image a run uses names its registry.
  std::string text = "unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n";
  for (const auto& route : routes) {
    text += "[[registry]]\n";
    text += "prefix = " + toml_string(route.login_server) + "\n";
    text += "location = " + toml_string(route.location) + "\n";
    text += "insecure = true\n";
  }
  return text;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(in.data()),
                                      static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// containers-auth.json: the run's credentials under both names of each registry (the login
// server images are named by, and the loopback address the mapping sends them to).
std::string auth_json(const std::vector<RegistryRoute>& routes) {
  std::string text = "{\"auths\":{";
  bool first = true;
  for (const auto& route : routes) {
    if (route.username.empty()) continue;
    const std::string auth = base64(route.username + ":" + route.password);
    for (const std::string* host : {&route.login_server, &route.location}) {
      if (!first) text += ",";
      first = false;
      text += "\"" + *host + "\":{\"auth\":\"" + auth + "\"}";
    }
  }
  text += "}}\n";
  return text;
}

// Unescapes the octal escapes /proc/self/mountinfo uses for spaces and the like.
std::string unescape_mount_path(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string digits = field.substr(i + 1, 3);
      if (digits.size() == 3 && std::all_of(digits.begin(), digits.end(),
                                            [](char c) { return c >= '0' && c <= '7'; })) {
        out.push_back(static_cast<char>(std::stoi(digits, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

bool is_at_or_below(const fs::path& path, const fs::path& root) {
  auto [root_end, path_it] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return root_end == root.end();
}

int stop_runc_containers(const fs::path& runc_root, std::string& error) {
  std::error_code ec;
  if (!fs::exists(runc_root, ec)) return 0;
  std::vector<std::string> ids;
  ProcessSpec list{{"runc", "--root", runc_root.string(), "list", "-q"}, {}, "", {}, {}};
  list.environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  list.timeout = std::chrono::seconds(30);
  auto listed = run_process(list, [&](std::string_view line) {
    if (!line.empty()) ids.emplace_back(line);
  });
  if (listed.end != ProcessEnd::exited || listed.exit_code != 0) {
    error = "cannot list the run's containers";
    return 0;
  }
  int stopped = 0;
  for (const auto& id : ids) {
    ProcessSpec remove = list;
    remove.argv = {"runc", "--root", runc_root.string(), "delete", "--force", id};
    auto removed = run_process(remove, {});
    if (removed.end == ProcessEnd::exited && removed.exit_code == 0) {
      ++stopped;
    } else {
      error = "cannot delete container " + id;
    }
  }
  return stopped;
}

}  // namespace

std::optional<Workspace> Workspace::create(const fs::path& runs_dir, const std::string& name,
                                           const std::vector<RegistryRoute>& routes,
                                           std::string& error) {
  WorkspacePaths paths;
  paths.root = runs_dir / name;
  paths.context = paths.root / "context";
  paths.graph_root = paths.root / "storage" / "graph";
  paths.run_root = paths.root / "storage" / "run";
  paths.runc_root = paths.root / "runc";
  paths.temp = paths.root / "tmp";
  paths.home = paths.root / "home";
  paths.storage_conf = paths.root / "storage.conf";
  paths.registries_conf = paths.root / "registries.conf";
  paths.auth_file = paths.root / "auth.json";
  paths.policy_file = paths.root / "policy.json";
  std::error_code ec;
  for (const auto* dir : {&paths.context, &paths.graph_root, &paths.run_root, &paths.runc_root,
                          &paths.temp, &paths.home}) {
    fs::create_directories(*dir, ec);
    if (ec) {
      error = "cannot create " + dir->string() + ": " + ec.message();
      return std::nullopt;
    }
  }
  fs::permissions(paths.root, fs::perms::owner_all, ec);
  const auto private_file = fs::perms::owner_read | fs::perms::owner_write;
  if (!write_file(paths.storage_conf, storage_conf(paths), private_file, error) ||
      !write_file(paths.registries_conf, registries_conf(routes), private_file, error) ||
      !write_file(paths.auth_file, auth_json(routes), private_file, error) ||
      !write_file(paths.policy_file,
                  "{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}\n", private_file,
                  error)) {
    return std::nullopt;
  }
  return Workspace(std::move(paths));
}

std::vector<std::pair<std::string, std::string>> Workspace::environment() const {
  return {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"HOME", paths_.home.string()},
      {"TMPDIR", paths_.temp.string()},
      {"CONTAINERS_STORAGE_CONF", paths_.storage_conf.string()},
      {"CONTAINERS_REGISTRIES_CONF", paths_.registries_conf.string()},
      {"REGISTRY_AUTH_FILE", paths_.auth_file.string()},
      {"BUILDAH_ISOLATION", "oci"},
      {"XDG_RUNTIME_DIR", paths_.run_root.string()},
  };
}

std::vector<fs::path> mounts_below(const fs::path& root) {
  std::vector<fs::path> found;
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  const fs::path normal_root = root.lexically_normal();
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root_in_fs, mount_point;
    if (!(fields >> id >> parent >> device >> root_in_fs >> mount_point)) continue;
    fs::path path = fs::path(unescape_mount_path(mount_point)).lexically_normal();
    if (is_at_or_below(path, normal_root)) found.push_back(path);
  }
  // Deepest first, and a point mounted over twice is listed twice (unmounted twice).
  std::stable_sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
  });
  return found;
}

ReapReport reap_workspace(const fs::path& root) {
  ReapReport report;
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    report.removed = true;
    return report;
  }
  report.containers = stop_runc_containers(root / "runc", report.error);
  // Up to three passes: unmounting a parent may reveal nothing new, but a mount propagated
  // while the first pass ran is caught by the next.
  for (int pass = 0; pass < 3; ++pass) {
    auto mounts = mounts_below(root);
    if (mounts.empty()) break;
    for (const auto& mount : mounts) {
      if (::umount2(mount.c_str(), MNT_DETACH) == 0) {
        ++report.mounts;
      } else if (pass == 2) {
        report.error = "cannot unmount " + mount.string() + ": " + std::strerror(errno);
      }
    }
  }
  fs::remove_all(root, ec);
  if (ec) {
    report.error = "cannot remove " + root.string() + ": " + ec.message();
  } else {
    report.removed = true;
  }
  return report;
}

}  // namespace berth::tasks
