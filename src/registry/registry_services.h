#pragma once
// Builds the registry::Registry service for one registry (tenant) over the shared backends, so
// that request handlers reach content through the service and never see storage or metadata.

#include <utility>

#include "metadata/lifecycle_store.h"
#include "metadata/metadata_store.h"
#include "registry/registry.h"
#include "storage/blob_storage.h"

namespace berth::registry {

class RegistryServices {
 public:
  // All of them must outlive the factory and every Registry it builds.
  // `pulls` (optional) records pulls for the audit; `lifecycle` (optional) keeps storage quotas
  // and soft-deleted content.
  RegistryServices(storage::BlobStorage& storage, metadata::MetadataStore& metadata,
                   UploadSessions& uploads, PullRecorder* pulls = nullptr,
                   metadata::LifecycleStore* lifecycle = nullptr)
      : storage_(storage),
        metadata_(metadata),
        uploads_(uploads),
        pulls_(pulls),
        lifecycle_(lifecycle) {}

  // The content of registry `id`. Cheap: a Registry is references and the id.
  Registry for_registry(metadata::RegistryId id) const {
    return Registry(storage_, metadata_, uploads_, id, pulls_, lifecycle_);
  }
  // The same, with the request that asks as the origin of its events.
  Registry for_registry(metadata::RegistryId id, metadata::EventOrigin origin) const {
    Registry registry(storage_, metadata_, uploads_, id, pulls_, lifecycle_);
    registry.set_origin(std::move(origin));
    return registry;
  }

 private:
  storage::BlobStorage& storage_;
  metadata::MetadataStore& metadata_;
  UploadSessions& uploads_;
  PullRecorder* pulls_;
  metadata::LifecycleStore* lifecycle_;
};

}  // namespace berth::registry
