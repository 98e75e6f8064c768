#include "cli/config_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace berth::cli {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string errno_text(int error) { return std::strerror(error); }

// Writes all of `data` to `fd`, retrying short writes.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Environment Environment::process() {
  return {[](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  }};
}

Result<fs::path> config_file_path(const Environment& env) {
  // The XDG base directory spec says relative values are invalid and must be ignored.
  if (auto xdg = env.get("XDG_CONFIG_HOME"); xdg && fs::path(*xdg).is_absolute()) {
    return fs::path(*xdg) / "berth" / "config.json";
  }
  if (auto home = env.get("HOME")) return fs::path(*home) / ".config" / "berth" / "config.json";
  return failure("cannot find the config directory: neither XDG_CONFIG_HOME nor HOME is set");
}

Result<Settings> load_settings(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (!fs::exists(file)) return Settings{};
    return failure(fmt::format("cannot read config file {}", file.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  if (ec || !doc.is_object()) {
    return failure(fmt::format("config file {} is not a JSON object", file.string()));
  }
  Settings settings;
  for (auto [key, field] :
       {std::pair{"server", &settings.server}, std::pair{"token", &settings.token}}) {
    const json::value* value = doc.as_object().if_contains(key);
    if (value == nullptr || value->is_null()) continue;
    if (!value->is_string()) {
      return failure(fmt::format("config file {}: \"{}\" is not a string", file.string(), key));
    }
    *field = std::string(value->as_string());
  }
  return settings;
}

Result<void> save_settings(const fs::path& file, const Settings& settings) {
  const fs::path dir = file.parent_path();
  std::error_code fs_error;
  fs::create_directories(dir, fs_error);
  if (fs_error) {
    return failure(fmt::format("cannot create {}: {}", dir.string(), fs_error.message()));
  }
  // Tighten the berth directory whether or not it existed; its parents are the user's business.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return failure(fmt::format("cannot set the mode of {}: {}", dir.string(), errno_text(errno)));
  }

  json::object doc;
  if (!settings.server.empty()) doc["server"] = settings.server;
  if (!settings.token.empty()) doc["token"] = settings.token;
  std::string text = json::serialize(doc) + "\n";

  return write_private_file(file, text);
}

Result<void> write_private_file(const fs::path& file, std::string_view text) {
  // Write beside the target with O_EXCL and mode 0600 from the start, then rename over it:
  // the secret is never readable by others, not even briefly, and a crash leaves the old file.
  fs::path temp = file;
  temp += fmt::format(".tmp.{}", ::getpid());
  ::unlink(temp.c_str());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return failure(fmt::format("cannot write {}: {}", temp.string(), errno_text(errno)));
  }
  bool ok = ::fchmod(fd, 0600) == 0 && write_all(fd, text) && ::fsync(fd) == 0;
  int saved_errno = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(temp.c_str(), file.c_str()) != 0) {
    if (ok) saved_errno = errno;
    ::unlink(temp.c_str());
    return failure(fmt::format("cannot write {}: {}", file.string(), errno_text(saved_errno)));
  }
  return {};
}

std::optional<std::string> check_server_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return fmt::format("server URL '{}' must start with http:// or https://", url);
  }
  if (rest.empty() || rest.front() == '/') {
    return fmt::format("server URL '{}' has no host", url);
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '?' || c == '#') {
      return fmt::format("server URL '{}' may not contain spaces, '?' or '#'", url);
    }
  }
  return std::nullopt;
}

std::string normalize_server_url(std::string_view url) {
  while (url.ends_with('/')) url.remove_suffix(1);
  return std::string(url);
}

Settings resolve_settings(const Settings& flags, const Environment& env, const Settings& file) {
  auto pick = [&](const std::string& flag, std::string_view env_name, const std::string& stored) {
    if (!flag.empty()) return flag;
    if (auto value = env.get(env_name)) return *value;
    return stored;
  };
  return {normalize_server_url(pick(flags.server, "BERTH_SERVER", file.server)),
          pick(flags.token, "BERTH_TOKEN", file.token)};
}

}  // namespace berth::cli
