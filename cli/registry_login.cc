#include "cli/registry_login.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/management_client.h"
#include "cli/output.h"

namespace berth::cli {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

// "host", "host:port", "[v6]" or "[v6]:port".
bool valid_host_and_port(std::string_view text) {
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view inside = text.substr(1, close - 1);
    bool hex = std::all_of(inside.begin(), inside.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
             c == ':' || c == '.';
    });
    if (!hex) return false;
    std::string_view after = text.substr(close + 1);
    if (after.empty()) return true;
    return after.front() == ':' && valid_port(after.substr(1));
  }
  auto colon = text.find(':');
  std::string_view host = text.substr(0, colon);
  if (colon != std::string_view::npos && !valid_port(text.substr(colon + 1))) return false;
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), is_host_char);
}

// The message of a token-service error answer: the management envelope, the OCI
// {"errors":[{"message"}]} or OAuth's {"error","error_description"}; else the status.
Error token_service_error(const HttpResponse& response) {
  Error error = error_from_response(response);
  boost::system::error_code ec;
  json::value doc = json::parse(response.body, ec);
  if (ec || !doc.is_object()) return error;
  const json::object& object = doc.as_object();
  if (const auto* errors = object.if_contains("errors");
      errors != nullptr && errors->is_array() && !errors->as_array().empty()) {
    const json::value& first = errors->as_array().front();
    if (const auto* message = first.is_object() ? first.as_object().if_contains("message") : nullptr;
        message != nullptr && message->is_string() && !message->as_string().empty()) {
      error.message = std::string(message->as_string());
    }
  }
  const auto* code = object.if_contains("error");
  const auto* description = object.if_contains("error_description");
  if (code != nullptr && code->is_string()) {
    error.message = std::string(code->as_string());
    if (description != nullptr && description->is_string() && !description->as_string().empty()) {
      error.message += ": ";
      error.message += description->as_string();
    }
  }
  for (char& c : error.message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return error;
}

Result<json::object> read_auth_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ignored;
    if (!fs::exists(file, ignored)) return json::object{};
    return failure(fmt::format("cannot read {}", file.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find_first_not_of(" \t\r\n") == std::string::npos) return json::object{};
  boost::system::error_code ec;
  json::value doc = json::parse(text.str(), ec);
  if (ec || !doc.is_object()) {
    return failure(
        fmt::format("{} is not a JSON object; fix or remove it, berth leaves it alone",
                    file.string()));
  }
  const json::value* auths = doc.as_object().if_contains("auths");
  if (auths != nullptr && !auths->is_object() && !auths->is_null()) {
    return failure(
        fmt::format("{}: \"auths\" is not an object; fix it, berth leaves the file alone",
                    file.string()));
  }
  return std::move(doc.as_object());
}

// Creates each missing directory of `dir` with mode 0700; existing ones are left as they are
// (they may be shared, like /run/user/<uid>).
Result<void> make_private_directories(const fs::path& dir) {
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      return failure(fmt::format("cannot create {}: {}", it->string(), std::strerror(errno)));
    }
    ::chmod(it->c_str(), 0700);  // whatever the umask
  }
  return {};
}

}  // namespace

Result<LoginServer> parse_login_server(std::string_view text) {
  LoginServer server;
  std::string_view rest = text;
  std::string_view scheme;
  for (std::string_view prefix : {"http://", "https://"}) {
    if (rest.starts_with(prefix)) {
      scheme = prefix;
      rest.remove_prefix(prefix.size());
      break;
    }
  }
  while (!scheme.empty() && rest.ends_with('/')) rest.remove_suffix(1);
  if (!valid_host_and_port(rest)) {
    return usage_error(fmt::format(
        "login server '{}' must be HOST[:PORT] or http(s)://HOST[:PORT], without a path", text));
  }
  server.host = std::string(rest);
  if (!scheme.empty()) {
    server.base_url = std::string(scheme);
    server.base_url += rest;
  }
  return server;
}

