#include "cli/views.h"

#include <boost/json.hpp>
#include <cstdint>
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

const std::vector<std::string> kRegistryColumns = {"Name",           "Tier",          "Region",
                                                   "Login server",   "Created",       "Admin user",
                                                   "Anonymous pull", "Public network"};

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

std::vector<Cell> manifest_row(const json::value& m) {
  return {text(m, "digest"), text(m, "mediaType"),   text(m, "artifactType"),
          bytes(m, "size"),  text(m, "createdTime"), joined(m, "tags")};
}

View list_view(const json::value& answer, std::string_view key,
               const std::vector<std::string>& columns,
               std::vector<Cell> (*row)(const json::value&)) {
  View view{answer, {columns, {}}, {}};
  for (const auto& item : items(answer, key)) view.table.rows.push_back(row(item));
  return view;
}

}  // namespace

View registry_view(const json::value& registry) {
  return {registry, {kRegistryColumns, {registry_row(registry)}}, {}};
}

View registry_list_view(const json::value& answer) {
  return list_view(answer, "registries", kRegistryColumns, registry_row);
}

View usage_view(const json::value& usage) {
  View view{usage, {{"Name", "Current", "Limit", "Unit"}, {}}, {}};
  const json::value* storage = field(usage, "storage");
  if (storage != nullptr) {
    auto used = unsigned_number(field(*storage, "usedBytes"));
    auto included = unsigned_number(field(*storage, "includedBytes"));
    view.table.rows.push_back({text_cell("Size"), used ? bytes_cell(*used) : text_cell(""),
                               included ? bytes_cell(*included) : text_cell(""),
                               text_cell("Bytes")});
  }
  for (const auto& count : items(usage, "counts")) {
    view.table.rows.push_back({text(count, "name"), number(count, "current"),
                               number(count, "limit"), text_cell("Count")});
  }
  // Repository names are lower case and cannot contain ':', so these rows never collide with
  // the capitalised registry-wide names above.
  for (const auto& repo : items(usage, "repositories")) {
    const json::value* name = field(repo, "name");
    std::string label = "repository:";
    if (name != nullptr && name->is_string()) label += name->as_string();
    view.table.rows.push_back(
        {text_cell(label), bytes(repo, "usedBytes"), text_cell(""), text_cell("Bytes")});
  }
  return view;
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
  return {manifest, {kManifestColumns, {manifest_row(manifest)}}, {}};
}

View manifest_list_view(const json::value& answer) {
  return list_view(answer, "manifests", kManifestColumns, manifest_row);
}

View message_view(std::string message) { return {json::value(), {}, std::move(message)}; }

}  // namespace berth::cli
