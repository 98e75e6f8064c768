#pragma once
// The one place that turns domain errors into the OCI error envelope
// {"errors":[{"code","message","detail"}]} with the right HTTP status.

#include <string>
#include <string_view>

#include "api/pipeline.h"
#include "http/message.h"
#include "registry/registry.h"

namespace berth::api {

// The status and OCI code of a registry error: the one mapping of registry::Errc to the wire,
// which every family's error writer uses for the status.
struct WireError {
  unsigned status;
  std::string_view code;
};
WireError wire_error_of(registry::Errc errc);

// A response carrying one OCI error.
http::Response error_response(unsigned status, std::string_view code, std::string_view message);

// Maps a registry error to its wire code and status.
http::Response error_response(const registry::RegistryError& error);

// The WWW-Authenticate value of a 401 on the data plane:
// Bearer realm="...",service="..."[,scope="..."][,error="..."] (no service when it is empty:
// /metrics).
std::string bearer_challenge(const Challenge& challenge);

// The error answers of the OCI route families (/v2/, /healthz) for the pipeline's stages.
FamilyErrors oci_family_errors();

// Adds the headers every distribution response carries.
void add_common_headers(http::Response& response);

}  // namespace berth::api
