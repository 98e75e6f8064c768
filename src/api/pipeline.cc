#include "api/pipeline.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "api/rate_limiter.h"
#include "api/wire.h"
#include "oci/reference.h"
#include "registry/tiers.h"

namespace berth::api {
namespace {

// Counts a request in its family's in-flight counter for as long as it lives.
class InFlight {
 public:
  explicit InFlight(std::atomic<std::int64_t>* counter) : counter_(counter) {
    if (counter_ != nullptr) counter_->fetch_add(1, std::memory_order_relaxed);
  }
  ~InFlight() {
    if (counter_ != nullptr) counter_->fetch_sub(1, std::memory_order_relaxed);
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<std::int64_t>* counter_;
};

namespace asio = boost::asio;
using auth::Caller;
using auth::ManagementLevel;
using auth::Permission;
using auth::Permissions;
using auth::Principal;
using http::Request;
using http::Response;

// The realm of /metrics' challenge: its token is configured, not fetched from the token service.
constexpr std::string_view kMetricsRealm = "berth-metrics";

enum class ActionKind {
  open,
  token,
  base,
  repository,
  catalog,
  admin,
  registry_management,
  metrics
};

struct ActionRule {
  std::string_view action;
  ActionKind kind;
  Permissions needs;  // repository actions
  ManagementLevel level = ManagementLevel::none;  // registry management actions
};

// Every action a route table may name, and what it needs.
constexpr std::array kActionRules{
    ActionRule{action::kOpen, ActionKind::open, {}},
    ActionRule{action::kToken, ActionKind::token, {}},
    ActionRule{action::kBase, ActionKind::base, {}},
    ActionRule{action::kPull, ActionKind::repository, Permission::pull},
    ActionRule{action::kPush, ActionKind::repository, Permission::push},
    ActionRule{action::kDelete, ActionKind::repository, Permission::delete_},
    ActionRule{action::kMetadataRead, ActionKind::repository, Permission::metadata_read},
    ActionRule{action::kMetadataWrite, ActionKind::repository, Permission::metadata_write},
    ActionRule{action::kCatalog, ActionKind::catalog, {}},
    ActionRule{action::kAdmin, ActionKind::admin, {}},
    ActionRule{action::kRegistryRead, ActionKind::registry_management, {}, ManagementLevel::reader},
    ActionRule{action::kRegistryWrite, ActionKind::registry_management, {},
               ManagementLevel::contributor},
    ActionRule{action::kRegistryOwn, ActionKind::registry_management, {}, ManagementLevel::owner},
    ActionRule{action::kMetrics, ActionKind::metrics, {}},
};

const ActionRule* rule_of(std::string_view action) {
  for (const ActionRule& rule : kActionRules) {
    if (rule.action == action) return &rule;
  }
  return nullptr;
}

bool is_anonymous(const Caller& caller) {
  return caller.principal.kind == Principal::Kind::anonymous;
}

bool is_deployment_admin(const Caller& caller) {
  return caller.principal.kind == Principal::Kind::deployment_admin;
}

// The verdict for a caller who lacks what the route needs.
Verdict lacking(const AuthorizationInput& input) {
  if (is_anonymous(input.caller)) return Verdict::needs_authentication;
  if (input.caller.from_token && input.principal_has_it) return Verdict::insufficient_scope;
  return Verdict::denied;
}

Caller everything_caller(Principal principal) {
  Caller caller;
  caller.principal = std::move(principal);
  caller.grant.add("*", Permissions::all());
  caller.grant.management = ManagementLevel::owner;
  caller.catalog = true;
  return caller;
}

// The challenge's actions for a repository route: pushing clients also pull (docker asks for
// both, and a mount needs both).
std::string_view challenge_actions(std::string_view action) {
  if (action == action::kPush) return "pull,push";
  if (action == action::kDelete) return "delete";
  if (action == action::kMetadataRead) return "metadata_read";
  if (action == action::kMetadataWrite) return "metadata_write";
  return "pull";
}

std::string quoted_header_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') continue;  // never break out of the quoted string
    out.push_back(c);
  }
  return out;
}

// "pull from repository 'team/app'", "list the catalog", "manage registry 'r'", ...
std::string what_was_asked(const ActionRule& rule, const RouteRow& row, const Request& request) {
  auto shown = [](std::string_view name) {
    return std::string(name.substr(0, std::min<std::size_t>(name.size(), 256)));
  };
  switch (rule.kind) {
    case ActionKind::repository:
      return fmt::format("{} {} repository '{}'", row.action,
                         row.action == action::kPull ? "from" : "on", shown(request.param("name")));
    case ActionKind::catalog:
      return "list the catalog";
    case ActionKind::registry_management:
      return fmt::format("manage registry '{}'", shown(request.param("registry")));
    case ActionKind::admin:
      return "administer the deployment";
    case ActionKind::base:
      return "use this registry";
    case ActionKind::metrics:
      return "read the metrics";
    case ActionKind::open:
    case ActionKind::token:
      break;
  }
  return fmt::format("call {}", row.name);
}

// What the metrics count a route as: the hosted service's pushes and pulls are manifest PUTs and
// GETs of the data plane.
metrics::Transfer transfer_of(const RouteFamily& family, const RouteRow& row) {
  if (!family.resolves_registry) return metrics::Transfer::none;
  if (row.name == route_name::kManifestPut) return metrics::Transfer::push;
  if (row.name == route_name::kManifestGet) return metrics::Transfer::pull;
  return metrics::Transfer::none;
}

// Counts the request body bytes the handler reads, in place of the server's reader for the
// duration of the request (and puts that one back when it goes).
class CountingBody final : public http::BodyReader {
 public:
  explicit CountingBody(Request& request) : request_(request), inner_(request.body) {
    if (inner_ != nullptr) request_.body = this;
  }
  ~CountingBody() override { request_.body = inner_; }
  CountingBody(const CountingBody&) = delete;
  CountingBody& operator=(const CountingBody&) = delete;

