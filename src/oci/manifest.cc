#include "oci/manifest.h"

#include <boost/json/error.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <limits>
#include <new>
#include <utility>

#include "oci/media_types.h"
#include "oci/unique_key_json.h"

namespace berth::oci {
namespace {

namespace json = boost::json;

// Real manifests nest at most five levels (index -> manifests -> descriptor -> platform ->
// os.features). The limit leaves room for unusual annotations while keeping hostile input
// ("[[[[...") from costing anything.
constexpr std::size_t kMaxJsonDepth = 64;

// Values quoted back in error messages are cut so a hostile document cannot produce a huge
// error body.
constexpr std::size_t kMaxQuotedLength = 80;

// Parsing memory is capped at a multiple of the largest accepted manifest. Real manifests,
// mostly strings, need about their own size; documents made of millions of tiny values (2 bytes
// of "0," become a 16-byte value plus parser stack) are what the cap stops.
constexpr std::size_t kMaxParseMemory = 8 * kMaxManifestBytes;

// Shared by the two resources of one parse.
struct MemoryBudget {
  std::size_t used = 0;
  std::size_t limit = 0;
  bool exceeded = false;
};

// Forwards to `upstream` while counting bytes against a budget. Throwing std::bad_alloc is the
// only way a memory_resource can refuse; parse_manifest catches it right away and returns an
// error value. `returns_memory` says whether deallocation gives bytes back (false for an arena).
class BudgetedResource final : public json::memory_resource {
 public:
  BudgetedResource(json::memory_resource* upstream, MemoryBudget* budget, bool returns_memory)
      : upstream_(upstream), budget_(budget), returns_memory_(returns_memory) {}

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    if (bytes > budget_->limit - budget_->used) {
      budget_->exceeded = true;
      throw std::bad_alloc();
    }
    budget_->used += bytes;
    return upstream_->allocate(bytes, alignment);
  }

  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
    upstream_->deallocate(p, bytes, alignment);
    if (returns_memory_) budget_->used -= bytes;
  }

  bool do_is_equal(const json::memory_resource& other) const noexcept override {
    return this == &other;
  }

  json::memory_resource* upstream_;
  MemoryBudget* budget_;
  bool returns_memory_;
};

ManifestError fail(ManifestErrc code, std::string message) {
  return ManifestError{code, std::move(message)};
}

ManifestError invalid(std::string message) {
  return fail(ManifestErrc::invalid, std::move(message));
}

// Quotes untrusted text for a message: printable ASCII only, cut to kMaxQuotedLength.
std::string quote(std::string_view text) {
  std::string out = "\"";
  std::size_t shown = text.size() < kMaxQuotedLength ? text.size() : kMaxQuotedLength;
  for (std::size_t i = 0; i < shown; ++i) {
    char c = text[i];
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (shown < text.size()) out += "...";
  out.push_back('"');
  return out;
}

ManifestError json_error(const JsonParseError& error) {
  std::string offset = std::to_string(error.offset);
  if (error.duplicate_key) {
    // A key given twice means one thing to a parser that keeps the first value and another to
    // one that keeps the last: refused so that no reader sees a different manifest.
    return fail(ManifestErrc::duplicate_key,
                "the manifest has the key " + quote(*error.duplicate_key) +
                    " twice in one JSON object (the object ending at byte " + offset +
                    "); every key must be unique");
  }
  std::string reason = error.code == json::error::too_deep
                           ? "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels"
                           : error.code.message();
  return fail(ManifestErrc::invalid_json,
              "the manifest is not valid JSON (at byte " + offset + "): " + reason);
}

std::string_view kind_name(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a non-integer number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "an unknown value";
}

std::string field_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string path(parent);
  path.push_back('.');
  path.append(key);
  return path;
}

std::string element_path(std::string_view parent, std::size_t index) {
  std::string path(parent);
  path.push_back('[');
  path += std::to_string(index);
  path.push_back(']');
  return path;
}

ManifestError wrong_type(std::string_view path, std::string_view expected,
                         const json::value& value) {
  std::string message(path);
  message += " must be ";
  message.append(expected);
  message += ", got ";
  message.append(kind_name(value));
  return invalid(std::move(message));
}

