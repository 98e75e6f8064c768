#include "http/message.h"

#include <algorithm>

namespace berth::http {
namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

void Headers::add(std::string name, std::string value) {
  items_.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string name, std::string value) {
  std::erase_if(items_, [&](const auto& item) { return iequals(item.first, name); });
  items_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [key, value] : items_) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

void Request::set_log_field(std::string name, std::string value) {
  for (auto& [key, existing] : log_fields) {
    if (key == name) {
      existing = std::move(value);
      return;
    }
  }
  log_fields.emplace_back(std::move(name), std::move(value));
}

std::string_view Request::param(std::string_view name) const {
  auto it = params.find(name);
  if (it == params.end()) return {};
  return it->second;
}

boost::asio::awaitable<Result<std::string, HttpError>> read_body(BodyReader& body,
                                                                 std::size_t limit) {
  std::string out;
  if (auto length = body.content_length()) {
    if (*length > limit) {
      co_return HttpError{Errc::too_large, "request body exceeds " + std::to_string(limit) +
                                               " bytes"};
    }
    out.reserve(static_cast<std::size_t>(*length));
  }
  for (;;) {
    // Read up to one byte past the limit so an oversized chunked body is detected without
    // buffering more than limit + 1 bytes.
    std::size_t want = std::min(kReadChunk, limit + 1 - out.size());
    std::size_t old_size = out.size();
    out.resize(old_size + want);
    auto n = co_await body.read_some(
        std::span<std::byte>(reinterpret_cast<std::byte*>(out.data() + old_size), want));
    if (!n) co_return n.error();
    out.resize(old_size + *n);
    if (*n == 0) break;
    if (out.size() > limit) {
      co_return HttpError{Errc::too_large, "request body exceeds " + std::to_string(limit) +
                                               " bytes"};
    }
  }
  co_return out;
}

}  // namespace berth::http
