#include "registry/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "common/clock.h"
#include "common/ids.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "registry/tiers.h"

namespace berth::registry {
namespace {

RegistryError internal(std::string_view what, std::string_view detail) {
  return {Errc::internal, fmt::format("{}: {}", what, detail)};
}

RegistryError storage_full(std::string_view what, std::string_view detail) {
  return {Errc::storage_full, fmt::format("{}: {}", what, detail)};
}

RegistryError upload_in_use() {
  return {Errc::upload_in_use,
          "another request is using this upload session; retry when it has finished"};
}

RegistryError upload_unknown() {
  return {Errc::blob_upload_unknown, "upload unknown to the repository"};
}

// Maps a storage failure; `not_found` means different things per call site.
RegistryError from_storage(const storage::StorageError& error, Errc not_found_code,
                           std::string_view not_found_message) {
  switch (error.code) {
    case storage::Errc::not_found:
      return {not_found_code, std::string(not_found_message)};
    case storage::Errc::digest_mismatch:
      return {Errc::digest_invalid, "the uploaded content does not match the digest given"};
    case storage::Errc::upload_busy:
      // A request on another node holds the upload (the driver's lock or lease): the same
      // answer as a request on this node holding it.
      return upload_in_use();
    case storage::Errc::invalid_argument:
      return {Errc::blob_upload_unknown, "upload unknown to the registry"};
    case storage::Errc::storage_full:
      return storage_full("blob storage", error.message);
    case storage::Errc::io_error:
      break;
  }
  return internal("blob storage", error.message);
}

RegistryError from_manifest_parse(const oci::ManifestError& error) {
  if (error.code == oci::ManifestErrc::too_large) {
    return {Errc::manifest_too_large, error.message};
  }
  return {Errc::manifest_invalid, error.message};
}

// A Helm chart pushed as an OCI artifact: its events are chart_push and chart_delete.
bool is_helm_chart(std::string_view artifact_type) {
  return artifact_type == oci::media_type::kHelmChartConfig;
}

void describe_manifest(metadata::EventRecord& event, const oci::Digest& digest,
                       std::string_view media_type, std::string_view artifact_type,
                       std::size_t size) {
  event.digest = digest.str();
  event.media_type = std::string(media_type);
  event.artifact_type = std::string(artifact_type);
  event.size = size;
}

}  // namespace

RegistryError from_metadata(const metadata::MetadataError& error) {
  switch (error.code) {
    case metadata::Errc::storage_full:
      return storage_full("metadata store", error.message);
    case metadata::Errc::limit_reached:
      return {Errc::too_many_uploads, error.message};
    case metadata::Errc::being_deleted:
      return {Errc::busy, error.message + "; retry shortly"};
    case metadata::Errc::reference_missing:
      return {Errc::manifest_blob_unknown, error.message + "; push it before the manifest"};
    case metadata::Errc::quota_exceeded:
      return {Errc::quota_exceeded, "storage quota exceeded: " + error.message};
    default:
      return internal("metadata store", error.message);
  }
}

namespace {

// The repository's quota, and the registry's own or else its tier's included storage.
metadata::StorageLimits limits_of(const metadata::StorageState& state) {
  metadata::StorageLimits limits{.registry_bytes = state.registry_quota,
                                 .repository_bytes = state.repository_quota};
  if (!limits.registry_bytes) {
    if (const Tier* tier = find_tier(state.tier); tier != nullptr) {
      limits.registry_bytes = tier->limits.included_storage_bytes;
    }
  }
  return limits;
}

}  // namespace

Result<metadata::StorageLimits> storage_limits(metadata::LifecycleStore* lifecycle,
                                               metadata::RepositoryRef repository) {
  if (lifecycle == nullptr) return metadata::StorageLimits{};
  auto state = lifecycle->storage_state(repository);
  if (!state) return from_metadata(state.error());
  return limits_of(*state);
}

Result<void> check_within_quotas(metadata::LifecycleStore* lifecycle,
                                 metadata::RepositoryRef repository) {
  if (lifecycle == nullptr) return {};
  auto state = lifecycle->storage_state(repository);
  if (!state) return from_metadata(state.error());
  const metadata::StorageLimits limits = limits_of(*state);
  auto over = [](std::string_view whose, std::uint64_t quota, std::uint64_t used) {
    return RegistryError{Errc::quota_exceeded,
                         fmt::format("storage quota exceeded: {} storage quota is {} bytes and "
                                     "{} bytes are used; delete content or raise the quota",
                                     whose, quota, used)};
  };
  if (limits.repository_bytes && state->repository_bytes > *limits.repository_bytes) {
    return over("the repository's", *limits.repository_bytes, state->repository_bytes);
  }
  if (limits.registry_bytes && state->registry_bytes > *limits.registry_bytes) {
    return over("the registry's", *limits.registry_bytes, state->registry_bytes);
  }
  return {};
}

namespace {

// Links the blob, keeping to the storage quotas when there is a lifecycle store.
Result<void> link_within_quotas(metadata::MetadataStore& metadata,
                                metadata::LifecycleStore* lifecycle,
                                metadata::RepositoryRef repository, const oci::Digest& digest,
                                std::uint64_t size) {
  auto limits = storage_limits(lifecycle, repository);
  if (!limits) return limits.error();
  auto linked = limits->registry_bytes || limits->repository_bytes
                    ? lifecycle->link_blob_within(repository, digest, size, *limits)
                    : metadata.link_blob(repository, digest, size);
  if (!linked) return from_metadata(linked.error());
  return {};
}

}  // namespace

// ---------------------------------------------------------------- upload sessions in use

std::optional<UploadSessions::Hold> UploadSessions::try_hold(std::string_view id) {
  std::lock_guard lock(mutex_);
  if (!held_.try_emplace(std::string(id)).second) return std::nullopt;
  return Hold(this, std::string(id));
}

std::optional<std::uint64_t> UploadSessions::held_size(std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = held_.find(id);
  if (it == held_.end()) return std::nullopt;
  return it->second;
}

void UploadSessions::release(const std::string& id) {
  std::lock_guard lock(mutex_);
  held_.erase(id);
}

void UploadSessions::set_stable_size(const std::string& id, std::uint64_t size) {
  std::lock_guard lock(mutex_);
  if (auto it = held_.find(id); it != held_.end()) it->second = size;
}

// ---------------------------------------------------------------- uploads

UploadSession::UploadSession(metadata::RegistryId registry, std::string repository,
                             UploadSessions::Hold hold,
                             std::unique_ptr<storage::UploadWriter> writer,
                             storage::BlobStorage& storage, metadata::MetadataStore& metadata,
                             bool has_record, std::chrono::seconds idle_timeout,
                             std::int64_t last_activity, metadata::LifecycleStore* lifecycle)
    : registry_(registry),
      repository_(std::move(repository)),
      hold_(std::move(hold)),
      writer_(std::move(writer)),
      storage_(storage),
      metadata_(metadata),
      has_record_(has_record),
      idle_timeout_(idle_timeout),
      last_activity_(last_activity),
      lifecycle_(lifecycle) {
  hold_.set_stable_size(writer_->size());
}

Result<void> UploadSession::append(std::span<const std::byte> data) {
  if (auto written = writer_->append(data); !written) {
    return from_storage(written.error(), Errc::blob_upload_unknown, "upload unknown");
  }
  return {};
}

Result<void> UploadSession::revert() {
  if (auto reverted = writer_->revert(); !reverted) {
    return from_storage(reverted.error(), Errc::blob_upload_unknown, "upload unknown");
  }
  return {};
}

Result<void> UploadSession::flush() {
  if (auto flushed = writer_->flush(); !flushed) {
    return from_storage(flushed.error(), Errc::blob_upload_unknown, "upload unknown");
  }
  // Activity keeps the session from expiring. Recording it costs a database commit, so a
  // session that was active a moment ago is not recorded again: a tenth of the idle timeout
  // (at most a minute) of imprecision is harmless. Failing to record it costs at most an
  // early expiry, never data, so the chunk still counts.
  const std::int64_t now = unix_now();
  const std::int64_t granularity = std::min<std::int64_t>(60, idle_timeout_.count() / 10);
  if (has_record_ && now - last_activity_ >= granularity) {
    if (metadata_.touch_upload(id(), now)) last_activity_ = now;
  }
  hold_.set_stable_size(writer_->size());
  return {};
}

void UploadSession::abandon() {
  (void)writer_->discard();
  if (has_record_) (void)metadata_.delete_upload(id());
}

Result<BlobInfo> UploadSession::commit(const oci::Digest& digest) {
  // A repository write-locked since the upload started takes no more blobs; the session stays
  // (resumable if the lock is lifted, or swept when idle).
  auto attributes =
      metadata_.repository_attributes(metadata::RepositoryRef{registry_, repository_});
  if (!attributes) return from_metadata(attributes.error());
  if (*attributes && !(*attributes)->write_enabled) {
    return locked_error(fmt::format("repository {}", repository_), "writeEnabled");
  }
  auto committed = writer_->commit(digest);
  if (!committed) {
    if (committed.error().code == storage::Errc::digest_mismatch && has_record_) {
      (void)metadata_.delete_upload(id());  // the storage already dropped the bytes
    }
    return from_storage(committed.error(), Errc::blob_upload_unknown, "upload unknown");
  }
  const metadata::RepositoryRef target{registry_, repository_};
  if (auto linked =
          link_within_quotas(metadata_, lifecycle_, target, committed->digest, committed->size);
      !linked) {
    if (linked.error().code == Errc::quota_exceeded && has_record_) {
      (void)metadata_.delete_upload(id());  // the writer has ended the session
    }
    return linked.error();
  }
  if (has_record_) {
    if (auto removed = metadata_.delete_upload(id()); !removed) {
      return from_metadata(removed.error());
    }
  }
  return BlobInfo{committed->digest, committed->size};
}

// ---------------------------------------------------------------- registry

Registry::Registry(storage::BlobStorage& storage, metadata::MetadataStore& metadata,
                   UploadSessions& uploads, metadata::RegistryId registry, PullRecorder* pulls,
                   metadata::LifecycleStore* lifecycle)
    : storage_(storage),
      metadata_(metadata),
      uploads_(uploads),
      registry_(registry),
      pulls_(pulls),
      lifecycle_(lifecycle) {}

metadata::EventRecord Registry::event(std::string_view action, std::string_view repository) const {
  metadata::EventRecord event;
  event.id = random_uuid();
  event.registry = registry_;
  event.action = std::string(action);
  event.repository = std::string(repository);
  event.origin = origin_;
  event.deliverable = metadata::event_action::is_deliverable(action);
  return event;
}

Result<BlobInfo> Registry::stat_blob(std::string_view repository, const oci::Digest& digest) {
  if (auto readable = check_repository_readable(repository); !readable) return readable.error();
  auto size = metadata_.linked_blob_size(ref(repository), digest);
  if (!size) return from_metadata(size.error());
  if (!*size) return RegistryError{Errc::blob_unknown, "blob unknown to the repository"};
  return BlobInfo{digest, **size};
}

Result<OpenedBlob> Registry::open_blob(std::string_view repository, const oci::Digest& digest) {
  auto info = stat_blob(repository, digest);
  if (!info) return info.error();
  auto reader = storage_.open(digest);
  if (!reader) {
    // Linked but missing bytes would be a broken invariant: report it as a server fault.
    return from_storage(reader.error(), Errc::internal,
                        "blob storage lost the content of a linked blob");
  }
  return OpenedBlob{*info, std::move(*reader)};
}

Result<std::optional<std::string>> Registry::direct_blob_url(std::string_view repository,
                                                               const oci::Digest& digest,
                                                               std::chrono::seconds lifetime) {
  auto info = stat_blob(repository, digest);
  if (!info) return info.error();
  auto url = storage_.direct_read_url(digest, lifetime);
  if (!url) {
    return from_storage(url.error(), Errc::internal, "blob storage has no URL for a linked blob");
  }
  return std::move(*url);
}

Result<void> Registry::delete_blob(std::string_view repository, const oci::Digest& digest) {
  auto removed = metadata_.unlink_blob(ref(repository), digest);
  if (!removed) return from_metadata(removed.error());
  if (!*removed) return RegistryError{Errc::blob_unknown, "blob unknown to the repository"};
  return {};
}

Result<BlobInfo> Registry::mount_blob(std::string_view repository, std::string_view from,
                                      const oci::Digest& digest) {
  return mount_blob_from(*this, from, repository, digest);
}

Result<BlobInfo> Registry::mount_blob_from(Registry& source_registry, std::string_view from,
                                           std::string_view repository,
                                           const oci::Digest& digest) {
  if (auto writable = check_repository_writable(repository); !writable) return writable.error();
  // A read-locked source holds nothing a mount may take: the client uploads the blob instead.
  auto source = source_registry.stat_blob(from, digest);
  if (!source && source.error().code == Errc::locked) {
    return RegistryError{Errc::blob_unknown, "blob unknown to the repository"};
  }
  if (!source) return source.error();
  // The source's link says the bytes exist; check anyway so a mount never links missing bytes.
  if (auto stored = storage_.stat(digest); !stored) {
    return from_storage(stored.error(), Errc::blob_unknown, "blob unknown to the registry");
  }
  if (auto linked =
          link_within_quotas(metadata_, lifecycle_, ref(repository), digest, source->size);
      !linked) {
    if (linked.error().code == Errc::busy) {
      return RegistryError{Errc::blob_unknown, "blob unknown to the registry"};
    }
    return linked.error();
  }
  return *source;
}

Result<std::unique_ptr<UploadSession>> Registry::start_upload(std::string_view repository) {
  if (auto writable = check_repository_writable(repository); !writable) return writable.error();
  std::string id = random_uuid();
  auto hold = uploads_.try_hold(id);
  if (!hold) return internal("upload sessions", "a fresh upload id is already in use");
  auto writer = storage_.create_upload(id);
  if (!writer) return from_storage(writer.error(), Errc::internal, "cannot create the upload");
  const std::int64_t now = unix_now();
  metadata::UploadRecord record{id, registry_, std::string(repository), now, now};
  if (auto created =
          metadata_.create_upload_within_limit(record, uploads_.policy().max_open_per_registry);
      !created) {
    (void)(*writer)->discard();
    if (created.error().code == metadata::Errc::limit_reached) {
      return RegistryError{
          Errc::too_many_uploads,
          fmt::format("the registry has {} open upload sessions, the most it allows; finish or "
                      "cancel some, or wait for idle ones to expire",
                      uploads_.policy().max_open_per_registry)};
    }
    return from_metadata(created.error());
  }
  return std::make_unique<UploadSession>(registry_, std::string(repository), std::move(*hold),
                                         std::move(*writer), storage_, metadata_, true,
                                         uploads_.policy().idle_timeout, now, lifecycle_);
}

Result<std::unique_ptr<UploadSession>> Registry::start_single_request_upload(
    std::string_view repository) {
  if (auto writable = check_repository_writable(repository); !writable) return writable.error();
  std::string id = random_uuid();
  auto hold = uploads_.try_hold(id);
  if (!hold) return internal("upload sessions", "a fresh upload id is already in use");
  auto writer = storage_.create_upload(id);
  if (!writer) return from_storage(writer.error(), Errc::internal, "cannot create the upload");
  return std::make_unique<UploadSession>(registry_, std::string(repository), std::move(*hold),
                                         std::move(*writer), storage_, metadata_, false,
                                         uploads_.policy().idle_timeout, 0, lifecycle_);
}

Result<metadata::UploadRecord> Registry::live_upload(std::string_view repository,
                                                     std::string_view id) {
  auto record = metadata_.get_upload(id);
  if (!record) return from_metadata(record.error());
  if (!*record || (*record)->registry != registry_ || (*record)->repository != repository) {
    return upload_unknown();
  }
  // Expired but not swept yet: as gone as a swept one.
  const std::int64_t idle_since = unix_now() - uploads_.policy().idle_timeout.count();
  if ((*record)->updated_at < idle_since) return upload_unknown();
  return std::move(**record);
}

Result<std::unique_ptr<UploadSession>> Registry::resume_upload(std::string_view repository,
                                                               std::string_view id) {
  auto hold = uploads_.try_hold(id);
  if (!hold) return upload_in_use();
  auto record = live_upload(repository, id);
  if (!record) return record.error();
  auto writer = storage_.open_upload(id);
  if (!writer) {
    return from_storage(writer.error(), Errc::blob_upload_unknown, "upload unknown");
  }
  return std::make_unique<UploadSession>(
      registry_, std::string(repository), std::move(*hold), std::move(*writer), storage_, metadata_,
      true, uploads_.policy().idle_timeout, record->updated_at, lifecycle_);
}

Result<std::uint64_t> Registry::upload_size(std::string_view repository, std::string_view id) {
  if (auto record = live_upload(repository, id); !record) return record.error();
  if (auto held = uploads_.held_size(id)) return *held;
  auto size = storage_.upload_size(id);
  if (!size) return from_storage(size.error(), Errc::blob_upload_unknown, "upload unknown");
  return *size;
}

Result<void> Registry::cancel_upload(std::string_view repository, std::string_view id) {
  // Held for the whole removal: a PATCH arriving meanwhile is refused rather than writing
  // into a session that is going away.
  auto hold = uploads_.try_hold(id);
  if (!hold) return upload_in_use();
  auto record = metadata_.get_upload(id);
  if (!record) return from_metadata(record.error());
  if (!*record || (*record)->registry != registry_ || (*record)->repository != repository) {
    return upload_unknown();
  }
  if (auto removed = metadata_.delete_upload(id); !removed) return from_metadata(removed.error());
  // Without its record the session is gone for clients; bytes a failure leaves here are
  // orphans, which the sweeper removes.
  if (auto removed = storage_.delete_upload(id);
      !removed && removed.error().code != storage::Errc::not_found) {
    return from_storage(removed.error(), Errc::blob_upload_unknown, "upload unknown");
  }
  return {};
}

namespace {

// A descriptor's size must be the size of the content it names: clients trust it to allocate,
// to bound and to verify downloads, so a wrong size is refused like a wrong digest would be.
RegistryError size_mismatch(std::string_view kind, const oci::Descriptor& descriptor,
                            std::uint64_t stored_size) {
  return {Errc::manifest_invalid,
          fmt::format("size mismatch: the descriptor of {} {} gives size {}, but the repository "
                      "holds it with {} bytes",
                      kind, descriptor.digest.str(), descriptor.size, stored_size)};
}

bool size_matches(const oci::Descriptor& descriptor, std::uint64_t stored_size) {
  return std::uint64_t(descriptor.size) == stored_size;
}

// What a descriptor points at (`kind`, stored with `stored_size` or absent) must be in the
// repository, with the descriptor's size; `before` names what it must be pushed before.
Result<void> check_stored(const metadata::Result<std::optional<std::uint64_t>>& stored_size,
                          std::string_view kind, std::string_view before,
                          const oci::Descriptor& descriptor) {
  if (!stored_size) return from_metadata(stored_size.error());
  if (!*stored_size) {
    return RegistryError{Errc::manifest_blob_unknown,
                         fmt::format("{} {} is not in the repository; push it before the {}", kind,
                                     descriptor.digest.str(), before)};
  }
  if (!size_matches(descriptor, **stored_size)) {
    return size_mismatch(kind, descriptor, **stored_size);
  }
  return {};
}

// A config or layer.
Result<void> check_blob(metadata::MetadataStore& metadata, metadata::RepositoryRef repository,
                        const oci::Descriptor& descriptor) {
  return check_stored(metadata.linked_blob_size(repository, descriptor.digest), "blob", "manifest",
                      descriptor);
}

// A child of an index.
Result<void> check_child_manifest(metadata::MetadataStore& metadata,
                                  metadata::RepositoryRef repository,
                                  const oci::Descriptor& descriptor) {
  return check_stored(metadata.manifest_size(repository, descriptor.digest), "manifest", "index",
                      descriptor);
}

// The subject of a referrer may be pushed after it (the spec allows it), so only a stored
// subject is checked.
Result<void> check_subject(metadata::MetadataStore& metadata, metadata::RepositoryRef repository,
                           const oci::Descriptor& descriptor) {
  auto size = metadata.manifest_size(repository, descriptor.digest);
  if (!size) return from_metadata(size.error());
  if (*size && !size_matches(descriptor, **size)) {
    return size_mismatch("subject manifest", descriptor, **size);
  }
  return {};
}

// Checks that what the manifest refers to is in the repository as described, and returns the
// references to record. Layers the registry need not hold (foreign, with urls) are skipped.
Result<std::vector<metadata::ManifestReference>> check_references(
    metadata::MetadataStore& metadata, metadata::RepositoryRef repository,
    const oci::Manifest& manifest) {
  std::vector<metadata::ManifestReference> references;
  auto require_blob = [&](const oci::Descriptor& descriptor) -> Result<void> {
    if (auto ok = check_blob(metadata, repository, descriptor); !ok) return ok.error();
    references.push_back({descriptor.digest, metadata::ReferenceKind::blob});
    return {};
  };
  if (manifest.config) {
    if (auto ok = require_blob(*manifest.config); !ok) return ok.error();
  }
  for (const auto& layer : manifest.layers) {
    if (!oci::must_be_present(layer)) continue;
    if (auto ok = require_blob(layer); !ok) return ok.error();
  }
  for (const auto& child : manifest.manifests) {
    if (auto ok = check_child_manifest(metadata, repository, child); !ok) return ok.error();
    references.push_back({child.digest, metadata::ReferenceKind::manifest});
  }
  if (manifest.subject) {
    if (auto ok = check_subject(metadata, repository, *manifest.subject); !ok) return ok.error();
  }
  return references;
}

// Image configs are small JSON documents; one larger than this is not read for its platform.
constexpr std::uint64_t kMaxConfigBytes = 1024 * 1024;

struct ImagePlatform {
  std::string architecture;
  std::string os;
};

std::string string_member(const boost::json::object& object, std::string_view name) {
  const boost::json::value* value = object.if_contains(name);
  if (value == nullptr || !value->is_string()) return {};
  return std::string(value->get_string());
}

// The architecture and os an image's config names, for listings (/acr/v1). Best effort: a
// config that is not an image config, too large, unreadable or not JSON names none, and the
// push goes on (the platform is descriptive; the push's checks are elsewhere).
ImagePlatform image_platform(storage::BlobStorage& storage, const oci::Manifest& manifest) {
  if (!manifest.config) return {};
  const oci::Descriptor& config = *manifest.config;
  if (config.media_type != oci::media_type::kOciConfig &&
      config.media_type != oci::media_type::kDockerConfig) {
    return {};
  }
  if (config.size <= 0 || static_cast<std::uint64_t>(config.size) > kMaxConfigBytes) return {};
  auto reader = storage.open(config.digest);
  if (!reader) return {};
  std::string bytes(static_cast<std::size_t>(config.size), '\0');
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    auto read = (*reader)->read(filled, std::as_writable_bytes(std::span(bytes).subspan(filled)));
    if (!read || *read == 0) return {};
    filled += *read;
  }
  boost::system::error_code ec;
  boost::json::value document = boost::json::parse(bytes, ec);
  if (ec || !document.is_object()) return {};
  return {string_member(document.get_object(), "architecture"),
          string_member(document.get_object(), "os")};
}

}  // namespace

