#pragma once
// The rules of webhooks as data: names, actions, scope filters, service URIs and where
// deliveries may go. Pure functions, shared by the webhook service (validation at create and
// update) and the dispatcher (matching, and the destination check at connect time).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/network_policy.h"
#include "client/destination.h"

namespace berth::events {

// The actions a webhook can subscribe to (the hosted service's set).
inline constexpr std::string_view kWebhookActions[] = {"push", "delete", "quarantine",
                                                      "chart_push", "chart_delete"};

// Payload formats: the hosted service's JSON, or a CloudEvents 1.0 structured envelope.
inline constexpr std::string_view kFormatDefault = "default";
inline constexpr std::string_view kFormatCloudEvents = "cloudevents";

// Each returns why `value` is refused, or nullopt.
// 5 to 50 ASCII letters and digits.
std::optional<std::string> check_webhook_name(std::string_view name);
// At least one, each from kWebhookActions, no repeats.
std::optional<std::string> check_actions(const std::vector<std::string>& actions);
// Empty (every event), "repo", "repo:tag", with '*' wildcards in either part.
std::optional<std::string> check_scope(std::string_view scope);
std::optional<std::string> check_format(std::string_view format);
// Header names are HTTP tokens, values visible ASCII or spaces (no CR/LF: no header injection);
// names the delivery sets itself are reserved.
std::optional<std::string> check_header(std::string_view name, std::string_view value);

// Whether an event on `repository` (and `tag`, empty for digest and repository events) is in
// `scope`. "foo:*" is every event on foo; "foo:bar" only tag bar of foo; "foo" means
// "foo:latest"; '*' matches any run of characters ('/' included). An event without a tag
// matches a scope whose tag part is "*".
bool scope_matches(std::string_view scope, std::string_view repository, std::string_view tag);
// Whether `actions` (a webhook's) includes `action`; a ping goes to every webhook.
bool wants_action(const std::vector<std::string>& actions, std::string_view action);

// Where deliveries may connect: the one destination policy of berthd's outgoing connections
// (client/destination.h). Link-local and cloud metadata addresses are refused unless
// `allow_link_local`: a webhook must not reach the host's metadata service (SSRF).
using client::DestinationPolicy;
using client::refuse_destination;

// The service URI check at create/update: http or https, a host, no user info (credentials
// belong in custom headers, which are sealed), and, when the host is an IP literal, an allowed
// destination. Names are checked again at connect time, on the address they resolve to.
std::optional<std::string> check_service_uri(std::string_view uri, const DestinationPolicy& policy);

}  // namespace berth::events
