#pragma once
// Where the CLI finds its server and token: flags, then environment, then the config file.
//
// The config file is JSON, {"server": "...", "token": "..."}, at
//   $XDG_CONFIG_HOME/berth/config.json   when XDG_CONFIG_HOME is set to an absolute path
//   $HOME/.config/berth/config.json      otherwise
// The directory is created 0700 and the file written 0600 (atomically, by rename).

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cli/error.h"

namespace berth::cli {

// The process environment, injectable so tests do not depend on the real one. Empty values
// count as unset.
struct Environment {
  std::function<std::optional<std::string>(std::string_view name)> get;
  static Environment process();
};

struct Settings {
  std::string server;  // "http(s)://host[:port]" with no trailing slash
  std::string token;
};

// Fails (kFailure) when neither XDG_CONFIG_HOME nor HOME gives a directory.
Result<std::filesystem::path> config_file_path(const Environment& env);

// A missing file gives empty settings; a file that is not the expected JSON is an error.
Result<Settings> load_settings(const std::filesystem::path& file);

// Creates the directory (0700) if needed and replaces the file (0600).
Result<void> save_settings(const std::filesystem::path& file, const Settings& settings);

// Replaces `file` atomically (temp file beside it, fsync, rename) with `text`, mode 0600 from
// the first byte; the directory must exist.
Result<void> write_private_file(const std::filesystem::path& file, std::string_view text);

// Empty optional: accepted. Otherwise the reason, for a usage error.
std::optional<std::string> check_server_url(std::string_view url);

// Drops trailing slashes.
std::string normalize_server_url(std::string_view url);

// Flag beats environment (BERTH_SERVER, BERTH_TOKEN) beats file, field by field.
Settings resolve_settings(const Settings& flags, const Environment& env, const Settings& file);

}  // namespace berth::cli
