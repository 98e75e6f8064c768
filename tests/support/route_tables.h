#pragma once
// Every route berthd serves, as the request pipeline wraps it, over throwaway services: for
// tests that look at the route table (pattern, method, action) or call a handler directly.

#include <memory>
#include <stdexcept>
#include <vector>

#include "api/acr.h"
#include "api/distribution.h"
#include "api/management.h"
#include "api/oauth2.h"
#include "api/pipeline.h"
#include "support/access_stack.h"
#include "auth/admin_credential.h"
#include "http/router.h"
#include "metadata/sqlite_metadata_store.h"
#include "metrics/metrics.h"
#include "auth/secrets.h"
#include "events/event_service.h"
#include "registry/access_control.h"
#include "registry/registry.h"
#include "registry/registry_services.h"
#include "registry/tenant_resolver.h"
#include "registry/tenants.h"
#include "storage/blob_storage.h"
#include "storage/memory_byte_store.h"
#include "common/temp_dir.h"

namespace berth::testing {

class AllRoutes {
 public:
  // `metrics`, when given, is where the pipeline records the requests.
  explicit AllRoutes(metrics::Metrics* metrics = nullptr) {
    auto store = metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db");
    if (!store) throw std::runtime_error(store.error().message);
    metadata_ = std::move(*store);
    resolver_ = std::make_unique<registry::TenantResolver>(*metadata_, registry::TenantRouting{});
    registries_ = std::make_unique<registry::RegistryServices>(storage_, *metadata_, uploads_,
                                                                nullptr, metadata_.get());
    plane_ = std::make_unique<api::DataPlane>(api::DataPlane{*registries_});
    registry::TenantOptions tenant_options;
    tenant_options.lifecycle = metadata_.get();
    tenants_ = std::make_unique<registry::Tenants>(*metadata_, storage_, tenant_options);
    access_ = std::make_unique<AccessStack>(*metadata_);
    access_control_ = std::make_unique<registry::AccessControl>(*metadata_, *metadata_, *tenants_,
                                                                access_->key());
    events_ = std::make_unique<events::EventService>(*metadata_, *tenants_, access_->key(),
                                                     events::DestinationPolicy{});
    management_ = std::make_unique<api::ManagementContext>(
        api::ManagementContext{*tenants_, *access_control_, *registries_, *events_});
    management_->lifecycle = metadata_.get();
    management_->gc_store = metadata_.get();
    pipeline_ = std::make_unique<api::Pipeline>(api::PipelineServices{
        *resolver_, *metadata_, *metadata_, access_->authenticator(), nullptr, nullptr, {},
        metrics});
    pipeline_->add(router_, api::distribution_family(nullptr), api::distribution_routes(*plane_));
    pipeline_->add(router_, api::distribution_family(nullptr), api::acr_routes(*plane_));
    pipeline_->add(router_, api::oauth2_family(nullptr), api::oauth2_routes(*pipeline_));
    pipeline_->add(router_, api::management_family(nullptr), api::management_routes(*management_));
  }
  const http::Router& router() const { return router_; }
  const api::Pipeline& pipeline() const { return *pipeline_; }
  metadata::SqliteMetadataStore& metadata() { return *metadata_; }
  AccessStack& access() { return *access_; }

 private:
  TempDir dir_;
  storage::BlobStorage storage_{std::make_unique<storage::MemoryByteStore>()};
  registry::UploadSessions uploads_{registry::UploadPolicy{}};
  std::unique_ptr<metadata::SqliteMetadataStore> metadata_;
  std::unique_ptr<registry::TenantResolver> resolver_;
  std::unique_ptr<registry::RegistryServices> registries_;
  std::unique_ptr<api::DataPlane> plane_;
  std::unique_ptr<registry::Tenants> tenants_;
  std::unique_ptr<AccessStack> access_;
  std::unique_ptr<registry::AccessControl> access_control_;
  std::unique_ptr<events::EventService> events_;
  std::unique_ptr<api::ManagementContext> management_;
  std::unique_ptr<api::Pipeline> pipeline_;
  http::Router router_;
};

inline bool is_management(const http::Route& route) { return route.pattern.starts_with("/mgmt/"); }

}  // namespace berth::testing