bool is_integer(const json::value& value, std::int64_t expected) {
  if (const auto* v = value.if_int64()) return *v == expected;
  if (const auto* v = value.if_uint64()) return expected >= 0 && *v == std::uint64_t(expected);
  return false;
}

bool is_restricted_name_first(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_restricted_name_char(char c) {
  if (is_restricted_name_first(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '&':
    case '-':
    case '^':
    case '_':
    case '.':
    case '+':
      return true;
    default:
      return false;
  }
}

// RFC 6838 restricted-name: an alphanumeric then up to 126 of [A-Za-z0-9!#$&^_.+-].
bool is_restricted_name(std::string_view name) {
  if (name.empty() || name.size() > 127 || !is_restricted_name_first(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!is_restricted_name_char(c)) return false;
  }
  return true;
}

// "type/subtype" without parameters, as the OCI image spec requires of descriptor media types.
bool is_media_type_syntax(std::string_view media_type) {
  auto slash = media_type.find('/');
  if (slash == std::string_view::npos) return false;
  return is_restricted_name(media_type.substr(0, slash)) &&
         is_restricted_name(media_type.substr(slash + 1));
}

// The media type part of a Content-Type: parameters dropped, blanks trimmed, lower-cased
// (type and subtype are case-insensitive in HTTP).
std::string normalize_content_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t')) {
    content_type.remove_prefix(1);
  }
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t')) {
    content_type.remove_suffix(1);
  }
  std::string out(content_type);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

// Content types that say nothing about the kind of manifest. Clients that do not know the
// manifest type (podman import, some scripts using curl) send these, so they are treated like
// an absent Content-Type rather than as a disagreement with the mediaType field.
bool is_generic_content_type(std::string_view content_type) {
  return content_type.empty() || content_type == "application/json" ||
         content_type == "text/plain" || content_type == "application/octet-stream";
}

bool is_schema1(std::string_view media_type) {
  return media_type == media_type::kDockerSchema1 || media_type == media_type::kDockerSchema1Signed;
}

Result<std::optional<std::string>, ManifestError> optional_string(const json::object& object,
                                                                  std::string_view key,
                                                                  std::string_view parent) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return std::optional<std::string>();
  const json::string* text = value->if_string();
  if (text == nullptr) return wrong_type(field_path(parent, key), "a string", *value);
  return std::optional<std::string>(std::string(text->data(), text->size()));
}

Result<std::string, ManifestError> required_string(const json::object& object, std::string_view key,
                                                   std::string_view parent) {
  auto text = optional_string(object, key, parent);
  if (!text) return text.error();
  if (!*text) return invalid(field_path(parent, key) + " is required");
  return std::move(**text);
}

Result<std::optional<std::string>, ManifestError> optional_media_type(const json::object& object,
                                                                      std::string_view key,
                                                                      std::string_view parent) {
  auto text = optional_string(object, key, parent);
  if (!text || !*text) return text;
  if (!is_media_type_syntax(**text)) {
    return invalid(field_path(parent, key) + " " + quote(**text) +
                   " is not a valid media type (expected type/subtype)");
  }
  return text;
}

// The "annotations" object as compact JSON, or empty when absent. Values must be strings, as
// the image spec requires and the reference implementation's map[string]string enforces.
Result<std::string, ManifestError> parse_annotations(const json::object& object,
                                                     std::string_view parent) {
  const json::value* value = object.if_contains("annotations");
  if (value == nullptr) return std::string();
  std::string path = field_path(parent, "annotations");
  const json::object* annotations = value->if_object();
  if (annotations == nullptr) return wrong_type(path, "an object", *value);
  for (const auto& entry : *annotations) {
    if (!entry.value().is_string()) {
      return wrong_type(path + "[" + quote(entry.key()) + "]", "a string", entry.value());
    }
  }
  return json::serialize(*annotations);
}

