#include "support/http_client.h"
#include "support/secret_record.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace berth::testing {
namespace {

size_t collect_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t collect_header(char* data, size_t size, size_t count, void* user) {
  std::string_view line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    static_cast<std::map<std::string, std::string>*>(user)->insert_or_assign(name,
                                                                             std::string(value));
  }
  return size * count;
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  std::string key(name);
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = headers.find(key);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(std::string base_url)
    : base_url_(std::move(base_url)), curl_(curl_easy_init()) {
  if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

namespace {

// For the no-secrets-in-logs check: the credentials sent, and the secrets answered.
void note_secrets(const std::vector<std::string>& headers,
                  const std::vector<std::string>& default_headers, const std::string& body) {
  if (test_artifacts_dir().empty()) return;
  for (const auto* list : {&headers, &default_headers}) {
    for (const auto& header : *list) {
      constexpr std::string_view kAuthorization = "Authorization: ";
      if (header.starts_with(kAuthorization)) {
        record_secrets_of_authorization(std::string_view(header).substr(kAuthorization.size()));
      }
    }
  }
  record_secrets_of_json(body);
}

}  // namespace

HttpResponse HttpClient::request(std::string_view method, std::string_view target,
                                 std::string_view body, const std::vector<std::string>& headers) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  std::string url = target.starts_with("http") ? std::string(target) : base_url_ + std::string(target);
  std::string method_text(method);
  HttpResponse response;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (method == "PUT" || method == "POST" || method == "PATCH" || !body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  struct curl_slist* list = nullptr;
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip unless a test asks
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  // Default headers (credentials) go along unless the request names the same header itself.
  auto name_of = [](std::string_view header) {
    std::string name(header.substr(0, header.find(':')));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  };
  for (const auto& h : default_headers_) {
    bool overridden = std::any_of(headers.begin(), headers.end(),
                                  [&](const std::string& given) { return name_of(given) == name_of(h); });
    if (!overridden) list = curl_slist_append(list, h.c_str());
  }
  if (std::none_of(headers.begin(), headers.end(),
                   [](const std::string& h) { return h.starts_with("Content-Type"); })) {
    list = curl_slist_append(list, "Content-Type:");
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    throw std::runtime_error(std::string("HTTP request failed: ") + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  note_secrets(headers, default_headers_, response.body);
  return response;
}

}  // namespace berth::testing
