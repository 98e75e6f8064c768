#include "storage/azure/blob_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "storage/azure/sas.h"
#include "storage/azure/shared_key.h"
#include "storage/azure/xml_reader.h"

namespace berth::storage::azure {
namespace {

using Clock = std::chrono::steady_clock;

// --- names and URLs ---

// Azure's container name rule: 3-63 of [a-z0-9-], starting and ending with a letter or digit,
// no "--".
bool valid_container_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  if (name.front() == '-' || name.back() == '-' || name.find("--") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-';
  });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// "Fri, 26 Jun 2015 23:39:12 GMT" -> Unix seconds; 0 when it does not parse.
std::int64_t parse_http_date(std::string_view text) {
  std::string copy(text);
  std::tm tm{};
  const char* end = ::strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return 0;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  text = trim(text);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// --- one HTTP exchange ---

struct Request {
  std::string_view operation;  // "Put Block", for messages
  std::string_view method;     // "GET", "PUT", "HEAD", "DELETE"
  std::string_view blob;       // empty: the container itself
  HeaderList query;
  HeaderList headers;
  std::span<const std::byte> body;
  std::span<const std::byte> body_tail;  // sent after `body`
  // A non-2xx status the operation handles itself (416 for a range past the end): returned as
  // an answer, not an error.
  long also_accept = 0;
};

// Where a successful answer's body goes, as it arrives. begin() runs before every attempt, so
// that a retry starts over.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void begin() {}
  // false stops the transfer; error() says why.
  virtual bool write(std::string_view data) = 0;
  virtual bool end() { return true; }
  std::string error;
};

struct Response {
  long status = 0;
  HeaderList headers;  // names lower-cased
  bool retried = false;

  std::string_view header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return {};
  }
};

struct Exchange {
  const Request* request = nullptr;
  Sink* sink = nullptr;
  Response response;
  std::size_t body_offset = 0;  // of the request body, for the read callback
  bool sink_failed = false;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new status line (after a 100 Continue, say): the headers so far were not the answer's.
    exchange->response.headers.clear();
    const auto space = line.find(' ');
    if (space != std::string_view::npos) {
      exchange->response.status =
          static_cast<long>(parse_u64(line.substr(space + 1, 3)).value_or(0));
    }
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos && exchange->response.headers.size() < 128) {
    exchange->response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                            std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  // An error answer's body (Azure's XML message) is not the caller's: the error code comes
  // from the x-ms-error-code header.
  const long status = exchange->response.status;
  if (status < 200 || status >= 300 || exchange->sink == nullptr) return bytes;
  if (!exchange->sink->write(std::string_view(data, bytes))) {
    exchange->sink_failed = true;
    return CURL_WRITEFUNC_ERROR;
  }
  return bytes;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const auto head = exchange->request->body;
  const auto tail = exchange->request->body_tail;
  std::size_t room = size * count;
  std::size_t copied = 0;
  while (room > 0 && exchange->body_offset < head.size() + tail.size()) {
    const bool in_head = exchange->body_offset < head.size();
    const auto part = in_head ? head.subspan(exchange->body_offset)
                              : tail.subspan(exchange->body_offset - head.size());
    const std::size_t n = std::min(room, part.size());
    std::memcpy(buffer + copied, part.data(), n);
    copied += n;
    room -= n;
    exchange->body_offset += n;
  }
  return copied;
}

