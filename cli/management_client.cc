#include "cli/management_client.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>

namespace berth::cli {
namespace json = boost::json;

namespace {

constexpr std::string_view kPrefix = "/mgmt/v1/registries";

std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

}  // namespace

std::string percent_encode(std::string_view text, std::string_view keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~' ||
                      keep.find(c) != std::string_view::npos;
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

Error error_from_response(const HttpResponse& response) {
  Error error{exit_code_for_status(response.status), {}};
  boost::system::error_code ec;
  json::value doc = json::parse(response.body, ec);
  if (!ec && doc.is_object()) {
    if (const auto* envelope = doc.as_object().if_contains("error");
        envelope != nullptr && envelope->is_object()) {
      const auto* message = envelope->as_object().if_contains("message");
      const auto* code = envelope->as_object().if_contains("code");
      if (message != nullptr && message->is_string() && !message->as_string().empty()) {
        error.message = one_line(message->as_string());
      } else if (code != nullptr && code->is_string()) {
        error.message = fmt::format("server answered {} {}", response.status,
                                    std::string_view(code->as_string()));
      }
    }
  }
  if (error.message.empty()) {
    error.message = response.status == 401
                        ? std::string("the server refused the token (401 Unauthorized)")
                        : fmt::format("server answered HTTP {}", response.status);
  }
  return error;
}

ManagementClient::ManagementClient(HttpTransport& transport, Settings settings)
    : transport_(transport), settings_(std::move(settings)) {}

HttpRequest ManagementClient::request_to(std::string_view method, std::string_view path) const {
  HttpRequest request;
  request.method = std::string(method);
  request.url = settings_.server + std::string(path);
  if (!settings_.token.empty())
    request.headers.push_back("Authorization: Bearer " + settings_.token);
  return request;
}

Result<json::value> ManagementClient::call(std::string_view method, std::string_view path,
                                           const json::value* body) {
  HttpRequest request = request_to(method, path);
  request.headers.push_back("Accept: application/json");
  if (body != nullptr) {
    request.headers.push_back("Content-Type: application/json");
    request.body = json::serialize(*body);
  }
  auto response = transport_.send(request);
  if (!response) return response.error();
  if (response->status < 200 || response->status > 299) return error_from_response(*response);
  if (response->status == 204 || response->body.empty()) return json::value();
  boost::system::error_code ec;
  json::value doc = json::parse(response->body, ec);
  if (ec) {
    return failure(
        fmt::format("the server's answer to {} {} is not JSON: {}", method, path, ec.message()));
  }
  return doc;
}

std::string ManagementClient::registry_path(std::string_view registry) const {
  return fmt::format("{}/{}", kPrefix, percent_encode(registry));
}

std::string ManagementClient::repository_path(std::string_view registry,
                                              std::string_view repo) const {
  // Repository names keep their slashes: the API matches {repository} across them.
  return fmt::format("{}/repositories/{}", registry_path(registry), percent_encode(repo, "/"));
}

Result<json::value> ManagementClient::list_registries() { return call("GET", kPrefix); }

Result<json::value> ManagementClient::get_registry(std::string_view registry) {
  return call("GET", registry_path(registry));
}

Result<json::value> ManagementClient::create_registry(const json::object& body) {
  json::value value(body);
  return call("POST", kPrefix, &value);
}

Result<json::value> ManagementClient::update_registry(std::string_view registry,
                                                      const json::object& body) {
  json::value value(body);
  return call("PATCH", registry_path(registry), &value);
}

Result<json::value> ManagementClient::delete_registry(std::string_view registry) {
  return call("DELETE", registry_path(registry));
}

Result<json::value> ManagementClient::registry_usage(std::string_view registry) {
  return call("GET", registry_path(registry) + "/usage");
}

Result<json::value> ManagementClient::registry_health(std::string_view registry) {
  return call("GET", registry_path(registry) + "/health");
}

Result<json::value> ManagementClient::list_repositories(std::string_view registry) {
  return call("GET", registry_path(registry) + "/repositories");
}

Result<json::value> ManagementClient::get_repository(std::string_view registry,
                                                     std::string_view repo) {
  return call("GET", repository_path(registry, repo));
}

Result<json::value> ManagementClient::delete_repository(std::string_view registry,
                                                        std::string_view repo) {
  return call("DELETE", repository_path(registry, repo));
}

Result<json::value> ManagementClient::update_repository(std::string_view registry,
                                                        std::string_view repo,
                                                        const json::object& body) {
  json::value value(body);
  return call("PATCH", repository_path(registry, repo), &value);
}

Result<json::value> ManagementClient::update_tag(std::string_view registry, std::string_view repo,
                                                 std::string_view tag, const json::object& body) {
  json::value value(body);
  return call("PATCH", repository_path(registry, repo) + "/tags/" + percent_encode(tag), &value);
}

Result<json::value> ManagementClient::update_manifest(std::string_view registry,
                                                      std::string_view repo,
                                                      std::string_view digest,
                                                      const json::object& body) {
  json::value value(body);
  return call("PATCH",
              repository_path(registry, repo) + "/manifests/" + percent_encode(digest, ":"),
              &value);
}

Result<json::value> ManagementClient::list_tags(std::string_view registry, std::string_view repo) {
  return call("GET", repository_path(registry, repo) + "/tags");
}

Result<json::value> ManagementClient::delete_tag(std::string_view registry, std::string_view repo,
                                                 std::string_view tag) {
  return call("DELETE", repository_path(registry, repo) + "/tags/" + percent_encode(tag));
}

Result<json::value> ManagementClient::list_manifests(std::string_view registry,
                                                     std::string_view repo) {
  return call("GET", repository_path(registry, repo) + "/manifests");
}

Result<json::value> ManagementClient::get_manifest(std::string_view registry, std::string_view repo,
                                                   std::string_view digest) {
  return call("GET", repository_path(registry, repo) + "/manifests/" + percent_encode(digest, ":"));
}

Result<json::value> ManagementClient::delete_manifest(std::string_view registry,
                                                      std::string_view repo,
                                                      std::string_view digest) {
  return call("DELETE",
              repository_path(registry, repo) + "/manifests/" + percent_encode(digest, ":"));
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string query;
  for (const auto& [name, value] : pairs) {
    if (value.empty()) continue;
    query += query.empty() ? '?' : '&';
    query += name;
    query += '=';
    query += percent_encode(value);
  }
  return query;
}

namespace {

json::value body_of(const json::object& object) { return json::value(object); }

}  // namespace

Result<json::value> ManagementClient::get_credentials(std::string_view registry) {
  return call("GET", registry_path(registry) + "/credentials");
}

Result<json::value> ManagementClient::renew_credential(std::string_view registry,
                                                       std::string_view password_name) {
  json::value body = json::object{{"passwordName", password_name}};
  return call("POST", registry_path(registry) + "/credentials/renew", &body);
}

std::string ManagementClient::child_path(std::string_view registry, std::string_view collection,
                                         std::string_view name) const {
  std::string path = registry_path(registry);
  path += '/';
  path += collection;
  if (!name.empty()) {
    path += '/';
    path += percent_encode(name);
  }
  return path;
}

Result<json::value> ManagementClient::list_scope_maps(std::string_view registry) {
  return call("GET", child_path(registry, "scope-maps"));
}

Result<json::value> ManagementClient::get_scope_map(std::string_view registry,
                                                    std::string_view name) {
  return call("GET", child_path(registry, "scope-maps", name));
}

Result<json::value> ManagementClient::create_scope_map(std::string_view registry,
                                                       const json::object& body) {
  json::value value = body_of(body);
  return call("POST", child_path(registry, "scope-maps"), &value);
}

Result<json::value> ManagementClient::update_scope_map(std::string_view registry,
                                                       std::string_view name,
                                                       const json::object& body) {
  json::value value = body_of(body);
  return call("PATCH", child_path(registry, "scope-maps", name), &value);
}

Result<json::value> ManagementClient::delete_scope_map(std::string_view registry,
                                                       std::string_view name) {
  return call("DELETE", child_path(registry, "scope-maps", name));
}

Result<json::value> ManagementClient::list_tokens(std::string_view registry) {
  return call("GET", child_path(registry, "tokens"));
}

Result<json::value> ManagementClient::get_token(std::string_view registry, std::string_view name) {
  return call("GET", child_path(registry, "tokens", name));
}

Result<json::value> ManagementClient::create_token(std::string_view registry,
                                                   const json::object& body) {
  json::value value = body_of(body);
  return call("POST", child_path(registry, "tokens"), &value);
}

Result<json::value> ManagementClient::update_token(std::string_view registry, std::string_view name,
                                                   const json::object& body) {
  json::value value = body_of(body);
  return call("PATCH", child_path(registry, "tokens", name), &value);
}

Result<json::value> ManagementClient::delete_token(std::string_view registry,
                                                   std::string_view name) {
  return call("DELETE", child_path(registry, "tokens", name));
}

Result<json::value> ManagementClient::generate_token_credentials(std::string_view registry,
                                                                 std::string_view name,
                                                                 const json::object& body) {
  json::value value = body_of(body);
  return call("POST", child_path(registry, "tokens", name) + "/credentials/generate", &value);
}

namespace {
constexpr std::string_view kIdentities = "/mgmt/v1/identities";
constexpr std::string_view kRoleAssignments = "/mgmt/v1/role-assignments";

std::string item_path(std::string_view collection, std::string_view id) {
  std::string path(collection);
  path += '/';
  path += percent_encode(id);
  return path;
}
}  // namespace

Result<json::value> ManagementClient::list_identities() { return call("GET", kIdentities); }

Result<json::value> ManagementClient::get_identity(std::string_view id) {
  return call("GET", item_path(kIdentities, id));
}

Result<json::value> ManagementClient::create_identity(const json::object& body) {
  json::value value = body_of(body);
  return call("POST", kIdentities, &value);
}

Result<json::value> ManagementClient::delete_identity(std::string_view id) {
  return call("DELETE", item_path(kIdentities, id));
}

Result<json::value> ManagementClient::list_role_assignments(std::string_view registry,
                                                            std::string_view assignee) {
  std::string path(kRoleAssignments);
  path += query_string({{"registry", std::string(registry)}, {"assignee", std::string(assignee)}});
  return call("GET", path);
}

Result<json::value> ManagementClient::create_role_assignment(const json::object& body) {
  json::value value = body_of(body);
  return call("POST", kRoleAssignments, &value);
}

Result<json::value> ManagementClient::delete_role_assignment(std::string_view id) {
  return call("DELETE", item_path(kRoleAssignments, id));
}

Result<json::value> ManagementClient::list_network_rules(std::string_view registry) {
  return call("GET", child_path(registry, "network-rules"));
}

Result<json::value> ManagementClient::add_network_rule(std::string_view registry,
                                                       std::string_view ip_or_range) {
  json::value body = json::object{{"ipAddressOrRange", ip_or_range}};
  return call("POST", child_path(registry, "network-rules"), &body);
}

Result<json::value> ManagementClient::remove_network_rule(std::string_view registry,
                                                          std::string_view ip_or_range) {
  return call("DELETE", child_path(registry, "network-rules") +
                            query_string({{"ipAddressOrRange", std::string(ip_or_range)}}));
}

Result<json::value> ManagementClient::login_audit(
    std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query) {
  return call("GET", child_path(registry, "audit/logins") + query_string(query));
}

Result<json::value> ManagementClient::list_webhooks(std::string_view registry) {
  return call("GET", child_path(registry, "webhooks"));
}

Result<json::value> ManagementClient::get_webhook(std::string_view registry,
                                                  std::string_view name) {
  return call("GET", child_path(registry, "webhooks", name));
}

Result<json::value> ManagementClient::create_webhook(std::string_view registry,
                                                     const json::object& body) {
  json::value value = body_of(body);
  return call("POST", child_path(registry, "webhooks"), &value);
}

Result<json::value> ManagementClient::update_webhook(std::string_view registry,
                                                     std::string_view name,
                                                     const json::object& body) {
  json::value value = body_of(body);
  return call("PATCH", child_path(registry, "webhooks", name), &value);
}

Result<json::value> ManagementClient::delete_webhook(std::string_view registry,
                                                     std::string_view name) {
  return call("DELETE", child_path(registry, "webhooks", name));
}

Result<json::value> ManagementClient::ping_webhook(std::string_view registry,
                                                   std::string_view name) {
  return call("POST", child_path(registry, "webhooks", name) + "/ping");
}

Result<json::value> ManagementClient::webhook_config(std::string_view registry,
                                                     std::string_view name) {
  return call("GET", child_path(registry, "webhooks", name) + "/config");
}

Result<json::value> ManagementClient::webhook_deliveries(
    std::string_view registry, std::string_view name,
    const std::vector<std::pair<std::string, std::string>>& query) {
  return call("GET", child_path(registry, "webhooks", name) + "/events" + query_string(query));
}

Result<json::value> ManagementClient::redeliver_event(std::string_view registry,
                                                      std::string_view name,
                                                      std::string_view event_id) {
  return call("POST", child_path(registry, "webhooks", name) + "/events/" +
                          percent_encode(event_id) + "/redeliver");
}

Result<json::value> ManagementClient::event_audit(
    std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query) {
  return call("GET", child_path(registry, "audit/events") + query_string(query));
}

namespace {

// "/mgmt/v1/gc" or ".../registries/{r}/gc", with `rest` after it.
std::string gc_path(const std::string& registry_path, std::string_view registry,
                    std::string_view rest) {
  std::string path = registry.empty() ? std::string("/mgmt/v1/gc") : registry_path + "/gc";
  path += rest;
  return path;
}

}  // namespace

Result<json::value> ManagementClient::start_gc(std::string_view registry, bool dry_run) {
  json::value body = json::object{{"dryRun", dry_run}};
  return call("POST", gc_path(registry.empty() ? "" : registry_path(registry), registry, ""),
              &body);
}

Result<json::value> ManagementClient::list_gc_runs(
    std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query) {
  return call("GET", gc_path(registry.empty() ? "" : registry_path(registry), registry, "/runs") +
                         query_string(query));
}

Result<json::value> ManagementClient::get_gc_run(std::string_view registry, std::string_view id) {
  std::string rest = "/runs/";
  rest += percent_encode(id);
  return call("GET", gc_path(registry.empty() ? "" : registry_path(registry), registry, rest));
}

Result<json::value> ManagementClient::list_credential_sets(std::string_view registry) {
  return call("GET", child_path(registry, "credential-sets"));
}

Result<json::value> ManagementClient::get_credential_set(std::string_view registry,
                                                         std::string_view name) {
  return call("GET", child_path(registry, "credential-sets", name));
}

Result<json::value> ManagementClient::create_credential_set(std::string_view registry,
                                                            const json::object& body) {
  json::value value = body_of(body);
  return call("POST", child_path(registry, "credential-sets"), &value);
}

Result<json::value> ManagementClient::update_credential_set(std::string_view registry,
                                                            std::string_view name,
                                                            const json::object& body) {
  json::value value = body_of(body);
  return call("PATCH", child_path(registry, "credential-sets", name), &value);
}

Result<json::value> ManagementClient::delete_credential_set(std::string_view registry,
                                                            std::string_view name) {
  return call("DELETE", child_path(registry, "credential-sets", name));
}

Result<json::value> ManagementClient::list_cache_rules(std::string_view registry) {
  return call("GET", child_path(registry, "cache-rules"));
}

Result<json::value> ManagementClient::get_cache_rule(std::string_view registry,
                                                     std::string_view name) {
  return call("GET", child_path(registry, "cache-rules", name));
}

Result<json::value> ManagementClient::create_cache_rule(std::string_view registry,
                                                        const json::object& body) {
  json::value value = body_of(body);
  return call("POST", child_path(registry, "cache-rules"), &value);
}

Result<json::value> ManagementClient::update_cache_rule(std::string_view registry,
                                                        std::string_view name,
                                                        const json::object& body) {
  json::value value = body_of(body);
  return call("PATCH", child_path(registry, "cache-rules", name), &value);
}

Result<json::value> ManagementClient::delete_cache_rule(std::string_view registry,
                                                        std::string_view name) {
  return call("DELETE", child_path(registry, "cache-rules", name));
}

Result<json::value> ManagementClient::start_import(std::string_view registry,
                                                   const json::object& body) {
  json::value value = body_of(body);
  return call("POST", child_path(registry, "imports"), &value);
}

Result<json::value> ManagementClient::get_import(std::string_view registry, std::string_view id) {
  return call("GET", child_path(registry, "imports", id));
}

Result<json::value> ManagementClient::list_imports(
    std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query) {
  return call("GET", child_path(registry, "imports") + query_string(query));
}

Result<json::value> ManagementClient::upload_source(std::string_view registry,
                                                    std::string_view digest,
                                                    const std::filesystem::path& archive) {
  const std::string path = child_path(registry, "sources", digest);
  HttpRequest request = request_to("PUT", path);
  request.headers.push_back("Accept: application/json");
  request.headers.push_back("Content-Type: application/gzip");
  request.body_file = archive.string();
  auto response = transport_.send(request);
  if (!response) return response.error();
  if (response->status < 200 || response->status > 299) return error_from_response(*response);
  boost::system::error_code ec;
  json::value doc = json::parse(response->body, ec);
  if (ec) return failure(fmt::format("the server's answer to PUT {} is not JSON", path));
  return doc;
}

Result<json::value> ManagementClient::queue_run(std::string_view registry,
                                                const json::object& body) {
  json::value value(body);
  return call("POST", child_path(registry, "runs"), &value);
}

Result<json::value> ManagementClient::get_run(std::string_view registry,
                                              std::string_view run_id) {
  return call("GET", child_path(registry, "runs", run_id));
}

Result<json::value> ManagementClient::list_runs(
    std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query) {
  return call("GET", child_path(registry, "runs") + query_string(query));
}

Result<json::value> ManagementClient::cancel_run(std::string_view registry,
                                                 std::string_view run_id) {
  return call("POST", child_path(registry, "runs", run_id) + "/cancel");
}

Result<LogChunk> ManagementClient::read_run_log(std::string_view registry,
                                                std::string_view run_id, std::uint64_t offset,
                                                bool follow) {
  std::string path = child_path(registry, "runs", run_id) + "/log";
  path += query_string({{"offset", std::to_string(offset)}, {"follow", follow ? "true" : ""}});
  HttpRequest request = request_to("GET", path);
  request.headers.push_back("Accept: text/plain");
  auto response = transport_.send(request);
  if (!response) return response.error();
  if (response->status < 200 || response->status > 299) return error_from_response(*response);
  LogChunk chunk;
  auto next = response->header(kLogNextOffsetHeader);
  auto status = response->header(kRunStatusHeader);
  auto [end, parse_error] =
      next ? std::from_chars(next->data(), next->data() + next->size(), chunk.next_offset)
           : std::from_chars_result{nullptr, std::errc::invalid_argument};
  if (!status || status->empty() || parse_error != std::errc() ||
      end != next->data() + next->size() || chunk.next_offset < offset) {
    return failure(fmt::format("the server's answer to GET {} lacks a valid {} or {} header",
                               path, kLogNextOffsetHeader, kRunStatusHeader));
  }
  chunk.bytes = std::move(response->body);
  chunk.status = std::move(*status);
  return chunk;
}

Result<json::value> ManagementClient::get_soft_delete_policy(std::string_view registry) {
  return call("GET", child_path(registry, "policies/soft-delete"));
}

Result<json::value> ManagementClient::update_soft_delete_policy(std::string_view registry,
                                                                const json::object& body) {
  json::value value = body_of(body);
  return call("PATCH", child_path(registry, "policies/soft-delete"), &value);
}

Result<json::value> ManagementClient::get_retention_policy(std::string_view registry) {
  return call("GET", child_path(registry, "policies/retention"));
}

Result<json::value> ManagementClient::update_retention_policy(std::string_view registry,
                                                              const json::object& body) {
  json::value value = body_of(body);
  return call("PATCH", child_path(registry, "policies/retention"), &value);
}

Result<json::value> ManagementClient::run_retention_policy(std::string_view registry,
                                                           bool dry_run) {
  json::value value = json::object{{"dryRun", dry_run}};
  return call("POST", child_path(registry, "policies/retention/run"), &value);
}

Result<json::value> ManagementClient::get_registry_quota(std::string_view registry) {
  return call("GET", child_path(registry, "quota"));
}

Result<json::value> ManagementClient::update_registry_quota(std::string_view registry,
                                                            const json::object& body) {
  json::value value = body_of(body);
  return call("PATCH", child_path(registry, "quota"), &value);
}

Result<json::value> ManagementClient::get_repository_quota(std::string_view registry,
                                                           std::string_view repo) {
  return call("GET", repository_path(registry, repo) + "/quota");
}

Result<json::value> ManagementClient::update_repository_quota(std::string_view registry,
                                                              std::string_view repo,
                                                              const json::object& body) {
  json::value value = body_of(body);
  return call("PATCH", repository_path(registry, repo) + "/quota", &value);
}

Result<json::value> ManagementClient::list_deleted_repositories(
    std::string_view registry, const std::vector<std::pair<std::string, std::string>>& query) {
  return call("GET", child_path(registry, "deleted-repositories") + query_string(query));
}

Result<json::value> ManagementClient::list_deleted_manifests(
    std::string_view registry, std::string_view repo,
    const std::vector<std::pair<std::string, std::string>>& query) {
  return call("GET", repository_path(registry, repo) + "/deleted-manifests" + query_string(query));
}

Result<json::value> ManagementClient::list_deleted_tags(
    std::string_view registry, std::string_view repo,
    const std::vector<std::pair<std::string, std::string>>& query) {
  return call("GET", repository_path(registry, repo) + "/deleted-tags" + query_string(query));
}

Result<json::value> ManagementClient::restore(std::string_view registry, std::string_view repo,
                                              const json::object& body) {
  json::value value = body_of(body);
  return call("POST", repository_path(registry, repo) + "/restore", &value);
}

Result<json::value> ManagementClient::purge(std::string_view registry, const json::object& body) {
  json::value value = body_of(body);
  return call("POST", child_path(registry, "purge"), &value);
}

Result<json::value> ManagementClient::list_purge_schedules(std::string_view registry) {
  return call("GET", child_path(registry, "purge-schedules"));
}

Result<json::value> ManagementClient::put_purge_schedule(std::string_view registry,
                                                         std::string_view name,
                                                         const json::object& body) {
  json::value value = body_of(body);
  return call("PUT", child_path(registry, "purge-schedules", name), &value);
}

Result<json::value> ManagementClient::delete_purge_schedule(std::string_view registry,
                                                            std::string_view name) {
  return call("DELETE", child_path(registry, "purge-schedules", name));
}

}  // namespace berth::cli
