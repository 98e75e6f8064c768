// The OpenAPI document served at /mgmt/v1/openapi.json: valid in structure, and in step with
// the management route table (every route documented with its method, nothing documented that
// is not routed).

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <set>

#include "api/management.h"
#include "mgmt/mgmt_test_support.h"

namespace berth::api {
namespace {

namespace json = boost::json;

const std::set<std::string> kHttpMethods = {"get",     "put",  "post",  "delete",
                                            "options", "head", "patch", "trace"};

json::value document() {
  boost::system::error_code ec;
  json::value doc = json::parse(management_openapi_document(), ec);
  EXPECT_FALSE(ec) << ec.message();
  return doc;
}

class RouteTable : public ::testing::Test {
 protected:
  berth::testing::ManagementRouteTable table_;
  const std::vector<http::Route>& routes_ = table_.routes();
};

// "/a/{b+}/c" -> "/a/{b}/c": OpenAPI has no greedy parameters.
std::string openapi_path(std::string pattern) {
  for (auto at = pattern.find("+}"); at != std::string::npos; at = pattern.find("+}")) {
    pattern.erase(at, 1);
  }
  return pattern;
}

// The parameter names of a path template ("{registry}" -> "registry").
std::set<std::string> template_parameters(std::string_view path) {
  std::set<std::string> out;
  for (auto open = path.find('{'); open != std::string_view::npos; open = path.find('{', open)) {
    auto close = path.find('}', open);
    if (close == std::string_view::npos) break;
    out.emplace(path.substr(open + 1, close - open - 1));
    open = close;
  }
  return out;
}

bool is_status_code(std::string_view code) {
  if (code == "default") return true;
  return code.size() == 3 && code[0] >= '1' && code[0] <= '5' &&
         std::isdigit(static_cast<unsigned char>(code[1])) &&
         std::isdigit(static_cast<unsigned char>(code[2]));
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// RFC 6901: "~1" stands for '/', "~0" for '~'. Copied in one pass rather than with
// std::string::replace, on which GCC 12 at -O3 reports a false -Wrestrict (GCC bug 105651).
std::string unescape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out.push_back(token[i + 1] == '1' ? '/' : '~');
      ++i;
    } else {
      out.push_back(token[i]);
    }
  }
  return out;
}

// Resolves a local JSON pointer ("#/components/schemas/Registry"); null when it does not.
const json::value* resolve(const json::value& doc, std::string_view ref) {
  if (!ref.starts_with("#/")) return nullptr;
  const json::value* at = &doc;
  std::string_view rest = ref.substr(2);
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string token = unescape_pointer_token(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (!at->is_object()) return nullptr;
    at = at->as_object().if_contains(token);
    if (!at) return nullptr;
  }
  return at;
}

const json::value& deref(const json::value& doc, const json::value& node) {
  if (node.is_object()) {
    if (const auto* ref = node.as_object().if_contains("$ref"); ref && ref->is_string()) {
      const json::value* target = resolve(doc, ref->as_string());
      if (target) return *target;
    }
  }
  return node;
}

void collect_refs(const json::value& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.as_object()) {
      if (key == "$ref" && value.is_string()) out.emplace_back(value.as_string());
      collect_refs(value, out);
    }
  } else if (node.is_array()) {
    for (const auto& value : node.as_array()) collect_refs(value, out);
  }
}

TEST(OpenApi, DocumentIsJsonOfVersion3WithTheRequiredParts) {
  json::value doc = document();
  ASSERT_TRUE(doc.is_object());
  const auto& root = doc.as_object();
  ASSERT_TRUE(root.contains("openapi"));
  EXPECT_TRUE(std::string_view(root.at("openapi").as_string()).starts_with("3."));
  ASSERT_TRUE(root.contains("info"));
  EXPECT_TRUE(root.at("info").as_object().contains("title"));
  EXPECT_TRUE(root.at("info").as_object().contains("version"));
  ASSERT_TRUE(root.contains("paths"));
  EXPECT_FALSE(root.at("paths").as_object().empty());
  // Bearer authentication is declared and applies by default.
  const auto& schemes = root.at("components").as_object().at("securitySchemes").as_object();
  ASSERT_EQ(schemes.size(), 1u);
  const auto& scheme = schemes.begin()->value().as_object();
  EXPECT_EQ(scheme.at("type").as_string(), "http");
  EXPECT_EQ(scheme.at("scheme").as_string(), "bearer");
  ASSERT_TRUE(root.contains("security"));
  EXPECT_EQ(root.at("security").as_array().size(), 1u);
}

// OpenAPI 3.0 schemas: "required" lists at least one property, each of which is defined.
void check_schemas(const json::value& node, const std::string& where) {
  if (node.is_object()) {
    const auto& object = node.as_object();
    if (const auto* required = object.if_contains("required"); required && required->is_array()) {
      EXPECT_FALSE(required->as_array().empty()) << where;
      const auto* properties = object.if_contains("properties");
      for (const auto& name : required->as_array()) {
        EXPECT_TRUE(properties && properties->as_object().contains(name.as_string()))
            << where << ": required '" << name.as_string().c_str() << "' is not a property";
      }
    }
    for (const auto& [key, value] : object) check_schemas(value, where + "/" + std::string(key));
  } else if (node.is_array()) {
    for (const auto& value : node.as_array()) check_schemas(value, where + "[]");
  }
}

