#pragma once
// The one place that turns domain errors into the OCI error envelope
// {"errors":[{"code","message","detail"}]} with the right HTTP status.

#include <string_view>

#include "http/message.h"
#include "registry/registry.h"

namespace berth::api {

// A response carrying one OCI error.
http::Response error_response(unsigned status, std::string_view code, std::string_view message);

// Maps a registry error to its wire code and status.
http::Response error_response(const registry::RegistryError& error);

// Adds the headers every distribution response carries.
void add_common_headers(http::Response& response);

}  // namespace berth::api