Result<PutManifestResult> Registry::put_manifest(std::string_view repository,
                                                 const oci::Reference& reference,
                                                 std::string_view bytes,
                                                 std::string_view content_type) {
  auto parsed = oci::parse_manifest(bytes, content_type);
  if (!parsed) return from_manifest_parse(parsed.error());

  const auto* digest_reference = std::get_if<oci::Digest>(&reference);
  oci::Digest digest = oci::digest_of(
      bytes, digest_reference ? digest_reference->algorithm() : oci::DigestAlgorithm::sha256);
  if (digest_reference && *digest_reference != digest) {
    return RegistryError{Errc::digest_invalid, fmt::format("the manifest's digest is {}, not {}",
                                                           digest.str(), digest_reference->str())};
  }

  if (auto writable = check_repository_writable(repository); !writable) return writable.error();
  if (const auto* name = std::get_if<std::string>(&reference)) {
    if (auto movable = check_tag_movable(repository, *name, digest); !movable) {
      return movable.error();
    }
  }

  if (auto within = check_within_quotas(lifecycle_, ref(repository)); !within) {
    return within.error();
  }
  auto references = check_references(metadata_, ref(repository), *parsed);
  if (!references) return references.error();

  metadata::ManifestRecord record{
      .digest = digest,
      .media_type = parsed->media_type,
      .artifact_type = parsed->effective_artifact_type(),
      .subject =
          parsed->subject ? std::optional<oci::Digest>(parsed->subject->digest) : std::nullopt,
      .annotations_json = parsed->annotations_json,
      .content = std::string(bytes),
      .created_at = unix_now(),
  };
  ImagePlatform platform = image_platform(storage_, *parsed);
  record.architecture = std::move(platform.architecture);
  record.os = std::move(platform.os);
  std::optional<std::string> tag;
  if (const auto* name = std::get_if<std::string>(&reference)) tag = *name;
  metadata::EventRecord pushed =
      event(is_helm_chart(record.artifact_type) ? metadata::event_action::kChartPush
                                                : metadata::event_action::kPush,
            repository);
  describe_manifest(pushed, record.digest, record.media_type, record.artifact_type,
                    record.content.size());
  if (tag) pushed.tag = *tag;
  if (auto stored =
          metadata_.put_manifest(ref(repository), record, *references, tag, std::span(&pushed, 1));
      !stored) {
    return from_metadata(stored.error());
  }
  return PutManifestResult{digest, record.subject};
}