bool retryable_status(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

bool retryable_transport_error(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// Collects the body of a small answer (Get Block List, List Blobs) into an XML reader.
class XmlSink final : public Sink {
 public:
  explicit XmlSink(XmlReader::OnElement on_element, std::function<void()> reset)
      : on_element_(std::move(on_element)), reset_(std::move(reset)) {}
  void begin() override {
    reset_();
    reader_ = std::make_unique<XmlReader>(on_element_);
  }
  bool write(std::string_view data) override {
    if (reader_->feed(data)) return true;
    error = "malformed XML in the answer: " + reader_->error();
    return false;
  }
  bool end() override {
    if (reader_->finish()) return true;
    error = "malformed XML in the answer: " + reader_->error();
    return false;
  }

 private:
  XmlReader::OnElement on_element_;
  std::function<void()> reset_;
  std::unique_ptr<XmlReader> reader_;
};

// Writes a ranged download into the caller's buffer.
class BufferSink final : public Sink {
 public:
  explicit BufferSink(std::span<std::byte> out) : out_(out) {}
  void begin() override { written_ = 0; }
  bool write(std::string_view data) override {
    if (data.size() > out_.size() - written_) {
      error = "the service sent more bytes than the range asked for";
      return false;
    }
    std::memcpy(out_.data() + written_, data.data(), data.size());
    written_ += data.size();
    return true;
  }
  std::size_t written() const { return written_; }

 private:
  std::span<std::byte> out_;
  std::size_t written_ = 0;
};

}  // namespace

struct BlobClient::Impl {
  ConnectionString account;
  std::string container;
  ClientOptions options;
  std::string endpoint;       // "http://127.0.0.1:10000/devstoreaccount1", no trailing '/'
  std::string endpoint_path;  // "/devstoreaccount1", or "" for a host-style endpoint
  bool plain_http = false;    // the endpoint is http:// (Azurite), not https://

  std::mutex pool_mutex;
  std::vector<CURL*> idle;  // reused handles keep their connections alive

  ~Impl() {
    for (CURL* handle : idle) curl_easy_cleanup(handle);
  }

  CURL* acquire() {
    {
      std::lock_guard lock(pool_mutex);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }

  void release(CURL* handle) {
    curl_easy_reset(handle);  // keeps the connection cache
    std::lock_guard lock(pool_mutex);
    idle.push_back(handle);
  }

  // "/devstoreaccount1/container/blob name encoded".
  std::string encoded_path(std::string_view blob) const {
    std::string path = endpoint_path;
    path += '/';
    path += container;
    if (!blob.empty()) {
      path += '/';
      path += percent_encode(blob, true);
    }
    return path;
  }

  std::string url_of(std::string_view blob) const {
    std::string url = endpoint.substr(0, endpoint.size() - endpoint_path.size());
    url += encoded_path(blob);
    return url;
  }

  std::string what(const Request& request) const {
    std::string text = "Azure Blob Storage: ";
    text += request.operation;
    text += " of ";
    text += container;
    if (!request.blob.empty()) {
      text += '/';
      text += request.blob;
    }
    return text;
  }

  ClientError http_error(const Request& request, const Response& response, int attempts) const {
    const std::string_view code = response.header("x-ms-error-code");
    std::string message = what(request);
    message += " failed: HTTP ";
    message += std::to_string(response.status);
    if (!code.empty()) {
      message += " (";
      message += code;
      message += ')';
    }
    if (attempts > 1) {
      message += " after ";
      message += std::to_string(attempts);
      message += " attempts";
    }
    ClientErrc errc = ClientErrc::io_error;
    if (response.status == 404) {
      errc = ClientErrc::not_found;
    } else if ((response.status == 409 || response.status == 412) && code.starts_with("Lease")) {
      errc = ClientErrc::lease_conflict;
    } else if (response.status == 409) {
      if (code == "BlobAlreadyExists" || code == "ContainerAlreadyExists") {
        errc = ClientErrc::already_exists;
      } else if (code == "ContentLengthLargerThanTierLimit") {
        errc = ClientErrc::storage_full;
      } else {
        errc = ClientErrc::conflict;
      }
    } else if (response.status == 412) {
      errc = ClientErrc::condition_not_met;
    } else if (response.status == 507) {
      errc = ClientErrc::storage_full;
    }
    return ClientError{errc, std::move(message), std::string(request.blob)};
  }

  std::chrono::milliseconds backoff(int attempt) const {
    static thread_local std::mt19937 random{std::random_device{}()};
    auto delay = options.first_backoff * (1LL << std::min(attempt - 1, 20));
    delay = std::min<std::chrono::milliseconds>(delay, options.max_backoff);
    // Full delay at most, half at least: spreads the retries of many nodes hit at once.
    std::uniform_int_distribution<long long> spread(delay.count() / 2, delay.count());
    return std::chrono::milliseconds(spread(random));
  }

  // Sends `request` (signed anew for every attempt), retrying as the top of blob_client.h says.
  // A 2xx answer is returned; anything else becomes a ClientError.
  ClientResult<Response> perform(Request request, Sink* sink) {
    request.headers.emplace_back("x-ms-version", std::string(kApiVersion));
    const std::size_t date_index = request.headers.size();
    request.headers.emplace_back("x-ms-date", std::string());
    const std::size_t body_size = request.body.size() + request.body_tail.size();
    if (body_size > 0 || request.method == "PUT") {
      request.headers.emplace_back("Content-Length", std::to_string(body_size));
    }
    const std::string path = encoded_path(request.blob);
    std::string url = url_of(request.blob);
    for (std::size_t i = 0; i < request.query.size(); ++i) {
      url += i == 0 ? '?' : '&';
      url += percent_encode(request.query[i].first, false);
      url += '=';
      url += percent_encode(request.query[i].second, false);
    }

    std::string last_failure;
    for (int attempt = 1;; ++attempt) {
      request.headers[date_index].second = http_date_now();
      Exchange exchange;
      exchange.request = &request;
      exchange.sink = sink;
      exchange.response.retried = attempt > 1;
      if (sink != nullptr) sink->begin();

      CURL* handle = acquire();
      if (handle == nullptr) {
        return ClientError{ClientErrc::io_error, what(request) + " failed: out of memory"};
      }
      const CURLcode rc = send(handle, request, path, url, exchange);
      release(handle);

      if (exchange.sink_failed) {
        return ClientError{ClientErrc::io_error, what(request) + " failed: " + sink->error};
      }
      const bool last = attempt >= options.max_attempts;
      if (rc != CURLE_OK) {
        last_failure = curl_easy_strerror(rc);
        if (retryable_transport_error(rc) && !last) {
          std::this_thread::sleep_for(backoff(attempt));
          continue;
        }
        std::string message = what(request);
        message += " failed: ";
        message += last_failure;
        if (attempt > 1) {
          message += " after ";
          message += std::to_string(attempt);
          message += " attempts";
        }
        return ClientError{ClientErrc::io_error, std::move(message), std::string(request.blob)};
      }
      if (retryable_status(exchange.response.status) && !last) {
        std::this_thread::sleep_for(backoff(attempt));
        continue;
      }
      if (request.also_accept != 0 && exchange.response.status == request.also_accept) {
        return std::move(exchange.response);
      }
      if (exchange.response.status < 200 || exchange.response.status >= 300) {
        return http_error(request, exchange.response, attempt);
      }
      if (sink != nullptr && !sink->end()) {
        return ClientError{ClientErrc::io_error, what(request) + " failed: " + sink->error};
      }
      return std::move(exchange.response);
    }
  }

  CURLcode send(CURL* handle, const Request& request, const std::string& path,
                const std::string& url, Exchange& exchange) {
    RequestToSign to_sign{.method = request.method,
                          .encoded_path = path,
                          .query = &request.query,
                          .headers = &request.headers};
    curl_slist* list = nullptr;
    for (const auto& [name, value] : request.headers) {
      if (name == "Content-Length") continue;  // curl sends it from CURLOPT_INFILESIZE_LARGE
      std::string line = name;
      line += ": ";
      line += value;
      list = curl_slist_append(list, line.c_str());
    }
    std::string authorization = "Authorization: ";
    authorization += shared_key_authorization(to_sign, account.account_name, account.account_key);
    list = curl_slist_append(list, authorization.c_str());
    // No "Expect: 100-continue" (curl's default for large PUTs): one round trip less per block.
    list = curl_slist_append(list, "Expect:");
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(list, curl_slist_free_all);

    curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(options.stall_timeout.count() / 1000)));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &exchange);
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &exchange);
    if (request.method == "HEAD") {
      curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
    } else if (request.method == "PUT") {
      curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(handle, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(handle, CURLOPT_READDATA, &exchange);
      curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size() + request.body_tail.size()));
    }
    const std::string method(request.method);
    if (request.method == "DELETE") curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
    return curl_easy_perform(handle);
  }
};