  asio::awaitable<Result<std::size_t, http::HttpError>> read_some(
      std::span<std::byte> buffer) override {
    auto read = co_await inner_->read_some(buffer);
    if (read) bytes_ += *read;
    co_return read;
  }
  std::optional<std::uint64_t> content_length() const override { return inner_->content_length(); }
  std::uint64_t bytes() const { return bytes_; }

 private:
  Request& request_;
  http::BodyReader* inner_;
  std::uint64_t bytes_ = 0;
};

// The body bytes `response` answers with (none for HEAD, whatever it announces).
std::uint64_t body_bytes(const Request& request, const Response& response) {
  if (request.method == "HEAD") return 0;
  return response.source ? response.source_length : response.body.size();
}

RateCategory category_of(const RouteFamily& family, const RouteRow& row,
                         const Request& request) {
  if (family.name == "oauth") return RateCategory::oauth;
  if (row.name == "referrers.list") return RateCategory::referrers;
  if (request.method == "DELETE") return RateCategory::delete_;
  if (request.method == "GET" || request.method == "HEAD" || request.method == "OPTIONS") {
    return RateCategory::read;
  }
  return RateCategory::write;
}

}  // namespace

// Verified access tokens, so a client's run of requests with one token pays for the ECDSA
// verification once. Bounded; emptied when full.
class Pipeline::TokenCache {
 public:
  std::optional<auth::TokenClaims> find(const std::string& token) {
    std::lock_guard lock(mutex_);
    auto found = entries_.find(token);
    if (found == entries_.end()) return std::nullopt;
    return found->second;
  }
  void put(const std::string& token, const auth::TokenClaims& claims) {
    std::lock_guard lock(mutex_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_.emplace(token, claims);
  }

 private:
  static constexpr std::size_t kMaxEntries = 10'000;
  std::mutex mutex_;
  std::unordered_map<std::string, auth::TokenClaims> entries_;
};

// Whether the route takes the caller's credentials as its identity: the token service verifies
// the credentials it is given itself (they are its input), and open routes take none.
// /metrics takes none either: its only credential is the metrics token, which is no identity.
bool needs_identity(const RouteRow& row) {
  const ActionRule* rule = rule_of(row.action);
  return rule == nullptr || (rule->kind != ActionKind::token && rule->kind != ActionKind::open &&
                             rule->kind != ActionKind::metrics);
}

bool known_action(std::string_view action) { return rule_of(action) != nullptr; }

Permissions permissions_for(std::string_view action) {
  const ActionRule* rule = rule_of(action);
  return rule == nullptr ? Permissions{} : rule->needs;
}

Verdict authorize(const AuthorizationInput& input) {
  const ActionRule* rule = rule_of(input.action);
  if (rule == nullptr) return Verdict::unknown_action;
  const Caller& caller = input.caller;
  switch (rule->kind) {
    case ActionKind::open:
    case ActionKind::token:
      return Verdict::allowed;
    case ActionKind::base:
      return is_anonymous(caller) && !caller.from_token ? Verdict::needs_authentication
                                                         : Verdict::allowed;
    case ActionKind::repository:
      if (caller.grant.on(input.repository).contains(rule->needs)) return Verdict::allowed;
      return lacking(input);
    case ActionKind::catalog:
      if (caller.catalog) return Verdict::allowed;
      return lacking(input);
    case ActionKind::admin:
      if (is_deployment_admin(caller)) return Verdict::allowed;
      return is_anonymous(caller) ? Verdict::needs_authentication : Verdict::denied;
    case ActionKind::registry_management:
      if (is_deployment_admin(caller)) return Verdict::allowed;
      if (is_anonymous(caller)) return Verdict::needs_authentication;
      return input.registry_level >= rule->level ? Verdict::allowed : Verdict::denied;
    case ActionKind::metrics:
      if (input.loopback_client || input.metrics_token_presented) return Verdict::allowed;
      // Without a token there is nothing to authenticate with: a plain refusal.
      return input.metrics_token_configured ? Verdict::needs_authentication : Verdict::denied;
  }
  return Verdict::unknown_action;
}

Pipeline::Pipeline(PipelineServices services)
    : services_(std::move(services)), tokens_(std::make_unique<TokenCache>()) {}

Pipeline::~Pipeline() = default;

http::Route Pipeline::wrap(const RouteFamily& family, RouteRow row) const {
  http::Route route{row.method, row.pattern, row.name, row.action, {}};
  // Looked up once here, so recording a request finds its instruments without a lookup.
  metrics::Metrics::Route* instruments = nullptr;
  if (services_.metrics != nullptr) {
    instruments = &services_.metrics->route(row.name, transfer_of(family, row));
  }
  route.handler = [this, family, row = std::move(row), instruments](Request& request) {
    return run(family, row, instruments, request);
  };
  return route;
}

void Pipeline::add(http::Router& router, const RouteFamily& family,
                   std::vector<RouteRow> rows) const {
  for (auto& row : rows) router.add(wrap(family, std::move(row)));
}

std::string Pipeline::realm_of(const Request& request) {
  std::string host(request.header("Host").value_or("localhost"));
  return fmt::format("{}://{}/oauth2/token", request.tls ? "https" : "http",
                     quoted_header_value(host));
}

asio::awaitable<Response> Pipeline::run(const RouteFamily& family, const RouteRow& row,
                                        metrics::Metrics::Route* instruments,
                                        Request& request) const {
  RequestContext context;
  if (instruments == nullptr) co_return co_await stages(family, row, request, context);
  const auto started = std::chrono::steady_clock::now();
  CountingBody counted(request);
  Response response;
  try {
    response = co_await stages(family, row, request, context);
  } catch (...) {
    // The server answers a handler that threw with its last-resort 500.
    record(*instruments, context, 500, started, counted.bytes(), 0);
    throw;
  }
  record(*instruments, context, response.status, started, counted.bytes(),
         body_bytes(request, response));
  co_return response;
}

void Pipeline::record(metrics::Metrics::Route& instruments, const RequestContext& context,
                      unsigned status, std::chrono::steady_clock::time_point started,
                      std::uint64_t received, std::uint64_t sent) const {
  metrics::Metrics::Request answered;
  // Only a registry the pipeline resolved (one that exists) labels the request: names a client
  // makes up must not make series.
  if (context.registry) answered.registry = context.registry->name;
  answered.status = status;
  answered.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  answered.received_bytes = received;
  answered.sent_bytes = sent;
  services_.metrics->record(instruments, answered);
}

asio::awaitable<Response> Pipeline::stages(const RouteFamily& family, const RouteRow& row,
                                           Request& request, RequestContext& context) const {
  context.request_id = request.request_id;
  context.route_name = row.name;
  std::vector<std::string_view> forwarded;
  for (const auto& [name, value] : request.headers.all()) {
    if (strcasecmp(name.c_str(), "X-Forwarded-For") == 0) forwarded.emplace_back(value);
  }
  context.client_address =
      services_.proxies.client_address(request.remote_address, forwarded);
  context.blocking = family.blocking;
  if (auto refused = resolve_registry(family, request, context)) co_return std::move(*refused);
  if (auto refused = network_rules(family, context)) co_return std::move(*refused);
  auto authorization = auth::parse_authorization(request.header("Authorization"));
  if (auto* basic = std::get_if<auth::BasicCredentials>(&authorization);
      basic != nullptr && needs_identity(row)) {
    if (auto refused = co_await authenticate_basic(family, row, request, context, *basic)) {
      co_return std::move(*refused);
    }
  } else if (auto refused = authenticate(family, row, request, authorization, context)) {
    co_return std::move(*refused);
  }
  if (auto refused = co_await check_authorization(family, row, request, context)) {
    co_return std::move(*refused);
  }
  if (auto refused = rate_limit(family, row, request, context)) co_return std::move(*refused);
  InFlight counted(family.in_flight);
  Response response = co_await row.handler(context, request);
  // After the handler: the token service learns who is calling only from its own input.
  request.set_log_field("identity", context.caller.principal.display());
  co_return response;
}

std::optional<Response> Pipeline::resolve_registry(const RouteFamily& family, Request& request,
                                                   RequestContext& context) const {
  if (family.registry_from_path) {
    // The access log names the registry a management call is about (it resolves nothing: the
    // handler looks the registry up and answers its own not-found).
    if (auto name = request.param("registry"); !name.empty()) {
      request.set_log_field("registry", std::string(name));
    }
  }
  if (!family.resolves_registry) return std::nullopt;
  const auto& tenants = services_.tenants;
  auto host = request.header("Host").value_or("");
  // The access log names the registry addressed, also when it turns out not to exist.
  auto named = tenants.registry_name_of(host, request.listener);
  std::string name = named.empty() ? tenants.routing().default_registry : std::move(named);
  request.set_log_field("registry", name);
  auto record = tenants.resolve_record(host, request.listener);
  if (!record) return family.errors.of_registry_error(record.error());
  std::string service = tenants.login_server_of(record->name);
  context.registry = ResolvedRegistry{record->id, record->name, std::move(*record),
                                      std::move(service)};
  return std::nullopt;
}

std::optional<Response> Pipeline::network_rules(const RouteFamily& family,
                                                const RequestContext& context) const {
  if (!family.resolves_registry || !context.registry) return std::nullopt;
  const auto& record = context.registry->record;
  auth::NetworkPolicy policy;
  policy.public_access = record.public_network_access;
  policy.default_action =
      auth::parse_default_action(record.default_network_action).value_or(auth::DefaultAction::allow);
  if (policy.public_access && policy.default_action == auth::DefaultAction::allow) {
    return std::nullopt;  // open: the allow rules change nothing
  }
  auto rules = services_.access.list_network_rules(record.id);
  if (!rules) {
    spdlog::error("id={} network rules of {} unreadable: {}", context.request_id, record.name,
                  rules.error().message);
    return family.errors.internal();
  }
  for (const auto& rule : *rules) {
    if (auto range = auth::IpRange::parse(rule.address_range)) policy.allow.push_back(*range);
  }
  if (auth::network_allows(policy, context.client_address)) return std::nullopt;
  return family.errors.denied(fmt::format(
      "client with IP '{}' is not allowed access to registry '{}'; refer to the registry's "
      "network rules",
      context.client_address, record.name));
}

Challenge Pipeline::challenge_for(const RouteRow& row, const Request& request,
                                  const RequestContext& context, std::string error,
                                  std::string message) const {
  Challenge challenge;
  const ActionRule* rule = rule_of(row.action);
  // The metrics token comes from the configuration, not from the token service.
  challenge.realm = rule != nullptr && rule->kind == ActionKind::metrics
                        ? std::string(kMetricsRealm)
                        : realm_of(request);
  if (context.registry) challenge.service = context.registry->service;
  if (rule != nullptr && rule->kind == ActionKind::repository) {
    std::string_view name = request.param("name");
    if (oci::is_valid_repository_name(name)) {
      challenge.scope = fmt::format("repository:{}:{}", name, challenge_actions(row.action));
    }
  } else if (rule != nullptr && rule->kind == ActionKind::catalog) {
    challenge.scope = "registry:catalog:*";
  }
  challenge.error = std::move(error);
  challenge.message = std::move(message);
  return challenge;
}

void Pipeline::record_login(const RequestContext& context, std::string_view identity,
                            std::string_view identity_kind, std::string_view method, bool success,
                            std::string_view reason) const {
  if (services_.limiter != nullptr) {
    if (success) {
      services_.limiter->record_login_success(context.client_address);
    } else {
      services_.limiter->record_login_failure(context.client_address);
    }
  }
  if (!success) {
    spdlog::info("id={} login failed: identity={} method={} client={} reason={}",
                 context.request_id, identity, method, context.client_address, reason);
  }
  if (services_.audit == nullptr) return;
  metadata::LoginEventRecord event;
  event.time = services_.authenticator.now();
  if (context.registry) event.registry = context.registry->id;
  event.identity = std::string(identity);
  event.identity_kind = std::string(identity_kind);
  event.client_address = context.client_address;
  event.success = success;
  event.method = std::string(method);
  event.reason = std::string(reason);
  services_.audit->record(std::move(event));
}

Pipeline::LoginGate Pipeline::login_gate(const RequestContext& context) const {
  if (services_.limiter == nullptr) return {};
  auto throttle = services_.limiter->login_throttle(context.client_address);
  LoginGate gate;
  gate.delay = throttle.delay;
  if (!throttle.decision.allowed) gate.refused_for = throttle.decision.retry_after;
  return gate;
}

std::optional<Response> Pipeline::authenticate(const RouteFamily& family, const RouteRow& row,
                                              const Request& request,
                                              const auth::Authorization& authorization,
                                              RequestContext& context) const {
  auto& authenticator = services_.authenticator;
  if (!needs_identity(row)) return std::nullopt;
  auto unauthenticated = [&](std::string error, std::string message) {
    return family.errors.unauthenticated(
        challenge_for(row, request, context, std::move(error), std::move(message)));
  };

  if (auto* malformed = std::get_if<auth::MalformedAuthorization>(&authorization)) {
    return unauthenticated("invalid_request", malformed->reason);
  }
  if (auto* bearer = std::get_if<auth::BearerToken>(&authorization)) {
    if (authenticator.is_admin_token(bearer->token)) {
      context.caller = everything_caller(Principal{Principal::Kind::deployment_admin, 0, {}});
      return std::nullopt;
    }
    if (!context.registry) return unauthenticated("invalid_token", "the token is not valid here");
    const auto& registry = *context.registry;
    auto claims = tokens_->find(bearer->token);
    if (!claims) {
      auto verified = authenticator.verify_token(bearer->token, auth::TokenKind::access,
                                                 registry.record, registry.service);
      if (!verified) return unauthenticated("invalid_token", verified.error().message);
      tokens_->put(bearer->token, *verified);
      claims = std::move(*verified);
    }
    // A cached token is still checked for its expiry and for the registry it is used on.
    if (claims->expires_at <= authenticator.now() || claims->registry_id != registry.id ||
        claims->audience != registry.service) {
      return unauthenticated("invalid_token", "the token has expired or is for another registry");
    }
    auto principal = auth::principal_of_subject(claims->subject);
    if (!principal) return unauthenticated("invalid_token", "the token names no subject");
    context.caller.principal = std::move(*principal);
    context.caller.grant = auth::grant_of_access_claim(claims->access);
    context.caller.from_token = true;
    context.caller.catalog = auth::access_claim_lists_catalog(claims->access);
    return std::nullopt;
  }
  // No credentials: anonymous, with what the registry gives anonymous callers.
  if (context.registry) {
    auto grant = authenticator.grant_for(Principal{}, context.registry->record);
    if (grant) context.caller.grant = std::move(*grant);
    context.caller.catalog = context.caller.grant.reads_anything();
  }
  return std::nullopt;
}

asio::awaitable<std::optional<Response>> Pipeline::authenticate_basic(
    const RouteFamily& family, const RouteRow& row, const Request& request,
    RequestContext& context, const auth::BasicCredentials& basic) const {
  auto& authenticator = services_.authenticator;
  auto gate = login_gate(context);
  if (gate.refused_for) co_return family.errors.too_many_requests(*gate.refused_for);
  if (gate.delay.count() > 0) co_await wait(gate.delay);
  if (!context.registry) {
    // The management API: deployment identities (username = the identity's id).
    auto principal = co_await context.run_blocking(
        [&] { return authenticator.verify_identity_password(basic.username, basic.password); });
    record_login(context, basic.username, "identity", "basic", principal.has_value(),
                 principal ? "" : principal.error().message);
    if (!principal) {
      if (principal.error().code == auth::AccessErrc::store_error) {
        co_return family.errors.internal();
      }
      co_return family.errors.unauthenticated(
          challenge_for(row, request, context, "", "invalid username or password"));
    }
    context.caller.principal = std::move(*principal);
    co_return std::nullopt;
  }
  const auto& record = context.registry->record;
  auto verified = co_await context.run_blocking(
      [&]() -> auth::AccessResult<std::pair<Principal, auth::Grant>> {
        auto principal = authenticator.verify_password(record, basic.username, basic.password);
        if (!principal) return principal.error();
        auto grant = authenticator.grant_for(*principal, record);
        if (!grant) return grant.error();
        return std::pair{std::move(*principal), std::move(*grant)};
      });
  if (!verified) {
    record_login(context, basic.username, "unknown", "basic", false, verified.error().message);
    if (verified.error().code == auth::AccessErrc::store_error) co_return family.errors.internal();
    co_return family.errors.unauthenticated(
        challenge_for(row, request, context, "", "invalid username or password"));
  }
  record_login(context, basic.username, verified->first.kind_name(), "basic", true, "");
  context.caller.principal = std::move(verified->first);
  context.caller.grant = std::move(verified->second);
  context.caller.catalog = context.caller.grant.reads_anything();
  co_return std::nullopt;
}

asio::awaitable<void> Pipeline::wait(std::chrono::milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<std::optional<Response>> Pipeline::check_authorization(
    const RouteFamily& family, const RouteRow& row, Request& request,
    RequestContext& context) const {
  const ActionRule* rule = rule_of(row.action);
  if (rule == nullptr) {
    // A route table names an action no rule covers: refuse rather than guess (fail closed).
    spdlog::error("id={} route {} names the action '{}', which the authorizer does not know; "
                  "refused",
                  context.request_id, row.name, row.action);
    co_return family.errors.internal();
  }
  auto& authenticator = services_.authenticator;
  AuthorizationInput input{row.action, request.param("name"), context.caller};
  const Principal& principal = context.caller.principal;

  if (rule->kind == ActionKind::metrics) {
    auto client = auth::IpAddress::parse(context.client_address);
    input.loopback_client = client && auth::is_loopback(*client);
    input.metrics_token_configured = services_.metrics_token.has_value();
    input.metrics_token_presented =
        services_.metrics_token &&
        services_.metrics_token->verify_authorization(request.header("Authorization"));
  }

  if (rule->kind == ActionKind::registry_management &&
      principal.kind == Principal::Kind::identity) {
    std::string name(request.param("registry"));
    input.registry_level = co_await context.run_blocking([&] {
      auto record = services_.metadata.find_registry(name);
      if (!record || !*record) return ManagementLevel::none;
      auto grant = authenticator.grant_for(principal, **record);
      return grant ? grant->management : ManagementLevel::none;
    });
  }
  // The principal's whole grant: to tell a token that lacks a scope its principal holds (401,
  // fetch a new token) from one whose principal may not (403), and to list the catalog.
  Verdict verdict = authorize(input);
  bool lacks_with_token = verdict == Verdict::denied && context.caller.from_token &&
                          principal.kind != Principal::Kind::anonymous;
  bool lists_catalog_with_token = verdict == Verdict::allowed &&
                                  rule->kind == ActionKind::catalog && context.caller.from_token;
  if ((lacks_with_token || lists_catalog_with_token) && context.registry) {
    auto grant = co_await context.run_blocking(
        [&] { return authenticator.grant_for(principal, context.registry->record); });
    if (!grant) {
      spdlog::error("id={} grant of {} unreadable: {}", context.request_id, principal.display(),
                    grant.error().message);
      co_return family.errors.internal();
    }
    if (lacks_with_token) {
      input.principal_has_it = rule->kind == ActionKind::catalog
                                   ? grant->reads_anything()
                                   : grant->on(input.repository).contains(rule->needs);
      verdict = authorize(input);
    } else {
      // The token says the catalog may be listed; what it lists is what the principal reads.
      context.caller.grant = std::move(*grant);
    }
  }

  // Messages name what was asked (clients such as docker retry an error that carries only a
  // code's stock message), and read the same whether the repository exists or not.
  std::string what = what_was_asked(*rule, row, request);
  switch (verdict) {
    case Verdict::allowed:
      co_return std::nullopt;
    case Verdict::needs_authentication:
      co_return family.errors.unauthenticated(challenge_for(
          row, request, context, "", fmt::format("authentication required to {}", what)));
    case Verdict::insufficient_scope:
      co_return family.errors.unauthenticated(
          challenge_for(row, request, context, "insufficient_scope",
                        fmt::format("the access token does not allow to {}", what)));
    case Verdict::denied:
      co_return family.errors.denied(
          fmt::format("requested access to the resource is denied: {} is not allowed to {}",
                      principal.display(), what));
    case Verdict::unknown_action:
      break;
  }
  co_return family.errors.internal();
}

std::optional<Response> Pipeline::rate_limit(const RouteFamily& family, const RouteRow& row,
                                             const Request& request,
                                             const RequestContext& context) const {
  if (services_.limiter == nullptr || !context.registry) return std::nullopt;
  const registry::Tier* tier = registry::find_tier(context.registry->record.tier);
  if (tier == nullptr) return std::nullopt;
  auto decision = services_.limiter->take(context.registry->id, *tier,
                                          auth::subject_of(context.caller.principal),
                                          category_of(family, row, request));
  if (decision.allowed) return std::nullopt;
  return family.errors.too_many_requests(decision.retry_after);
}

metadata::EventOrigin event_origin(const RequestContext& context, const http::Request& request) {
  return metadata::EventOrigin{
      .identity = context.caller.principal.display(),
      .identity_kind = context.caller.principal.kind_name(),
      .client_address = context.client_address,
      .request_id = context.request_id,
      .host = std::string(request.header("Host").value_or("")),
      .method = request.method,
      .user_agent = std::string(request.header("User-Agent").value_or("")),
  };
}

}  // namespace berth::api
