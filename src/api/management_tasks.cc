// The runs part of /mgmt/v1: a registry's build sources and runs (quick builds, quick runs,
// task files) with their logs, over tasks::TaskService. The contract is
// docs/management-api.md ("Runs and sources"); the wire shapes are management_tasks_json.h.

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "api/management.h"
#include "api/management_json.h"
#include "api/management_tasks_json.h"
#include "oci/digest.h"
#include "tasks/run_request.h"
#include "tasks/task_service.h"

namespace berth::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using tasks::TaskErrc;
using tasks::TaskError;

using namespace mgmt_json;

constexpr std::size_t kDefaultRunsPerPage = 20;
constexpr std::size_t kMaxRunsPerPage = 100;
// A followed log answers once it has bytes, once the run has ended, or after this long (empty:
// the client asks again), checking this often. Long enough to spare the client a request a
// second, short enough for proxies' idle timeouts.
constexpr auto kFollowWait = std::chrono::seconds(20);
constexpr auto kFollowPoll = std::chrono::milliseconds(250);
// An uploaded source goes from the socket to the task service in pieces of at most this much.
constexpr std::size_t kSourceChunkBytes = 256 * 1024;
// How long the task service's thread waits for one piece of an upload: longer than the server
// waits for a client that stopped sending, so in practice the body's own timeout answers first.
constexpr auto kSourceChunkWait = std::chrono::minutes(5);

constexpr std::string_view kLogNextOffsetHeader = "X-Berth-Log-Next-Offset";
constexpr std::string_view kRunStatusHeader = "X-Berth-Run-Status";

Response error_of(const TaskError& error) {
  switch (error.code) {
    case TaskErrc::invalid_argument:
      return domain_error(400, mgmt::code::kInvalidRequest, error.message, error.target);
    case TaskErrc::registry_not_found:
      return domain_error(404, mgmt::code::kRegistryNotFound, error.message, error.target);
    case TaskErrc::not_found:
      return domain_error(404, mgmt::code::kNotFound, error.message, error.target);
    case TaskErrc::digest_mismatch:
      return domain_error(400, mgmt::code::kDigestMismatch, error.message, error.target);
    case TaskErrc::too_large:
      return domain_error(413, mgmt::code::kPayloadTooLarge, error.message, error.target);
    case TaskErrc::storage_full: {
      // The cause (which names paths) is the operator's; the client learns a retry can work.
      Response response = management_error(
          507, mgmt::code::kStorageFull,
          "storage is full: nothing was kept; retry once space has been freed");
      response.log_detail = "management: storage full: " + error.message;
      return response;
    }
    case TaskErrc::internal:
      break;
  }
  return domain_error(500, mgmt::code::kInternalError, error.message, "");
}

Response unavailable() {
  return management_error(503, mgmt::code::kInternalError,
                          "build runs are not available in this server");
}

Response source_too_large() {
  return domain_error(413, mgmt::code::kPayloadTooLarge,
                      fmt::format("a source is at most {} bytes", tasks::kMaxSourceBytes), "");
}

