#include "api/oauth2.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <variant>
#include <string>

#include "api/errors.h"
#include "api/wire.h"
#include "auth/credentials.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
using auth::Principal;
using http::Request;
using http::Response;

constexpr std::size_t kMaxFormBytes = 64 * 1024;

// The parameters of a request: the query, or a form-encoded body. Names may repeat (scope).
using Parameters = std::multimap<std::string, std::string, std::less<>>;

std::optional<std::string_view> first(const Parameters& parameters, std::string_view name) {
  auto found = parameters.find(name);
  if (found == parameters.end()) return std::nullopt;
  return std::string_view(found->second);
}

std::vector<std::string_view> all_of(const Parameters& parameters, std::string_view name) {
  std::vector<std::string_view> values;
  auto [begin, end] = parameters.equal_range(name);
  for (auto it = begin; it != end; ++it) values.emplace_back(it->second);
  return values;
}

Parameters query_parameters(const Request& request) {
  Parameters parameters;
  for (const auto& [name, value] : request.query) parameters.emplace(name, value);
  return parameters;
}

std::optional<Parameters> form_parameters(std::string_view body) {
  auto parsed = boost::urls::parse_query(body);
  if (!parsed) return std::nullopt;
  Parameters parameters;
  for (auto param : *parsed) {
    std::string key;
    std::string value;
    param.key.decode({}, boost::urls::string_token::assign_to(key));
    if (param.has_value) param.value.decode({}, boost::urls::string_token::assign_to(value));
    // A form encodes spaces as '+'.
    std::replace(value.begin(), value.end(), '+', ' ');
    parameters.emplace(std::move(key), std::move(value));
  }
  return parameters;
}

Response json_answer(const boost::json::object& object) {
  Response response;
  response.status = 200;
  add_common_headers(response);
  response.headers.set(std::string(header::kContentType), "application/json");
  response.headers.set("Cache-Control", "no-store");
  response.body = boost::json::serialize(object);
  response.body += '\n';
  return response;
}

Response invalid_request(std::string_view message) {
  return error_response(400, code::kUnsupported, message);
}

Response unauthorized(std::string_view message) {
  return error_response(401, code::kUnauthorized, message);
}

