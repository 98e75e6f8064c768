#pragma once
// The grammar of what points at other registries, as pure functions: names of credential sets
// and cache rules, upstream login servers, and the repository paths of cache rules with their
// matching. No I/O; the services (upstream_service.h, importer.h) and their tests use them.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "metadata/upstream_store.h"
#include "oci/reference.h"

namespace berth::upstream {

inline constexpr std::size_t kMinResourceName = 5;
inline constexpr std::size_t kMaxResourceName = 50;
inline constexpr std::int64_t kDefaultTagTtlSeconds = 3600;
inline constexpr std::int64_t kMaxTagTtlSeconds = 30LL * 24 * 3600;

// Why `name` is not a valid credential set or cache rule name (5 to 50 letters, digits and
// '-', starting with a letter or a digit), or nullopt.
std::optional<std::string> check_resource_name(std::string_view name);

// Why `server` is not an upstream login server ("host" or "host:port"; host a DNS name, an IPv4
// address or a bracketed IPv6 address; no scheme, path or credentials), or nullopt. Login
// servers are compared in lower case: normalize_login_server gives that form.
std::optional<std::string> check_login_server(std::string_view server);
std::string normalize_login_server(std::string_view server);

// The host berth connects to for `login_server`: Docker Hub's name "docker.io" (as clients
// write it) is served by "registry-1.docker.io"; every other server is itself.
std::string connect_host(std::string_view login_server);

// A cache rule's repository path: `path` exactly, or with `wildcard` everything below it.
struct RepositoryPattern {
  std::string path;
  bool wildcard = false;
};

// A rule's source: an upstream login server and a repository pattern on it.
struct SourcePattern {
  std::string login_server;
  RepositoryPattern repository;
};

// Parses "host[:port]/path" or "host[:port]/path/*" (a Docker Hub official image may be written
// "docker.io/ubuntu": it is "docker.io/library/ubuntu"); why not as the error.
std::optional<SourcePattern> parse_source(std::string_view text, std::string& why);
// Parses "path" or "path/*" (a valid repository name before the "/*").
std::optional<RepositoryPattern> parse_target(std::string_view text, std::string& why);
// Both patterns are exact or both wildcards: otherwise one side would name many repositories
// and the other one.
std::optional<std::string> check_rule_shape(const SourcePattern& source,
                                            const RepositoryPattern& target);

// Where a pull of `repository` goes upstream under `rule`: its login server and the upstream
// repository; nullopt when the rule does not cover the repository.
struct UpstreamLocation {
  std::string login_server;
  std::string repository;
};
std::optional<UpstreamLocation> locate(const metadata::CacheRule& rule,
                                       std::string_view repository);

// The rule among `rules` that covers `repository`: an exact target first, else the wildcard
// with the longest path. nullptr when none does.
const metadata::CacheRule* covering_rule(std::span<const metadata::CacheRule> rules,
                                         std::string_view repository);

// An image in a repository: "repository:tag", "repository@digest" or "repository" (the tag
// "latest"), as import sources and targets are written.
struct ImageName {
  std::string repository;
  oci::Reference reference;
};
std::optional<ImageName> parse_image(std::string_view text, std::string& why);
// "repository:tag" or "repository@digest".
std::string image_text(const ImageName& image);

}  // namespace berth::upstream
