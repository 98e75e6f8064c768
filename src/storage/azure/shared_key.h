#pragma once
// SharedKey authorization of Blob service requests: the string-to-sign Azure documents
// ("Authorize with Shared Key", version 2015-02-21 and later), signed with HMAC-SHA256 under
// the account key:
//
//   VERB \n Content-Encoding \n Content-Language \n Content-Length (empty when 0) \n
//   Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n If-None-Match \n
//   If-Unmodified-Since \n Range \n
//   CanonicalizedHeaders      every x-ms-* header: lower-case name, sorted, "name:value\n",
//                             the value trimmed and inner whitespace runs folded to one space
//   CanonicalizedResource     "/" account encoded-path, then per query parameter, sorted by
//                             lower-case name: "\n" name ":" decoded values (sorted, joined by ",")
//
//   Authorization: SharedKey <account>:<base64 signature>
//
// The request carries x-ms-date, so the Date line stays empty. With a path-style endpoint
// (Azurite: http://host:port/<account>/...), the path includes the account, so it appears
// twice in the resource ("/devstoreaccount1/devstoreaccount1/container"), as Azure specifies.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::storage::azure {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// What the signature covers of one request.
struct RequestToSign {
  std::string_view method;  // "GET", "PUT", ...
  // The URI path exactly as sent (percent-encoded), starting with '/'.
  std::string_view encoded_path;
  // Query parameters, names and values decoded (as the service decodes them).
  const HeaderList* query = nullptr;
  // Every header the request sends; names in any case.
  const HeaderList* headers = nullptr;
};

// The documented string-to-sign of `request` for `account`.
std::string string_to_sign(const RequestToSign& request, std::string_view account);

// base64(HMAC-SHA256(key, text)).
std::string sign(std::string_view key, std::string_view text);

// The value of the Authorization header: "SharedKey <account>:<signature>".
std::string shared_key_authorization(const RequestToSign& request, std::string_view account,
                                     std::string_view key);

// Percent-encodes every byte but the unreserved characters (A-Z a-z 0-9 - _ . ~), and '/' when
// `keep_slash` (a blob name in a path), so that what is sent is exactly what was signed.
std::string percent_encode(std::string_view text, bool keep_slash);

// The current time as x-ms-date wants it (RFC 1123, GMT): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date_now();

}  // namespace berth::storage::azure
