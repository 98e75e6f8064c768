#pragma once
// Typed calls to the management API (/mgmt/v1, docs/management-api.md) over an HttpTransport.
//
// Every call answers the response's JSON (null for 204) or an Error whose message is the
// server's `error.message` when it sent the error envelope, and whose exit code follows the
// status (error.h). The token goes only into the Authorization header.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/config_store.h"
#include "cli/error.h"
#include "cli/http_client.h"

namespace berth::cli {

// A piece of a run's log, as GET …/runs/{id}/log answers it.
struct LogChunk {
  std::string bytes;
  std::uint64_t next_offset = 0;  // where the next piece starts
  std::string status;             // the run's status when the piece was read ("Running", ...)
};

// The response headers of a log piece.
inline constexpr std::string_view kLogNextOffsetHeader = "X-Berth-Log-Next-Offset";
inline constexpr std::string_view kRunStatusHeader = "X-Berth-Run-Status";

// Percent-encodes everything but RFC 3986 unreserved characters; `keep` lists more to leave.
std::string percent_encode(std::string_view text, std::string_view keep = {});

class ManagementClient {
 public:
  // `settings.server` is "http(s)://host[:port]" without a trailing slash.
  ManagementClient(HttpTransport& transport, Settings settings);

  Result<boost::json::value> list_registries();
  Result<boost::json::value> get_registry(std::string_view registry);
  Result<boost::json::value> create_registry(const boost::json::object& body);
  Result<boost::json::value> update_registry(std::string_view registry,
                                             const boost::json::object& body);
  Result<boost::json::value> delete_registry(std::string_view registry);
  Result<boost::json::value> registry_usage(std::string_view registry);
  Result<boost::json::value> registry_health(std::string_view registry);

  Result<boost::json::value> list_repositories(std::string_view registry);
  Result<boost::json::value> get_repository(std::string_view registry, std::string_view repo);
  Result<boost::json::value> delete_repository(std::string_view registry, std::string_view repo);
  // Changes the changeable attributes (locks) of a repository, a tag or a manifest; `body` holds
  // any of writeEnabled, deleteEnabled, readEnabled, listEnabled.
  Result<boost::json::value> update_repository(std::string_view registry, std::string_view repo,
                                               const boost::json::object& body);
  Result<boost::json::value> update_tag(std::string_view registry, std::string_view repo,
                                        std::string_view tag, const boost::json::object& body);
  Result<boost::json::value> update_manifest(std::string_view registry, std::string_view repo,
                                             std::string_view digest,
                                             const boost::json::object& body);
  Result<boost::json::value> list_tags(std::string_view registry, std::string_view repo);
  Result<boost::json::value> delete_tag(std::string_view registry, std::string_view repo,
                                        std::string_view tag);

  Result<boost::json::value> list_manifests(std::string_view registry, std::string_view repo);
  Result<boost::json::value> get_manifest(std::string_view registry, std::string_view repo,
                                          std::string_view digest);
  Result<boost::json::value> delete_manifest(std::string_view registry, std::string_view repo,
                                             std::string_view digest);

  // Access control (docs/management-api.md): the admin user, scope maps, tokens, network rules
  // and the login audit of a registry; identities and role assignments of the deployment.
  Result<boost::json::value> get_credentials(std::string_view registry);
  Result<boost::json::value> renew_credential(std::string_view registry,
                                              std::string_view password_name);

  Result<boost::json::value> list_scope_maps(std::string_view registry);
  Result<boost::json::value> get_scope_map(std::string_view registry, std::string_view name);
  Result<boost::json::value> create_scope_map(std::string_view registry,
                                              const boost::json::object& body);
  Result<boost::json::value> update_scope_map(std::string_view registry, std::string_view name,
                                              const boost::json::object& body);
  Result<boost::json::value> delete_scope_map(std::string_view registry, std::string_view name);

  Result<boost::json::value> list_tokens(std::string_view registry);
  Result<boost::json::value> get_token(std::string_view registry, std::string_view name);
  Result<boost::json::value> create_token(std::string_view registry,
                                          const boost::json::object& body);
  Result<boost::json::value> update_token(std::string_view registry, std::string_view name,
                                          const boost::json::object& body);
  Result<boost::json::value> delete_token(std::string_view registry, std::string_view name);
  Result<boost::json::value> generate_token_credentials(std::string_view registry,
                                                        std::string_view name,
                                                        const boost::json::object& body);

