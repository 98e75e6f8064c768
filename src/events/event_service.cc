#include "events/event_service.h"

#include <fmt/format.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/ids.h"
#include "registry/tiers.h"

namespace berth::events {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxHeaders = 32;
constexpr std::size_t kMaxSecretLength = 256;
constexpr std::size_t kMaxUriLength = 2048;
constexpr std::size_t kMaxDeliveriesPerPage = 100;

EventError error(EventErrc code, std::string message, std::string_view target = {}) {
  return EventError{code, std::move(message), std::string(target)};
}

EventError internal(const metadata::MetadataError& failure) {
  return error(EventErrc::internal, failure.message);
}

EventError webhook_not_found(std::string_view registry, std::string_view name) {
  return error(EventErrc::webhook_not_found,
               fmt::format("webhook '{}' does not exist in registry '{}'", name, registry), name);
}

std::optional<EventError> check_status(std::string_view status) {
  if (status == "enabled" || status == "disabled") return std::nullopt;
  return error(EventErrc::invalid_argument,
               fmt::format("status '{}' must be 'enabled' or 'disabled'", status), "status");
}

std::optional<EventError> check_secret(std::string_view secret) {
  if (secret.size() <= kMaxSecretLength) return std::nullopt;
  return error(EventErrc::invalid_argument,
               fmt::format("the secret is longer than {} characters", kMaxSecretLength), "secret");
}

std::optional<EventError> check_headers(const Headers& headers) {
  if (headers.size() > kMaxHeaders) {
    return error(EventErrc::invalid_argument,
                 fmt::format("a webhook has at most {} custom headers", kMaxHeaders), "headers");
  }
  for (const auto& [name, value] : headers) {
    if (auto bad = check_header(name, value)) {
      return error(EventErrc::invalid_argument, *bad, "headers");
    }
  }
  return std::nullopt;
}

std::optional<EventError> check_uri(std::string_view uri, const DestinationPolicy& policy) {
  if (uri.size() > kMaxUriLength) {
    return error(EventErrc::invalid_argument, "the service URI is too long", "serviceUri");
  }
  if (auto bad = check_service_uri(uri, policy)) {
    return error(EventErrc::invalid_argument, *bad, "serviceUri");
  }
  return std::nullopt;
}

// Counts a registry's webhooks for Tenants' tier checks (downgrades, usage).
class WebhookCounter final : public registry::ResourceCounter {
 public:
  explicit WebhookCounter(metadata::EventStore& store) : store_(store) {}
  registry::TenantResult<std::uint64_t> count(metadata::RegistryId registry) override {
    auto counted = store_.count_webhooks(registry);
    if (!counted) return registry::TenantError{registry::TenantErrc::internal, counted.error().message};
    return *counted;
  }

 private:
  metadata::EventStore& store_;
};

}  // namespace

EventService::EventService(metadata::EventStore& store, registry::Tenants& tenants,
                           const auth::DeploymentKey& key, DestinationPolicy destinations,
                           std::function<void()> wake)
    : store_(store),
      tenants_(tenants),
      key_(key),
      destinations_(destinations),
      wake_(std::move(wake)) {
  tenants_.set_counter(registry::CountedResource::webhooks,
                       std::make_shared<WebhookCounter>(store_));
}

EventResult<registry::RegistryInfo> EventService::registry_info(std::string_view name) {
  auto info = tenants_.show(name);
  if (info) return std::move(*info);
  if (info.error().code == registry::TenantErrc::registry_not_found) {
    return error(EventErrc::registry_not_found, info.error().message, name);
  }
  return error(EventErrc::internal, info.error().message);
}

EventResult<metadata::WebhookRecord> EventService::find(const registry::RegistryInfo& registry,
                                                        std::string_view name) {
  auto found = store_.find_webhook(registry.record.id, name);
  if (!found) return internal(found.error());
  if (!*found) return webhook_not_found(registry.record.name, name);
  return std::move(**found);
}

WebhookView EventService::view(const metadata::WebhookRecord& record,
                               std::string_view registry) const {
  return WebhookView{record.name,
                     std::string(registry),
                     record.actions,
                     record.scope,
                     record.enabled ? "enabled" : "disabled",
                     record.format,
                     !record.sealed_secret.empty(),
                     record.created_at};
}