Result<StoredManifest> Registry::get_manifest(std::string_view repository,
                                              const oci::Reference& reference, bool pull) {
  if (auto readable = check_repository_readable(repository); !readable) return readable.error();
  std::optional<oci::Digest> digest;
  if (const auto* tag = std::get_if<std::string>(&reference)) {
    auto tagged = metadata_.find_tag(ref(repository), *tag);
    if (!tagged) return from_metadata(tagged.error());
    if (!*tagged) {
      return RegistryError{Errc::manifest_unknown, "manifest unknown to the repository"};
    }
    if (!(*tagged)->attributes.read_enabled) {
      return locked_error(fmt::format("tag {} of repository {}", *tag, repository), "readEnabled");
    }
    digest = std::move((*tagged)->digest);
  } else {
    digest = std::get<oci::Digest>(reference);
  }
  auto record = metadata_.get_manifest(ref(repository), *digest);
  if (!record) return from_metadata(record.error());
  if (!*record) return RegistryError{Errc::manifest_unknown, "manifest unknown to the repository"};
  if (!(*record)->attributes.read_enabled) {
    return locked_error(fmt::format("manifest {} of repository {}", digest->str(), repository),
                        "readEnabled");
  }
  if (pull && pulls_ != nullptr) {
    metadata::EventRecord pulled = event(metadata::event_action::kPull, repository);
    describe_manifest(pulled, (*record)->digest, (*record)->media_type, (*record)->artifact_type,
                      (*record)->content.size());
    if (const auto* tag = std::get_if<std::string>(&reference)) pulled.tag = *tag;
    pulls_->record(std::move(pulled));
  }
  return StoredManifest{(*record)->digest, std::move((*record)->media_type),
                        std::move((*record)->content)};
}

