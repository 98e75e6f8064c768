#pragma once
// `berth login`: a refresh token from the token service (POST /oauth2/exchange), stored where
// docker and podman look for registry credentials.
//
// Both files are JSON objects whose "auths" map a login server ("host[:port]") to
// {"auth": base64("<username>:<password>")}. A refresh token is a password for the username
// kRefreshTokenUsername, as `docker login` stores the hosted registry's tokens. Only the one
// entry is replaced; every other entry and key of the file stays as it was.

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/config_store.h"
#include "cli/error.h"
#include "cli/http_client.h"

namespace berth::cli {

inline constexpr std::string_view kRefreshTokenUsername = "00000000-0000-0000-0000-000000000000";

struct LoginServer {
  std::string host;      // "host[:port]": the key of the auths entry and the token `service`
  std::string base_url;  // "http(s)://host[:port]" when the flag gave a scheme, else empty
};

// "--login-server" as given: "host[:port]", "[v6]:port" or "http(s)://host[:port]" (a trailing
// slash is dropped). Refused (usage error): paths, user info, empty hosts, bad ports.
Result<LoginServer> parse_login_server(std::string_view text);

// "host[:port]" of a server URL ("http://localhost:5000/x" -> "localhost:5000").
std::string host_of_url(std::string_view url);

// One grant for POST {base_url}/oauth2/exchange: form fields in order (grant_type first).
using FormFields = std::vector<std::pair<std::string, std::string>>;

// "a=1&b=x%20y": application/x-www-form-urlencoded.
std::string form_encode(const FormFields& fields);

// The refresh token the token service answers. Errors never contain the form's secrets.
Result<std::string> exchange_refresh_token(HttpTransport& transport, std::string_view base_url,
                                           const FormFields& form);

// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
Result<std::filesystem::path> docker_config_file(const Environment& env);

// The containers auth file podman, buildah and skopeo read: $REGISTRY_AUTH_FILE, else
// $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/<uid>/auth.json for root
// (uid 0), else ~/.config/containers/auth.json.
Result<std::filesystem::path> containers_auth_file(const Environment& env, unsigned uid);

// Sets auths[login_server] = {"auth": base64(username:password)} in `file`, keeping the rest.
// Missing directories are created 0700; the file is replaced atomically, mode 0600; a symlink
// is followed, so the file it points at is the one replaced. A file that is not a JSON object
// (or whose "auths" is not an object) is left alone and reported.
Result<void> store_registry_auth(const std::filesystem::path& file, std::string_view login_server,
                                 std::string_view username, std::string_view password);

// The credential helper docker asks for `login_server` instead of the file's "auths": the
// file's credHelpers entry for it, else its credsStore; "" when none (or no readable file).
// Docker then ignores the entry store_registry_auth wrote.
std::string docker_credential_helper(const std::filesystem::path& file,
                                     std::string_view login_server);

std::string base64_encode(std::string_view bytes);

}  // namespace berth::cli
