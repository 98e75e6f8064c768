#include "http/router.h"

namespace berth::http {
namespace {

// Splits on '/', keeping empty segments: a trailing '/' is significant ("/v2/" != "/v2").
template <class Out>
void split_path(std::string_view path, Out& out) {
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.emplace_back(path.substr(start));
      return;
    }
    out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}
bool is_rest_param(std::string_view segment) {
  return is_param(segment) && segment[segment.size() - 2] == '+';
}
std::string_view param_name(std::string_view segment) {
  segment = segment.substr(1, segment.size() - 2);
  if (!segment.empty() && segment.back() == '+') segment.remove_suffix(1);
  return segment;
}

// Matches one pattern segment against one path segment; parameters never match empty text.
bool match_segment(std::string_view pattern, std::string_view segment) {
  if (is_param(pattern)) return !segment.empty();
  return pattern == segment;
}

// Matches `path` against `pattern`; on success and when `params` is given, fills it.
bool match_pattern(const std::vector<std::string>& pattern,
                   const std::vector<std::string_view>& path,
                   std::map<std::string, std::string, std::less<>>* params) {
  std::size_t rest = pattern.size();
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_rest_param(pattern[i])) {
      rest = i;
      break;
    }
  }
  if (rest == pattern.size()) {
    if (pattern.size() != path.size()) return false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (!match_segment(pattern[i], path[i])) return false;
    }
    if (params) {
      for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (is_param(pattern[i])) params->insert_or_assign(std::string(param_name(pattern[i])),
                                                           std::string(path[i]));
      }
    }
    return true;
  }

  // Segments before the greedy parameter match from the front, those after it from the end;
  // whatever lies between (at least one segment) is the greedy parameter.
  std::size_t head = rest;
  std::size_t tail = pattern.size() - rest - 1;
  if (path.size() < head + tail + 1) return false;
  for (std::size_t i = 0; i < head; ++i) {
    if (!match_segment(pattern[i], path[i])) return false;
  }
  for (std::size_t i = 0; i < tail; ++i) {
    if (!match_segment(pattern[pattern.size() - 1 - i], path[path.size() - 1 - i])) return false;
  }
  std::size_t rest_end = path.size() - tail;
  // Empty segments inside a greedy parameter ("a//b") still match, so the handler can reject
  // the value with its own error (an invalid repository name) rather than a bare 404; a
  // greedy parameter that is empty as a whole never matches.
  if (rest_end - head == 1 && path[head].empty()) return false;
  if (params) {
    for (std::size_t i = 0; i < head; ++i) {
      if (is_param(pattern[i])) params->insert_or_assign(std::string(param_name(pattern[i])),
                                                         std::string(path[i]));
    }
    for (std::size_t i = 0; i < tail; ++i) {
      const std::string& p = pattern[pattern.size() - 1 - i];
      if (is_param(p)) params->insert_or_assign(std::string(param_name(p)),
                                                std::string(path[path.size() - 1 - i]));
    }
    // The path segments are contiguous views into one string, so the joined value is a slice.
    const char* begin = path[head].data();
    const char* end = path[rest_end - 1].data() + path[rest_end - 1].size();
    params->insert_or_assign(std::string(param_name(pattern[rest])),
                             std::string(begin, static_cast<std::size_t>(end - begin)));
  }
  return true;
}

Response default_fallback(const Request&, bool method_not_allowed) {
  Response response;
  response.status = method_not_allowed ? 405 : 404;
  response.headers.add("Content-Type", "text/plain; charset=utf-8");
  response.body = method_not_allowed ? "method not allowed\n" : "not found\n";
  return response;
}

}  // namespace

void Router::add(Route route) {
  std::vector<std::string> segments;
  split_path(route.pattern, segments);
  segments_.push_back(std::move(segments));
  routes_.push_back(std::move(route));
}

void Router::set_fallback(
    std::function<Response(const Request&, bool method_not_allowed)> fallback) {
  fallback_ = std::move(fallback);
}

Router::Match Router::match(Request& request) const {
  std::vector<std::string_view> path;
  path.reserve(16);
  split_path(std::string_view(request.path), path);
  Match result;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method != request.method) {
      if (!result.method_not_allowed && match_pattern(segments_[i], path, nullptr)) {
        result.method_not_allowed = true;
      }
      continue;
    }
    if (match_pattern(segments_[i], path, nullptr)) {
      request.params.clear();
      match_pattern(segments_[i], path, &request.params);
      return Match{&routes_[i], false};
    }
  }
  return result;
}

Response Router::fallback(const Request& request, bool method_not_allowed) const {
  if (fallback_) return fallback_(request, method_not_allowed);
  return default_fallback(request, method_not_allowed);
}

}  // namespace berth::http
