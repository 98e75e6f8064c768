#pragma once
// Imports: a copy of an image into a registry, run by berthd in the background (the CLI never
// moves the bytes). ImportService takes requests and shows jobs; ImportWorker runs them.
//
// The source is an image on an upstream registry ("host[:port]/repository:tag" or "@digest"),
// pulled with berth's OCI client (client/registry_client.h) through the registry's own content
// path (uploads verified by digest, manifests validated, quotas and locks kept, events
// appended), or an image of another registry of this deployment, whose blobs are then linked
// without copying a byte. Every platform of an index is copied, and the referrers of what is
// copied (signatures, SBOMs) when asked. In NoForce mode (the default) an existing tag that
// points elsewhere fails the import before anything is stored under it; Force moves it.
//
// Jobs live in the metadata (metadata::UpstreamStore), so any node may run a queued job, and a
// job whose node stopped is taken over and run again from the start: what the first run stored
// is found by digest and skipped.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/secrets.h"
#include "client/registry_client.h"
#include "metadata/upstream_store.h"
#include "registry/registry_services.h"
#include "registry/tenant_resolver.h"
#include "registry/tenants.h"
#include "upstream/upstream_service.h"

namespace berth::upstream {

enum class ImportMode { no_force, force };

struct ImportRequest {
  std::string source_registry;  // the login server: "host[:port]"
  std::string source_image;     // "repository:tag" or "repository@digest"
  std::vector<std::string> target_tags;                   // "repository:tag"
  std::vector<std::string> untagged_target_repositories;  // "repository"
  ImportMode mode = ImportMode::no_force;
  bool include_referrers = false;
  std::string credential_set;   // empty: `login`, else anonymous
  std::optional<Login> login;   // given with the request: sealed while the job waits or runs
};

struct ImportView {
  std::int64_t id = 0;
  std::string registry;
  metadata::ImportStatus status = metadata::ImportStatus::queued;
  ImportRequest request;  // without the login
  metadata::ImportProgress progress;
  std::string result;     // JSON, when it succeeded
  std::string error;
  std::int64_t created_at = 0;
  std::int64_t started_at = 0;
  std::int64_t finished_at = 0;
};

// The request as it is stored with the job (no login) and read back.
std::string request_json(const ImportRequest& request);
std::optional<ImportRequest> request_of_json(std::string_view text);
std::string_view mode_name(ImportMode mode);  // "NoForce" | "Force"
std::string_view status_name(metadata::ImportStatus status);  // "Queued" | "Running" | ...

// Whether whoever asks for an import may pull `repository` of `registry` (a source on another
// registry of this deployment).
using SourceReadCheck =
    std::function<bool(const metadata::RegistryRecord& registry, std::string_view repository)>;

class ImportService {
 public:
  // `hosts` tells a source on a registry of this deployment (its login server) from an
  // upstream. `wake` (optional) tells this node's worker that a job was queued.
  ImportService(metadata::UpstreamStore& store, metadata::MetadataStore& metadata,
                registry::Tenants& tenants, const registry::TenantResolver& hosts,
                const auth::DeploymentKey& key, std::function<void()> wake = {});

  // Checks the request and queues the job. A source on another registry of this deployment
  // needs `may_read` to allow it (denied otherwise, whether that registry exists or not).
  UpstreamResult<ImportView> start(std::string_view registry, const ImportRequest& request,
                                   const SourceReadCheck& may_read);
  UpstreamResult<ImportView> show(std::string_view registry, std::int64_t id);
  // Newest first; ids below `before` when given.
  UpstreamResult<std::vector<ImportView>> list(std::string_view registry,
                                               std::optional<std::int64_t> before,
                                               std::size_t limit);

 private:
  UpstreamResult<registry::RegistryInfo> registry_info(std::string_view name);

  metadata::UpstreamStore& store_;
  metadata::MetadataStore& metadata_;
  registry::Tenants& tenants_;
  const registry::TenantResolver& hosts_;
  const auth::DeploymentKey& key_;
  std::function<void()> wake_;
};

struct ImportWorkerOptions {
  std::string node;  // this node's id: the holder of the jobs it runs
  client::ClientOptions client;
  // A running job whose heartbeat is older than this is taken over by another node.
  std::chrono::seconds stale_after{60};
  // The deployment's only node (the embedded default): a job left running was this process's
  // predecessor's, taken over at once.
  bool only_node = false;
  // How often an idle worker looks for jobs other nodes queued.
  std::chrono::milliseconds poll_interval{2000};
  // Ended jobs are forgotten after this.
  std::chrono::hours keep_finished{24 * 7};
};

class ImportWorker {
 public:
  ImportWorker(metadata::UpstreamStore& store, metadata::MetadataStore& metadata,
               const registry::RegistryServices& registries, const registry::TenantResolver& hosts,
               UpstreamService& upstream, const auth::DeploymentKey& key,
               ImportWorkerOptions options);
  ~ImportWorker();
  ImportWorker(const ImportWorker&) = delete;
  ImportWorker& operator=(const ImportWorker&) = delete;

  void start();
  // Stops taking jobs; a job in progress stops at its next step and stays running in the
  // metadata, for this or another node to take over once its heartbeat is stale.
  void stop();
  // A job was queued: look now.
  void wake();
  // Claims and runs one job if there is one (tests); false when there was none.
  bool run_one();

 private:
  friend class ImportRun;
  void loop();

  metadata::UpstreamStore& store_;
  metadata::MetadataStore& metadata_;
  const registry::RegistryServices& registries_;
  const registry::TenantResolver& hosts_;
  UpstreamService& upstream_;
  const auth::DeploymentKey& key_;
  ImportWorkerOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wakeup_;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace berth::upstream