// --- the operations ---

BlobClient::BlobClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BlobClient::~BlobClient() = default;

ClientResult<std::unique_ptr<BlobClient>> BlobClient::make(ConnectionString account,
                                                           std::string container,
                                                           ClientOptions options) {
  if (!valid_container_name(container)) {
    return ClientError{ClientErrc::invalid_argument,
                       "Azure container name must be 3 to 63 lower-case letters, digits and "
                       "single hyphens, starting and ending with a letter or digit"};
  }
  auto url = boost::urls::parse_uri(account.blob_endpoint);
  if (!url) {
    return ClientError{ClientErrc::invalid_argument, "the Azure blob endpoint is not a URL"};
  }
  auto impl = std::make_unique<Impl>();
  impl->endpoint_path = std::string(url->encoded_path());
  while (!impl->endpoint_path.empty() && impl->endpoint_path.back() == '/') {
    impl->endpoint_path.pop_back();
  }
  impl->plain_http = url->scheme_id() == boost::urls::scheme::http;
  impl->endpoint = account.blob_endpoint;
  impl->account = std::move(account);
  impl->container = std::move(container);
  impl->options = options;
  impl->options.max_attempts = std::max(1, impl->options.max_attempts);
  return std::unique_ptr<BlobClient>(new BlobClient(std::move(impl)));
}

