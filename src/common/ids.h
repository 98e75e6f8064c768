#pragma once

#include <string>

namespace berth {

// A random UUID (version 4) from the OS CSPRNG, lower-case with dashes. Upload ids are
// capabilities in the URL, so they must be unguessable.
std::string random_uuid();

// `bytes` random bytes from the OS CSPRNG, hex-encoded.
std::string random_hex(std::size_t bytes);

}  // namespace berth
