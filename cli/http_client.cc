#include "cli/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>

namespace berth::cli {
namespace {

struct Sink {
  std::string* body;
  std::size_t limit;
  bool overflow = false;
};

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::size_t bytes = size * count;
  if (sink->body->size() + bytes > sink->limit) {
    sink->overflow = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  sink->body->append(data, bytes);
  return bytes;
}

// Collects the response's header lines. A new status line (after a "100 Continue", or a
// response the server sent before the final one) starts the list again.
std::size_t write_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  std::size_t bytes = size * count;
  std::string_view line(data, bytes);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    headers->clear();
    return bytes;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return bytes;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  headers->emplace_back(std::string(line.substr(0, colon)), std::string(value));
  return bytes;
}

// An upload's body, read from its file as libcurl sends it.
struct FileSource {
  std::FILE* file = nullptr;
  bool failed = false;
  ~FileSource() {
    if (file != nullptr) std::fclose(file);
  }
};

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* source = static_cast<FileSource*>(user);
  std::size_t read = std::fread(buffer, 1, size * count, source->file);
  if (read == 0 && std::ferror(source->file)) {
    source->failed = true;
    return CURL_READFUNC_ABORT;
  }
  return read;
}

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
};

// "host:port" of an absolute URL.
std::string authority_of(std::string_view url) {
  auto start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  auto end = url.find_first_of("/?#", start);
  return std::string(
      url.substr(start, end == std::string_view::npos ? url.size() - start : end - start));
}

// The reason at the end of an OpenSSL error ("wrong version number" in
// "OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number"), without the codes.
std::string tls_reason(std::string_view detail) {
  auto at = detail.rfind("::");
  return std::string(at == std::string_view::npos ? detail : detail.substr(at + 2));
}

// One line for a request that got no HTTP answer. The common mistake of a scheme that does not
// match the port (https:// to a plain-HTTP port or the reverse) is named as such instead of
// the TLS library's error.
std::string no_answer_message(CURLcode code, std::string detail, std::string_view url) {
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
  const std::string authority = authority_of(url);
  if (code == CURLE_SSL_CONNECT_ERROR && url.starts_with("https://")) {
    std::string reason = tls_reason(detail);
    if (reason == "wrong version number") {
      return fmt::format(
          "cannot reach the server: {} does not speak TLS (a plain HTTP port?); use http://{}",
          authority, authority);
    }
    return fmt::format("cannot reach the server: the TLS handshake with {} failed: {}", authority,
                       reason);
  }
  // A TLS server closes the connection on a plain request, or answers with an alert record,
  // which libcurl reads as an HTTP/0.9 answer it does not allow.
  bool no_http_answer = code == CURLE_GOT_NOTHING || code == CURLE_WEIRD_SERVER_REPLY ||
                        code == CURLE_UNSUPPORTED_PROTOCOL;
  if (no_http_answer && url.starts_with("http://")) {
    return fmt::format(
        "cannot reach the server: {} sent no HTTP answer (a TLS port?); use https://{}", authority,
        authority);
  }
  return fmt::format("cannot reach the server: {}", detail);
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (same_name(key, name)) return value;
  }
  return std::nullopt;
}

CurlTransport::CurlTransport(CurlOptions options)
    : options_(std::move(options)), curl_(curl_easy_init()) {}

CurlTransport::~CurlTransport() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

Result<HttpResponse> CurlTransport::send(const HttpRequest& request) {
  auto* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return failure("cannot initialise libcurl");
  curl_easy_reset(curl);

  HttpResponse response;
  Sink sink{&response.body, options_.max_response_bytes};
  HeaderList headers;
  for (const auto& header : request.headers) {
    curl_slist* grown = curl_slist_append(headers.list, header.c_str());
    if (grown == nullptr) return failure("out of memory building the request");
    headers.list = grown;
  }
  char error_text[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, options_.timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, write_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  FileSource upload;
  if (!request.body_file.empty()) {
    std::error_code ec;
    auto size = std::filesystem::file_size(request.body_file, ec);
    upload.file = ec ? nullptr : std::fopen(request.body_file.c_str(), "rb");
    if (upload.file == nullptr) {
      return failure(fmt::format("cannot read {}: {}", request.body_file,
                                 ec ? ec.message() : std::strerror(errno)));
    }
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    // As long as the upload moves: no deadline for the whole, a floor for its speed.
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 0L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.stalled_seconds);
  } else if (!request.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }

  CURLcode code = curl_easy_perform(curl);
  if (upload.failed) return failure(fmt::format("cannot read {}", request.body_file));
  if (sink.overflow) {
    return failure(fmt::format("the answer from {} is larger than {} bytes", request.url,
                               options_.max_response_bytes));
  }
  if (code != CURLE_OK) {
    return failure(no_answer_message(
        code, error_text[0] != '\0' ? error_text : curl_easy_strerror(code), request.url));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace berth::cli
