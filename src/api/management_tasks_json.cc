#include "api/management_tasks_json.h"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <initializer_list>
#include <string>
#include <utility>

#include "api/management_json.h"
#include "oci/digest.h"

namespace berth::api::task_json {
namespace {

namespace json = boost::json;
using http::Response;
using namespace mgmt_json;

// Which fields each type of run takes; "type" itself, "source" and "timeout" go with all.
struct TypeFields {
  std::string_view type;
  tasks::RunKind kind;
  std::string_view required;  // the field this type cannot do without
  std::initializer_list<std::string_view> own;
};

const TypeFields kTypes[] = {
    {"QuickBuild",
     tasks::RunKind::build,
     "source",
     {"dockerfile", "images", "buildArgs", "target", "platform", "noPush"}},
    {"QuickRun", tasks::RunKind::cmd, "cmd", {"cmd"}},
    {"TaskFile", tasks::RunKind::file, "taskFile", {"taskFile", "values"}},
};

const TypeFields* type_fields(std::string_view type) {
  for (const TypeFields& fields : kTypes) {
    if (fields.type == type) return &fields;
  }
  return nullptr;
}

bool takes(const TypeFields& fields, std::string_view name) {
  if (name == "type" || name == "source" || name == "timeout") return true;
  for (std::string_view own : fields.own) {
    if (own == name) return true;
  }
  return false;
}

// The type's name for a field it does not take (the first type that takes it).
std::string_view type_taking(std::string_view name) {
  for (const TypeFields& fields : kTypes) {
    if (takes(fields, name)) return fields.type;
  }
  return {};
}

// The pairs of a string-valued object, in the order they were sent (a build's arguments are
// passed on in that order).
std::vector<std::pair<std::string, std::string>> ordered_pairs(const json::object& object,
                                                               std::string_view name) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = object.find(name);
  if (it == object.end()) return out;
  for (const auto& [key, value] : it->value().as_object()) {
    out.emplace_back(std::string(key), std::string(value.as_string()));
  }
  return out;
}

std::optional<Response> check_names(const std::vector<std::pair<std::string, std::string>>& pairs,
                                    std::string_view field) {
  for (const auto& [name, value] : pairs) {
    if (name.empty()) {
      return invalid_request(fmt::format("'{}' has an empty name", field), field);
    }
  }
  return std::nullopt;
}

// The parts of a request every type shares: its source and its timeout.
std::optional<Response> read_common(const json::object& body, tasks::RunRequest& request) {
  if (auto source = string_field(body, "source")) {
    auto digest = oci::Digest::parse(*source);
    if (!digest || digest->algorithm() != oci::DigestAlgorithm::sha256) {
      return invalid_request(
          fmt::format("'source' must be the sha256 digest of an uploaded source "
                      "(sha256:<64 lower-case hex>), not '{}'",
                      *source),
          "source");
    }
    request.source_digest = digest->str();
  }
  if (auto timeout = int_field(body, "timeout")) {
    if (*timeout < 1 || *timeout > tasks::kMaxRunTimeoutSeconds) {
      return invalid_request(fmt::format("'timeout' must be from 1 to {} seconds",
                                         tasks::kMaxRunTimeoutSeconds),
                             "timeout");
    }
    request.timeout_seconds = *timeout;
  }
  return std::nullopt;
}

std::optional<Response> read_build(const json::object& body, tasks::RunRequest& request) {
  if (auto dockerfile = string_field(body, "dockerfile")) {
    if (dockerfile->empty()) {
      return invalid_request("'dockerfile' must name the Dockerfile (default: Dockerfile)",
                             "dockerfile");
    }
    request.dockerfile = std::move(*dockerfile);
  }
  request.images = string_array_field(body, "images");
  request.build_args = ordered_pairs(body, "buildArgs");
  if (auto bad = check_names(request.build_args, "buildArgs")) return bad;
  request.target = string_field(body, "target").value_or("");
  request.platform = string_field(body, "platform").value_or("");
  request.no_push = bool_field(body, "noPush").value_or(false);
  return std::nullopt;
}

std::optional<Response> read_file(const json::object& body, tasks::RunRequest& request) {
  request.task_file = string_field(body, "taskFile").value_or("");
  for (auto& [name, value] : ordered_pairs(body, "values")) {
    if (name.empty()) return invalid_request("'values' has an empty name", "values");
    request.values.emplace(std::move(name), std::move(value));
  }
  return std::nullopt;
}

json::value time_or_null(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return nullptr;
  return json::value(time_of(unix_seconds));
}

// The objects of a stored JSON array with `keys` as strings ("" where one is missing or not a
// string); [] for text that is no array.
json::array stored_objects(std::string_view text, std::initializer_list<std::string_view> keys) {
  json::array out;
  if (text.empty()) return out;
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_array()) return out;
  for (const json::value& item : parsed.as_array()) {
    if (!item.is_object()) continue;
    json::object shown;
    for (std::string_view key : keys) {
      const json::value* value = item.as_object().if_contains(key);
      shown[key] = value != nullptr && value->is_string() ? value->as_string() : json::string();
    }
    out.push_back(std::move(shown));
  }
  return out;
}

}  // namespace

