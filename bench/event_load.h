#pragma once

// Many keep-alive connections driven from one thread with epoll, one request in flight per
// connection: the cheapest way to keep a server busy with small requests, so that on a small
// machine the load generator takes as little CPU from the server as possible.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.h"

namespace berth::bench {

struct SmallResponse {
  int status = 0;
  std::string_view head;  // status line and header lines
  std::string_view body;
  std::optional<std::string_view> header(std::string_view name) const;
};

struct Operation {
  std::string request;  // the complete request bytes, sent as they are
  bool head = false;    // response carries no body
  // Returns an empty string when the answer is right, else what is wrong.
  std::function<std::string(const SmallResponse&)> check;
};

struct EventLoadResult {
  std::vector<double> latencies_us;  // requests begun and finished inside the window
  double window_seconds = 0;
  std::string error;  // first failure; empty when all answers were right
};

// Connections alternate between the operations. Requests are measured inside the window
// [start + warmup, start + warmup + duration]; the run stops issuing at the window's end.
// `connection_headers` are header lines ("Name: value\r\n...") added to every request of a
// connection: none when empty, the same for all with one entry, else one entry per
// connection (each its own client with its own credentials).
EventLoadResult run_event_load(const std::string& host, std::uint16_t port, int connections,
                               const std::vector<Operation>& operations, double warmup_seconds,
                               double duration_seconds,
                               const std::function<void()>& on_window_start = nullptr,
                               const std::vector<std::string>& connection_headers = {});

}  // namespace berth::bench
