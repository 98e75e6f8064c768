#include "upstream/rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "oci/reference.h"

namespace berth::upstream {
namespace {

constexpr std::string_view kWildcardSuffix = "/*";
constexpr std::string_view kDockerHub = "docker.io";
constexpr std::string_view kDockerHubRegistry = "registry-1.docker.io";
constexpr std::size_t kMaxHostLength = 253;

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i < host.size() && host[i] != '.') {
      if (!is_alnum(host[i]) && host[i] != '-') return false;
      continue;
    }
    std::string_view label = host.substr(label_start, i - label_start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    label_start = i + 1;
  }
  return true;
}

bool is_bracketed_ipv6(std::string_view host) {
  if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
  std::string_view inner = host.substr(1, host.size() - 2);
  return std::all_of(inner.begin(), inner.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
  });
}

bool is_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port >= 1 && port <= 65535;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Splits "path/*" into ("path", true), anything else into (text, false).
RepositoryPattern split_wildcard(std::string_view text) {
  if (text.size() > kWildcardSuffix.size() && text.ends_with(kWildcardSuffix)) {
    return {std::string(text.substr(0, text.size() - kWildcardSuffix.size())), true};
  }
  return {std::string(text), false};
}

// The part of `repository` below `pattern`: "" for an exact match, the rest after "path/" for
// a wildcard; nullopt when the pattern does not cover the repository.
std::optional<std::string_view> below(const RepositoryPattern& pattern,
                                      std::string_view repository) {
  if (!pattern.wildcard) {
    if (repository == pattern.path) return std::string_view();
    return std::nullopt;
  }
  if (repository.size() <= pattern.path.size() + 1 || !repository.starts_with(pattern.path) ||
      repository[pattern.path.size()] != '/') {
    return std::nullopt;
  }
  return repository.substr(pattern.path.size() + 1);
}

}  // namespace

std::optional<std::string> check_resource_name(std::string_view name) {
  const bool shaped =
      name.size() >= kMinResourceName && name.size() <= kMaxResourceName && is_alnum(name[0]) &&
      std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '-'; });
  if (shaped) return std::nullopt;
  return fmt::format("'{}' is not a valid name: {} to {} letters, digits and '-', starting with a "
                     "letter or a digit",
                     name, kMinResourceName, kMaxResourceName);
}

std::optional<std::string> check_login_server(std::string_view server) {
  auto refuse = [&](std::string_view why) {
    return fmt::format("'{}' is not a login server ({}): give host or host:port", server, why);
  };
  if (server.empty()) return refuse("it is empty");
  if (server.find("://") != std::string_view::npos) return refuse("no scheme");
  if (server.find_first_of("/@?#") != std::string_view::npos) {
    return refuse("no path or credentials");
  }
  std::string_view host = server;
  std::size_t colon = server.rfind(':');
  bool bracketed = server.front() == '[';
  if (colon != std::string_view::npos && (!bracketed || colon > server.find(']'))) {
    if (!is_port(server.substr(colon + 1))) return refuse("the port is 1 to 65535");
    host = server.substr(0, colon);
  }
  if (bracketed ? !is_bracketed_ipv6(host) : !is_dns_name(host)) {
    return refuse("the host is not a DNS name or an IP address");
  }
  return std::nullopt;
}

std::string normalize_login_server(std::string_view server) { return lower(server); }

std::string connect_host(std::string_view login_server) {
  if (login_server == kDockerHub) return std::string(kDockerHubRegistry);
  return std::string(login_server);
}

std::optional<SourcePattern> parse_source(std::string_view text, std::string& why) {
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    why = fmt::format("'{}' is not a source repository: give host/path or host/path/*", text);
    return std::nullopt;
  }
  std::string_view server = text.substr(0, slash);
  if (auto bad = check_login_server(server)) {
    why = *bad;
    return std::nullopt;
  }
  SourcePattern source{normalize_login_server(server), split_wildcard(text.substr(slash + 1))};
  if (!oci::is_valid_repository_name(source.repository.path)) {
    why = fmt::format("'{}' is not a valid repository path on '{}'", source.repository.path,
                      source.login_server);
    return std::nullopt;
  }
  // Docker Hub's official images live under library/; clients let users leave it out.
  if (source.login_server == kDockerHub &&
      source.repository.path.find('/') == std::string::npos && !source.repository.wildcard) {
    source.repository.path = "library/" + source.repository.path;
  }
  return source;
}

std::optional<RepositoryPattern> parse_target(std::string_view text, std::string& why) {
  RepositoryPattern target = split_wildcard(text);
  if (!oci::is_valid_repository_name(target.path)) {
    why = fmt::format("'{}' is not a target repository: give a repository path, or a path "
                      "followed by /*",
                      text);
    return std::nullopt;
  }
  return target;
}

std::optional<std::string> check_rule_shape(const SourcePattern& source,
                                            const RepositoryPattern& target) {
  if (source.repository.wildcard == target.wildcard) return std::nullopt;
  return std::string("the source and the target repository must both end in /* or neither");
}

std::optional<UpstreamLocation> locate(const metadata::CacheRule& rule,
                                       std::string_view repository) {
  std::string why;
  auto source = parse_source(rule.source_repository, why);
  auto target = parse_target(rule.target_repository, why);
  if (!source || !target) return std::nullopt;
  auto rest = below(*target, repository);
  if (!rest) return std::nullopt;
  UpstreamLocation location{source->login_server, source->repository.path};
  if (!rest->empty()) {
    location.repository += '/';
    location.repository += *rest;
  }
  return location;
}

const metadata::CacheRule* covering_rule(std::span<const metadata::CacheRule> rules,
                                         std::string_view repository) {
  const metadata::CacheRule* best = nullptr;
  std::size_t best_length = 0;
  for (const auto& rule : rules) {
    RepositoryPattern target = split_wildcard(rule.target_repository);
    if (!below(target, repository)) continue;
    if (!target.wildcard) return &rule;
    if (best == nullptr || target.path.size() > best_length) {
      best = &rule;
      best_length = target.path.size();
    }
  }
  return best;
}

std::optional<ImageName> parse_image(std::string_view text, std::string& why) {
  std::string_view repository = text;
  std::optional<oci::Reference> reference;
  if (std::size_t at = text.find('@'); at != std::string_view::npos) {
    repository = text.substr(0, at);
    reference = oci::parse_reference(text.substr(at + 1));
    if (!reference || !std::holds_alternative<oci::Digest>(*reference)) {
      why = fmt::format("'{}' does not end in a valid digest", text);
      return std::nullopt;
    }
  } else if (std::size_t colon = text.rfind(':');
             colon != std::string_view::npos && text.find('/', colon) == std::string_view::npos) {
    repository = text.substr(0, colon);
    std::string_view tag = text.substr(colon + 1);
    if (!oci::is_valid_tag(tag)) {
      why = fmt::format("'{}' is not a valid tag", tag);
      return std::nullopt;
    }
    reference = oci::Reference(std::string(tag));
  } else {
    reference = oci::Reference(std::string("latest"));
  }
  if (!oci::is_valid_repository_name(repository)) {
    why = fmt::format("'{}' is not a valid repository name", repository);
    return std::nullopt;
  }
  return ImageName{std::string(repository), std::move(*reference)};
}

std::string image_text(const ImageName& image) {
  std::string text = image.repository;
  if (const auto* digest = std::get_if<oci::Digest>(&image.reference)) {
    text += '@';
    text += digest->str();
  } else {
    text += ':';
    text += std::get<std::string>(image.reference);
  }
  return text;
}

}  // namespace berth::upstream