std::string rfc3339(std::int64_t seconds) {
  std::time_t time = seconds;
  std::tm utc{};
  gmtime_r(&time, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

class TokenService {
 public:
  explicit TokenService(const Pipeline& pipeline)
      : pipeline_(pipeline), authenticator_(pipeline.services().authenticator) {}

  // GET /oauth2/token: Basic credentials (or none) -> an access token for the requested
  // scopes; offline_token=true adds a refresh token (what `docker login` keeps).
  asio::awaitable<Response> get_token(RequestContext& context, Request& request) {
    Parameters parameters = query_parameters(request);
    if (auto bad = check_service(context, parameters)) co_return std::move(*bad);
    auto scopes = requested_scopes(parameters);
    if (!scopes) co_return invalid_request("a scope is malformed");

    Principal principal;
    auto authorization = auth::parse_authorization(request.header("Authorization"));
    if (std::holds_alternative<auth::MalformedAuthorization>(authorization) ||
        std::holds_alternative<auth::BearerToken>(authorization)) {
      co_return unauthorized("send Basic credentials, or none");
    }
    if (auto* basic = std::get_if<auth::BasicCredentials>(&authorization)) {
      auto verified = co_await login(context, basic->username, basic->password, "oauth2/token");
      if (auto* refusal = std::get_if<Response>(&verified)) co_return std::move(*refusal);
      principal = std::move(std::get<Principal>(verified));
    }
    bool offline = first(parameters, "offline_token") == "true";
    co_return co_await answer(context, principal, *scopes, offline);
  }

  // POST /oauth2/token: grant_type=refresh_token (refresh_token=) or password (username=,
  // password=), form-encoded.
  asio::awaitable<Response> post_token(RequestContext& context, Request& request) {
    auto form = co_await read_form(request);
    if (auto* refusal = std::get_if<Response>(&form)) co_return std::move(*refusal);
    const auto& parameters = std::get<Parameters>(form);
    if (auto bad = check_service(context, parameters)) co_return std::move(*bad);
    auto scopes = requested_scopes(parameters);
    if (!scopes) co_return invalid_request("a scope is malformed");
    auto grant_type = first(parameters, "grant_type").value_or("");
    auto principal = co_await principal_of_grant(context, parameters, grant_type, "oauth2/token");
    if (auto* refusal = std::get_if<Response>(&principal)) co_return std::move(*refusal);
    bool offline = grant_type == "password" && first(parameters, "access_type") == "offline";
    co_return co_await answer(context, std::get<Principal>(principal), *scopes, offline);
  }

  // POST /oauth2/exchange: credentials, the administrator token or a federated identity's JWT
  // -> a refresh token (what `berth login` and the hosted service's CLI keep).
  asio::awaitable<Response> exchange(RequestContext& context, Request& request) {
    auto form = co_await read_form(request);
    if (auto* refusal = std::get_if<Response>(&form)) co_return std::move(*refusal);
    const auto& parameters = std::get<Parameters>(form);
    if (auto bad = check_service(context, parameters)) co_return std::move(*bad);
    auto grant_type = first(parameters, "grant_type").value_or("");
    auto outcome = co_await principal_of_grant(context, parameters, grant_type, "oauth2/exchange");
    if (auto* refusal = std::get_if<Response>(&outcome)) co_return std::move(*refusal);
    const auto& principal = std::get<Principal>(outcome);
    if (principal.kind == Principal::Kind::anonymous) co_return unauthorized("credentials required");
    context.caller.principal = principal;  // the access log's identity=
    auto refresh = co_await context.run_blocking([&] {
      return authenticator_.issue_refresh_token(principal, context.registry->record,
                                                context.registry->service);
    });
    if (!refresh) co_return internal(refresh.error());
    co_return json_answer(boost::json::object{{"refresh_token", refresh->token}});
  }

 private:
  using PrincipalResult = std::variant<Principal, Response>;

  asio::awaitable<PrincipalResult> principal_of_grant(RequestContext& context,
                                                      const Parameters& parameters,
                                                      std::string_view grant_type,
                                                      std::string_view method) {
    if (grant_type == "password") {
      auto username = first(parameters, "username").value_or("");
      auto password = first(parameters, "password").value_or("");
      co_return co_await login(context, username, password, method);
    }
    if (grant_type == "refresh_token") {
      auto token = first(parameters, "refresh_token").value_or("");
      co_return co_await login(context, auth::kRefreshTokenUsername, token, method);
    }
    if (grant_type == "access_token" || grant_type == "access_token_refresh_token") {
      auto token = std::string(first(parameters, "access_token").value_or(""));
      if (authenticator_.is_admin_token(token)) {
        pipeline_.record_login(context, "admin", "deploymentAdmin", method, true, "");
        co_return Principal{Principal::Kind::deployment_admin, 0, {}};
      }
      co_return co_await federated_login(context, token, method);
    }
    co_return invalid_request(
        "grant_type must be password, refresh_token or access_token");
  }

  // Verifies a password (with the failed-login throttle) and records the attempt.
  asio::awaitable<PrincipalResult> login(RequestContext& context, std::string_view username,
                                         std::string_view password, std::string_view method) {
    if (auto refused = co_await throttle(context)) co_return std::move(*refused);
    std::string user(username);
    std::string secret(password);
    auto principal = co_await context.run_blocking([&] {
      return authenticator_.verify_password(context.registry->record, user, secret);
    });
    if (!principal) {
      if (principal.error().code == auth::AccessErrc::store_error) {
        co_return internal(principal.error());
      }
      pipeline_.record_login(context, user, "unknown", method, false, principal.error().message);
      co_return unauthorized("invalid username or password");
    }
    // A refresh token presented as a password is recorded as the principal it names.
    std::string who = user == auth::kRefreshTokenUsername ? principal->display() : user;
    pipeline_.record_login(context, who, principal->kind_name(), method, true, "");
    co_return std::move(*principal);
  }

  asio::awaitable<PrincipalResult> federated_login(RequestContext& context,
                                                   const std::string& token,
                                                   std::string_view method) {
    if (auto refused = co_await throttle(context)) co_return std::move(*refused);
    auto principal =
        co_await context.run_blocking([&] { return authenticator_.verify_federated(token); });
    if (!principal) {
      if (principal.error().code == auth::AccessErrc::store_error) {
        co_return internal(principal.error());
      }
      pipeline_.record_login(context, "", "federated", method, false, principal.error().message);
      co_return unauthorized("the token is not trusted");
    }
    pipeline_.record_login(context, principal->name, "federated", method, true, "");
    co_return std::move(*principal);
  }

  asio::awaitable<std::optional<Response>> throttle(const RequestContext& context) {
    auto gate = pipeline_.login_gate(context);
    if (gate.refused_for) {
      co_return oci_family_errors().too_many_requests(*gate.refused_for);
    }
    if (gate.delay.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, gate.delay);
      co_await timer.async_wait(asio::use_awaitable);
    }
    co_return std::nullopt;
  }

  asio::awaitable<Response> answer(RequestContext& context, const Principal& principal,
                                   const std::vector<auth::Scope>& scopes, bool with_refresh) {
    context.caller.principal = principal;  // the access log's identity=
    auto issued = co_await context.run_blocking(
        [&]() -> auth::AccessResult<boost::json::object> {
          const auto& registry = *context.registry;
          auto access = authenticator_.issue_access_token(principal, registry.record,
                                                          registry.service, scopes);
          if (!access) return access.error();
          boost::json::object answer{{"token", access->token},
                                     {"access_token", access->token},
                                     {"expires_in", access->expires_in},
                                     {"issued_at", rfc3339(access->issued_at)}};
          if (with_refresh && principal.kind != Principal::Kind::anonymous) {
            auto refresh =
                authenticator_.issue_refresh_token(principal, registry.record, registry.service);
            if (!refresh) return refresh.error();
            answer["refresh_token"] = refresh->token;
          }
          return answer;
        });
    if (!issued) co_return internal(issued.error());
    co_return json_answer(*issued);
  }

  asio::awaitable<std::variant<Parameters, Response>> read_form(Request& request) {
    auto body = co_await http::read_body(*request.body, kMaxFormBytes);
    if (!body) co_return invalid_request("the form is too large");
    auto parameters = form_parameters(*body);
    if (!parameters) co_return invalid_request("the body is not a form (application/x-www-form-urlencoded)");
    co_return std::move(*parameters);
  }

  // The service a client names is what a challenge told it; tokens are always for the registry
  // the request addresses (their audience is its login server), so a client that names the
  // host it dialled instead (as some CLIs do) gets the same tokens. Only a malformed value is
  // refused.
  static std::optional<Response> check_service(const RequestContext&,
                                               const Parameters& parameters) {
    auto service = first(parameters, "service");
    if (service && service->size() > 253) return invalid_request("service is too long");
    return std::nullopt;
  }

  static std::optional<std::vector<auth::Scope>> requested_scopes(const Parameters& parameters) {
    return auth::parse_scopes(all_of(parameters, "scope"));
  }

  static Response internal(const auth::AccessError& error) {
    Response response = error_response(500, code::kUnknown, "internal server error");
    response.log_detail = "token service: " + error.message;
    return response;
  }

  const Pipeline& pipeline_;
  auth::Authenticator& authenticator_;
};

}  // namespace

std::vector<RouteRow> oauth2_routes(const Pipeline& pipeline) {
  auto service = std::make_shared<TokenService>(pipeline);
  auto route = [&](std::string method, std::string pattern, std::string name, auto member) {
    return RouteRow{std::move(method), std::move(pattern), std::move(name),
                    std::string(action::kToken),
                    [service, member](RequestContext& context, Request& request) {
                      return ((*service).*member)(context, request);
                    }};
  };
  std::vector<RouteRow> rows;
  rows.push_back(route("GET", "/oauth2/token", "oauth2.token", &TokenService::get_token));
  rows.push_back(route("POST", "/oauth2/token", "oauth2.token.post", &TokenService::post_token));
  rows.push_back(route("POST", "/oauth2/exchange", "oauth2.exchange", &TokenService::exchange));
  return rows;
}

RouteFamily oauth2_family(BlockingPool* blocking) {
  RouteFamily family;
  family.name = "oauth";
  family.resolves_registry = true;
  family.errors = oci_family_errors();
  family.blocking = blocking;
  return family;
}

}  // namespace berth::api
