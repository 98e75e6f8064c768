#pragma once
// Small string helpers of this module's messages. Strings are built by appending: GCC 12 at -O3
// reports false -Wrestrict warnings on `"literal" + std::string` temporaries.

#include <boost/system/result.hpp>
#include <initializer_list>
#include <string>
#include <string_view>

namespace berth::tasks {

inline std::string concat(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (std::string_view part : parts) out += part;
  return out;
}

// 'text'
inline std::string quoted(std::string_view text) { return concat({"'", text, "'"}); }

// A failed Result<T, std::string>, spelled out: a string may also convert to T (an aggregate
// whose first member is a string), and then `return why;` does not compile.
template <class T>
boost::system::result<T, std::string> refused(std::string why) {
  return boost::system::result<T, std::string>(boost::system::in_place_error, std::move(why));
}

}  // namespace berth::tasks