  Result<boost::json::value> list_identities();
  Result<boost::json::value> get_identity(std::string_view id);
  Result<boost::json::value> create_identity(const boost::json::object& body);
  Result<boost::json::value> delete_identity(std::string_view id);

  // Empty filters are left out of the query.
  Result<boost::json::value> list_role_assignments(std::string_view registry,
                                                   std::string_view assignee);
  Result<boost::json::value> create_role_assignment(const boost::json::object& body);
  Result<boost::json::value> delete_role_assignment(std::string_view id);

  Result<boost::json::value> list_network_rules(std::string_view registry);
  Result<boost::json::value> add_network_rule(std::string_view registry,
                                              std::string_view ip_or_range);
  Result<boost::json::value> remove_network_rule(std::string_view registry,
                                                 std::string_view ip_or_range);

  // `query` holds (name, value) pairs; empty values are left out.
  Result<boost::json::value> login_audit(
      std::string_view registry,
      const std::vector<std::pair<std::string, std::string>>& query);

  // Webhooks and the audit log of repository events (docs/management-api.md). `query` holds
  // (name, value) pairs; empty values are left out.
  Result<boost::json::value> list_webhooks(std::string_view registry);
  Result<boost::json::value> get_webhook(std::string_view registry, std::string_view name);
  Result<boost::json::value> create_webhook(std::string_view registry,
                                            const boost::json::object& body);
  Result<boost::json::value> update_webhook(std::string_view registry, std::string_view name,
                                            const boost::json::object& body);
  Result<boost::json::value> delete_webhook(std::string_view registry, std::string_view name);
  Result<boost::json::value> ping_webhook(std::string_view registry, std::string_view name);
  Result<boost::json::value> webhook_config(std::string_view registry, std::string_view name);
  Result<boost::json::value> webhook_deliveries(
      std::string_view registry, std::string_view name,
      const std::vector<std::pair<std::string, std::string>>& query);
  Result<boost::json::value> redeliver_event(std::string_view registry, std::string_view name,
                                             std::string_view event_id);
  Result<boost::json::value> event_audit(
      std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query);

  // Garbage collection: a registry's runs (registry given) or the deployment's (empty).
  Result<boost::json::value> start_gc(std::string_view registry, bool dry_run);
  Result<boost::json::value> list_gc_runs(
      std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query);
  Result<boost::json::value> get_gc_run(std::string_view registry, std::string_view id);

  // Content lifecycle of a registry: its soft delete and retention policies, its quota and its
  // repositories' (`body` {"quotaBytes": N or null}), the soft-deleted content kept and its
  // restore, purge and purge schedules. `query` holds (name, value) pairs; empty values are
  // left out.
  Result<boost::json::value> get_soft_delete_policy(std::string_view registry);
  Result<boost::json::value> update_soft_delete_policy(std::string_view registry,
                                                       const boost::json::object& body);
  Result<boost::json::value> get_retention_policy(std::string_view registry);
  Result<boost::json::value> update_retention_policy(std::string_view registry,
                                                     const boost::json::object& body);
  // Applies the retention policy now ({"dryRun": bool}); answers like a purge.
  Result<boost::json::value> run_retention_policy(std::string_view registry, bool dry_run);
  Result<boost::json::value> get_registry_quota(std::string_view registry);
  Result<boost::json::value> update_registry_quota(std::string_view registry,
                                                   const boost::json::object& body);
  Result<boost::json::value> get_repository_quota(std::string_view registry,
                                                  std::string_view repo);
  Result<boost::json::value> update_repository_quota(std::string_view registry,
                                                     std::string_view repo,
                                                     const boost::json::object& body);
  Result<boost::json::value> list_deleted_repositories(
      std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query);
  Result<boost::json::value> list_deleted_manifests(
      std::string_view registry, std::string_view repo,
      const std::vector<std::pair<std::string, std::string>>& query);
  Result<boost::json::value> list_deleted_tags(
      std::string_view registry, std::string_view repo,
      const std::vector<std::pair<std::string, std::string>>& query);
  // `body` {"digest"} or {"tag"}, optionally "force".
  Result<boost::json::value> restore(std::string_view registry, std::string_view repo,
                                     const boost::json::object& body);
  Result<boost::json::value> purge(std::string_view registry, const boost::json::object& body);
  Result<boost::json::value> list_purge_schedules(std::string_view registry);
  // Creates or replaces the schedule `name`.
  Result<boost::json::value> put_purge_schedule(std::string_view registry, std::string_view name,
                                                const boost::json::object& body);
  Result<boost::json::value> delete_purge_schedule(std::string_view registry,
                                                   std::string_view name);