// What the body of a source upload may be labelled: gzip, or bytes (no label means bytes).
bool is_source_content_type(std::optional<std::string_view> content_type) {
  if (!content_type) return true;
  std::string_view type = content_type->substr(0, content_type->find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  std::string lowered(type);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered == "application/gzip" || lowered == "application/x-gzip" ||
         lowered == "application/octet-stream";
}

// Hands the request body, piece by piece, to the task service's reader, which runs on a
// blocking-pool thread: each piece is one read_some run on the request's own executor (the
// socket is only ever touched there) while that thread waits for it. The piece is read into a
// buffer the read owns, so a read that outlives the wait writes nothing the service freed.
class BodyFeed {
 public:
  BodyFeed(http::BodyReader& body, asio::any_io_executor executor)
      : body_(body), executor_(std::move(executor)) {}

  berth::Result<std::size_t, std::string> operator()(std::span<std::byte> buffer) {
    if (failure_) return failure_->message;
    struct Piece {
      std::vector<std::byte> bytes;
      std::promise<berth::Result<std::size_t, http::HttpError>> done;
    };
    auto piece = std::make_shared<Piece>();
    piece->bytes.resize(std::min(buffer.size(), kSourceChunkBytes));
    auto read = piece->done.get_future();
    http::BodyReader& body = body_;
    asio::co_spawn(
        executor_,
        [piece, &body]() -> asio::awaitable<void> {
          piece->done.set_value(co_await body.read_some(piece->bytes));
        },
        [piece](std::exception_ptr thrown) {
          if (thrown) piece->done.set_exception(thrown);
        });
    if (read.wait_for(kSourceChunkWait) != std::future_status::ready) {
      failure_ = http::HttpError{http::Errc::timeout, "the upload stopped arriving"};
      return failure_->message;
    }
    berth::Result<std::size_t, http::HttpError> count = http::HttpError{http::Errc::closed, ""};
    try {
      count = read.get();
    } catch (const std::exception& error) {
      count = http::HttpError{http::Errc::closed, error.what()};
    }
    if (!count) {
      failure_ = count.error();
      return failure_->message;
    }
    std::memcpy(buffer.data(), piece->bytes.data(), *count);
    return *count;
  }

  // Why reading the body failed, when it did.
  const std::optional<http::HttpError>& failure() const { return failure_; }

 private:
  http::BodyReader& body_;
  asio::any_io_executor executor_;
  std::optional<http::HttpError> failure_;
};

// The answer for an upload whose body could not be read.
Response body_failure(const http::HttpError& error) {
  if (error.code == http::Errc::too_large) return source_too_large();
  return invalid_request("the body could not be read: " + error.message);
}

struct LogQuery {
  std::uint64_t offset = 0;
  bool follow = false;
  std::optional<Response> error;
};

LogQuery log_query_of(const Request& request) {
  LogQuery query;
  auto offset = parse_count(request.query_param("offset"), "offset", 0,
                            std::numeric_limits<std::size_t>::max(), 0);
  if (offset.error) {
    query.error = std::move(offset.error);
    return query;
  }
  query.offset = offset.value;
  if (auto follow = request.query_param("follow")) {
    if (*follow != "true" && *follow != "false") {
      query.error = invalid_request("'follow' must be true or false", "follow");
      return query;
    }
    query.follow = *follow == "true";
  }
  return query;
}

Response log_response(const tasks::LogRead& read) {
  Response response;
  response.status = 200;
  response.headers.set("Content-Type", "text/plain; charset=utf-8");
  response.headers.set("Cache-Control", "no-store");
  response.headers.set(std::string(kLogNextOffsetHeader), std::to_string(read.next_offset));
  response.headers.set(std::string(kRunStatusHeader),
                       std::string(task_json::status_name(read.status)));
  response.body = read.bytes;
  return response;
}

class TaskHandlers {
 public:
  explicit TaskHandlers(ManagementContext& context) : context_(context) {}

  asio::awaitable<Response> upload_source(RequestContext& context, Request& request) {
    if (context_.tasks == nullptr) co_return unavailable();
    auto digest = oci::Digest::parse(request.param("digest"));
    if (!digest || digest->algorithm() != oci::DigestAlgorithm::sha256) {
      co_return invalid_request(
          fmt::format("'{}' is not a sha256 digest (sha256:<64 lower-case hex>)",
                      request.param("digest")),
          "digest");
    }
    if (!is_source_content_type(request.header("Content-Type"))) {
      co_return management_error(
          415, mgmt::code::kInvalidRequest,
          "a source is a tar.gz: Content-Type application/gzip or application/octet-stream");
    }
    if (auto length = request.body->content_length(); length && *length > tasks::kMaxSourceBytes) {
      co_return source_too_large();
    }
    const std::string registry(request.param("registry"));
    if (context.blocking == nullptr) co_return co_await upload_from_memory(request, registry,
                                                                           *digest);
    BodyFeed feed(*request.body, co_await asio::this_coro::executor);
    tasks::SourceReader reader = [&feed](std::span<std::byte> buffer) { return feed(buffer); };
    auto stored = co_await context.run_blocking(
        [&] { return context_.tasks->store_source(registry, *digest, reader); });
    if (!stored) {
      if (feed.failure()) co_return body_failure(*feed.failure());
      co_return error_of(stored.error());
    }
    co_return json_response(201, json::object{{"digest", digest->str()}, {"size", *stored}});
  }

  asio::awaitable<Response> queue_run(RequestContext& context, Request& request) {
    if (context_.tasks == nullptr) co_return unavailable();
    auto body = co_await read_json_object(request);
    if (body.error) co_return std::move(*body.error);
    auto parsed = task_json::run_request_of(body.object);
    if (auto* bad = std::get_if<Response>(&parsed)) co_return std::move(*bad);
    const auto& run_request = std::get<tasks::RunRequest>(parsed);
    auto queued = co_await context.run_blocking(
        [&] { return context_.tasks->queue_run(request.param("registry"), run_request); });
    if (!queued) co_return error_of(queued.error());
    Response response = json_response(202, task_json::run_json(*queued));
    response.headers.set("Location", fmt::format("{}registries/{}/runs/{}", mgmt::kPrefix,
                                                 queued->registry, queued->id));
    co_return response;
  }

  asio::awaitable<Response> list_runs(RequestContext& context, Request& request) {
    if (context_.tasks == nullptr) co_return unavailable();
    auto top =
        parse_count(request.query_param("top"), "top", 1, kMaxRunsPerPage, kDefaultRunsPerPage);
    if (top.error) co_return std::move(*top.error);
    std::optional<std::int64_t> before;
    if (auto text = request.query_param("before")) {
      before = tasks::run_number(*text);
      if (!before) co_return invalid_request("'before' must be a run id such as cb12", "before");
    }
    std::optional<std::string> task;
    if (auto text = request.query_param("task")) {
      if (text->empty()) co_return invalid_request("'task' must name a task", "task");
      task = std::string(*text);
    }
    auto listed = co_await context.run_blocking([&] {
      return context_.tasks->list_runs(request.param("registry"), task, before, top.value);
    });
    if (!listed) co_return error_of(listed.error());
    json::array items;
    for (const auto& view : *listed) items.push_back(task_json::run_json(view));
    json::object page{{"runs", std::move(items)}};
    if (listed->size() == top.value) page["next"] = listed->back().id;
    co_return json_response(200, page);
  }

  asio::awaitable<Response> show_run(RequestContext& context, Request& request) {
    if (context_.tasks == nullptr) co_return unavailable();
    if (auto bad = check_run_id(request)) co_return std::move(*bad);
    auto shown = co_await context.run_blocking([&] {
      return context_.tasks->show_run(request.param("registry"), request.param("runId"));
    });
    if (!shown) co_return error_of(shown.error());
    co_return json_response(200, task_json::run_json(*shown));
  }

  asio::awaitable<Response> cancel_run(RequestContext& context, Request& request) {
    if (context_.tasks == nullptr) co_return unavailable();
    if (auto bad = check_run_id(request)) co_return std::move(*bad);
    auto canceled = co_await context.run_blocking([&] {
      return context_.tasks->cancel_run(request.param("registry"), request.param("runId"));
    });
    if (!canceled) co_return error_of(canceled.error());
    co_return json_response(202, task_json::run_json(*canceled));
  }

  asio::awaitable<Response> read_log(RequestContext& context, Request& request) {
    if (context_.tasks == nullptr) co_return unavailable();
    if (auto bad = check_run_id(request)) co_return std::move(*bad);
    LogQuery query = log_query_of(request);
    if (query.error) co_return std::move(*query.error);
    const std::string registry(request.param("registry"));
    const std::string id(request.param("runId"));
    auto read_once = [&] {
      return context.run_blocking([&] {
        return context_.tasks->read_log(registry, id, query.offset, tasks::kMaxLogRead);
      });
    };
    auto read = co_await read_once();
    if (!read) co_return error_of(read.error());
    if (!query.follow) co_return log_response(*read);
    // Follow: wait on a timer (no thread held) until there is something to answer.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto until = std::chrono::steady_clock::now() + kFollowWait;
    while (read->bytes.empty() && !tasks::run_ended(read->status) &&
           std::chrono::steady_clock::now() + kFollowPoll <= until) {
      timer.expires_after(kFollowPoll);
      auto [waited] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (waited) break;  // the server is shutting down: answer what there is
      read = co_await read_once();
      if (!read) co_return error_of(read.error());
    }
    co_return log_response(*read);
  }

 private:
  // A run id is "cb" and its number; anything else is refused before the service is asked.
  static std::optional<Response> check_run_id(const Request& request) {
    if (tasks::run_number(request.param("runId"))) return std::nullopt;
    return invalid_request(
        fmt::format("'{}' is not a run id (such as cb12)", request.param("runId")), "runId");
  }

  // Without a blocking pool (tests that run handlers inline) the service cannot wait on the
  // event loop for the body, which would be the very thread waiting: the body is read first.
  asio::awaitable<Response> upload_from_memory(Request& request, const std::string& registry,
                                               const oci::Digest& digest) {
    auto body = co_await http::read_body(*request.body, tasks::kMaxSourceBytes);
    if (!body) co_return body_failure(body.error());
    std::size_t at = 0;
    tasks::SourceReader reader =
        [&](std::span<std::byte> buffer) -> berth::Result<std::size_t, std::string> {
      std::size_t count = std::min(buffer.size(), body->size() - at);
      std::memcpy(buffer.data(), body->data() + at, count);
      at += count;
      return count;
    };
    auto stored = context_.tasks->store_source(registry, digest, reader);
    if (!stored) co_return error_of(stored.error());
    co_return json_response(201, json::object{{"digest", digest.str()}, {"size", *stored}});
  }

  ManagementContext& context_;
};

using TaskRow = HandlerRow<TaskHandlers>;

constexpr std::string_view kRead = action::kRegistryRead;
constexpr std::string_view kWrite = action::kRegistryWrite;

// Uploading a source is part of queueing a run, and needs what queueing needs.
const TaskRow kTaskRoutes[] = {
    {"PUT", "/mgmt/v1/registries/{registry}/sources/{digest}", "mgmt.sources.upload", kWrite,
     &TaskHandlers::upload_source},
    {"POST", "/mgmt/v1/registries/{registry}/runs", "mgmt.runs.queue", kWrite,
     &TaskHandlers::queue_run},
    {"GET", "/mgmt/v1/registries/{registry}/runs", "mgmt.runs.list", kRead,
     &TaskHandlers::list_runs},
    {"GET", "/mgmt/v1/registries/{registry}/runs/{runId}", "mgmt.runs.show", kRead,
     &TaskHandlers::show_run},
    {"POST", "/mgmt/v1/registries/{registry}/runs/{runId}/cancel", "mgmt.runs.cancel", kWrite,
     &TaskHandlers::cancel_run},
    {"GET", "/mgmt/v1/registries/{registry}/runs/{runId}/log", "mgmt.runs.log", kRead,
     &TaskHandlers::read_log},
};

}  // namespace

std::vector<RouteRow> task_management_routes(ManagementContext& context) {
  return rows_of(std::make_shared<TaskHandlers>(context), kTaskRoutes);
}

}  // namespace berth::api
