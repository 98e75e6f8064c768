#include "api/errors.h"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <string>

#include "api/wire.h"

namespace berth::api {

using http::Response;

WireError wire_error_of(registry::Errc errc) {
  using registry::Errc;
  switch (errc) {
    case Errc::blob_unknown: return {404, code::kBlobUnknown};
    case Errc::blob_upload_unknown: return {404, code::kBlobUploadUnknown};
    case Errc::blob_upload_invalid: return {400, code::kBlobUploadInvalid};
    case Errc::digest_invalid: return {400, code::kDigestInvalid};
    case Errc::manifest_unknown: return {404, code::kManifestUnknown};
    case Errc::tag_unknown: return {404, code::kManifestUnknown};
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
    // Transient: the same content is being removed by garbage collection this instant.
    case Errc::busy: return {503, code::kUnknown};
    // The spec's code for "the requested access to the resource is denied": the item's lock
    // forbids it whoever asks; the message names the lock.
    case Errc::locked: return {403, code::kDenied};
    // Likewise a storage quota; the message names the quota and the usage.
    case Errc::quota_exceeded: return {403, code::kDenied};
    // A pull-through cache's rule keeps its repositories for what the upstream has.
    case Errc::push_refused: return {403, code::kDenied};
    // The content is not cached and the upstream did not give it: a gateway's failure.
    case Errc::upstream_unavailable: return {502, code::kUnknown};
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
    Response response = error_response(wire.status, wire.code, kStorageFullMessage);
    response.log_detail = "storage full: " + error.message;
    return response;
  }
  if (error.code == registry::Errc::busy) {
    Response response = error_response(wire.status, wire.code, error.message);
    response.headers.set("Retry-After", "1");
    return response;
  }
  if (wire.status >= 500) {
    // Server faults are logged with their cause; the client gets a generic message.
    Response response = error_response(wire.status, wire.code, "internal server error");
    response.log_detail = "internal error: " + error.message;
    return response;
  }
  return error_response(wire.status, wire.code, error.message);
}

std::string bearer_challenge(const Challenge& challenge) {
  std::string value = fmt::format(R"(Bearer realm="{}")", challenge.realm);
  // Every data-plane challenge names its service; /metrics' has none.
  if (!challenge.service.empty()) value += fmt::format(R"(,service="{}")", challenge.service);
  if (!challenge.scope.empty()) value += fmt::format(R"(,scope="{}")", challenge.scope);
  if (!challenge.error.empty()) value += fmt::format(R"(,error="{}")", challenge.error);
  return value;
}

FamilyErrors oci_family_errors() {
  FamilyErrors errors;
  errors.of_registry_error = [](const registry::RegistryError& error) {
    return error_response(error);
  };
  errors.unauthenticated = [](const Challenge& challenge) {
    Response response = error_response(401, code::kUnauthorized, challenge.message);
    response.headers.set("WWW-Authenticate", bearer_challenge(challenge));
    return response;
  };
  errors.denied = [](std::string_view message) {
    return error_response(403, code::kDenied, message);
  };
  errors.too_many_requests = [](std::chrono::seconds retry_after) {
    Response response = error_response(
        429, code::kTooManyRequests,
        fmt::format("too many requests; retry after {} seconds", retry_after.count()));
    response.headers.set("Retry-After", std::to_string(retry_after.count()));
    return response;
  };
  errors.internal = [] { return error_response(500, code::kUnknown, "internal server error"); };
  return errors;
}

}  // namespace berth::api