Result<void> Registry::delete_manifest(std::string_view repository,
                                       const oci::Reference& reference) {
  if (const auto* tag = std::get_if<std::string>(&reference)) {
    auto untagged = untag(repository, *tag);
    if (!untagged && untagged.error().code != Errc::internal &&
        untagged.error().code != Errc::storage_full && untagged.error().code != Errc::locked) {
      return RegistryError{Errc::manifest_unknown, "manifest unknown to the repository"};
    }
    return untagged;
  }
  const auto& digest = std::get<oci::Digest>(reference);
  // The stored manifest says what the delete event describes (and whether it is a chart's).
  auto stored = metadata_.get_manifest(ref(repository), digest);
  if (!stored) return from_metadata(stored.error());
  if (!*stored) return RegistryError{Errc::manifest_unknown, "manifest unknown to the repository"};
  if (auto deletable = check_deletable(repository, digest); !deletable) return deletable.error();
  metadata::EventRecord deleted =
      event(is_helm_chart((*stored)->artifact_type) ? metadata::event_action::kChartDelete
                                                    : metadata::event_action::kDelete,
            repository);
  describe_manifest(deleted, digest, (*stored)->media_type, (*stored)->artifact_type,
                    (*stored)->content.size());
  auto removed = metadata_.delete_manifest(ref(repository), digest, std::span(&deleted, 1));
  if (!removed) return from_metadata(removed.error());
  if (!*removed) return RegistryError{Errc::manifest_unknown, "manifest unknown to the repository"};
  return {};
}