Result<std::optional<Platform>, ManifestError> parse_platform(const json::object& descriptor,
                                                              std::string_view parent) {
  const json::value* value = descriptor.if_contains("platform");
  if (value == nullptr) return std::optional<Platform>();
  std::string path = field_path(parent, "platform");
  const json::object* object = value->if_object();
  if (object == nullptr) return wrong_type(path, "an object", *value);
  Platform platform;
  auto architecture = required_string(*object, "architecture", path);
  if (!architecture) return architecture.error();
  platform.architecture = std::move(*architecture);
  auto os = required_string(*object, "os", path);
  if (!os) return os.error();
  platform.os = std::move(*os);
  auto os_version = optional_string(*object, "os.version", path);
  if (!os_version) return os_version.error();
  platform.os_version = std::move(*os_version).value_or("");
  auto variant = optional_string(*object, "variant", path);
  if (!variant) return variant.error();
  platform.variant = std::move(*variant).value_or("");
  return std::optional<Platform>(std::move(platform));
}

Result<std::int64_t, ManifestError> parse_size(const json::object& descriptor,
                                               std::string_view parent) {
  std::string path = field_path(parent, "size");
  const json::value* value = descriptor.if_contains("size");
  if (value == nullptr) return invalid(path + " is required");
  if (const auto* size = value->if_int64()) {
    if (*size < 0) return invalid(path + " must not be negative, got " + std::to_string(*size));
    return *size;
  }
  if (const auto* size = value->if_uint64()) {
    // The parser keeps integers that fit as int64, so this is always past int64: no real blob.
    if (*size > std::uint64_t(std::numeric_limits<std::int64_t>::max())) {
      return invalid(path + " is too large: " + std::to_string(*size));
    }
    return std::int64_t(*size);
  }
  return wrong_type(path, "a non-negative integer", *value);
}

Result<Descriptor, ManifestError> parse_descriptor(const json::value& value,
                                                   const std::string& path) {
  const json::object* object = value.if_object();
  if (object == nullptr) return wrong_type(path, "a descriptor object", value);

  auto media_type = required_string(*object, "mediaType", path);
  if (!media_type) return media_type.error();
  if (!is_media_type_syntax(*media_type)) {
    return invalid(field_path(path, "mediaType") + " " + quote(*media_type) +
                   " is not a valid media type (expected type/subtype)");
  }

  auto digest_text = required_string(*object, "digest", path);
  if (!digest_text) return digest_text.error();
  auto digest = Digest::parse(*digest_text);
  if (!digest) {
    return invalid(field_path(path, "digest") + " " + quote(*digest_text) +
                   " is not a valid digest (expected sha256:<64 lower-case hex> or "
                   "sha512:<128 lower-case hex>)");
  }

  auto size = parse_size(*object, path);
  if (!size) return size.error();

  std::vector<std::string> urls;
  if (const json::value* urls_value = object->if_contains("urls")) {
    std::string urls_path = field_path(path, "urls");
    const json::array* array = urls_value->if_array();
    if (array == nullptr) return wrong_type(urls_path, "an array of strings", *urls_value);
    urls.reserve(array->size());
    for (std::size_t i = 0; i < array->size(); ++i) {
      const json::string* url = (*array)[i].if_string();
      if (url == nullptr) return wrong_type(element_path(urls_path, i), "a string", (*array)[i]);
      urls.emplace_back(url->data(), url->size());
    }
  }

  auto artifact_type = optional_media_type(*object, "artifactType", path);
  if (!artifact_type) return artifact_type.error();
  auto platform = parse_platform(*object, path);
  if (!platform) return platform.error();
  auto annotations = parse_annotations(*object, path);
  if (!annotations) return annotations.error();

  return Descriptor{std::move(*media_type), std::move(*digest),        *size,
                    std::move(urls),        std::move(*artifact_type), std::move(*platform),
                    std::move(*annotations)};
}

Result<std::vector<Descriptor>, ManifestError> parse_descriptor_array(const json::object& root,
                                                                      std::string_view key) {
  const json::value* value = root.if_contains(key);
  std::string path(key);
  if (value == nullptr) return invalid(path + " is required");
  const json::array* array = value->if_array();
  if (array == nullptr) return wrong_type(path, "an array of descriptors", *value);
  std::vector<Descriptor> descriptors;
  descriptors.reserve(array->size());
  for (std::size_t i = 0; i < array->size(); ++i) {
    auto descriptor = parse_descriptor((*array)[i], element_path(path, i));
    if (!descriptor) return descriptor.error();
    descriptors.push_back(std::move(*descriptor));
  }
  return descriptors;
}

