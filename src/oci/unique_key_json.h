#pragma once
// A JSON parser that refuses objects with a repeated key.
//
// JSON leaves duplicate keys undefined and parsers disagree on them: Boost.JSON and Go keep the
// last value, others the first or all of them. When the registry validates a manifest with one
// parser and a client or scanner reads it with another, a document like
// {"config": <harmless>, "config": <evil>} means two different things. Refusing such documents
// is the only reading every parser agrees with.

#include <boost/json/parse_options.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace berth::oci {

struct JsonParseError {
  // Set for malformed JSON, or to boost::system::errc::invalid_argument with
  // `duplicate_key` set when an object repeats a key.
  boost::system::error_code code;
  // Bytes consumed when the parser stopped: where the error is, or the end of the object
  // that repeats a key.
  std::size_t offset = 0;
  // The repeated key, unescaped ("a" and "\u0061" are the same key).
  std::optional<std::string> duplicate_key;
};

// For Result::value() on a failure (a programming error at the call site).
[[noreturn]] void throw_exception_from_error(const JsonParseError& error,
                                             const boost::source_location& location);

// Parses exactly one JSON document (trailing bytes are an error) like boost::json::parse, with
// the values allocated from `values` and the parser's temporary stack from `scratch`, and fails
// on the first object, at any depth, that has the same key twice. Allocation failures
// (std::bad_alloc from either resource) propagate to the caller.
Result<boost::json::value, JsonParseError> parse_json_with_unique_keys(
    std::string_view text, const boost::json::parse_options& options,
    boost::json::storage_ptr values, boost::json::storage_ptr scratch);

}  // namespace berth::oci
