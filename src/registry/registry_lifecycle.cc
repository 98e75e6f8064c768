// Registry: soft-deleted content, listed and restored through the lifecycle store. The deletes
// themselves are the ordinary ones in registry.cc: while the registry keeps deleted content,
// the metadata store keeps what they remove in their own transaction (lifecycle_store.h).

#include <fmt/format.h>

#include <optional>
#include <variant>

#include "registry/registry.h"

namespace berth::registry {
namespace {

RegistryError no_lifecycle() {
  return {Errc::unsupported, "this deployment keeps no soft-deleted content"};
}

}  // namespace

Result<std::vector<std::string>> Registry::deleted_repositories(std::string_view after,
                                                                std::size_t limit) {
  if (lifecycle_ == nullptr) return no_lifecycle();
  auto names = lifecycle_->list_deleted_repositories(registry_, after, limit);
  if (!names) return from_metadata(names.error());
  return std::move(*names);
}

Result<std::vector<metadata::DeletedManifest>> Registry::deleted_manifests(
    std::string_view repository, std::string_view after, std::size_t limit) {
  if (lifecycle_ == nullptr) return no_lifecycle();
  auto manifests = lifecycle_->list_deleted_manifests(ref(repository), after, limit);
  if (!manifests) return from_metadata(manifests.error());
  return std::move(*manifests);
}

Result<std::vector<metadata::DeletedTag>> Registry::deleted_tags(
    std::string_view repository, std::optional<std::string_view> tag, std::size_t limit) {
  if (lifecycle_ == nullptr) return no_lifecycle();
  auto tags = lifecycle_->list_deleted_tags(ref(repository), tag, limit);
  if (!tags) return from_metadata(tags.error());
  return std::move(*tags);
}

Result<metadata::RestoredContent> Registry::restore(std::string_view repository,
                                                    const oci::Reference& reference, bool force) {
  if (lifecycle_ == nullptr) return no_lifecycle();
  if (auto writable = check_repository_writable(repository); !writable) return writable.error();
  std::optional<oci::Digest> digest;
  if (const auto* tag = std::get_if<std::string>(&reference)) {
    auto found = lifecycle_->deleted_tag_digest(ref(repository), *tag);
    if (!found) return from_metadata(found.error());
    if (!*found) {
      return RegistryError{
          Errc::manifest_unknown,
          fmt::format("no deleted tag {} is kept in repository {}", *tag, repository)};
    }
    digest = std::move(**found);
  } else {
    digest = std::get<oci::Digest>(reference);
  }
  auto restored = lifecycle_->restore_manifest(ref(repository), *digest, force);
  if (!restored) {
    if (restored.error().code == metadata::Errc::not_found) {
      return RegistryError{Errc::manifest_unknown, restored.error().message};
    }
    return from_metadata(restored.error());
  }
  return std::move(*restored);
}

}  // namespace berth::registry
