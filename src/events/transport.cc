#include "events/transport.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

namespace berth::events {
namespace {

struct Exchange {
  const DestinationPolicy* policy = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  DeliveryResponse response;
  std::optional<std::string> refused;
};

std::size_t collect_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  std::size_t bytes = size * count;
  std::string& excerpt = exchange->response.excerpt;
  if (excerpt.size() < CurlTransport::kMaxExcerpt) {
    excerpt.append(data, std::min(bytes, CurlTransport::kMaxExcerpt - excerpt.size()));
  }
  return bytes;  // the rest is read and dropped: the receiver sees a complete exchange
}

std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  std::string_view line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string_view::npos && exchange->response.headers.size() < 64) {
    auto trim = [](std::string_view text) {
      while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
      while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ')) {
        text.remove_suffix(1);
      }
      return std::string(text);
    };
    exchange->response.headers.emplace_back(trim(line.substr(0, colon)),
                                            trim(line.substr(colon + 1)));
  }
  return size * count;
}

// Called by curl for every address it is about to connect to: the destination check happens
// on the resolved address, so DNS cannot route a delivery around it.
curl_socket_t open_checked_socket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* exchange = static_cast<Exchange*>(user);
  if (auto refused = client::refuse_socket_address(&address->addr, *exchange->policy)) {
    exchange->refused = *refused;
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

int check_cancel(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* exchange = static_cast<Exchange*>(user);
  return exchange->cancel->load() ? 1 : 0;
}

}  // namespace

DeliveryResponse CurlTransport::post(const Delivery& delivery, const std::atomic<bool>& cancel) {
  Exchange exchange;
  exchange.policy = &policy_;
  exchange.cancel = &cancel;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    exchange.response.error = "out of memory";
    return exchange.response;
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : delivery.headers) {
    std::string line = name + ": " + value;
    list = curl_slist_append(list, line.c_str());
  }
  // No "Expect: 100-continue": receivers answer the whole POST at once.
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(list, curl_slist_free_all);

  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, delivery.uri.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_PROXY, "");  // never a proxy from the environment
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(delivery.timeout.count()));
  curl_easy_setopt(handle, CURLOPT_POST, 1L);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, delivery.body.data());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(delivery.body.size()));
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
  curl_easy_setopt(handle, CURLOPT_OPENSOCKETDATA, &exchange);
  curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, check_cancel);
  curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &exchange);
  curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);

  auto started = std::chrono::steady_clock::now();
  CURLcode rc = curl_easy_perform(handle);
  exchange.response.latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) {
    exchange.response.status = 0;
    if (exchange.refused) {
      exchange.response.error = "destination refused: " + *exchange.refused;
    } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
      exchange.response.error = "stopped: berthd is shutting down";
    } else {
      exchange.response.error = curl_easy_strerror(rc);
    }
    return exchange.response;
  }
  exchange.response.status = static_cast<int>(status);
  return exchange.response;
}

}  // namespace berth::events
