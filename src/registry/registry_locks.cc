// Registry: the changeable attributes (locks) of repositories, manifests and tags, and the
// checks the content operations in registry.cc make against them. What each attribute refuses
// is documented in docs/locks.md.
//
// The checks read the attributes before the change they guard, in a transaction of their own:
// a lock set while a push is between its check and its commit does not stop that push, as if
// the push had finished first. Once the lock's change has returned, every later operation sees
// it.

#include <fmt/format.h>

#include <utility>

#include "common/clock.h"
#include "registry/registry.h"

namespace berth::registry {
namespace {

RegistryError repository_unknown() {
  return {Errc::name_unknown, "repository name not known to registry"};
}

std::string repository_item(std::string_view repository) {
  return fmt::format("repository {}", repository);
}

std::string tag_item(std::string_view repository, std::string_view tag) {
  return fmt::format("tag {} of repository {}", tag, repository);
}

std::string manifest_item(std::string_view repository, const oci::Digest& digest) {
  return fmt::format("manifest {} of repository {}", digest.str(), repository);
}

}  // namespace

RegistryError locked_error(std::string_view item, std::string_view attribute) {
  return {Errc::locked, fmt::format("{} is locked: {} is false", item, attribute)};
}

Result<void> Registry::check_repository_writable(std::string_view repository) {
  auto attributes = metadata_.repository_attributes(ref(repository));
  if (!attributes) return from_metadata(attributes.error());
  if (*attributes && !(*attributes)->write_enabled) {
    return locked_error(repository_item(repository), "writeEnabled");
  }
  return {};
}

Result<void> Registry::check_repository_readable(std::string_view repository) {
  auto attributes = metadata_.repository_attributes(ref(repository));
  if (!attributes) return from_metadata(attributes.error());
  if (*attributes && !(*attributes)->read_enabled) {
    return locked_error(repository_item(repository), "readEnabled");
  }
  return {};
}

Result<void> Registry::check_tag_movable(std::string_view repository, std::string_view tag,
                                         const oci::Digest& digest) {
  auto current = metadata_.find_tag(ref(repository), tag);
  if (!current) return from_metadata(current.error());
  // A new tag, or the same digest pushed again (an idempotent re-push): nothing moves.
  if (!*current || (*current)->digest == digest) return {};
  if (!(*current)->attributes.write_enabled) {
    return locked_error(tag_item(repository, tag), "writeEnabled");
  }
  // A write-locked manifest keeps its tags: moving one away would change what it pulls as.
  auto pointed = metadata_.manifest_attributes(ref(repository), (*current)->digest);
  if (!pointed) return from_metadata(pointed.error());
  if (*pointed && !(*pointed)->write_enabled) {
    return locked_error(fmt::format("{}, which tag {} points at,",
                                    manifest_item(repository, (*current)->digest), tag),
                        "writeEnabled");
  }
  return {};
}

Result<void> Registry::check_deletable(std::string_view repository,
                                       const std::optional<oci::Digest>& digest) {
  auto lock = metadata_.find_delete_lock(ref(repository), digest);
  if (!lock) return from_metadata(lock.error());
  if (!*lock) return {};
  const metadata::DeleteLock& found = **lock;
  std::string item;
  switch (found.kind) {
    case metadata::DeleteLock::Kind::repository:
      item = repository_item(repository);
      break;
    case metadata::DeleteLock::Kind::manifest:
      item = fmt::format("manifest {} of repository {}", found.name, repository);
      break;
    case metadata::DeleteLock::Kind::tag:
      item = tag_item(repository, found.name);
      break;
  }
  return locked_error(item, "deleteEnabled");
}

Result<metadata::TagRecord> Registry::tag_record(std::string_view repository,
                                                 std::string_view tag) {
  auto found = metadata_.find_tag(ref(repository), tag);
  if (!found) return from_metadata(found.error());
  if (!*found) {
    if (auto exists = require_repository(repository); !exists) return exists.error();
    return RegistryError{Errc::tag_unknown, "tag unknown to the repository"};
  }
  return std::move(**found);
}

Result<metadata::RepositorySummary> Registry::update_repository_attributes(
    std::string_view repository, const metadata::AttributeChanges& changes) {
  auto updated = metadata_.update_repository_attributes(ref(repository), changes);
  if (!updated) return from_metadata(updated.error());
  if (!*updated) return repository_unknown();
  return repository_summary(repository);
}

Result<metadata::TagRecord> Registry::update_tag_attributes(
    std::string_view repository, std::string_view tag, const metadata::AttributeChanges& changes) {
  auto updated = metadata_.update_tag_attributes(ref(repository), tag, changes, unix_now());
  if (!updated) return from_metadata(updated.error());
  if (!*updated) {
    if (auto exists = require_repository(repository); !exists) return exists.error();
    return RegistryError{Errc::tag_unknown, "tag unknown to the repository"};
  }
  return tag_record(repository, tag);
}

Result<Registry::ManifestDetail> Registry::update_manifest_attributes(
    std::string_view repository, const oci::Digest& digest,
    const metadata::AttributeChanges& changes) {
  auto updated =
      metadata_.update_manifest_attributes(ref(repository), digest, changes, unix_now());
  if (!updated) return from_metadata(updated.error());
  if (!*updated) {
    if (auto exists = require_repository(repository); !exists) return exists.error();
    return RegistryError{Errc::manifest_unknown, "manifest unknown to the repository"};
  }
  return manifest_detail(repository, digest);
}

}  // namespace berth::registry