std::string host_of_url(std::string_view url) {
  if (auto scheme = url.find("://"); scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  return std::string(url.substr(0, url.find('/')));
}

std::string form_encode(const FormFields& fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body += '&';
    body += percent_encode(name);
    body += '=';
    body += percent_encode(value);
  }
  return body;
}

Result<std::string> exchange_refresh_token(HttpTransport& transport, std::string_view base_url,
                                           const FormFields& form) {
  HttpRequest request;
  request.method = "POST";
  request.url = std::string(base_url);
  request.url += "/oauth2/exchange";
  request.headers.push_back("Accept: application/json");
  request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  request.body = form_encode(form);
  auto response = transport.send(request);
  if (!response) return response.error();
  if (response->status < 200 || response->status > 299) return token_service_error(*response);
  boost::system::error_code ec;
  json::value doc = json::parse(response->body, ec);
  const json::value* token =
      !ec && doc.is_object() ? doc.as_object().if_contains("refresh_token") : nullptr;
  if (token == nullptr || !token->is_string() || token->as_string().empty()) {
    return failure("the token service's answer has no refresh_token");
  }
  return std::string(token->as_string());
}

Result<fs::path> docker_config_file(const Environment& env) {
  if (auto dir = env.get("DOCKER_CONFIG")) return fs::path(*dir) / "config.json";
  if (auto home = env.get("HOME")) return fs::path(*home) / ".docker" / "config.json";
  return failure("cannot find the docker config: neither DOCKER_CONFIG nor HOME is set");
}

Result<fs::path> containers_auth_file(const Environment& env, unsigned uid) {
  if (auto file = env.get("REGISTRY_AUTH_FILE")) return fs::path(*file);
  if (auto runtime = env.get("XDG_RUNTIME_DIR")) {
    return fs::path(*runtime) / "containers" / "auth.json";
  }
  if (uid == 0) return fs::path("/run/containers") / std::to_string(uid) / "auth.json";
  if (auto home = env.get("HOME")) return fs::path(*home) / ".config" / "containers" / "auth.json";
  return failure(
      "cannot find the containers auth file: none of REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR and "
      "HOME is set");
}

Result<void> store_registry_auth(const fs::path& given, std::string_view login_server,
                                 std::string_view username, std::string_view password) {
  fs::path file = given;
  std::error_code ec;
  if (fs::is_symlink(file, ec)) {
    fs::path target = fs::weakly_canonical(file, ec);
    if (ec) return failure(fmt::format("cannot follow the link {}: {}", file.string(), ec.message()));
    file = target;
  }
  auto doc = read_auth_file(file);
  if (!doc) return doc.error();
  if (auto made = make_private_directories(file.parent_path()); !made) return made.error();

  std::string credentials(username);
  credentials += ':';
  credentials += password;
  json::value& auths = (*doc)["auths"];
  if (!auths.is_object()) auths = json::object{};
  auths.as_object()[login_server] = json::object{{"auth", base64_encode(credentials)}};
  std::string text = pretty_json(*doc);
  text += '\n';
  return write_private_file(file, text);
}

std::string docker_credential_helper(const fs::path& file, std::string_view login_server) {
  auto doc = read_auth_file(file);
  if (!doc) return {};
  if (const auto* helpers = doc->if_contains("credHelpers"); helpers && helpers->is_object()) {
    if (const auto* helper = helpers->as_object().if_contains(login_server);
        helper && helper->is_string() && !helper->as_string().empty()) {
      return std::string(helper->as_string());
    }
  }
  if (const auto* store = doc->if_contains("credsStore");
      store && store->is_string() && !store->as_string().empty()) {
    return std::string(store->as_string());
  }
  return {};
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
             (static_cast<unsigned char>(bytes[i + 1]) << 8) |
             static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (std::size_t left = bytes.size() - i; left > 0) {
    auto n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i]) << 16);
    if (left == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += left == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace berth::cli
