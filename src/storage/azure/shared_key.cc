#include "storage/azure/shared_key.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

namespace berth::storage::azure {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view header(const HeaderList* headers, std::string_view name) {
  if (headers == nullptr) return {};
  for (const auto& [key, value] : *headers) {
    if (same_name(key, name)) return value;
  }
  return {};
}

// Trims the value and folds each run of whitespace inside it to one space ("unfolding").
std::string canonical_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string canonicalized_headers(const HeaderList* headers) {
  std::map<std::string, std::string> ms_headers;  // sorted by lower-case name
  if (headers != nullptr) {
    for (const auto& [name, value] : *headers) {
      std::string key = lower(name);
      if (key.starts_with("x-ms-")) ms_headers[key] = canonical_value(value);
    }
  }
  std::string out;
  for (const auto& [name, value] : ms_headers) {
    out += name;
    out += ':';
    out += value;
    out += '\n';
  }
  return out;
}

std::string canonicalized_resource(const RequestToSign& request, std::string_view account) {
  std::string out = "/";
  out += account;
  out += request.encoded_path.empty() ? std::string_view("/") : request.encoded_path;
  std::map<std::string, std::vector<std::string>> parameters;
  if (request.query != nullptr) {
    for (const auto& [name, value] : *request.query) parameters[lower(name)].push_back(value);
  }
  for (auto& [name, values] : parameters) {
    std::sort(values.begin(), values.end());
    out += '\n';
    out += name;
    out += ':';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += values[i];
    }
  }
  return out;
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int length =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(length));
  return out;
}

}  // namespace

std::string string_to_sign(const RequestToSign& request, std::string_view account) {
  const HeaderList* headers = request.headers;
  std::string_view content_length = header(headers, "Content-Length");
  if (content_length == "0") content_length = {};
  std::string out(request.method);
  out += '\n';
  for (std::string_view name : {"Content-Encoding", "Content-Language"}) {
    out += header(headers, name);
    out += '\n';
  }
  out += content_length;
  out += '\n';
  for (std::string_view name : {"Content-MD5", "Content-Type", "Date", "If-Modified-Since",
                                "If-Match", "If-None-Match", "If-Unmodified-Since", "Range"}) {
    out += header(headers, name);
    out += '\n';
  }
  out += canonicalized_headers(headers);
  out += canonicalized_resource(request, account);
  return out;
}

std::string sign(std::string_view key, std::string_view text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &mac_length);
  return base64(mac, mac_length);
}

std::string shared_key_authorization(const RequestToSign& request, std::string_view account,
                                     std::string_view key) {
  std::string out = "SharedKey ";
  out += account;
  out += ':';
  out += sign(key, string_to_sign(request, account));
  return out;
}

std::string percent_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string http_date_now() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[64];
  // strftime's %a and %b follow the C locale, which the process never changes.
  std::size_t length = std::strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(text, length);
}

}  // namespace berth::storage::azure