const std::string& BlobClient::container() const { return impl_->container; }

std::string BlobClient::describe() const {
  std::string text = impl_->account.describe();
  text += " container ";
  text += impl_->container;
  return text;
}

std::string BlobClient::signed_read_url(std::string_view name,
                                        std::chrono::system_clock::time_point start,
                                        std::chrono::system_clock::time_point expiry) const {
  const std::string start_text = sas_time(start);
  const std::string expiry_text = sas_time(expiry);
  const BlobSas sas{.account = impl_->account.account_name,
                    .container = impl_->container,
                    .blob = name,
                    .permissions = "r",
                    .start = start_text,
                    .expiry = expiry_text,
                    // A SAS limited to https would be refused by an http-only endpoint.
                    .protocol = impl_->plain_http ? "https,http" : "https",
                    .version = kApiVersion};
  std::string url = impl_->url_of(name);
  url += '?';
  url += sas_token(sas, impl_->account.account_key);
  return url;
}

ClientResult<void> BlobClient::create_container() {
  Request request{
      .operation = "Create Container", .method = "PUT", .query = {{"restype", "container"}}};
  auto response = impl_->perform(std::move(request), nullptr);
  if (!response && response.error().code != ClientErrc::already_exists) return response.error();
  return {};
}

ClientResult<void> BlobClient::delete_container() {
  Request request{
      .operation = "Delete Container", .method = "DELETE", .query = {{"restype", "container"}}};
  auto response = impl_->perform(std::move(request), nullptr);
  if (!response) return response.error();
  return {};
}

