#include "events/webhook_rules.h"

#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace berth::events {
namespace {

constexpr std::size_t kMinNameLength = 5;
constexpr std::size_t kMaxNameLength = 50;
constexpr std::size_t kMaxScopeLength = 512;
constexpr std::size_t kMaxHeaderLength = 4096;

// Headers a delivery sets itself: a custom header may not replace them.
constexpr std::string_view kReservedHeaders[] = {
    "content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection",
    "x-berth-signature", "x-berth-event-id", "x-berth-delivery-attempt", "expect"};

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Glob match with '*' as the only wildcard (iterative, with backtracking to the last star).
bool glob_matches(std::string_view pattern, std::string_view text) {
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// The repository and tag parts of a scope ("foo" is "foo:latest"). The tag is after the last
// ':' (repository names have none).
std::pair<std::string_view, std::string_view> split_scope(std::string_view scope) {
  auto colon = scope.rfind(':');
  if (colon == std::string_view::npos) return {scope, "latest"};
  return {scope.substr(0, colon), scope.substr(colon + 1)};
}

}  // namespace

std::optional<std::string> check_webhook_name(std::string_view name) {
  bool ok = name.size() >= kMinNameLength && name.size() <= kMaxNameLength &&
            std::all_of(name.begin(), name.end(),
                        [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
  if (ok) return std::nullopt;
  return fmt::format("webhook name '{}' must be {} to {} ASCII letters and digits", name,
                     kMinNameLength, kMaxNameLength);
}

std::optional<std::string> check_actions(const std::vector<std::string>& actions) {
  if (actions.empty()) return "a webhook needs at least one action";
  for (std::size_t i = 0; i < actions.size(); ++i) {
    const auto& action = actions[i];
    if (std::find(std::begin(kWebhookActions), std::end(kWebhookActions), action) ==
        std::end(kWebhookActions)) {
      return fmt::format(
          "unknown action '{}': actions are push, delete, quarantine, chart_push, chart_delete",
          action);
    }
    if (std::find(actions.begin(), actions.begin() + static_cast<std::ptrdiff_t>(i), action) !=
        actions.begin() + static_cast<std::ptrdiff_t>(i)) {
      return fmt::format("action '{}' is given twice", action);
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_scope(std::string_view scope) {
  if (scope.empty()) return std::nullopt;
  if (scope.size() > kMaxScopeLength) return "the scope is too long";
  auto [repository, tag] = split_scope(scope);
  auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("._-/*").find(c) != std::string_view::npos;
  };
  bool ok = !repository.empty() && !tag.empty() &&
            std::all_of(repository.begin(), repository.end(), allowed) &&
            std::all_of(tag.begin(), tag.end(), [&](char c) { return allowed(c) && c != '/'; });
  if (ok) return std::nullopt;
  return fmt::format(
      "scope '{}' must be 'repository', 'repository:tag' or either with '*' wildcards", scope);
}

std::optional<std::string> check_format(std::string_view format) {
  if (format == kFormatDefault || format == kFormatCloudEvents) return std::nullopt;
  return fmt::format("format '{}' must be '{}' or '{}'", format, kFormatDefault,
                     kFormatCloudEvents);
}

std::optional<std::string> check_header(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
    return fmt::format("'{}' is not a valid header name", name);
  }
  if (name.size() + value.size() > kMaxHeaderLength) {
    return fmt::format("header '{}' is too long", name);
  }
  bool visible = std::all_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u == ' ' || u == '\t' || (u > 0x20 && u < 0x7f);
  });
  if (!visible) return fmt::format("the value of header '{}' has characters headers cannot hold", name);
  std::string lowered = lower(name);
  if (std::find(std::begin(kReservedHeaders), std::end(kReservedHeaders), lowered) !=
      std::end(kReservedHeaders)) {
    return fmt::format("header '{}' is set by the delivery itself", name);
  }
  return std::nullopt;
}

bool scope_matches(std::string_view scope, std::string_view repository, std::string_view tag) {
  if (scope.empty()) return true;
  auto [repository_pattern, tag_pattern] = split_scope(scope);
  if (!glob_matches(repository_pattern, repository)) return false;
  if (tag.empty()) return tag_pattern == "*";
  return glob_matches(tag_pattern, tag);
}

bool wants_action(const std::vector<std::string>& actions, std::string_view action) {
  if (action == "ping") return true;
  return std::find(actions.begin(), actions.end(), action) != actions.end();
}

std::optional<std::string> check_service_uri(std::string_view uri,
                                             const DestinationPolicy& policy) {
  auto parsed = boost::urls::parse_absolute_uri(uri);
  if (!parsed) return fmt::format("'{}' is not an absolute URI", uri);
  std::string scheme = lower(parsed->scheme());
  if (scheme != "http" && scheme != "https") {
    return fmt::format("the service URI must be http or https, not '{}'", parsed->scheme());
  }
  if (!parsed->has_authority() || parsed->encoded_host().empty()) {
    return "the service URI has no host";
  }
  if (parsed->has_userinfo()) {
    return "the service URI may not hold credentials; put them in a custom header";
  }
  if (parsed->has_fragment()) return "the service URI may not have a fragment";
  std::string host(parsed->encoded_host());
  if (auto address = auth::IpAddress::parse(host)) {
    if (auto refused = refuse_destination(*address, policy)) {
      return "the service URI points at " + *refused;
    }
  }
  return std::nullopt;
}

}  // namespace berth::events
