#include "cli/views.h"

#include "cli/validate.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace berth::cli {
namespace json = boost::json;

namespace {

const json::value* field(const json::value& object, std::string_view key) {
  return object.is_object() ? object.as_object().if_contains(key) : nullptr;
}

Cell text(const json::value& object, std::string_view key) {
  const json::value* v = field(object, key);
  if (v == nullptr || v->is_null()) return text_cell("");
  if (v->is_string()) return text_cell(std::string(v->as_string()));
  return text_cell(json::serialize(*v));
}

std::optional<std::uint64_t> unsigned_number(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  if (v->is_double() && v->as_double() >= 0) return static_cast<std::uint64_t>(v->as_double());
  return std::nullopt;
}

Cell bytes(const json::value& object, std::string_view key) {
  auto n = unsigned_number(field(object, key));
  return n ? bytes_cell(*n) : text_cell("");
}

Cell number(const json::value& object, std::string_view key) {
  const json::value* v = field(object, key);
  if (v != nullptr && v->is_int64()) return int_cell(v->as_int64());
  if (auto n = unsigned_number(v)) return text_cell(std::to_string(*n));
  return text_cell("");
}

Cell flag(const json::value& object, std::string_view key) {
  const json::value* v = field(object, key);
  return v != nullptr && v->is_bool() ? bool_cell(v->as_bool()) : text_cell("");
}

Cell joined(const json::value& object, std::string_view key) {
  const json::value* v = field(object, key);
  std::string out;
  if (v != nullptr && v->is_array()) {
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) continue;
      if (!out.empty()) out += ',';
      out += item.as_string();
    }
  }
  return text_cell(out);
}

const json::array& items(const json::value& answer, std::string_view key) {
  static const json::array kEmpty;
  const json::value* v = field(answer, key);
  return v != nullptr && v->is_array() ? v->as_array() : kEmpty;
}

// The flag columns (admin user, anonymous pull, public network access) have one-word headers
// and the login server (the name plus the domain) gives way, so the table fits its width.
const std::vector<std::string> kRegistryColumns = {"Name",    "Tier",  "Region",    "Login server",
                                                   "Created", "Admin", "Anonymous", "Public"};
const std::vector<std::size_t> kRegistryTruncatable = {3};

std::vector<Cell> registry_row(const json::value& r) {
  return {text(r, "name"),
          text(r, "tier"),
          text(r, "region"),
          text(r, "loginServer"),
          text(r, "createdTime"),
          flag(r, "adminUserEnabled"),
          flag(r, "anonymousPullEnabled"),
          flag(r, "publicNetworkAccess")};
}

const std::vector<std::string> kRepositoryColumns = {"Name", "Manifests", "Tags",
                                                     "Size", "Created",   "Updated"};

std::vector<Cell> repository_row(const json::value& r) {
  return {text(r, "name"),       number(r, "manifestCount"), number(r, "tagCount"),
          bytes(r, "usedBytes"), text(r, "createdTime"),     text(r, "lastUpdateTime")};
}

const std::vector<std::string> kManifestColumns = {"Digest", "Media type", "Artifact type",
                                                   "Size",   "Created",    "Tags"};

// A media type as the table shows it: "oci.image.manifest.v1+json" for
// "application/vnd.oci.image.manifest.v1+json", since every type the registry stores has the
// prefix and the table has no room for it.
Cell media_type(const json::value& object, std::string_view key) {
  Cell cell = text(object, key);
  for (std::string_view prefix : {"application/vnd.", "application/"}) {
    if (cell.raw.starts_with(prefix) && cell.raw.size() > prefix.size()) {
      cell.human = cell.raw.substr(prefix.size());
      break;
    }
  }
  return cell;
}

std::vector<Cell> manifest_row(const json::value& m) {
  return {text(m, "digest"), media_type(m, "mediaType"), media_type(m, "artifactType"),
          bytes(m, "size"),  text(m, "createdTime"),     joined(m, "tags")};
}

// Digest, media type, artifact type and tags give way so the table fits its width.
const std::vector<std::size_t> kManifestTruncatable = {0, 1, 2, 5};

// A listing prints, as json, the array of its items, as `az acr list` and the other az list
// verbs do; the API wraps it in an object ({"registries": [...]}) to leave room for paging.
View list_view(const json::value& answer, std::string_view key,
               const std::vector<std::string>& columns,
               std::vector<Cell> (*row)(const json::value&)) {
  View view{items(answer, key), {columns, {}}, {}};
  for (const auto& item : items(answer, key)) view.table.rows.push_back(row(item));
  return view;
}

}  // namespace

View registry_view(const json::value& registry) {
  return {registry, {kRegistryColumns, {registry_row(registry)}, kRegistryTruncatable}, {}};
}

View registry_list_view(const json::value& answer) {
  View view = list_view(answer, "registries", kRegistryColumns, registry_row);
  view.table.truncatable = kRegistryTruncatable;
  return view;
}