EventResult<std::string> EventService::seal_headers(const Headers& headers) const {
  if (headers.empty()) return std::string();
  json::object object;
  for (const auto& [name, value] : headers) object[name] = value;
  return key_.seal(json::serialize(object));
}

EventResult<WebhookView> EventService::create(std::string_view registry,
                                              const NewWebhook& webhook) {
  if (auto bad = check_webhook_name(webhook.name)) {
    return error(EventErrc::invalid_argument, *bad, "name");
  }
  if (auto bad = check_uri(webhook.service_uri, destinations_)) return *bad;
  if (auto bad = check_actions(webhook.actions)) {
    return error(EventErrc::invalid_argument, *bad, "actions");
  }
  if (auto bad = check_scope(webhook.scope)) {
    return error(EventErrc::invalid_argument, *bad, "scope");
  }
  if (auto bad = check_status(webhook.status)) return *bad;
  if (auto bad = check_format(webhook.format)) {
    return error(EventErrc::invalid_argument, *bad, "format");
  }
  if (auto bad = check_headers(webhook.headers)) return *bad;
  if (auto bad = check_secret(webhook.secret)) return *bad;
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto headers = seal_headers(webhook.headers);
  if (!headers) return headers.error();

  metadata::WebhookRecord record;
  record.registry = info->record.id;
  record.name = webhook.name;
  record.service_uri = webhook.service_uri;
  record.sealed_headers = std::move(*headers);
  if (!webhook.secret.empty()) record.sealed_secret = key_.seal(webhook.secret);
  record.actions = webhook.actions;
  record.scope = webhook.scope;
  record.enabled = webhook.status == "enabled";
  record.format = webhook.format;
  std::uint64_t limit = registry::limit_of(*info->tier, registry::CountedResource::webhooks);
  auto created = store_.create_webhook(record, limit);
  if (!created) {
    switch (created.error().code) {
      case metadata::Errc::conflict:
        return error(EventErrc::conflict,
                     fmt::format("webhook '{}' already exists in registry '{}'", webhook.name,
                                 info->record.name),
                     webhook.name);
      case metadata::Errc::limit_reached:
        return error(EventErrc::limit_exceeded,
                     fmt::format("registry '{}' holds as many webhooks as tier {} allows ({})",
                                 info->record.name, info->tier->name, limit),
                     registry::resource_name(registry::CountedResource::webhooks));
      default:
        return internal(created.error());
    }
  }
  return view(*created, info->record.name);
}

EventResult<std::vector<WebhookView>> EventService::list(std::string_view registry) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto listed = store_.list_webhooks(info->record.id);
  if (!listed) return internal(listed.error());
  std::vector<WebhookView> views;
  for (const auto& record : *listed) views.push_back(view(record, info->record.name));
  return views;
}

EventResult<WebhookView> EventService::show(std::string_view registry, std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto record = find(*info, name);
  if (!record) return record.error();
  return view(*record, info->record.name);
}

EventResult<WebhookView> EventService::update(std::string_view registry, std::string_view name,
                                              const WebhookUpdate& update) {
  if (update.service_uri) {
    if (auto bad = check_uri(*update.service_uri, destinations_)) return *bad;
  }
  if (update.actions) {
    if (auto bad = check_actions(*update.actions)) {
      return error(EventErrc::invalid_argument, *bad, "actions");
    }
  }
  if (update.scope) {
    if (auto bad = check_scope(*update.scope)) {
      return error(EventErrc::invalid_argument, *bad, "scope");
    }
  }
  if (update.status) {
    if (auto bad = check_status(*update.status)) return *bad;
  }
  if (update.format) {
    if (auto bad = check_format(*update.format)) {
      return error(EventErrc::invalid_argument, *bad, "format");
    }
  }
  if (update.headers) {
    if (auto bad = check_headers(*update.headers)) return *bad;
  }
  if (update.secret) {
    if (auto bad = check_secret(*update.secret)) return *bad;
  }
  auto info = registry_info(registry);
  if (!info) return info.error();

  metadata::WebhookChanges changes;
  changes.service_uri = update.service_uri;
  changes.actions = update.actions;
  changes.scope = update.scope;
  if (update.status) changes.enabled = *update.status == "enabled";
  changes.format = update.format;
  if (update.headers) {
    auto headers = seal_headers(*update.headers);
    if (!headers) return headers.error();
    changes.sealed_headers = std::move(*headers);
  }
  if (update.secret) {
    changes.sealed_secret = update.secret->empty() ? std::string() : key_.seal(*update.secret);
  }
  auto updated = store_.update_webhook(info->record.id, name, changes);
  if (!updated) return internal(updated.error());
  if (!*updated) return webhook_not_found(info->record.name, name);
  auto record = find(*info, name);
  if (!record) return record.error();
  return view(*record, info->record.name);
}

