#pragma once
// Routes are data: one row per route with method, pattern, name and the action it needs.
// Patterns are '/'-separated segments: literals, "{param}" (one segment) and at most one
// "{param+}" (one or more segments, as OCI repository names need). The segments after a
// "{param+}" are matched from the end, so "/v2/{name+}/blobs/{digest}" splits uniquely.

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace berth::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

struct Route {
  std::string method;
  std::string pattern;
  std::string name;    // stable route name, e.g. "blob.get" (logs, metrics, docs)
  std::string action;  // what the caller must be allowed to do, e.g. "pull"
  Handler handler;
};

class Router {
 public:
  void add(Route route);
  // Answers requests that match no route (404) or whose path matches another method (405:
  // `method_not_allowed` is true).
  void set_fallback(std::function<Response(const Request&, bool method_not_allowed)> fallback);

  struct Match {
    const Route* route = nullptr;  // null when nothing matched
    bool method_not_allowed = false;
  };
  // Matches `request.path` and fills `request.params` on success.
  Match match(Request& request) const;
  Response fallback(const Request& request, bool method_not_allowed) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  // Each route's pattern split on '/', parsed once at add().
  std::vector<std::vector<std::string>> segments_;
  std::function<Response(const Request&, bool)> fallback_;
};

}  // namespace berth::http