TEST(OpenApi, SchemasAreWellFormed) {
  json::value doc = document();
  const auto& schemas = doc.as_object().at("components").as_object().at("schemas").as_object();
  EXPECT_FALSE(schemas.empty());
  for (const auto& [name, schema] : schemas) check_schemas(schema, std::string(name));
}

TEST(OpenApi, EveryReferenceResolves) {
  json::value doc = document();
  std::vector<std::string> refs;
  collect_refs(doc, refs);
  EXPECT_GT(refs.size(), 20u);
  for (const auto& ref : refs) EXPECT_NE(resolve(doc, ref), nullptr) << ref;
}

TEST(OpenApi, EveryOperationIsComplete) {
  json::value doc = document();
  std::set<std::string> operation_ids;
  for (const auto& [path, item] : doc.as_object().at("paths").as_object()) {
    ASSERT_TRUE(std::string_view(path).starts_with("/mgmt/v1/")) << path;
    std::string path_text(path);
    std::set<std::string> in_template = template_parameters(path_text);
    for (const auto& [method, operation] : item.as_object()) {
      ASSERT_TRUE(kHttpMethods.contains(std::string(method))) << path << " " << method;
      const auto& op = operation.as_object();
      std::string where = std::string(method) + " " + path_text;
      ASSERT_TRUE(op.contains("operationId")) << where;
      EXPECT_TRUE(operation_ids.insert(std::string(op.at("operationId").as_string())).second)
          << "duplicate operationId at " << where;
      ASSERT_TRUE(op.contains("responses")) << where;
      const auto& responses = op.at("responses").as_object();
      EXPECT_FALSE(responses.empty()) << where;
      bool success = false;
      for (const auto& [status, response] : responses) {
        std::string code(status);
        EXPECT_TRUE(is_status_code(code)) << where << " " << code;
        if (code.starts_with("2")) success = true;
        const json::value& resolved = deref(doc, response);
        EXPECT_TRUE(resolved.as_object().contains("description")) << where << " " << code;
      }
      EXPECT_TRUE(success) << where << " has no 2xx response";

      std::set<std::string> declared;
      if (const auto* params = op.if_contains("parameters")) {
        for (const auto& p : params->as_array()) {
          const auto& parameter = deref(doc, p).as_object();
          EXPECT_TRUE(parameter.contains("schema")) << where;
          if (parameter.at("in").as_string() == "path") {
            EXPECT_TRUE(parameter.at("required").as_bool()) << where;
            declared.insert(std::string(parameter.at("name").as_string()));
          }
        }
      }
      EXPECT_EQ(declared, in_template) << where;

      // Bodies are JSON, but for uploads of bytes (a build source), which say so.
      if (const auto* body = op.if_contains("requestBody")) {
        const auto& content = body->as_object().at("content").as_object();
        EXPECT_TRUE(content.contains("application/json") ||
                    content.contains("application/octet-stream"))
            << where;
      }
    }
  }
}

TEST_F(RouteTable, EveryRouteIsDocumentedWithItsMethod) {
  json::value doc = document();
  const auto& paths = doc.as_object().at("paths").as_object();
  ASSERT_FALSE(routes_.empty());
  for (const auto& route : routes_) {
    std::string path = openapi_path(route.pattern);
    const auto* item = paths.if_contains(path);
    ASSERT_NE(item, nullptr) << route.name << ": " << path << " is not in the document";
    const auto* operation = item->as_object().if_contains(lower(route.method));
    ASSERT_NE(operation, nullptr) << route.name << ": " << route.method << " " << path;
    // Authentication as the table says: only routes without an action opt out.
    const auto* security = operation->as_object().if_contains("security");
    if (route.action.empty()) {
      ASSERT_NE(security, nullptr) << route.name << " needs no token; the document must say so";
      EXPECT_TRUE(security->as_array().empty()) << route.name;
    } else {
      // The deployment administrator's action, or a management role on the registry the route
      // names (an action that reads {registry} on a route without one could never allow).
      std::set<std::string_view> actions = {mgmt::kAdminAction};
      if (route.pattern.find("{registry}") != std::string::npos) {
        actions.insert({action::kRegistryRead, action::kRegistryWrite, action::kRegistryOwn});
      }
      EXPECT_TRUE(actions.contains(route.action)) << route.name << ": " << route.action;
      EXPECT_EQ(security, nullptr) << route.name << " must use the default (bearer) security";
      EXPECT_TRUE(operation->as_object().at("responses").as_object().contains("401")) << route.name;
    }
  }
}

TEST_F(RouteTable, EveryDocumentedOperationIsRouted) {
  json::value doc = document();
  std::set<std::pair<std::string, std::string>> routed;
  for (const auto& route : routes_) {
    routed.insert({lower(route.method), openapi_path(route.pattern)});
  }
  for (const auto& [path, item] : doc.as_object().at("paths").as_object()) {
    for (const auto& [method, operation] : item.as_object()) {
      EXPECT_TRUE(routed.contains({std::string(method), std::string(path)}))
          << method << " " << path << " is documented but not routed";
    }
  }
}

TEST_F(RouteTable, RouteNamesAreUniqueAndUnderThePrefix) {
  std::set<std::string> names;
  for (const auto& route : routes_) {
    EXPECT_TRUE(names.insert(route.name).second) << route.name;
    EXPECT_TRUE(is_management_path(route.pattern)) << route.pattern;
  }
}

}  // namespace
}  // namespace berth::api