Result<void> Registry::untag(std::string_view repository, std::string_view tag) {
  auto found = tag_record(repository, tag);
  if (!found) return found.error();
  if (!found->attributes.delete_enabled) {
    return locked_error(fmt::format("tag {} of repository {}", tag, repository), "deleteEnabled");
  }
  metadata::EventRecord untagged = event(metadata::event_action::kUntag, repository);
  untagged.tag = std::string(tag);
  untagged.digest = found->digest.str();
  auto removed = metadata_.delete_tag(ref(repository), tag, std::span(&untagged, 1));
  if (!removed) return from_metadata(removed.error());
  if (!*removed) return RegistryError{Errc::tag_unknown, "tag unknown to the repository"};
  return {};
}

Result<void> Registry::delete_repository(std::string_view repository) {
  if (auto deletable = check_deletable(repository, std::nullopt); !deletable) {
    return deletable.error();
  }
  metadata::EventRecord deleted = event(metadata::event_action::kDelete, repository);
  auto removed = metadata_.delete_repository(ref(repository), std::span(&deleted, 1));
  if (!removed) return from_metadata(removed.error());
  if (!*removed) {
    return RegistryError{Errc::name_unknown, "repository name not known to registry"};
  }
  return {};
}

Result<void> Registry::require_repository(std::string_view repository) {
  auto exists = metadata_.repository_exists(ref(repository));
  if (!exists) return from_metadata(exists.error());
  if (!*exists) return RegistryError{Errc::name_unknown, "repository name not known to registry"};
  return {};
}

