#include "client/errors.h"

namespace berth::client {

std::string_view errc_name(ClientErrc code) {
  switch (code) {
    case ClientErrc::invalid_argument:
      return "invalid_argument";
    case ClientErrc::unreachable:
      return "unreachable";
    case ClientErrc::refused_destination:
      return "refused_destination";
    case ClientErrc::tls:
      return "tls";
    case ClientErrc::unauthorized:
      return "unauthorized";
    case ClientErrc::denied:
      return "denied";
    case ClientErrc::not_found:
      return "not_found";
    case ClientErrc::rate_limited:
      return "rate_limited";
    case ClientErrc::upstream_error:
      return "upstream_error";
    case ClientErrc::digest_mismatch:
      return "digest_mismatch";
    case ClientErrc::invalid_response:
      return "invalid_response";
    case ClientErrc::too_large:
      return "too_large";
    case ClientErrc::cancelled:
      return "cancelled";
  }
  return "unknown";
}

}  // namespace berth::client
