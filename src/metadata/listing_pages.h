#pragma once
// How listings page, in every metadata backend: a page is one range of an index (keyset
// pagination), starting after the last item a caller saw, so a page costs the same however deep
// into the listing it is. Nothing here knows a database.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "metadata/metadata_store.h"

namespace berth::metadata {

// A caller's limit as a LIMIT parameter (a signed 64-bit integer).
inline std::int64_t sql_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMax));
}

// Listings are allocated for what a page usually holds, not for a caller's huge limit.
inline std::size_t initial_capacity(std::size_t limit) {
  return std::min<std::size_t>(limit, 1000);
}

// Where a page of a listing in an order starts: after (key), or after (time, key) in the order's
// direction. The key views the query's position, so the query must outlive it.
struct PageStart {
  std::string_view key;
  std::int64_t time = 0;
};

// Without a position, the start is a bound no item passes: before every key, or beyond every
// time in the order's direction.
PageStart page_start(const PageQuery& query);

}  // namespace berth::metadata
