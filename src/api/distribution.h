#pragma once
// The OCI distribution API (/v2/) as a route table over registry::Registry.

#include "api/blocking_pool.h"
#include "http/router.h"
#include "metadata/metadata_store.h"
#include "registry/registry.h"
#include "registry/tenant_resolver.h"
#include "storage/blob_storage.h"

namespace berth::api {

// What the /v2/ handlers work on: the shared backends, the Host -> registry mapping, the
// upload sessions in use, and the pool for blocking work (null: that work runs on the event
// loop, for tests without threads).
struct DataPlane {
  storage::BlobStorage& storage;
  metadata::MetadataStore& metadata;
  const registry::TenantResolver& tenants;
  registry::UploadSessions& uploads;  // the upload sessions requests are using
  BlockingPool* blocking = nullptr;
};

// Adds every /v2/ route. `plane` and what it refers to must outlive the router.
void add_distribution_routes(http::Router& router, DataPlane& plane);

// The answer for paths no route matches (404) or methods a path does not take (405).
http::Response not_routed(const http::Request& request, bool method_not_allowed);

}  // namespace berth::api
