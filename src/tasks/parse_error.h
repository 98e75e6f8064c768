#pragma once
// The error every parser of this module returns: where in the input (1-based line and column,
// 0 when not known) and why, in words for the person who wrote the input.

#include <boost/system/result.hpp>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/result.h"

namespace berth::tasks {

struct ParseError {
  // A constructor, not an aggregate: a number or a string must not convert to a ParseError,
  // or ParseResult<int> and ParseResult<std::string> could not tell a value from an error.
  ParseError() = default;
  ParseError(std::size_t line, std::size_t column, std::string reason)
      : line(line), column(column), reason(std::move(reason)) {}

  std::size_t line = 0;    // 1-based; 0: the error is about the whole input
  std::size_t column = 0;  // 1-based; 0: not known
  std::string reason;

  // "line 3, column 7: reason", "line 3: reason" or "reason".
  std::string to_string() const;
};

template <class T>
using ParseResult = berth::Result<T, ParseError>;

// Needed by ParseResult<T>::value(); callers test the result first, so this only runs on a
// programming error.
[[noreturn]] inline void throw_exception_from_error(const ParseError& error,
                                                    const boost::source_location&) {
  throw std::runtime_error(error.to_string());
}

}  // namespace berth::tasks
