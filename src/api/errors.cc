#include "api/errors.h"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <spdlog/spdlog.h>

#include "api/wire.h"

namespace berth::api {
namespace {

}  // namespace

WireError wire_error_of(registry::Errc errc) {
  using registry::Errc;
  switch (errc) {
    case Errc::blob_unknown: return {404, code::kBlobUnknown};
    case Errc::blob_upload_unknown: return {404, code::kBlobUploadUnknown};
    case Errc::blob_upload_invalid: return {400, code::kBlobUploadInvalid};
    case Errc::digest_invalid: return {400, code::kDigestInvalid};
    case Errc::manifest_unknown: return {404, code::kManifestUnknown};
    case Errc::manifest_invalid: return {400, code::kManifestInvalid};
    case Errc::manifest_blob_unknown: return {400, code::kManifestBlobUnknown};
    case Errc::manifest_too_large: return {413, code::kManifestInvalid};
    case Errc::name_unknown: return {404, code::kNameUnknown};
    case Errc::range_invalid: return {416, code::kRangeInvalid};
    case Errc::unsupported: return {400, code::kUnsupported};
    case Errc::upload_in_use: return {409, code::kBlobUploadInvalid};
    case Errc::too_many_uploads: return {429, code::kTooManyRequests};
    // RFC 4918's status for "cannot store the representation"; no OCI code names it.
    case Errc::storage_full: return {507, code::kUnknown};
    case Errc::internal: break;
  }
  return {500, code::kUnknown};
}

void add_common_headers(http::Response& response) {
  response.headers.set(std::string(header::kApiVersion), std::string(kApiVersionValue));
}

http::Response error_response(unsigned status, std::string_view code, std::string_view message) {
  http::Response response;
  response.status = status;
  add_common_headers(response);
  response.headers.set(std::string(header::kContentType), "application/json");
  response.body = R"({"errors":[{"code":")";
  response.body += code;
  response.body += R"(","message":)";
  response.body += boost::json::serialize(boost::json::string(message));
  response.body += R"(,"detail":null}]})";
  response.body += '\n';
  return response;
}

// What a client is told when the registry's disk is full: the cause is the operator's to see
// (it names paths), the client learns that retrying later can work.
constexpr std::string_view kStorageFullMessage =
    "storage is full: the registry has no space left to store this; nothing was kept, retry "
    "once space has been freed";

http::Response error_response(const registry::RegistryError& error) {
  WireError wire = wire_error_of(error.code);
  if (error.code == registry::Errc::storage_full) {
    spdlog::error("storage full: {}", error.message);
    return error_response(wire.status, wire.code, kStorageFullMessage);
  }
  if (wire.status >= 500) {
    // Server faults are logged with their cause; the client gets a generic message.
    spdlog::error("internal error: {}", error.message);
    return error_response(wire.status, wire.code, "internal server error");
  }
  return error_response(wire.status, wire.code, error.message);
}

FamilyErrors oci_family_errors() {
  FamilyErrors errors;
  errors.of_registry_error = [](const registry::RegistryError& error) {
    return error_response(error);
  };
  // Unreachable today (no data-plane action needs an identity yet); the token service that
  // will make it reachable adds the WWW-Authenticate challenge clients follow.
  errors.unauthenticated = [] {
    return error_response(401, code::kUnauthorized, "authentication required");
  };
  errors.internal = [] { return error_response(500, code::kUnknown, "internal server error"); };
  return errors;
}

}  // namespace berth::api
