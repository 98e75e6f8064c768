// Feeds arbitrary bytes to parse_manifest under every way the media type can be resolved, and
// checks that whatever is accepted is internally consistent, and that a document is refused for
// a repeated key exactly when it has one.

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "oci/manifest.h"
#include "oci/media_types.h"

namespace {

namespace oci = berth::oci;
namespace media_type = berth::oci::media_type;
namespace json = boost::json;

// Must match the limit in oci/manifest.cc so both parsers accept the same documents.
constexpr std::size_t kMaxJsonDepth = 64;

// Trap rather than abort with a message: libFuzzer reports the stack and saves the input.
void check(bool condition) {
  if (!condition) __builtin_trap();
}

void check_descriptor(const oci::Descriptor& descriptor) {
  check(!descriptor.media_type.empty());
  check(descriptor.size >= 0);
  auto reparsed = oci::Digest::parse(descriptor.digest.str());
  check(reparsed.has_value() && *reparsed == descriptor.digest);
  if (!descriptor.annotations_json.empty()) {
    boost::system::error_code ec;
    auto annotations = boost::json::parse(descriptor.annotations_json, ec);
    check(!ec && annotations.is_object());
  }
  (void)oci::must_be_present(descriptor);
}

void check_manifest(const oci::Manifest& manifest) {
  check(oci::is_manifest_media_type(manifest.media_type));
  bool index = manifest.media_type == media_type::kOciIndex ||
               manifest.media_type == media_type::kDockerManifestList;
  check(index == (manifest.kind == oci::ManifestKind::index));
  if (index) {
    check(!manifest.config && manifest.layers.empty());
  } else {
    check(manifest.config.has_value() && manifest.manifests.empty());
    check_descriptor(*manifest.config);
  }
  for (const auto& layer : manifest.layers) check_descriptor(layer);
  for (const auto& child : manifest.manifests) check_descriptor(child);
  if (manifest.subject) check_descriptor(*manifest.subject);
  if (!manifest.annotations_json.empty()) {
    boost::system::error_code ec;
    auto annotations = boost::json::parse(manifest.annotations_json, ec);
    check(!ec && annotations.is_object());
  }
  (void)manifest.effective_artifact_type();
}

// The oracle for the duplicate-key check, independent of its bookkeeping: the tokenizer reports
// how many members each object had, and boost::json::object keeps one member per distinct key,
// so the two totals differ exactly when some object repeats a key.
struct MemberCounter {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();
  std::size_t members = 0;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    members += n;
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

std::size_t distinct_members(const json::value& value) {
  std::size_t total = 0;
  if (const auto* object = value.if_object()) {
    total += object->size();
    for (const auto& member : *object) total += distinct_members(member.value());
  } else if (const auto* array = value.if_array()) {
    for (const auto& element : *array) total += distinct_members(element);
  }
  return total;
}

// Whether some object in the document repeats a key; nullopt when the bytes are not JSON.
std::optional<bool> repeats_a_key(std::string_view bytes) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  json::basic_parser<MemberCounter> counter(options);
  json::error_code ec;
  std::size_t consumed = counter.write_some(false, bytes.data(), bytes.size(), ec);
  if (ec || consumed != bytes.size()) return std::nullopt;
  json::value value = json::parse(bytes, ec, {}, options);
  if (ec) return std::nullopt;
  return counter.handler().members != distinct_members(value);
}

bool is_duplicate_key_error(const oci::ManifestError& error) {
  return error.code == oci::ManifestErrc::duplicate_key;
}

constexpr std::string_view kContentTypes[] = {
    "",
    "application/json; charset=utf-8",
    media_type::kOciManifest,
    media_type::kOciIndex,
    media_type::kDockerManifest,
    media_type::kDockerManifestList,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::optional<bool> repeated = size <= oci::kMaxManifestBytes ? repeats_a_key(bytes) : std::nullopt;
  for (std::string_view content_type : kContentTypes) {
    auto result = oci::parse_manifest(bytes, content_type);
    if (result) {
      check_manifest(*result);
      check(repeated == false);
    } else {
      check(!result.error().message.empty());
      // The key check runs while parsing, before any manifest rule, so it decides alone.
      if (repeated) check(*repeated == is_duplicate_key_error(result.error()));
    }
  }
  return 0;
}
