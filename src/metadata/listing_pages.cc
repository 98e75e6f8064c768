#include "metadata/listing_pages.h"

#include <cstdint>
#include <limits>

namespace berth::metadata {

PageStart page_start(const PageQuery& query) {
  std::int64_t time = query.order == ListingOrder::time_desc
                          ? std::numeric_limits<std::int64_t>::max()
                          : std::numeric_limits<std::int64_t>::min();
  std::string_view key;
  if (query.after) {
    time = query.after->time;
    key = query.after->key;
  }
  return PageStart{.key = key, .time = time};
}

}  // namespace berth::metadata
