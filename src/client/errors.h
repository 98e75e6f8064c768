#pragma once
// The distribution client's errors. Each kind stays distinct because the import and the
// pull-through cache map them to different registry errors (an upstream that is down is not an
// upstream that denies access, nor one that serves corrupt content).

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace berth::client {

enum class ClientErrc {
  invalid_argument,     // a repository, reference or host the caller gave is malformed
  unreachable,          // no connection: name resolution, refused, timed out, dropped for good
  refused_destination,  // the destination policy or the plain-HTTP rule refused where to go
  tls,                  // the TLS handshake or the certificate check failed
  unauthorized,         // 401: no or wrong credentials, or the token service refused them
  denied,               // 403: the credentials are good but not for this
  not_found,            // 404: no such repository, manifest, blob or tag
  rate_limited,         // 429/503 with a wait longer than allowed, or still after the retries
  upstream_error,       // 5xx, or another status the client does not expect
  digest_mismatch,      // the bytes do not have the digest (or size) they should
  invalid_response,     // an answer that breaks the protocol (bad header, JSON, Content-Range)
  too_large,            // a manifest, token or listing over its size limit
  cancelled,            // the caller's sink asked to stop
};

// "unreachable", "rate_limited", ...
std::string_view errc_name(ClientErrc code);

// The message never holds credentials or tokens. `retry_after` is what the upstream asked for
// with rate_limited (zero when it did not say); `status` is the upstream's HTTP status when the
// error comes from one (0 otherwise).
struct ClientError : Error<ClientErrc> {
  std::chrono::seconds retry_after{0};
  int status = 0;
};

inline ClientError client_error(ClientErrc code, std::string message, int status = 0) {
  ClientError error;
  error.code = code;
  error.message = std::move(message);
  error.status = status;
  return error;
}

template <class T>
using ClientResult = Result<T, ClientError>;

}  // namespace berth::client