// Usage rows, in json the shape `az acr show-usage` prints:
// {"value": [{"name", "currentValue", "limit", "unit"}, ...]}, limit null where there is none.
class UsageRows {
 public:
  void add(std::string name, const json::value* current, const json::value* limit,
           std::string_view unit) {
    auto current_value = unsigned_number(current);
    auto limit_value = unsigned_number(limit);
    bool bytes = unit == "Bytes";
    auto cell = [bytes](std::optional<std::uint64_t> n) {
      if (!n) return text_cell("");
      return bytes ? bytes_cell(*n) : text_cell(std::to_string(*n));
    };
    table_.rows.push_back(
        {text_cell(name), cell(current_value), cell(limit_value), text_cell(std::string(unit))});
    json::object row{{"name", name}, {"unit", unit}};
    row["currentValue"] = current_value ? json::value(*current_value) : json::value(nullptr);
    row["limit"] = limit_value ? json::value(*limit_value) : json::value(nullptr);
    json_.push_back(std::move(row));
  }

  View view() && { return {json::object{{"value", std::move(json_)}}, std::move(table_), {}}; }

 private:
  Table table_{{"Name", "Current", "Limit", "Unit"}, {}, {}};
  json::array json_;
};

View usage_view(const json::value& usage) {
  UsageRows rows;
  if (const json::value* storage = field(usage, "storage")) {
    rows.add("Size", field(*storage, "usedBytes"), field(*storage, "includedBytes"), "Bytes");
    if (const json::value* soft_deleted = field(*storage, "softDeletedBytes")) {
      rows.add("SoftDeletedSize", soft_deleted, nullptr, "Bytes");
    }
  }
  for (const auto& count : items(usage, "counts")) {
    const json::value* name = field(count, "name");
    rows.add(name != nullptr && name->is_string() ? std::string(name->as_string()) : "",
             field(count, "current"), field(count, "limit"), "Count");
  }
  // Repository names are lower case and cannot contain ':', so these rows never collide with
  // the capitalised registry-wide names above.
  for (const auto& repo : items(usage, "repositories")) {
    const json::value* name = field(repo, "name");
    std::string label = "repository:";
    if (name != nullptr && name->is_string()) label += name->as_string();
    rows.add(label, field(repo, "usedBytes"), nullptr, "Bytes");
  }
  return std::move(rows).view();
}

View health_view(const json::value& health) {
  View view{health, {{"Check", "Healthy", "Message"}, {}}, {}};
  for (const auto& check : items(health, "checks")) {
    view.table.rows.push_back(
        {text(check, "name"), flag(check, "healthy"), text(check, "message")});
  }
  const json::value* healthy = field(health, "healthy");
  if (healthy != nullptr && healthy->is_bool()) {
    view.message = healthy->as_bool() ? "Registry is healthy." : "Registry is NOT healthy.";
  }
  return view;
}

View repository_view(const json::value& repository) {
  return {repository, {kRepositoryColumns, {repository_row(repository)}}, {}};
}

View repository_list_view(const json::value& answer) {
  return list_view(answer, "repositories", kRepositoryColumns, repository_row);
}

View tag_list_view(const json::value& answer) {
  return list_view(answer, "tags", {"Name", "Digest", "Created", "Updated"},
                   [](const json::value& t) -> std::vector<Cell> {
                     return {text(t, "name"), text(t, "digest"), text(t, "createdTime"),
                             text(t, "lastUpdateTime")};
                   });
}

View changeable_attributes_view(const json::value& item) {
  static const json::value kNone;
  const json::value* attributes = field(item, "changeableAttributes");
  const json::value& locks = attributes != nullptr ? *attributes : kNone;
  const bool manifest = field(item, "name") == nullptr;
  return {
      item,
      {{manifest ? "Digest" : "Name", "WriteEnabled", "DeleteEnabled", "ReadEnabled",
        "ListEnabled"},
       {{text(item, manifest ? "digest" : "name"), flag(locks, "writeEnabled"),
         flag(locks, "deleteEnabled"), flag(locks, "readEnabled"), flag(locks, "listEnabled")}}},
      {}};
}

View manifest_view(const json::value& manifest) {
  return {manifest, {kManifestColumns, {manifest_row(manifest)}, kManifestTruncatable}, {}};
}

View manifest_list_view(const json::value& answer) {
  View view = list_view(answer, "manifests", kManifestColumns, manifest_row);
  view.table.truncatable = kManifestTruncatable;
  return view;
}

// ------------------------------------------------------------------ access control

