#pragma once
// EventService: a registry's webhooks as resources (create, list, show, update, delete, the
// configuration, ping, the delivery record, redelivery) and its audit log. Knows nothing of
// HTTP; api/management_events.cc maps its errors.
//
// Registries are addressed by name through registry::Tenants (same rules, same "not found"),
// and the tier's webhook limit holds: the store counts and inserts in one transaction. Custom
// headers and the signing secret may hold credentials: they are sealed with the deployment key
// at rest, never shown by show or list, and masked in the delivery record. The service URI is
// shown only by the configuration call (it may carry a token in its query).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/secrets.h"
#include "common/result.h"
#include "events/transport.h"
#include "events/webhook_rules.h"
#include "metadata/event_store.h"
#include "registry/tenants.h"

namespace berth::events {

enum class EventErrc {
  invalid_argument,
  registry_not_found,
  webhook_not_found,
  event_not_found,
  conflict,        // a webhook of that name exists already
  limit_exceeded,  // the registry's tier allows no more webhooks
  internal,
};
using EventError = Error<EventErrc>;
template <class T>
using EventResult = berth::Result<T, EventError>;

struct NewWebhook {
  std::string name;
  std::string service_uri;
  std::vector<std::string> actions;
  Headers headers;
  std::string scope;
  std::string status = "enabled";  // "enabled" | "disabled"
  std::string secret;              // empty: deliveries are not signed
  std::string format = std::string(kFormatDefault);
};

// Absent fields stay as they are. An empty secret removes the signature.
struct WebhookUpdate {
  std::optional<std::string> service_uri;
  std::optional<std::vector<std::string>> actions;
  std::optional<Headers> headers;
  std::optional<std::string> scope;
  std::optional<std::string> status;
  std::optional<std::string> secret;
  std::optional<std::string> format;
};

struct WebhookView {
  std::string name;
  std::string registry;
  std::vector<std::string> actions;
  std::string scope;
  std::string status;  // "enabled" | "disabled"
  std::string format;
  bool signed_deliveries = false;
  std::int64_t created_at = 0;
};

struct WebhookConfig {
  std::string service_uri;
  Headers headers;
};

// An audit query; see metadata::EventFilter (the registry is given by name).
struct AuditQuery {
  std::int64_t from = 0;
  std::int64_t to = 0;
  std::string identity;
  std::string repository;
  std::string action;
  std::int64_t before = 0;
  std::size_t limit = 100;
};

class EventService {
 public:
  // Everything must outlive the service. `wake` (optional) tells the dispatcher that an event
  // to deliver was appended (ping, redelivery). Registers the webhook counter with `tenants`.
  EventService(metadata::EventStore& store, registry::Tenants& tenants,
               const auth::DeploymentKey& key, DestinationPolicy destinations,
               std::function<void()> wake = {});

  EventResult<WebhookView> create(std::string_view registry, const NewWebhook& webhook);
  EventResult<std::vector<WebhookView>> list(std::string_view registry);
  EventResult<WebhookView> show(std::string_view registry, std::string_view name);
  EventResult<WebhookView> update(std::string_view registry, std::string_view name,
                                  const WebhookUpdate& update);
  EventResult<void> remove(std::string_view registry, std::string_view name);
  EventResult<WebhookConfig> config(std::string_view registry, std::string_view name);
  // Queues a ping event for this webhook only; returns its id.
  EventResult<std::string> ping(std::string_view registry, std::string_view name,
                                const metadata::EventOrigin& origin);
  // Queues event `event_id` (same id, same content) again for this webhook only.
  EventResult<std::string> redeliver(std::string_view registry, std::string_view name,
                                     std::string_view event_id);
  // The webhook's delivery attempts, newest first.
  EventResult<std::vector<metadata::DeliveryRecord>> deliveries(std::string_view registry,
                                                                std::string_view name,
                                                                std::int64_t before,
                                                                std::size_t limit);
  // The registry's audit log, newest first.
  EventResult<std::vector<metadata::EventRecord>> audit(std::string_view registry,
                                                        const AuditQuery& query);

 private:
  EventResult<registry::RegistryInfo> registry_info(std::string_view name);
  EventResult<metadata::WebhookRecord> find(const registry::RegistryInfo& registry,
                                            std::string_view name);
  WebhookView view(const metadata::WebhookRecord& record, std::string_view registry) const;
  EventResult<std::string> seal_headers(const Headers& headers) const;

  metadata::EventStore& store_;
  registry::Tenants& tenants_;
  const auth::DeploymentKey& key_;
  DestinationPolicy destinations_;
  std::function<void()> wake_;
};

}  // namespace berth::events
