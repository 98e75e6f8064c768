#include "gc_load.h"

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "bench_util.h"

namespace berth::bench {
namespace {

Headers admin_headers(const std::string& admin_token) {
  return {{"Authorization", "Bearer " + admin_token}};
}

std::uint64_t count_field(const boost::json::object& run, std::string_view key) {
  const auto* value = run.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_uint64()) return value->as_uint64();
  if (value->is_int64() && value->as_int64() >= 0) return value->as_int64();
  return 0;
}

std::string text_field(const boost::json::object& run, std::string_view key) {
  const auto* value = run.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

GcRunState parse_run(const Response& response, const std::string& what) {
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(response.body, ec);
  check(!ec && parsed.is_object(), what + ": not a JSON object: " + response.body.substr(0, 300));
  const auto& run = parsed.as_object();
  GcRunState state;
  state.id = static_cast<std::int64_t>(count_field(run, "id"));
  state.status = text_field(run, "status");
  state.phase = text_field(run, "phase");
  state.blobs_examined = count_field(run, "blobsExamined");
  state.stored_blobs_examined = count_field(run, "storedBlobsExamined");
  state.blobs_deleted = count_field(run, "blobsDeleted");
  state.bytes_reclaimed = count_field(run, "bytesReclaimed");
  state.links_removed = count_field(run, "linksRemoved");
  state.error = text_field(run, "error");
  check(state.id > 0 && !state.status.empty(),
        what + ": no id or status: " + response.body.substr(0, 300));
  return state;
}

}  // namespace

std::optional<GcRunState> start_gc(Connection& connection, const std::string& admin_token) {
  Headers headers = admin_headers(admin_token);
  headers.emplace_back("Content-Type", "application/json");
  Response response;
  const std::string what = "start a garbage collection";
  if (!connection.send({"POST", "/mgmt/v1/gc", headers, Body::from_memory("{}")}, response)) {
    fail(what + ": " + connection.error());
  }
  if (response.status == 409) return std::nullopt;
  check(response.status == 202,
        what + ": status " + std::to_string(response.status) + ": " + response.body.substr(0, 300));
  return parse_run(response, what);
}

GcRunState wait_for_gc(Connection& connection, const std::string& admin_token, std::int64_t id,
                       int poll_ms, double limit_seconds) {
  const std::string what = std::string("garbage collection run ") + std::to_string(id);
  const auto start = Clock::now();
  for (;;) {
    Response response;
    if (!connection.send({"GET", std::string("/mgmt/v1/gc/runs/") + std::to_string(id),
                          admin_headers(admin_token), Body::none()},
                         response)) {
      fail(what + ": " + connection.error());
    }
    check(response.status == 200, what + ": status " + std::to_string(response.status));
    GcRunState state = parse_run(response, what);
    if (state.status != "running") return state;
    check(seconds_since(start) < limit_seconds,
          what + " still running after " + std::to_string(static_cast<int>(limit_seconds)) + " s");
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

}  // namespace berth::bench
