#pragma once

#include <string>

namespace berth::server {

// Sets up the default logger on stderr: `format` "text" (human) or "json" (one object per
// line, message JSON-escaped), at `level`.
void configure_logging(const std::string& format, const std::string& level);

}  // namespace berth::server