EventResult<void> EventService::remove(std::string_view registry, std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto removed = store_.delete_webhook(info->record.id, name);
  if (!removed) return internal(removed.error());
  if (!*removed) return webhook_not_found(info->record.name, name);
  return {};
}

EventResult<WebhookConfig> EventService::config(std::string_view registry,
                                                std::string_view name) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto record = find(*info, name);
  if (!record) return record.error();
  WebhookConfig config{record->service_uri, {}};
  if (!record->sealed_headers.empty()) {
    auto opened = key_.unseal(record->sealed_headers);
    if (!opened) return error(EventErrc::internal, "custom headers cannot be unsealed");
    boost::system::error_code ec;
    auto value = json::parse(*opened, ec);
    if (ec || !value.is_object()) return error(EventErrc::internal, "custom headers unreadable");
    for (const auto& [header, text] : value.as_object()) {
      if (text.is_string()) config.headers.emplace_back(std::string(header), std::string(text.as_string()));
    }
  }
  return config;
}

EventResult<std::string> EventService::ping(std::string_view registry, std::string_view name,
                                            const metadata::EventOrigin& origin) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto record = find(*info, name);
  if (!record) return record.error();
  metadata::EventRecord event;
  event.id = random_uuid();
  event.registry = info->record.id;
  event.action = std::string(metadata::event_action::kPing);
  event.origin = origin;
  event.deliverable = true;
  event.webhook = record->id;
  if (auto appended = store_.append_events(std::span(&event, 1)); !appended) {
    return internal(appended.error());
  }
  if (wake_) wake_();
  return event.id;
}

EventResult<std::string> EventService::redeliver(std::string_view registry,
                                                 std::string_view name,
                                                 std::string_view event_id) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto record = find(*info, name);
  if (!record) return record.error();
  auto found = store_.find_event(info->record.id, event_id);
  if (!found) return internal(found.error());
  if (!*found || !(*found)->deliverable) {
    return error(EventErrc::event_not_found,
                 fmt::format("event '{}' does not exist in registry '{}' or is not delivered to "
                             "webhooks",
                             event_id, info->record.name),
                 event_id);
  }
  metadata::EventRecord again = std::move(**found);
  again.redelivery_of = again.sequence;
  again.sequence = 0;  // the same id, time and content; its retry window starts when queued
  again.webhook = record->id;
  if (auto appended = store_.append_events(std::span(&again, 1)); !appended) {
    return internal(appended.error());
  }
  if (wake_) wake_();
  return again.id;
}

EventResult<std::vector<metadata::DeliveryRecord>> EventService::deliveries(
    std::string_view registry, std::string_view name, std::int64_t before, std::size_t limit) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  auto record = find(*info, name);
  if (!record) return record.error();
  auto listed = store_.list_deliveries(record->id, before, std::min(limit, kMaxDeliveriesPerPage));
  if (!listed) return internal(listed.error());
  return std::move(*listed);
}

EventResult<std::vector<metadata::EventRecord>> EventService::audit(std::string_view registry,
                                                                    const AuditQuery& query) {
  auto info = registry_info(registry);
  if (!info) return info.error();
  metadata::EventFilter filter;
  filter.registry = info->record.id;
  filter.from = query.from;
  filter.to = query.to;
  filter.identity = query.identity;
  filter.repository = query.repository;
  filter.action = query.action;
  filter.before = query.before;
  filter.limit = query.limit;
  auto listed = store_.list_events(filter);
  if (!listed) return internal(listed.error());
  return std::move(*listed);
}

}  // namespace berth::events