namespace {

std::string string_field(const json::value& object, std::string_view key) {
  const json::value* v = field(object, key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// An expiry: the time, "never" for null, "" when the field is missing.
Cell expiry(const json::value& object, std::string_view key = "expiry") {
  const json::value* v = field(object, key);
  if (v != nullptr && v->is_null()) return text_cell("never");
  return text(object, key);
}

// The expiry of the named password of a token, "" when the token has no such password.
Cell password_expiry(const json::value& token, std::string_view name) {
  const json::value* credentials = field(token, "credentials");
  if (credentials == nullptr) return text_cell("");
  for (const auto& password : items(*credentials, "passwords")) {
    if (string_field(password, "name") == name) return expiry(password);
  }
  return text_cell("");
}

const std::vector<std::string> kTokenColumns = {"Name",    "Scope map",        "Status",
                                                "Created", "Password1 expiry", "Password2 expiry"};
const std::vector<std::size_t> kTokenTruncatable = {0, 1};

std::vector<Cell> token_row(const json::value& t) {
  return {
      text(t, "name"),         text(t, "scopeMapName"),         text(t, "status"),
      text(t, "creationDate"), password_expiry(t, "password1"), password_expiry(t, "password2")};
}

// One row per password that carries a value; the value column is never cut.
Table password_table(const json::value& credentials, bool with_expiry) {
  Table table{{"Username", "Password", "Value"}, {}, {}};
  if (with_expiry) table.headers.push_back("Expiry");
  for (const auto& password : items(credentials, "passwords")) {
    std::vector<Cell> row = {text(credentials, "username"), text(password, "name"),
                             text(password, "value")};
    if (with_expiry) row.push_back(expiry(password));
    table.rows.push_back(std::move(row));
  }
  return table;
}

bool has_password_values(const json::value& credentials) {
  for (const auto& password : items(credentials, "passwords")) {
    if (field(password, "value") != nullptr) return true;
  }
  return false;
}

std::vector<Cell> scope_map_row(const json::value& m) {
  return {text(m, "name"), text(m, "type"),
          int_cell(static_cast<std::int64_t>(items(m, "actions").size())), text(m, "description"),
          text(m, "creationDate")};
}

// Ids may be UUIDs (36 columns) and are what delete and show take, so they are never cut; the
// creation times stay in json so the rows fit 120 columns.
const std::vector<std::string> kIdentityColumns = {"Id", "Name", "Kind", "Enabled", "Expiry"};
const std::vector<std::size_t> kIdentityTruncatable = {1};

std::vector<Cell> identity_row(const json::value& i) {
  return {text(i, "id"), text(i, "name"), text(i, "kind"), flag(i, "enabled"), expiry(i, "expiry")};
}

const std::vector<std::string> kRoleAssignmentColumns = {"Id", "Assignee", "Assignee name", "Role",
                                                         "Scope"};
const std::vector<std::size_t> kRoleAssignmentTruncatable = {1, 2, 4};

std::vector<Cell> role_assignment_row(const json::value& a) {
  return {text(a, "id"), text(a, "assignee"), text(a, "assigneeName"), text(a, "role"),
          text(a, "scope")};
}

}  // namespace

View credentials_view(const json::value& credentials) {
  // Exactly the shape `az acr credential show` prints, whatever else the server adds.
  json::array passwords;
  for (const auto& password : items(credentials, "passwords")) {
    passwords.push_back(json::object{{"name", string_field(password, "name")},
                                     {"value", string_field(password, "value")}});
  }
  json::object doc{{"username", string_field(credentials, "username")},
                   {"passwords", std::move(passwords)}};
  return {std::move(doc), password_table(credentials, /*with_expiry=*/false), {}};
}

View token_view(const json::value& token) {
  return {token, {kTokenColumns, {token_row(token)}, kTokenTruncatable}, {}};
}

View token_list_view(const json::value& answer) {
  View view = list_view(answer, "tokens", kTokenColumns, token_row);
  view.table.truncatable = kTokenTruncatable;
  return view;
}

View token_created_view(const json::value& token) {
  std::string message =
      fmt::format("Created token '{}' with scope map '{}'.", string_field(token, "name"),
                  string_field(token, "scopeMapName"));
  const json::value* credentials = field(token, "credentials");
  if (credentials == nullptr || !has_password_values(*credentials)) {
    message += " It has no passwords yet: 'berth token credential generate' makes them.";
    return {token, {kTokenColumns, {token_row(token)}, kTokenTruncatable}, std::move(message)};
  }
  message += " Save the passwords now: they are not shown again.";
  return {token, password_table(*credentials, /*with_expiry=*/true), std::move(message)};
}

View token_passwords_view(const json::value& credentials) {
  return {credentials, password_table(credentials, /*with_expiry=*/true),
          "Save the new passwords now: they are not shown again."};
}

View scope_map_view(const json::value& scope_map) {
  View view{scope_map, {{"Name", "Type", "Action"}, {}, {}}, {}};
  for (const auto& action : items(scope_map, "actions")) {
    view.table.rows.push_back({text(scope_map, "name"), text(scope_map, "type"),
                               text_cell(action.is_string() ? std::string(action.as_string())
                                                            : json::serialize(action))});
  }
  if (view.table.rows.empty()) {
    view.table.rows.push_back({text(scope_map, "name"), text(scope_map, "type"), text_cell("")});
  }
  if (std::string description = string_field(scope_map, "description"); !description.empty()) {
    view.message = fmt::format("Description: {}", description);
  }
  return view;
}

View scope_map_list_view(const json::value& answer) {
  View view = list_view(answer, "scopeMaps", {"Name", "Type", "Actions", "Description", "Created"},
                        scope_map_row);
  view.table.truncatable = {3};
  return view;
}

View identity_view(const json::value& identity) {
  View view{identity, {kIdentityColumns, {identity_row(identity)}, kIdentityTruncatable}, {}};
  if (string_field(identity, "kind") == "federated") {
    view.message = fmt::format("Issuer: {}\nAudience: {}\nSubject: {}\nJWKS: {}",
                               string_field(identity, "issuer"), string_field(identity, "audience"),
                               string_field(identity, "subject"), string_field(identity, "jwks"));
  }
  // Only create answers with a secret, once; the login is the id and the secret.
  if (std::string secret = string_field(identity, "secret"); !secret.empty()) {
    view.message = fmt::format(
        "Secret: {}\nLog in with the id as username and the secret as password. Save the "
        "secret now: it will not be shown again.",
        secret);
  }
  return view;
}

View identity_list_view(const json::value& answer) {
  View view = list_view(answer, "identities", kIdentityColumns, identity_row);
  view.table.truncatable = kIdentityTruncatable;
  return view;
}

View role_assignment_view(const json::value& assignment) {
  return {assignment,
          {kRoleAssignmentColumns, {role_assignment_row(assignment)}, kRoleAssignmentTruncatable},
          {}};
}

View role_assignment_list_view(const json::value& answer) {
  View view = list_view(answer, "roleAssignments", kRoleAssignmentColumns, role_assignment_row);
  view.table.truncatable = kRoleAssignmentTruncatable;
  return view;
}

View network_rules_view(const json::value& rules) {
  // As json the rule set itself, as `az acr network-rule list` prints an object too.
  View view{rules, {{"Action", "IP address or range"}, {}, {}}, {}};
  for (const auto& rule : items(rules, "ipRules")) {
    view.table.rows.push_back({text(rule, "action"), text(rule, "ipAddressOrRange")});
  }
  if (std::string action = string_field(rules, "defaultAction"); !action.empty()) {
    view.message = fmt::format("Default action: {} (addresses no IP rule allows are {}).", action,
                               action == "Deny" ? "refused" : "let in");
  }
  return view;
}

View login_audit_view(const json::value& answer) {
  View view = list_view(
      answer, "events", {"Time", "Identity", "Kind", "Client", "Result", "Method", "Reason"},
      [](const json::value& e) -> std::vector<Cell> {
        return {text(e, "time"),          text(e, "identity"), text(e, "identityKind"),
                text(e, "clientAddress"), text(e, "result"),   text(e, "method"),
                text(e, "reason")};
      });
  view.table.truncatable = {1, 3, 6};
  return view;
}

// ------------------------------------------------------------------ webhooks and events

namespace {

const std::vector<std::string> kWebhookColumns = {"Name",   "Status", "Actions", "Scope",
                                                  "Format", "Signed", "Created"};
const std::vector<std::size_t> kWebhookTruncatable = {2, 3};

std::vector<Cell> webhook_row(const json::value& w) {
  return {text(w, "name"),   text(w, "status"), joined(w, "actions"),  text(w, "scope"),
          text(w, "format"), flag(w, "signed"), text(w, "createdTime")};
}

// A time as the tables show it: to the second ("2026-12-02T15:04:05Z" for
// "2026-12-02T15:04:05.123Z"), so that a row fits; tsv keeps the milliseconds.
Cell time_to_second(const json::value& object, std::string_view key) {
  Cell cell = text(object, key);
  constexpr std::size_t kFraction = 19;  // after "YYYY-MM-DDTHH:MM:SS"
  if (cell.raw.size() > kFraction && cell.raw[kFraction] == '.') {
    std::size_t zone = cell.raw.find_first_not_of("0123456789", kFraction + 1);
    if (zone != std::string::npos) {
      cell.human = cell.raw.substr(0, kFraction) + cell.raw.substr(zone);
    }
  }
  return cell;
}

const std::vector<std::string> kGcRunColumns = {
    "Id",       "Registry",      "Status",         "Phase",         "Dry run",   "Started",
    "Finished", "Links removed", "Blobs examined", "Blobs deleted", "Reclaimed", "Blobs/s"};

Cell rate(const json::value& object, std::string_view key) {
  const json::value* v = field(object, key);
  if (v == nullptr || !v->is_number()) return text_cell("");
  return text_cell(fmt::format("{:.0f}", v->to_number<double>()));
}

std::vector<Cell> gc_run_row(const json::value& r) {
  Cell registry = text(r, "registry");
  if (registry.raw.empty()) registry = text_cell("(all)");
  return {number(r, "id"),
          registry,
          text(r, "status"),
          text(r, "phase"),
          flag(r, "dryRun"),
          time_to_second(r, "startTime"),
          time_to_second(r, "finishTime"),
          number(r, "linksRemoved"),
          number(r, "blobsExamined"),
          number(r, "blobsDeleted"),
          bytes(r, "bytesReclaimed"),
          rate(r, "blobsExaminedPerSecond")};
}

// A digest as the tables show it: the algorithm and 12 digits, as `docker images` does.
Cell short_digest(const json::value& object, std::string_view key) {
  Cell cell = text(object, key);
  constexpr std::size_t kDigits = 12;
  auto colon = cell.raw.find(':');
  if (colon != std::string::npos && cell.raw.size() > colon + 1 + kDigits) {
    cell.human = cell.raw.substr(0, colon + 1 + kDigits);
  }
  return cell;
}

// The HTTP status a delivery got; "" when none came back (connection refused, timeout).
Cell response_status(const json::value& delivery) {
  const json::value* response = field(delivery, "eventResponseMessage");
  if (response == nullptr) return text_cell("");
  auto status = unsigned_number(field(*response, "statusCode"));
  return status && *status > 0 ? text_cell(std::to_string(*status)) : text_cell("");
}

// What the table says after a page that has a next one.
std::string next_page_message(const json::value& answer) {
  std::string next = string_field(answer, "next");
  if (next.empty()) {
    if (const json::value* v = field(answer, "next"); v != nullptr && !v->is_null()) {
      if (auto n = unsigned_number(v)) next = std::to_string(*n);
    }
  }
  if (next.empty()) return {};
  return fmt::format("More events follow: add --before {} for the next page.", next);
}

}  // namespace

View webhook_view(const json::value& webhook) {
  return {webhook, {kWebhookColumns, {webhook_row(webhook)}, kWebhookTruncatable}, {}};
}

View webhook_list_view(const json::value& answer) {
  View view = list_view(answer, "webhooks", kWebhookColumns, webhook_row);
  view.table.truncatable = kWebhookTruncatable;
  return view;
}

View webhook_config_view(const json::value& config) {
  // One row per custom header, the service URI on each, as the scope map view has one row per
  // action; values are never cut: they are what the receiver gets.
  View view{config, {{"Service URI", "Header", "Value"}, {}, {}}, {}};
  const json::value* headers = field(config, "customHeaders");
  if (headers != nullptr && headers->is_object()) {
    for (const auto& header : headers->as_object()) {
      view.table.rows.push_back({text(config, "serviceUri"), text_cell(std::string(header.key())),
                                 header.value().is_string()
                                     ? text_cell(std::string(header.value().as_string()))
                                     : text_cell(json::serialize(header.value()))});
    }
  }
  if (view.table.rows.empty()) {
    view.table.rows.push_back({text(config, "serviceUri"), text_cell(""), text_cell("")});
  }
  return view;
}

View gc_run_view(const json::value& run) {
  View view{run, {kGcRunColumns, {gc_run_row(run)}, {}}, {}};
  const json::value* error = field(run, "error");
  if (error != nullptr && error->is_string() && !error->as_string().empty()) {
    view.message = fmt::format("error: {}", std::string(error->as_string()));
  }
  return view;
}

View gc_run_list_view(const json::value& answer) {
  View view = list_view(answer, "runs", kGcRunColumns, gc_run_row);
  if (const json::value* next = field(answer, "next"); next != nullptr && next->is_string()) {
    view.message = fmt::format("More runs follow: add --before {} for the next page.",
                               std::string(next->as_string()));
  }
  return view;
}

View delivery_list_view(const json::value& answer) {
  // Event ids are what redeliver takes: never cut. The error gives way.
  View view =
      list_view(answer, "events",
                {"Id", "Time", "Action", "Event id", "Attempt", "Result", "Status", "Error"},
                [](const json::value& d) -> std::vector<Cell> {
                  return {number(d, "deliveryId"), time_to_second(d, "timestamp"),
                          text(d, "action"),       text(d, "id"),
                          number(d, "attempt"),    text(d, "result"),
                          response_status(d),      text(d, "error")};
                });
  view.table.truncatable = {7};
  view.message = next_page_message(answer);
  return view;
}

View audit_event_list_view(const json::value& answer) {
  View view = list_view(answer, "events",
                        {"Sequence", "Time", "Action", "Repository", "Tag", "Digest", "Identity"},
                        [](const json::value& e) -> std::vector<Cell> {
                          return {number(e, "sequence"), time_to_second(e, "time"),
                                  text(e, "action"),     text(e, "repository"),
                                  text(e, "tag"),        short_digest(e, "digest"),
                                  text(e, "identity")};
                        });
  view.table.truncatable = {3, 4, 6};
  view.message = next_page_message(answer);
  return view;
}

View queued_event_view(const json::value& answer, std::string message) {
  return {answer, {{"Event id"}, {{text(answer, "id")}}, {}}, std::move(message)};
}

View message_view(std::string message) { return {json::value(), {}, std::move(message)}; }

// ------------------------------------------------------------------ content lifecycle

namespace {

// A time to the second; "never" for null.
Cell time_or_never(const json::value& object, std::string_view key) {
  const json::value* v = field(object, key);
  if (v != nullptr && v->is_null()) return {"", "never"};
  return time_to_second(object, key);
}

// A quota in bytes; "none" for null (the registry's tier default, or no repository quota).
Cell quota(const json::value& object, std::string_view key) {
  const json::value* v = field(object, key);
  if (v != nullptr && v->is_null()) return {"", "none"};
  return bytes(object, key);
}

// "linux/amd64"; "" when the manifest names no platform (an index, an artifact).
Cell platform(const json::value& manifest) {
  std::string os = string_field(manifest, "os");
  std::string architecture = string_field(manifest, "architecture");
  if (!os.empty() && !architecture.empty()) os += '/';
  os += architecture;
  return text_cell(std::move(os));
}

// The strings of an array field joined by `separator`.
std::string joined_by(const json::value& object, std::string_view key, std::string_view separator) {
  std::string out;
  for (const auto& item : items(object, key)) {
    if (!item.is_string()) continue;
    if (!out.empty()) out += separator;
    out += item.as_string();
  }
  return out;
}

// "1 manifest", "2 manifests".
std::string counted(std::size_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

const std::vector<std::string> kDeletedManifestColumns = {"Digest",  "Platform", "Size",
                                                          "Deleted", "Expires",  "Tags"};

std::vector<Cell> deleted_manifest_row(const json::value& m) {
  return {text(m, "digest"),
          platform(m),
          bytes(m, "size"),
          time_to_second(m, "deletedTime"),
          time_to_second(m, "expiryTime"),
          joined(m, "tags")};
}

const std::vector<std::string> kPurgeScheduleColumns = {
    "Name", "Schedule", "Filters", "Ago", "Untagged", "Keep", "Last run", "Last result"};
const std::vector<std::size_t> kPurgeScheduleTruncatable = {2, 7};

std::vector<Cell> purge_schedule_row(const json::value& s) {
  return {text(s, "name"),
          text(s, "schedule"),
          text_cell(joined_by(s, "filters", " ")),
          text(s, "ago"),
          flag(s, "untagged"),
          number(s, "keep"),
          time_or_never(s, "lastRunTime"),
          text(s, "lastResult")};
}

}  // namespace

View soft_delete_policy_view(const json::value& policy) {
  return {policy,
          {{"Status", "Days", "Updated"},
           {{text(policy, "status"), number(policy, "days"),
             time_or_never(policy, "lastUpdatedTime")}}},
          {}};
}

View retention_policy_view(const json::value& policy) {
  return {policy,
          {{"Type", "Status", "Days", "Updated"},
           {{text(policy, "type"), text(policy, "status"), number(policy, "days"),
             time_or_never(policy, "lastUpdatedTime")}}},
          {}};
}

View registry_quota_view(const json::value& q) {
  return {
      q,
      {{"Registry", "Quota", "Included", "Effective quota", "Used", "Soft-deleted"},
       {{text(q, "registry"), quota(q, "quotaBytes"), bytes(q, "includedBytes"),
         bytes(q, "effectiveQuotaBytes"), bytes(q, "usedBytes"), bytes(q, "softDeletedBytes")}}},
      {}};
}

View repository_quota_view(const json::value& q) {
  return {q,
          {{"Repository", "Quota", "Used"},
           {{text(q, "repository"), quota(q, "quotaBytes"), bytes(q, "usedBytes")}}},
          {}};
}

View deleted_repository_list_view(const json::value& answer) {
  return list_view(answer, "repositories", {"Name"}, [](const json::value& name) {
    return std::vector<Cell>{
        text_cell(name.is_string() ? std::string(name.as_string()) : json::serialize(name))};
  });
}

View deleted_manifest_list_view(const json::value& answer) {
  View view = list_view(answer, "manifests", kDeletedManifestColumns, deleted_manifest_row);
  view.table.truncatable = {0, 5};
  return view;
}

View deleted_tag_list_view(const json::value& answer) {
  View view =
      list_view(answer, "tags", {"Name", "Digest", "Created", "Deleted", "Expires"},
                [](const json::value& t) -> std::vector<Cell> {
                  return {text(t, "name"), text(t, "digest"), time_to_second(t, "createdTime"),
                          time_to_second(t, "deletedTime"), time_to_second(t, "expiryTime")};
                });
  view.table.truncatable = {1};
  return view;
}

View restored_view(const json::value& answer) {
  View view{answer, {{"Kind", "Name", "Restored"}, {}, {}}, {}};
  auto add_rows = [&](std::string_view key, const char* kind, bool restored) {
    for (const auto& item : items(answer, key)) {
      if (!item.is_string()) continue;
      view.table.rows.push_back(
          {text_cell(kind), text_cell(std::string(item.as_string())), bool_cell(restored)});
    }
  };
  add_rows("manifests", "manifest", true);
  add_rows("tags", "tag", true);
  add_rows("tagsNotRestored", "tag", false);
  view.message =
      fmt::format("Restored {} and {} in repository '{}'.",
                  counted(items(answer, "manifests").size(), "manifest"),
                  counted(items(answer, "tags").size(), "tag"), string_field(answer, "repository"));
  const std::size_t left_count = items(answer, "tagsNotRestored").size();
  if (std::string left = joined_by(answer, "tagsNotRestored", ", "); !left.empty()) {
    view.message += fmt::format(
        "\nNot restored: {} ({} in use now; --force moves {} to the restored manifest).", left,
        left_count == 1 ? "the name is" : "the names are", left_count == 1 ? "it" : "them");
  }
  return view;
}

View purge_view(const json::value& answer, bool dry_run) {
  if (const json::value* v = field(answer, "dryRun"); v != nullptr && v->is_bool()) {
    dry_run = v->as_bool();
  }
  View view{answer, {{"Kind", "Repository", "Tag", "Digest"}, {}, {}}, {}};
  view.message_replaces_table = true;
  std::string lines;
  const json::array& tags = items(answer, "tags");
  const json::array& manifests = items(answer, "manifests");
  for (const auto& tag : tags) {
    std::string repository = string_field(tag, "repository");
    std::string name = string_field(tag, "tag");
    std::string digest = string_field(tag, "digest");
    lines += fmt::format("{}:{} ({})\n", repository, name, digest);
    view.table.rows.push_back({text_cell("tag"), text_cell(std::move(repository)),
                               text_cell(std::move(name)), text_cell(std::move(digest))});
  }
  for (const auto& manifest : manifests) {
    std::string repository = string_field(manifest, "repository");
    std::string digest = string_field(manifest, "digest");
    lines += fmt::format("{}@{}\n", repository, digest);
    view.table.rows.push_back({text_cell("manifest"), text_cell(std::move(repository)),
                               text_cell(""), text_cell(std::move(digest))});
  }
  view.message =
      lines + fmt::format("{} {} tags and {} manifests", dry_run ? "Would delete" : "Deleted",
                          tags.size(), manifests.size());
  for (const auto& failure : items(answer, "failures")) {
    view.failures.push_back(fmt::format("not deleted: {}", failure.is_string()
                                                               ? std::string(failure.as_string())
                                                               : json::serialize(failure)));
  }
  return view;
}

View purge_schedule_view(const json::value& schedule) {
  return {schedule,
          {kPurgeScheduleColumns, {purge_schedule_row(schedule)}, kPurgeScheduleTruncatable},
          {}};
}

View purge_schedule_list_view(const json::value& answer) {
  View view = list_view(answer, "schedules", kPurgeScheduleColumns, purge_schedule_row);
  view.table.truncatable = kPurgeScheduleTruncatable;
  return view;
}

// ------------------------------------------------------------------ imports and the cache

namespace {

const std::vector<std::string> kCredentialSetColumns = {"Name", "Login server", "Username",
                                                        "Created", "Updated"};
const std::vector<std::size_t> kCredentialSetTruncatable = {1, 2};

std::vector<Cell> credential_set_row(const json::value& c) {
  return {text(c, "name"), text(c, "loginServer"), text(c, "username"),
          time_to_second(c, "createdTime"), time_to_second(c, "lastUpdatedTime")};
}

const std::vector<std::string> kCacheRuleColumns = {
    "Name", "Source", "Target", "Credential set", "Tag TTL (s)", "Allow push", "Created"};
const std::vector<std::size_t> kCacheRuleTruncatable = {1, 2};

std::vector<Cell> cache_rule_row(const json::value& r) {
  return {text(r, "name"),          text(r, "sourceRepository"),
          text(r, "targetRepository"), text(r, "credentialSet"),
          number(r, "tagTtlSeconds"), flag(r, "allowPush"),
          time_to_second(r, "createdTime")};
}

// The finish time is left to -o json: with it a typical row would not fit the width.
const std::vector<std::string> kImportColumns = {"Id",   "Status", "Source", "Targets",
                                                 "Done", "Total",  "Created"};
const std::vector<std::size_t> kImportTruncatable = {2, 3};

// "docker.io/library/alpine:3.20"
Cell import_source(const json::value& import) {
  const json::value* source = field(import, "source");
  if (source == nullptr) return text_cell("");
  std::string out = string_field(*source, "registryUri");
  out += '/';
  out += string_field(*source, "sourceImage");
  return text_cell(std::move(out));
}

// The target tags, then the untagged repositories marked so: "app:v1,mirror/app (untagged)".
Cell import_targets(const json::value& import) {
  std::string out = joined_by(import, "targetTags", ",");
  for (const auto& item : items(import, "untaggedTargetRepositories")) {
    if (!item.is_string()) continue;
    if (!out.empty()) out += ',';
    out += item.as_string();
    out += " (untagged)";
  }
  return text_cell(std::move(out));
}

Cell progress_bytes(const json::value& import, std::string_view key) {
  const json::value* progress = field(import, "progress");
  return progress != nullptr ? bytes(*progress, key) : text_cell("");
}

std::vector<Cell> import_row(const json::value& i) {
  return {text(i, "id"),
          text(i, "status"),
          import_source(i),
          import_targets(i),
          progress_bytes(i, "bytesDone"),
          progress_bytes(i, "bytesTotal"),
          time_to_second(i, "createdTime")};
}

// What a finished import says after its row: its error, or what it imported.
std::string import_outcome(const json::value& import) {
  std::string error = string_field(import, "error");
  if (!error.empty()) return fmt::format("error: {}", error);
  const json::value* result = field(import, "result");
  if (result == nullptr || !result->is_object()) return {};
  std::string where = joined_by(*result, "tags", ", ");
  std::string untagged = joined_by(*result, "untaggedRepositories", ", ");
  if (!untagged.empty()) {
    if (!where.empty()) where += ", ";
    where += untagged;
    where += " (untagged)";
  }
  auto count = [&](std::string_view key) {
    return unsigned_number(field(*result, key)).value_or(0);
  };
  return fmt::format("Imported {} to {}: {}, {}, {} copied.", string_field(*result, "digest"),
                     where, counted(count("manifests"), "manifest"), counted(count("blobs"), "blob"),
                     human_bytes(count("bytesCopied")));
}

// ------------------------------------------------------------------ build runs

const std::vector<std::string> kRunColumns = {"Run ID", "Task",    "Type",    "Status",
                                              "Trigger", "Started", "Duration"};
const std::vector<std::size_t> kRunTruncatable = {1};

// "45s", "2m05s", "1h02m03s".
std::string human_duration(std::int64_t seconds) {
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  return fmt::format("{}h{:02}m{:02}s", seconds / 3600, seconds / 60 % 60, seconds % 60);
}

Cell run_duration(const json::value& run) {
  auto started = parse_rfc3339(string_field(run, "startTime"));
  auto finished = parse_rfc3339(string_field(run, "finishTime"));
  if (!started || !finished || *finished < *started) return text_cell("");
  return {std::to_string(*finished - *started), human_duration(*finished - *started)};
}

std::vector<Cell> run_row(const json::value& r) {
  return {text(r, "runId"),   text(r, "task"),    text(r, "runType"),
          text(r, "status"),  text(r, "trigger"), time_to_second(r, "startTime"),
          run_duration(r)};
}

// What a run says after its row: the images it pushed, then its error.
std::string run_outcome(const json::value& run) {
  std::string out;
  for (const auto& image : items(run, "outputImages")) {
    if (!out.empty()) out += '\n';
    out += fmt::format("Pushed {}/{}:{}@{}", string_field(image, "registry"),
                       string_field(image, "repository"), string_field(image, "tag"),
                       string_field(image, "digest"));
  }
  if (std::string error = string_field(run, "error"); !error.empty()) {
    if (!out.empty()) out += '\n';
    out += fmt::format("error: {}", error);
  }
  return out;
}

}  // namespace

View credential_set_view(const json::value& set) {
  return {set, {kCredentialSetColumns, {credential_set_row(set)}, kCredentialSetTruncatable}, {}};
}

View credential_set_list_view(const json::value& answer) {
  View view = list_view(answer, "credentialSets", kCredentialSetColumns, credential_set_row);
  view.table.truncatable = kCredentialSetTruncatable;
  return view;
}

View cache_rule_view(const json::value& rule) {
  return {rule, {kCacheRuleColumns, {cache_rule_row(rule)}, kCacheRuleTruncatable}, {}};
}

View cache_rule_list_view(const json::value& answer) {
  View view = list_view(answer, "cacheRules", kCacheRuleColumns, cache_rule_row);
  view.table.truncatable = kCacheRuleTruncatable;
  return view;
}

View import_view(const json::value& import) {
  return {import,
          {kImportColumns, {import_row(import)}, kImportTruncatable},
          import_outcome(import)};
}

View import_list_view(const json::value& answer) {
  View view = list_view(answer, "imports", kImportColumns, import_row);
  view.table.truncatable = kImportTruncatable;
  std::string next = string_field(answer, "next");
  if (!next.empty()) {
    view.message = fmt::format("More imports follow: add --before {} for the next page.", next);
  }
  return view;
}

View run_view(const json::value& run) {
  return {run, {kRunColumns, {run_row(run)}, kRunTruncatable}, run_outcome(run)};
}

View run_list_view(const json::value& answer) {
  View view = list_view(answer, "runs", kRunColumns, run_row);
  view.table.truncatable = kRunTruncatable;
  std::string next = string_field(answer, "next");
  if (!next.empty()) {
    view.message = fmt::format("More runs follow: add --before {} for the next page.", next);
  }
  return view;
}

}  // namespace berth::cli
