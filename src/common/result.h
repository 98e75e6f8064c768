#pragma once
// Expected failures are values: every layer returns Result<T, Error<its own Errc>>.
// Exceptions are reserved for start-up/configuration and the last-resort catch at the
// HTTP session boundary.

#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>
#include <utility>

namespace berth {

template <class T, class E>
using Result = boost::system::result<T, E>;

// A layer's error: a machine-readable code from the layer's own enum and a message for
// people. The message never contains secrets. `target` names the input the error is about (a
// registry name, a field, a digest) for APIs that report it; it may be empty.
template <class Code>
struct Error {
  Code code;
  std::string message;
  std::string target = {};
};

// Found by ADL when Result::value() is called on a failure: a programming error at the call
// site, so it surfaces as an exception caught at the session boundary.
template <class Code>
[[noreturn]] void throw_exception_from_error(const Error<Code>& error,
                                             const boost::source_location&) {
  throw std::runtime_error(error.message);
}

}  // namespace berth
