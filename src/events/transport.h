#pragma once
// How a delivery reaches a receiver: one HTTP POST. The dispatcher works against this
// interface; CurlTransport is berthd's (libcurl), unit tests use a fake.

#include <atomic>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "events/webhook_rules.h"

namespace berth::events {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Delivery {
  std::string uri;
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{10'000};
};

struct DeliveryResponse {
  int status = 0;        // 0: no HTTP answer
  Headers headers;
  std::string excerpt;   // the start of the body (at most kMaxExcerpt bytes are kept)
  std::string error;     // why there was no answer (connection refused, timeout, refused address)
  std::chrono::milliseconds latency{0};
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Blocks for at most the delivery's timeout, or until `cancel` becomes true.
  virtual DeliveryResponse post(const Delivery& delivery, const std::atomic<bool>& cancel) = 0;
};

// libcurl, one easy handle per delivery: no redirects followed, http/https only, no proxy from
// the environment, and the destination policy checked on every address curl connects to
// (after name resolution, so a name that resolves to a refused address is refused too).
class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(DestinationPolicy policy) : policy_(policy) {}
  DeliveryResponse post(const Delivery& delivery, const std::atomic<bool>& cancel) override;

  static constexpr std::size_t kMaxExcerpt = 1024;

 private:
  DestinationPolicy policy_;
};

}  // namespace berth::events
