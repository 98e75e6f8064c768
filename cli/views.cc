#include "cli/views.h"

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

View manifest_view(const json::value& manifest) {
  return {manifest, {kManifestColumns, {manifest_row(manifest)}, kManifestTruncatable}, {}};
}

View manifest_list_view(const json::value& answer) {
  View view = list_view(answer, "manifests", kManifestColumns, manifest_row);
  view.table.truncatable = kManifestTruncatable;
  return view;
}

View message_view(std::string message) { return {json::value(), {}, std::move(message)}; }

}  // namespace berth::cli
