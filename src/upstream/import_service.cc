// ImportService: checks import requests, queues them as jobs and shows them (importer.h).

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/clock.h"
#include "upstream/importer.h"

namespace berth::upstream {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxTargets = 50;

UpstreamError error(UpstreamErrc code, std::string message, std::string_view target = {}) {
  return UpstreamError{code, std::move(message), std::string(target)};
}

UpstreamError internal(const metadata::MetadataError& failure) {
  return error(UpstreamErrc::internal, failure.message);
}

json::array strings_json(const std::vector<std::string>& items) {
  json::array array;
  for (const auto& item : items) array.emplace_back(item);
  return array;
}

std::vector<std::string> strings_of(const json::object& object, std::string_view key) {
  std::vector<std::string> out;
  auto found = object.find(key);
  if (found == object.end() || !found->value().is_array()) return out;
  for (const auto& item : found->value().as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

std::string string_of(const json::object& object, std::string_view key) {
  auto found = object.find(key);
  if (found == object.end() || !found->value().is_string()) return {};
  return std::string(found->value().as_string());
}

std::optional<UpstreamError> check_targets(const ImportRequest& request) {
  if (request.target_tags.size() + request.untagged_target_repositories.size() > kMaxTargets) {
    return error(UpstreamErrc::invalid_argument,
                 fmt::format("an import has at most {} targets", kMaxTargets), "targetTags");
  }
  for (const auto& target : request.target_tags) {
    std::string why;
    auto image = parse_image(target, why);
    if (!image || !std::holds_alternative<std::string>(image->reference) ||
        target.find(':') == std::string::npos) {
      std::string message = fmt::format("target tag '{}' is not repository:tag", target);
      if (!why.empty()) message.append(": ").append(why);
      return error(UpstreamErrc::invalid_argument, std::move(message), "targetTags");
    }
  }
  for (const auto& repository : request.untagged_target_repositories) {
    if (!oci::is_valid_repository_name(repository)) {
      return error(UpstreamErrc::invalid_argument,
                   fmt::format("'{}' is not a valid repository name", repository),
                   "untaggedTargetRepositories");
    }
  }
  return std::nullopt;
}

std::optional<UpstreamError> check_request(const ImportRequest& request) {
  if (auto bad = check_login_server(request.source_registry)) {
    return error(UpstreamErrc::invalid_argument, *bad, "source.registryUri");
  }
  std::string why;
  if (!parse_image(request.source_image, why)) {
    return error(UpstreamErrc::invalid_argument, why, "source.sourceImage");
  }
  if (!request.credential_set.empty() && request.login) {
    return error(UpstreamErrc::invalid_argument,
                 "give either a credential set or a username and password, not both",
                 "source.credentials");
  }
  if (request.login && (request.login->username.empty() || request.login->password.empty())) {
    return error(UpstreamErrc::invalid_argument, "the username and the password are both needed",
                 "source.credentials");
  }
  return check_targets(request);
}

}  // namespace

std::string_view mode_name(ImportMode mode) {
  return mode == ImportMode::force ? "Force" : "NoForce";
}

std::string_view status_name(metadata::ImportStatus status) {
  switch (status) {
    case metadata::ImportStatus::queued:
      return "Queued";
    case metadata::ImportStatus::running:
      return "Running";
    case metadata::ImportStatus::succeeded:
      return "Succeeded";
    case metadata::ImportStatus::failed:
      return "Failed";
  }
  return "";
}

std::string request_json(const ImportRequest& request) {
  json::object source{{"registryUri", request.source_registry},
                      {"sourceImage", request.source_image}};
  if (!request.credential_set.empty()) source["credentialSet"] = request.credential_set;
  return json::serialize(json::object{
      {"source", std::move(source)},
      {"targetTags", strings_json(request.target_tags)},
      {"untaggedTargetRepositories", strings_json(request.untagged_target_repositories)},
      {"mode", mode_name(request.mode)},
      {"includeReferrers", request.include_referrers},
  });
}

std::optional<ImportRequest> request_of_json(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const json::object& object = value.as_object();
  auto source = object.find("source");
  if (source == object.end() || !source->value().is_object()) return std::nullopt;
  ImportRequest request;
  request.source_registry = string_of(source->value().as_object(), "registryUri");
  request.source_image = string_of(source->value().as_object(), "sourceImage");
  request.credential_set = string_of(source->value().as_object(), "credentialSet");
  request.target_tags = strings_of(object, "targetTags");
  request.untagged_target_repositories = strings_of(object, "untaggedTargetRepositories");
  request.mode = string_of(object, "mode") == "Force" ? ImportMode::force : ImportMode::no_force;
  auto referrers = object.find("includeReferrers");
  request.include_referrers =
      referrers != object.end() && referrers->value().is_bool() && referrers->value().as_bool();
  return request;
}

ImportService::ImportService(metadata::UpstreamStore& store, metadata::MetadataStore& metadata,
                             registry::Tenants& tenants, const registry::TenantResolver& hosts,
                             const auth::DeploymentKey& key, std::function<void()> wake)
    : store_(store),
      metadata_(metadata),
      tenants_(tenants),
      hosts_(hosts),
      key_(key),
      wake_(std::move(wake)) {}

UpstreamResult<registry::RegistryInfo> ImportService::registry_info(std::string_view name) {
  auto info = tenants_.show(name);
  if (info) return std::move(*info);
  if (info.error().code == registry::TenantErrc::registry_not_found) {
    return error(UpstreamErrc::registry_not_found, info.error().message, name);
  }
  return error(UpstreamErrc::internal, info.error().message);
}

namespace {

ImportView view_of(const metadata::ImportJob& job, std::string_view registry) {
  ImportView view;
  view.id = job.id;
  view.registry = std::string(registry);
  view.status = job.status;
  if (auto request = request_of_json(job.request)) view.request = std::move(*request);
  view.progress = job.progress;
  view.result = job.result;
  view.error = job.error;
  view.created_at = job.created_at;
  view.started_at = job.started_at;
  view.finished_at = job.finished_at;
  return view;
}

}  // namespace

UpstreamResult<ImportView> ImportService::start(std::string_view registry,
                                                const ImportRequest& request,
                                                const SourceReadCheck& may_read) {
  if (auto bad = check_request(request)) return *bad;
  auto info = registry_info(registry);
  if (!info) return info.error();
  // A registry of this deployment as the source: only for whoever may pull from it. Whether it
  // exists is not told to anyone else.
  const std::string local = hosts_.registry_name_of(request.source_registry);
  if (!local.empty()) {
    std::string why;
    auto image = parse_image(request.source_image, why);
    auto source = metadata_.find_registry(local);
    if (!source) return internal(source.error());
    if (!*source || !image || !may_read || !may_read(**source, image->repository)) {
      return error(UpstreamErrc::denied,
                   fmt::format("you may not pull from '{}' of registry '{}' (or it does not "
                               "exist)",
                               image ? image->repository : request.source_image, local),
                   "source.registryUri");
    }
  }
  if (!request.credential_set.empty()) {
    auto set = store_.find_credential_set(info->record.id, request.credential_set);
    if (!set) return internal(set.error());
    if (!*set) {
      return error(UpstreamErrc::not_found,
                   fmt::format("credential set '{}' does not exist in registry '{}'",
                               request.credential_set, info->record.name),
                   request.credential_set);
    }
    if ((*set)->login_server != normalize_login_server(request.source_registry)) {
      return error(UpstreamErrc::invalid_argument,
                   fmt::format("credential set '{}' logs in to '{}', not to '{}'",
                               request.credential_set, (*set)->login_server,
                               request.source_registry),
                   "source.credentialSet");
    }
  }
  ImportRequest stored = request;
  stored.source_registry = normalize_login_server(request.source_registry);
  stored.login.reset();
  metadata::ImportJob job;
  job.registry = info->record.id;
  job.request = request_json(stored);
  if (request.login) {
    json::object login{{"username", request.login->username},
                       {"password", request.login->password}};
    job.sealed_credentials = key_.seal(json::serialize(login));
  }
  job.created_at = unix_now();
  auto created = store_.create_import(job);
  if (!created) return internal(created.error());
  if (wake_) wake_();
  return view_of(*created, info->record.name);
}

UpstreamResult<ImportView> ImportService::show(std::string_view registry, std::int64_t id) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto found = store_.find_import(info->record.id, id);
  if (!found) return internal(found.error());
  if (!*found) {
    return error(UpstreamErrc::not_found,
                 fmt::format("import {} does not exist in registry '{}'", id, info->record.name),
                 std::to_string(id));
  }
  return view_of(**found, info->record.name);
}

UpstreamResult<std::vector<ImportView>> ImportService::list(std::string_view registry,
                                                            std::optional<std::int64_t> before,
                                                            std::size_t limit) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto listed = store_.list_imports(info->record.id, before, limit);
  if (!listed) return internal(listed.error());
  std::vector<ImportView> views;
  for (const auto& job : *listed) views.push_back(view_of(job, info->record.name));
  return views;
}

}  // namespace berth::upstream