namespace {

void add_condition(HeaderList& headers, const Condition& condition) {
  if (condition.if_match) headers.emplace_back("If-Match", *condition.if_match);
  if (condition.if_none_match_any) headers.emplace_back("If-None-Match", "*");
  if (condition.lease_id) headers.emplace_back("x-ms-lease-id", *condition.lease_id);
}

// "bytes 0-9/1000" -> 1000.
std::uint64_t total_of_content_range(std::string_view range) {
  const auto slash = range.rfind('/');
  if (slash == std::string_view::npos) return 0;
  return parse_u64(range.substr(slash + 1)).value_or(0);
}

ClientError refuse(std::string message) {
  return ClientError{ClientErrc::invalid_argument, std::move(message)};
}

bool valid_blob_name(std::string_view name) { return !name.empty() && name.size() <= 1024; }

}  // namespace

ClientResult<std::string> BlobClient::put_blob(
    std::string_view name, std::span<const std::byte> bytes, const Condition& condition,
    const std::vector<std::pair<std::string, std::string>>& metadata) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  Request request{.operation = "Put Blob", .method = "PUT", .blob = name, .body = bytes};
  request.headers.emplace_back("x-ms-blob-type", "BlockBlob");
  for (const auto& [key, value] : metadata) request.headers.emplace_back("x-ms-meta-" + key, value);
  add_condition(request.headers, condition);
  auto response = impl_->perform(std::move(request), nullptr);
  if (!response) return response.error();
  return std::string(response->header("etag"));
}

ClientResult<void> BlobClient::put_block(std::string_view name, std::string_view block_id,
                                         std::span<const std::byte> head,
                                         std::span<const std::byte> tail,
                                         const Condition& condition) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  Request request{.operation = "Put Block",
                  .method = "PUT",
                  .blob = name,
                  .query = {{"comp", "block"}, {"blockid", std::string(block_id)}},
                  .body = head,
                  .body_tail = tail};
  add_condition(request.headers, condition);
  auto response = impl_->perform(std::move(request), nullptr);
  if (!response) return response.error();
  return {};
}

ClientResult<std::string> BlobClient::put_block_list(std::string_view name,
                                                     const std::vector<BlockListEntry>& blocks,
                                                     const Condition& condition) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  // The list itself (some 40 bytes per block, at most 50,000 blocks) is small enough to build.
  std::string body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const BlockListEntry& block : blocks) {
    const char* tag = block.committed ? "Committed" : "Uncommitted";
    body += '<';
    body += tag;
    body += '>';
    body += block.id;  // base64: nothing to escape
    body += "</";
    body += tag;
    body += '>';
  }
  body += "</BlockList>";
  Request request{.operation = "Put Block List",
                  .method = "PUT",
                  .blob = name,
                  .query = {{"comp", "blocklist"}},
                  .body = std::as_bytes(std::span(body))};
  request.headers.emplace_back("Content-Type", "application/xml");
  add_condition(request.headers, condition);
  auto response = impl_->perform(std::move(request), nullptr);
  if (!response) return response.error();
  return std::string(response->header("etag"));
}

ClientResult<BlockList> BlobClient::get_block_list(std::string_view name) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  BlockList list;
  bool bad_size = false;
  XmlSink sink(
      [&](std::string_view path, std::string_view text) {
        if (path == "BlockList/CommittedBlocks/Block/Name") {
          list.committed.push_back(Block{std::string(text), 0});
        } else if (path == "BlockList/CommittedBlocks/Block/Size" && !list.committed.empty()) {
          auto size = parse_u64(text);
          if (!size) bad_size = true;
          list.committed.back().size = size.value_or(0);
        }
      },
      [&] {
        list.committed.clear();
        bad_size = false;
      });
  Request request{.operation = "Get Block List",
                  .method = "GET",
                  .blob = name,
                  .query = {{"comp", "blocklist"}, {"blocklisttype", "committed"}}};
  auto response = impl_->perform(std::move(request), &sink);
  if (!response) return response.error();
  if (bad_size) {
    return ClientError{ClientErrc::io_error, "Azure Blob Storage: Get Block List of " +
                                                 impl_->container + "/" + std::string(name) +
                                                 " failed: a block size is not a number"};
  }
  list.etag = response->header("etag");
  for (const Block& block : list.committed) list.size += block.size;
  return list;
}