// The effective media type: the mediaType field, else a specific Content-Type, else a guess
// from the structure (see below).
Result<std::string, ManifestError> resolve_media_type(const json::object& root,
                                                      const std::optional<std::string>& field,
                                                      const std::string& header) {
  if (field) {
    if (!is_generic_content_type(header) && header != *field) {
      return fail(ManifestErrc::media_type_mismatch, "the manifest's mediaType " + quote(*field) +
                                                         " does not match the Content-Type " +
                                                         quote(header));
    }
    return *field;
  }
  if (!is_generic_content_type(header)) return header;
  // Neither says what the document is. mediaType is optional in OCI manifests and indexes, and
  // some clients (podman import among them) push without it and with a generic Content-Type, so
  // the structure decides: "manifests" makes an OCI index, "config"/"layers" an OCI manifest.
  // Docker schema 2 always carries mediaType, so only the OCI types are guessed.
  if (root.contains("manifests")) return std::string(media_type::kOciIndex);
  if (root.contains("config") || root.contains("layers")) {
    return std::string(media_type::kOciManifest);
  }
  std::string content_type =
      header.empty() ? "there is no Content-Type"
                     : "the Content-Type " + quote(header) + " is not a manifest media type";
  return invalid("cannot tell the manifest type: there is no mediaType field, " + content_type +
                 ", and there is no config, layers or manifests field to tell by");
}

}  // namespace

std::string Manifest::effective_artifact_type() const {
  if (artifact_type && !artifact_type->empty()) return *artifact_type;
  if (kind == ManifestKind::image && config) return config->media_type;
  return {};
}

