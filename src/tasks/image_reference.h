#pragma once
// Image references as docker and podman write them: [domain/]repository[:tag][@digest], e.g.
// "127.0.0.1:5000/team/app:v1", "busybox", "alpine@sha256:…". The repository, tag and digest
// follow the distribution grammar of oci/reference.h; the domain is a host name, an IPv4
// address or a bracketed IPv6 address, with an optional port.
//
// As docker decides it, the first path component is a domain when it contains '.' or ':', is
// "localhost", or has an upper-case letter; otherwise the whole name is the repository
// ("team/app" is a Docker Hub name).

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "oci/digest.h"

namespace berth::tasks {

// docker's limit on domain + '/' + repository.
inline constexpr std::size_t kMaxImageNameLength = 255;

struct ImageReference {
  std::string domain;      // empty when the reference names none
  std::string repository;  // the path below the domain
  std::optional<std::string> tag;
  std::optional<oci::Digest> digest;

  // [domain/]repository[:tag][@digest]
  std::string str() const;
  bool operator==(const ImageReference&) const = default;
};

// The reference, or why `text` is not one (the message quotes the offending part).
berth::Result<ImageReference, std::string> parse_image_reference(std::string_view text);

// The reference as a pull resolves it: the domain "docker.io" when none is written
// ("index.docker.io" becomes "docker.io"), "library/" before a one-component Docker Hub repository,
// the tag "latest" when neither a tag nor a digest is written.
ImageReference normalized(ImageReference reference);

}  // namespace berth::tasks