ClientResult<RangeRead> BlobClient::get_range(std::string_view name, std::uint64_t offset,
                                              std::span<std::byte> out,
                                              const std::optional<std::string>& if_match) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  if (out.empty()) return refuse("a ranged read needs room for at least one byte");
  std::string range = "bytes=";
  range += std::to_string(offset);
  range += '-';
  range += std::to_string(offset + out.size() - 1);
  // 416: the range starts at or past the end (also every range of an empty blob).
  Request request{.operation = "Get Blob", .method = "GET", .blob = name, .also_accept = 416};
  request.headers.emplace_back("x-ms-range", std::move(range));
  if (if_match) request.headers.emplace_back("If-Match", *if_match);
  BufferSink sink(out);
  auto response = impl_->perform(std::move(request), &sink);
  if (!response) return response.error();
  RangeRead read;
  read.etag = response->header("etag");
  read.copy_status = response->header("x-ms-copy-status");
  if (response->status == 416) return read;
  read.count = sink.written();
  read.blob_size = response->status == 206
                       ? total_of_content_range(response->header("content-range"))
                       : parse_u64(response->header("content-length")).value_or(0);
  return read;
}

ClientResult<BlobProperties> BlobClient::get_properties(
    std::string_view name, const std::vector<std::string>& metadata_names) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  Request request{.operation = "Get Blob Properties", .method = "HEAD", .blob = name};
  auto response = impl_->perform(std::move(request), nullptr);
  if (!response) return response.error();
  BlobProperties properties;
  properties.size = parse_u64(response->header("content-length")).value_or(0);
  properties.etag = response->header("etag");
  properties.last_modified = parse_http_date(response->header("last-modified"));
  properties.copy_status = response->header("x-ms-copy-status");
  for (const std::string& wanted : metadata_names) {
    std::string header = "x-ms-meta-";
    header += lower(wanted);
    if (auto value = response->header(header); !value.empty()) {
      properties.metadata.emplace_back(wanted, std::string(value));
    }
  }
  return properties;
}

ClientResult<BlobClient::Deleted> BlobClient::delete_blob(std::string_view name,
                                                          const Condition& condition) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  Request request{.operation = "Delete Blob", .method = "DELETE", .blob = name};
  add_condition(request.headers, condition);
  auto response = impl_->perform(std::move(request), nullptr);
  if (!response) return response.error();
  return Deleted{response->retried};
}

namespace {

Request lease_request(std::string_view operation, std::string_view name, std::string_view action,
                      std::string_view lease_id) {
  Request request{
      .operation = operation, .method = "PUT", .blob = name, .query = {{"comp", "lease"}}};
  request.headers.emplace_back("x-ms-lease-action", std::string(action));
  request.headers.emplace_back(action == "acquire" ? "x-ms-proposed-lease-id" : "x-ms-lease-id",
                               std::string(lease_id));
  return request;
}

}  // namespace

ClientResult<void> BlobClient::acquire_lease(std::string_view name, std::string_view lease_id,
                                             int seconds) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  Request request = lease_request("Acquire Lease", name, "acquire", lease_id);
  request.headers.emplace_back("x-ms-lease-duration", std::to_string(seconds));
  auto response = impl_->perform(std::move(request), nullptr);
  if (!response) return response.error();
  return {};
}

ClientResult<void> BlobClient::renew_lease(std::string_view name, std::string_view lease_id) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  auto response = impl_->perform(lease_request("Renew Lease", name, "renew", lease_id), nullptr);
  if (!response) return response.error();
  return {};
}

ClientResult<void> BlobClient::release_lease(std::string_view name, std::string_view lease_id) {
  if (!valid_blob_name(name)) return refuse("Azure blob names are 1 to 1024 characters");
  auto response =
      impl_->perform(lease_request("Release Lease", name, "release", lease_id), nullptr);
  if (!response) return response.error();
  return {};
}

