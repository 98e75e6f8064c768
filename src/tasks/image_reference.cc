#include "tasks/image_reference.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "oci/reference.h"
#include "tasks/text.h"

namespace berth::tasks {
namespace {

constexpr std::size_t kMaxHostLength = 253;
constexpr std::size_t kMaxLabelLength = 63;
constexpr std::string_view kDockerHub = "docker.io";
constexpr std::string_view kDockerHubLegacy = "index.docker.io";

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Labels of letters, digits and inner '-', separated by '.'.
bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i < host.size() && host[i] != '.') {
      if (!is_alnum(host[i]) && host[i] != '-') return false;
      continue;
    }
    std::string_view label = host.substr(label_start, i - label_start);
    if (label.empty() || label.size() > kMaxLabelLength || label.front() == '-' ||
        label.back() == '-') {
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

// host, host:port, [v6] or [v6]:port.
bool is_domain(std::string_view domain) {
  std::string_view host = domain;
  if (!domain.empty() && domain.front() == '[') {
    std::size_t close = domain.find(']');
    if (close == std::string_view::npos) return false;
    host = domain.substr(0, close + 1);
    std::string_view rest = domain.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !is_port(rest.substr(1)))) return false;
    return is_bracketed_ipv6(host);
  }
  if (std::size_t colon = domain.find(':'); colon != std::string_view::npos) {
    host = domain.substr(0, colon);
    if (!is_port(domain.substr(colon + 1))) return false;
  }
  return is_host_name(host);
}

// docker's rule (splitDockerDomain): the first component is a domain when it could not be a
// repository component: it has '.' or ':', is "localhost", or has an upper-case letter.
bool looks_like_domain(std::string_view component) {
  if (component == "localhost") return true;
  if (component.find_first_of(".:") != std::string_view::npos) return true;
  return std::any_of(component.begin(), component.end(),
                     [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

std::string ImageReference::str() const {
  std::string text;
  if (!domain.empty()) {
    text += domain;
    text += '/';
  }
  text += repository;
  if (tag) {
    text += ':';
    text += *tag;
  }
  if (digest) {
    text += '@';
    text += digest->str();
  }
  return text;
}

berth::Result<ImageReference, std::string> parse_image_reference(std::string_view text) {
  if (text.empty()) return refused<ImageReference>("an image reference is empty");
  ImageReference reference;
  std::string_view name = text;
  if (std::size_t at = text.find('@'); at != std::string_view::npos) {
    name = text.substr(0, at);
    reference.digest = oci::Digest::parse(text.substr(at + 1));
    if (!reference.digest) {
      std::string why = quoted(text);
      why += " does not end in a valid digest";
      return refused<ImageReference>(std::move(why));
    }
  }
  // A ':' after the last '/' starts the tag; one before it belongs to the domain's port.
  std::size_t last_slash = name.rfind('/');
  std::size_t colon = name.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = name.substr(colon + 1);
    if (!oci::is_valid_tag(tag)) {
      std::string why = quoted(tag);
      why += " in ";
      why += quoted(text);
      why += " is not a valid tag";
      return refused<ImageReference>(std::move(why));
    }
    reference.tag = std::string(tag);
    name = name.substr(0, colon);
  }
  if (std::size_t slash = name.find('/');
      slash != std::string_view::npos && looks_like_domain(name.substr(0, slash))) {
    std::string_view domain = name.substr(0, slash);
    if (!is_domain(domain)) {
      std::string why = quoted(domain);
      why += " in ";
      why += quoted(text);
      why += " is not a valid registry host";
      return refused<ImageReference>(std::move(why));
    }
    reference.domain = std::string(domain);
    name = name.substr(slash + 1);
  }
  if (!oci::is_valid_repository_name(name)) {
    std::string why = quoted(name);
    why += " in ";
    why += quoted(text);
    why += " is not a valid repository name (lower-case letters, digits and separators)";
    return refused<ImageReference>(std::move(why));
  }
  reference.repository = std::string(name);
  std::size_t full_length =
      reference.domain.size() + (reference.domain.empty() ? 0 : 1) + reference.repository.size();
  if (full_length > kMaxImageNameLength) {
    std::string why = "the image name in ";
    why += quoted(text);
    why += " is longer than 255 characters";
    return refused<ImageReference>(std::move(why));
  }
  return reference;
}

ImageReference normalized(ImageReference reference) {
  if (reference.domain.empty() || reference.domain == kDockerHubLegacy) {
    reference.domain = std::string(kDockerHub);
  }
  if (reference.domain == kDockerHub && reference.repository.find('/') == std::string::npos) {
    reference.repository.insert(0, "library/");
  }
  if (!reference.tag && !reference.digest) reference.tag = "latest";
  return reference;
}

}  // namespace berth::tasks