Result<Manifest, ManifestError> parse_manifest(std::string_view bytes,
                                               std::string_view content_type) {
  if (bytes.size() > kMaxManifestBytes) {
    return fail(ManifestErrc::too_large, "the manifest is " + std::to_string(bytes.size()) +
                                             " bytes; the limit is " +
                                             std::to_string(kMaxManifestBytes) + " bytes");
  }

  // The values go to one arena released at return (nothing is freed piecemeal); the parser's
  // temporary stack grows and shrinks on the heap. Both count against one budget, and the depth
  // cap keeps pathological nesting cheap. (The duplicate-key check keeps the keys of the open
  // objects on the heap too, outside the budget: at most the size of the input plus a few words
  // a key.)
  MemoryBudget budget{0, kMaxParseMemory};
  json::monotonic_resource arena;
  BudgetedResource values(&arena, &budget, false);
  BudgetedResource scratch(json::storage_ptr().get(), &budget, true);
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  Result<json::value, JsonParseError> parsed = JsonParseError{};
  try {
    parsed = parse_json_with_unique_keys(bytes, options, json::storage_ptr(&values),
                                         json::storage_ptr(&scratch));
  } catch (const std::bad_alloc&) {
    if (!budget.exceeded) throw;  // the machine is out of memory: not this document's fault
    return fail(ManifestErrc::invalid,
                "the manifest has too many JSON values to process; real manifests are mostly "
                "strings");
  }
  if (!parsed) return json_error(parsed.error());
  json::value document = std::move(*parsed);
  const json::object* root = document.if_object();
  if (root == nullptr) {
    return fail(ManifestErrc::invalid_json,
                "the manifest must be a JSON object, got " + std::string(kind_name(document)));
  }

  auto field = optional_string(*root, "mediaType", "");
  if (!field) return field.error();
  // Go encoders drop empty strings (omitempty), so "" is read as "not given" like they would.
  if (*field && (*field)->empty()) field->reset();
  std::string header = normalize_content_type(content_type);

  const json::value* schema_version = root->if_contains("schemaVersion");
  if ((schema_version != nullptr && is_integer(*schema_version, 1)) ||
      (*field && is_schema1(**field)) || is_schema1(header)) {
    return fail(ManifestErrc::unsupported,
                "Docker schema 1 manifests are not supported; push the image as Docker schema 2 "
                "or OCI");
  }

  auto media_type = resolve_media_type(*root, *field, header);
  if (!media_type) return media_type.error();
  if (*media_type == media_type::kOciArtifactManifest) {
    return fail(ManifestErrc::unsupported,
                "OCI artifact manifests (" + std::string(media_type::kOciArtifactManifest) +
                    ") are not supported; push an OCI image manifest with artifactType instead");
  }
  if (!is_manifest_media_type(*media_type)) {
    return fail(ManifestErrc::unsupported, "unsupported manifest media type " + quote(*media_type) +
                                               "; expected " +
                                               std::string(media_type::kOciManifest) + ", " +
                                               std::string(media_type::kOciIndex) + ", " +
                                               std::string(media_type::kDockerManifest) + " or " +
                                               std::string(media_type::kDockerManifestList));
  }

  if (schema_version == nullptr) return invalid("schemaVersion is required and must be 2");
  if (!is_integer(*schema_version, 2)) {
    if (schema_version->is_int64() || schema_version->is_uint64()) {
      return invalid("schemaVersion must be 2, got " + json::serialize(*schema_version));
    }
    return wrong_type("schemaVersion", "the integer 2", *schema_version);
  }

  Manifest manifest;
  manifest.media_type = std::move(*media_type);
  bool is_index = manifest.media_type == media_type::kOciIndex ||
                  manifest.media_type == media_type::kDockerManifestList;
  manifest.kind = is_index ? ManifestKind::index : ManifestKind::image;

  // A structure that contradicts the media type is a mismatch rather than a missing field: the
  // client most likely sent the right document under the wrong type.
  if (is_index) {
    for (std::string_view key : {"config", "layers"}) {
      if (root->contains(key)) {
        return fail(ManifestErrc::media_type_mismatch,
                    "the manifest has media type " + manifest.media_type +
                        ", an index type, but has a \"" + std::string(key) +
                        "\" field, which only image manifests have");
      }
    }
  } else if (root->contains("manifests")) {
    return fail(ManifestErrc::media_type_mismatch,
                "the manifest has media type " + manifest.media_type +
                    ", an image manifest type, but has a \"manifests\" field, which only "
                    "indexes have");
  }

  auto artifact_type = optional_media_type(*root, "artifactType", "");
  if (!artifact_type) return artifact_type.error();
  manifest.artifact_type = std::move(*artifact_type);

  if (is_index) {
    auto manifests = parse_descriptor_array(*root, "manifests");
    if (!manifests) return manifests.error();
    manifest.manifests = std::move(*manifests);
  } else {
    const json::value* config = root->if_contains("config");
    if (config == nullptr) return invalid("config is required in an image manifest");
    auto descriptor = parse_descriptor(*config, "config");
    if (!descriptor) return descriptor.error();
    manifest.config = std::move(*descriptor);
    // The OCI spec requires "layers" too (an artifact may have an empty list), so a missing
    // array is refused for both image types.
    auto layers = parse_descriptor_array(*root, "layers");
    if (!layers) return layers.error();
    manifest.layers = std::move(*layers);
  }

  if (const json::value* subject = root->if_contains("subject")) {
    auto descriptor = parse_descriptor(*subject, "subject");
    if (!descriptor) return descriptor.error();
    manifest.subject = std::move(*descriptor);
  }

  auto annotations = parse_annotations(*root, "");
  if (!annotations) return annotations.error();
  manifest.annotations_json = std::move(*annotations);
  return manifest;
}

bool must_be_present(const Descriptor& layer) {
  if (!layer.urls.empty()) return false;
  std::string_view media_type = layer.media_type;
  // Foreign and non-distributable layers are, by definition, fetched from elsewhere; every
  // variant (tar, +gzip, +zstd) shares these prefixes.
  constexpr std::string_view kDockerForeignPrefix = "application/vnd.docker.image.rootfs.foreign.";
  constexpr std::string_view kOciNondistributablePrefix =
      "application/vnd.oci.image.layer.nondistributable.";
  return !media_type.starts_with(kDockerForeignPrefix) &&
         !media_type.starts_with(kOciNondistributablePrefix);
}

bool is_manifest_media_type(std::string_view media_type) {
  return media_type == media_type::kOciManifest || media_type == media_type::kOciIndex ||
         media_type == media_type::kDockerManifest || media_type == media_type::kDockerManifestList;
}

}  // namespace berth::oci