ClientResult<BlobPage> BlobClient::list_blobs(std::string_view prefix, std::string_view marker,
                                              std::size_t max_results) {
  if (max_results == 0 || max_results > 5000) {
    return refuse("Azure listings take 1 to 5000 results per page");
  }
  BlobPage page;
  bool bad_value = false;
  XmlSink sink(
      [&](std::string_view path, std::string_view text) {
        constexpr std::string_view kBlob = "EnumerationResults/Blobs/Blob/";
        if (path == "EnumerationResults/NextMarker") {
          page.next_marker = text;
        } else if (path.starts_with(kBlob)) {
          const std::string_view field = path.substr(kBlob.size());
          if (field == "Name") {
            page.blobs.push_back(ListedBlob{.name = std::string(text)});
          } else if (page.blobs.empty()) {
            return;  // properties before a name: not the documented shape; ignored
          } else if (field == "Properties/Content-Length") {
            auto size = parse_u64(text);
            if (!size) bad_value = true;
            page.blobs.back().size = size.value_or(0);
          } else if (field == "Properties/Last-Modified") {
            page.blobs.back().last_modified = parse_http_date(text);
          } else if (field == "Properties/CopyStatus") {
            page.blobs.back().copy_status = text;
          }
        }
      },
      [&] {
        page = BlobPage{};
        bad_value = false;
      });
  Request request{.operation = "List Blobs",
                  .method = "GET",
                  .query = {{"restype", "container"},
                            {"comp", "list"},
                            {"include", "copy"},
                            {"maxresults", std::to_string(max_results)}}};
  if (!prefix.empty()) request.query.emplace_back("prefix", std::string(prefix));
  if (!marker.empty()) request.query.emplace_back("marker", std::string(marker));
  auto response = impl_->perform(std::move(request), &sink);
  if (!response) return response.error();
  if (bad_value) {
    return ClientError{ClientErrc::io_error, "Azure Blob Storage: List Blobs of " +
                                                 impl_->container +
                                                 " failed: a blob size is not a number"};
  }
  return page;
}

ClientResult<BlobProperties> BlobClient::copy_blob(std::string_view source,
                                                   std::string_view destination,
                                                   const Condition& condition) {
  if (!valid_blob_name(source) || !valid_blob_name(destination)) {
    return refuse("Azure blob names are 1 to 1024 characters");
  }
  Request request{.operation = "Copy Blob", .method = "PUT", .blob = destination};
  // Same account: the request's own SharedKey authorizes reading the source.
  request.headers.emplace_back("x-ms-copy-source", impl_->url_of(source));
  add_condition(request.headers, condition);
  auto response = impl_->perform(std::move(request), nullptr);
  if (!response) return response.error();

  // Within one account the copy is usually done when the answer comes ("success"); otherwise
  // it runs in the service and the destination's properties say when it ends.
  const auto deadline = Clock::now() + impl_->options.copy_timeout;
  std::string status(response->header("x-ms-copy-status"));
  auto pause = std::chrono::milliseconds(50);
  for (;;) {
    auto properties = get_properties(destination);
    if (!properties) return properties.error();
    status = properties->copy_status;
    if (status == "success" || status.empty()) return properties;
    if (status != "pending") {
      std::string message = "Azure Blob Storage: Copy Blob of ";
      message += impl_->container;
      message += '/';
      message += source;
      message += " to ";
      message += destination;
      message += " ended ";
      message += status;
      return ClientError{ClientErrc::io_error, std::move(message), std::string(destination)};
    }
    if (Clock::now() >= deadline) {
      std::string message = "Azure Blob Storage: Copy Blob to ";
      message += impl_->container;
      message += '/';
      message += destination;
      message += " still pending after the copy timeout";
      return ClientError{ClientErrc::io_error, std::move(message), std::string(destination)};
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(2));
  }
}

}  // namespace berth::storage::azure
