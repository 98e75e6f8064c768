#pragma once
// The CLI's one error type and the exit codes scripts rely on.
//
// Every failure the tool can report is an `Error` value carrying the exit code it ends the
// process with; nothing below main() decides how the process exits.

#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace berth::cli {

// Stable: documented in README.md and in the `berth --help` footer.
enum class ExitCode : int {
  kOk = 0,
  kFailure = 1,   // server error, network error, unreadable local file, purge failures
  kUsage = 2,     // bad flags or arguments, rejected before or by the server (400)
  kAuth = 3,      // missing or wrong token (401, 403)
  kNotFound = 4,  // 404
  kConflict = 5,  // 409
};

struct Error {
  ExitCode code = ExitCode::kFailure;
  std::string message;  // one line, no "berth: " prefix
};

inline Error usage_error(std::string message) { return {ExitCode::kUsage, std::move(message)}; }
inline Error failure(std::string message) { return {ExitCode::kFailure, std::move(message)}; }

// Needed by boost::system::result<T, Error>::value(); callers test the result first, so this
// only runs on a programming error.
[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

template <class T>
using Result = boost::system::result<T, Error>;

// The exit code for an HTTP status that is not 2xx.
ExitCode exit_code_for_status(long status);

// The text of a usage line for an exit code ("0 success", ...), for --help and the README.
std::string_view exit_codes_help();

}  // namespace berth::cli