  // Credential sets, cache rules and imports of a registry (docs/management-api.md). A
  // credential set's password goes only into the request body; no answer carries it. `query`
  // holds (name, value) pairs; empty values are left out.
  Result<boost::json::value> list_credential_sets(std::string_view registry);
  Result<boost::json::value> get_credential_set(std::string_view registry, std::string_view name);
  Result<boost::json::value> create_credential_set(std::string_view registry,
                                                   const boost::json::object& body);
  Result<boost::json::value> update_credential_set(std::string_view registry,
                                                   std::string_view name,
                                                   const boost::json::object& body);
  Result<boost::json::value> delete_credential_set(std::string_view registry,
                                                   std::string_view name);
  Result<boost::json::value> list_cache_rules(std::string_view registry);
  Result<boost::json::value> get_cache_rule(std::string_view registry, std::string_view name);
  Result<boost::json::value> create_cache_rule(std::string_view registry,
                                               const boost::json::object& body);
  Result<boost::json::value> update_cache_rule(std::string_view registry, std::string_view name,
                                               const boost::json::object& body);
  Result<boost::json::value> delete_cache_rule(std::string_view registry, std::string_view name);
  // Starts an import (202): the import resource, whose id get_import follows.
  Result<boost::json::value> start_import(std::string_view registry,
                                          const boost::json::object& body);
  Result<boost::json::value> get_import(std::string_view registry, std::string_view id);
  Result<boost::json::value> list_imports(
      std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query);

  // Build sources and runs of a registry (docs/management-api.md, "Runs and sources"). `query`
  // holds (name, value) pairs; empty values are left out.
  // Uploads the tar.gz at `archive` as the source `digest` ("sha256:..."); idempotent.
  Result<boost::json::value> upload_source(std::string_view registry, std::string_view digest,
                                           const std::filesystem::path& archive);
  // Queues a run (202): the run resource, whose runId the other calls take.
  Result<boost::json::value> queue_run(std::string_view registry,
                                       const boost::json::object& body);
  Result<boost::json::value> get_run(std::string_view registry, std::string_view run_id);
  Result<boost::json::value> list_runs(
      std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query);
  Result<boost::json::value> cancel_run(std::string_view registry, std::string_view run_id);
  // Up to 1 MiB of the run's log from `offset`. With `follow` the server waits (up to 20 s)
  // for bytes while the run has not ended, and may answer none.
  Result<LogChunk> read_run_log(std::string_view registry, std::string_view run_id,
                                std::uint64_t offset, bool follow);

  // The generic call the others use: `path` starts with "/mgmt/v1/".
  Result<boost::json::value> call(std::string_view method, std::string_view path,
                                  const boost::json::value* body = nullptr);

 private:
  std::string registry_path(std::string_view registry) const;
  std::string repository_path(std::string_view registry, std::string_view repo) const;
  // A request to `path` with the token; the body and its headers are the caller's.
  HttpRequest request_to(std::string_view method, std::string_view path) const;
  // ".../registries/{r}/{collection}[/{name}]"
  std::string child_path(std::string_view registry, std::string_view collection,
                         std::string_view name = {}) const;

  HttpTransport& transport_;
  Settings settings_;
};

// "?a=1&b=2" from the pairs whose value is not empty, each value percent-encoded; "" when none.
std::string query_string(const std::vector<std::pair<std::string, std::string>>& pairs);

// The Error for a non-2xx response: the envelope's message when present, else the status.
Error error_from_response(const HttpResponse& response);

}  // namespace berth::cli
