#pragma once
// Builds the registry::Registry service for one registry (tenant) over the shared backends, so
// that request handlers reach content through the service and never see storage or metadata.

#include "metadata/metadata_store.h"
#include "registry/registry.h"
#include "storage/blob_storage.h"

namespace berth::registry {

class RegistryServices {
 public:
  // All three must outlive the factory and every Registry it builds.
  RegistryServices(storage::BlobStorage& storage, metadata::MetadataStore& metadata,
                   UploadSessions& uploads)
      : storage_(storage), metadata_(metadata), uploads_(uploads) {}

  // The content of registry `id`. Cheap: a Registry is references and the id.
  Registry for_registry(metadata::RegistryId id) const {
    return Registry(storage_, metadata_, uploads_, id);
  }

 private:
  storage::BlobStorage& storage_;
  metadata::MetadataStore& metadata_;
  UploadSessions& uploads_;
};

}  // namespace berth::registry