std::variant<tasks::RunRequest, Response> run_request_of(const json::object& body) {
  if (auto bad = check_fields(body, {{"type", FieldType::string},
                                     {"source", FieldType::string},
                                     {"dockerfile", FieldType::string},
                                     {"images", FieldType::string_array},
                                     {"buildArgs", FieldType::string_map},
                                     {"target", FieldType::string},
                                     {"platform", FieldType::string},
                                     {"noPush", FieldType::boolean},
                                     {"cmd", FieldType::string},
                                     {"taskFile", FieldType::string},
                                     {"values", FieldType::string_map},
                                     {"timeout", FieldType::integer}})) {
    return std::move(*bad);
  }
  auto type = string_field(body, "type");
  if (!type) {
    return invalid_request("the field 'type' is required: QuickBuild, QuickRun or TaskFile",
                           "type");
  }
  const TypeFields* fields = type_fields(*type);
  if (fields == nullptr) {
    return invalid_request(
        fmt::format("type '{}' must be QuickBuild, QuickRun or TaskFile", *type), "type");
  }
  for (const auto& [name, value] : body) {
    if (!takes(*fields, name)) {
      return invalid_request(fmt::format("field '{}' is for {} runs, not {}",
                                         std::string_view(name), type_taking(name), *type),
                             name);
    }
  }
  auto required = string_field(body, fields->required);
  if (!required || required->empty()) {
    return invalid_request(
        fmt::format("a {} run needs the field '{}'", *type, fields->required), fields->required);
  }

  tasks::RunRequest request;
  request.kind = fields->kind;
  if (auto bad = read_common(body, request)) return std::move(*bad);
  std::optional<Response> bad;
  switch (request.kind) {
    case tasks::RunKind::build:
      bad = read_build(body, request);
      break;
    case tasks::RunKind::cmd:
      request.cmd = std::move(*required);
      break;
    case tasks::RunKind::file:
      bad = read_file(body, request);
      break;
  }
  if (bad) return std::move(*bad);
  return request;
}

std::string_view status_name(metadata::RunStatus status) {
  switch (status) {
    case metadata::RunStatus::queued:
      return "Queued";
    case metadata::RunStatus::running:
      return "Running";
    case metadata::RunStatus::succeeded:
      return "Succeeded";
    case metadata::RunStatus::failed:
      return "Failed";
    case metadata::RunStatus::canceled:
      return "Canceled";
    case metadata::RunStatus::timeout:
      return "Timeout";
  }
  return "Failed";
}

json::object run_json(const tasks::RunView& view) {
  const metadata::Run& run = view.run;
  return json::object{
      {"runId", view.id},
      {"registry", view.registry},
      {"status", status_name(run.status)},
      {"runType", view.run_type},
      {"task", run.task},
      {"trigger", run.trigger},
      {"createTime", time_of(run.created_at)},
      {"startTime", time_or_null(run.started_at)},
      {"finishTime", time_or_null(run.finished_at)},
      {"outputImages", stored_objects(run.outputs, {"registry", "repository", "tag", "digest"})},
      {"baseImages", stored_objects(run.base_images, {"image", "digest"})},
      {"error", run.error},
      {"logSize", run.log_size},
  };
}

}  // namespace berth::api::task_json