namespace {

// Reads one item beyond the page so the caller knows whether to send a Link.
template <class Lister>
Result<Registry::Page> read_page(std::size_t limit, Lister&& lister) {
  auto items = lister(limit + 1);
  if (!items) return from_metadata(items.error());
  Registry::Page page;
  page.items = std::move(*items);
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.more = true;
  }
  return page;
}

}  // namespace

Result<Registry::Page> Registry::list_tags(std::string_view repository, std::string_view last,
                                           std::size_t limit) {
  auto exists = metadata_.repository_exists(ref(repository));
  if (!exists) return from_metadata(exists.error());
  if (!*exists) return RegistryError{Errc::name_unknown, "repository name not known to registry"};
  return read_page(limit,
                   [&](std::size_t n) { return metadata_.list_tags(ref(repository), last, n); });
}

Result<Registry::Page> Registry::list_repositories(std::string_view last, std::size_t limit) {
  return read_page(limit,
                   [&](std::size_t n) { return metadata_.list_repositories(registry_, last, n); });
}

Result<std::vector<metadata::Referrer>> Registry::list_referrers(
    std::string_view repository, const oci::Digest& subject,
    const std::optional<std::string>& artifact_type) {
  auto referrers = metadata_.list_referrers(ref(repository), subject, artifact_type);
  if (!referrers) return from_metadata(referrers.error());
  return std::move(*referrers);
}

Result<void> Registry::check_health() {
  if (auto probe = metadata_.repository_exists(ref("healthz/probe")); !probe) {
    return from_metadata(probe.error());
  }
  auto probe_digest = oci::digest_of("");
  if (auto stat = storage_.stat(probe_digest);
      !stat && stat.error().code != storage::Errc::not_found) {
    return from_storage(stat.error(), Errc::internal, "");
  }
  // Reads succeed on a full disk; only a write tells whether pushes can succeed.
  if (auto writable = storage_.check_writable(); !writable) {
    return from_storage(writable.error(), Errc::internal, "");
  }
  return {};
}

}  // namespace berth::registry
