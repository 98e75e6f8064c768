#pragma once
// Wire strings of the distribution API in one place: header names and error codes.

#include <string_view>

namespace berth::api {

namespace header {
inline constexpr std::string_view kApiVersion = "Docker-Distribution-API-Version";
inline constexpr std::string_view kContentDigest = "Docker-Content-Digest";
inline constexpr std::string_view kUploadUuid = "Docker-Upload-UUID";
inline constexpr std::string_view kChunkMinLength = "OCI-Chunk-Min-Length";
inline constexpr std::string_view kSubject = "OCI-Subject";
inline constexpr std::string_view kFiltersApplied = "OCI-Filters-Applied";
inline constexpr std::string_view kLocation = "Location";
inline constexpr std::string_view kRange = "Range";
inline constexpr std::string_view kContentRange = "Content-Range";
inline constexpr std::string_view kContentType = "Content-Type";
inline constexpr std::string_view kLink = "Link";
}  // namespace header

inline constexpr std::string_view kApiVersionValue = "registry/2.0";

// Route names that other code keys on (the metrics count a manifest PUT as a push and a
// manifest GET as a pull).
namespace route_name {
inline constexpr std::string_view kManifestGet = "manifest.get";
inline constexpr std::string_view kManifestPut = "manifest.put";
}  // namespace route_name

// The error codes of the OCI distribution spec, plus the few the reference registry adds that
// clients know (TAG_INVALID, RANGE_INVALID, PAGINATION_NUMBER_INVALID).
namespace code {
inline constexpr std::string_view kBlobUnknown = "BLOB_UNKNOWN";
inline constexpr std::string_view kBlobUploadInvalid = "BLOB_UPLOAD_INVALID";
inline constexpr std::string_view kBlobUploadUnknown = "BLOB_UPLOAD_UNKNOWN";
inline constexpr std::string_view kDigestInvalid = "DIGEST_INVALID";
inline constexpr std::string_view kManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN";
inline constexpr std::string_view kManifestInvalid = "MANIFEST_INVALID";
inline constexpr std::string_view kManifestUnknown = "MANIFEST_UNKNOWN";
inline constexpr std::string_view kNameInvalid = "NAME_INVALID";
inline constexpr std::string_view kNameUnknown = "NAME_UNKNOWN";
inline constexpr std::string_view kSizeInvalid = "SIZE_INVALID";
inline constexpr std::string_view kUnauthorized = "UNAUTHORIZED";
inline constexpr std::string_view kDenied = "DENIED";
inline constexpr std::string_view kUnsupported = "UNSUPPORTED";
inline constexpr std::string_view kTooManyRequests = "TOOMANYREQUESTS";
inline constexpr std::string_view kTagInvalid = "TAG_INVALID";
// /acr/v1 names an unknown tag this way, as the hosted service does (/v2/ says
// MANIFEST_UNKNOWN, as the spec does).
inline constexpr std::string_view kTagUnknown = "TAG_UNKNOWN";
inline constexpr std::string_view kRangeInvalid = "RANGE_INVALID";
inline constexpr std::string_view kPaginationNumberInvalid = "PAGINATION_NUMBER_INVALID";
inline constexpr std::string_view kNotFound = "NOT_FOUND";
inline constexpr std::string_view kUnknown = "UNKNOWN";
}  // namespace code

}  // namespace berth::api
