// The workloads of the side-by-side benchmark. Each workload runs against every target in
// alternation (the order flips every repetition), resets the server's peak RSS before and
// reads it after, and records its figures through the Recorder. The pulls with external
// clients (curl, skopeo, ctr) are in client_pulls.cc; their place in the order is here.

#include "suite.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <iostream>
#include <latch>
#include <memory>
#include <optional>
#include <thread>

#include "bench_util.h"
#include "cache_load.h"
#include "client_pulls.h"
#include "event_load.h"
#include "gc_load.h"
#include "http_client.h"
#include "recorder.h"
#include "registry_ops.h"
#include "webhooks.h"
#include "workload.h"

namespace berth::bench {
namespace {

Settings full_settings() {
  return {1024 * kMiB, 3, 16 * kMiB, 100 * kMiB, 32, 16 * kMiB, 2, 3, 64, 5.0, 3,
          2000,        16, 10000,    5000,       1000, 3,       16, 3, 1024 * kMiB, 50000};
}

Settings quick_settings() {
  return {64 * kMiB, 2, 16 * kMiB, 16 * kMiB, 32, 16 * kMiB, 1, 1, 64, 2.0, 1,
          200,       16, 1000,     500,       100, 2,        16, 1, 64 * kMiB, 1000};
}

// Upper bound of any single parallel phase.
constexpr double kPhaseTimeLimitSeconds = 900;

// Whether `target` takes part in a workload: the "-auth" workloads run on the targets with
// credentials, the others on every target but the ones kept for the "-auth" workloads.
bool takes_part(const Target& target, bool auth_workload) {
  return auth_workload ? target.auth != nullptr : !target.auth_workloads_only;
}

}  // namespace

std::vector<Target*> order_for(Context& ctx, int rep, bool auth_workload) {
  std::vector<Target*> order;
  for (auto& target : ctx.targets) {
    if (takes_part(*target, auth_workload)) order.push_back(target.get());
  }
  if (rep % 2 == 1) std::reverse(order.begin(), order.end());
  return order;
}

void measured(Context& ctx, Target& target, const std::string& workload,
              const std::function<void()>& body) {
  std::cerr << "[" << workload << "] " << target.name << '\n';
  if (!reset_peak_rss(target.pid)) {
    ctx.recorder.failure(workload, target.name, "cannot reset peak RSS (server gone?)");
    return;
  }
  try {
    body();
  } catch (const std::exception& e) {
    ctx.recorder.failure(workload, target.name, e.what());
  }
  const double peak = process_status_mib(target.pid, "VmHWM");
  if (peak < 0) {
    ctx.recorder.failure(workload, target.name, "server process is gone");
    return;
  }
  ctx.recorder.value(workload, "peak_rss", target.name, peak, "MiB", "lower", "max");
}

bool prepared(Context& ctx, Target& target, const std::string& workload,
              const std::function<void()>& body) {
  try {
    body();
    return true;
  } catch (const std::exception& e) {
    ctx.recorder.failure(workload, target.name, std::string("preparation: ") + e.what());
    return false;
  }
}

std::vector<Target*> push_to_each(Context& ctx, const std::string& workload,
                                  const std::string& repo, const std::string& blob,
                                  const std::string& digest) {
  std::vector<Target*> ready;
  for (Target* target : order_for(ctx, 0)) {
    if (prepared(ctx, *target, workload, [&] {
          Connection connection(target->host, target->port, target->auth.get());
          push_blob(connection, *target, repo, digest, Body::from_memory(blob));
        })) {
      ready.push_back(target);
    }
  }
  return ready;
}

bool is_ready(const std::vector<Target*>& ready, const Target* target) {
  return std::find(ready.begin(), ready.end(), target) != ready.end();
}

// The workloads without "-auth" measure the registry's operations, not the token request
// (the "-auth" workloads do include it).
void warm_credentials(Target& target, const std::string& target_path) {
  if (target.auth == nullptr) return;
  Connection connection(target.host, target.port);
  std::string error;
  check(target.auth->authorization_for(connection, {"GET", target_path, {}, Body::none()}, error)
            .has_value(),
        "credentials: " + error);
}

namespace {

// Runs fn(connection, item) for items [0, count) on `threads` threads, each with its own
// keep-alive connection. Throws the first failure.
void run_parallel(const Target& target, int threads, std::size_t count,
                  const std::function<void(Connection&, std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string first_error;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(kPhaseTimeLimitSeconds));
  auto record_error = [&](const std::string& error) {
    std::lock_guard lock(mutex);
    if (first_error.empty()) first_error = error;
    stop = true;
  };
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        Connection connection(target.host, target.port, target.auth.get());
        while (!stop) {
          const std::size_t item = next++;
          if (item >= count) break;
          if (Clock::now() > deadline) {
            record_error("phase exceeded its time limit");
            break;
          }
          try {
            fn(connection, item);
          } catch (const std::exception& e) {
            record_error(e.what());
          }
        }
      });
    }
  }
  if (!first_error.empty()) fail(first_error);
}

std::string numbered(const char* prefix, std::size_t number) {
  char text[64];
  std::snprintf(text, sizeof text, "%s%05zu", prefix, number);
  return text;
}

void push_large(Context& ctx) {
  const auto& s = ctx.settings;
  const std::string repo = "bench/large";
  for (int rep = 0; rep < s.large_reps; ++rep) {
    const std::string path = ctx.workdir + "/large-" + std::to_string(rep) + ".bin";
    const std::string digest = write_random_file(path, s.large_size, 1000 + rep);
    MappedFile file(path);
    for (Target* target : order_for(ctx, rep)) {
      measured(ctx, *target, "push-large", [&] {
        Connection connection(target->host, target->port, target->auth.get());
        warm_credentials(*target, "/v2/" + repo + "/blobs/uploads/");
        const double cpu_before = process_cpu_seconds(target->pid);
        const auto start = Clock::now();
        push_blob(connection, *target, repo, digest, Body::from_file(file.fd(), 0, file.size()));
        const double elapsed = seconds_since(start);
        const double cpu = process_cpu_seconds(target->pid) - cpu_before;
        head_blob_checked(connection, "/v2/" + repo + "/blobs/" + digest, digest, file.size());
        ctx.recorder.value("push-large", "throughput", target->name, s.large_size / 1e6 / elapsed,
                           "MB/s", "higher");
        ctx.recorder.value("push-large", "server_cpu", target->name, cpu / (s.large_size / 1e9),
                           "CPU-s/GB", "lower");
      });
    }
    if (rep + 1 < s.large_reps) {
      ::unlink(path.c_str());
    } else {
      ctx.large_path = path;
      ctx.large_digest = digest;
    }
  }
}

void push_chunked(Context& ctx) {
  const auto& s = ctx.settings;
  const std::string repo = "bench/chunked";
  for (int rep = 0; rep < s.large_reps; ++rep) {
    const std::string path = ctx.workdir + "/chunked-" + std::to_string(rep) + ".bin";
    const std::string digest = write_random_file(path, s.large_size, 2000 + rep);
    {
      MappedFile file(path);
      for (Target* target : order_for(ctx, rep)) {
        measured(ctx, *target, "push-chunked", [&] {
          Connection connection(target->host, target->port, target->auth.get());
          warm_credentials(*target, "/v2/" + repo + "/blobs/uploads/");
          const double cpu_before = process_cpu_seconds(target->pid);
          const auto start = Clock::now();
          push_blob_chunked(connection, repo, digest, file.fd(), file.size(), s.chunk);
          const double elapsed = seconds_since(start);
          const double cpu = process_cpu_seconds(target->pid) - cpu_before;
          head_blob_checked(connection, "/v2/" + repo + "/blobs/" + digest, digest, file.size());
          ctx.recorder.value("push-chunked", "throughput", target->name,
                             s.large_size / 1e6 / elapsed, "MB/s", "higher");
          ctx.recorder.value("push-chunked", "server_cpu", target->name,
                             cpu / (s.large_size / 1e9), "CPU-s/GB", "lower");
        });
      }
    }
    ::unlink(path.c_str());
  }
}

void pull_large(Context& ctx) {
  const auto& s = ctx.settings;
  if (ctx.large_path.empty()) {
    for (Target* target : order_for(ctx, 0)) ctx.recorder.failure("pull-large", target->name, "no blob");
    return;
  }
  MappedFile file(ctx.large_path);
  const std::string repo = "bench/large";
  const std::uint64_t range_size = std::min(s.range_size, file.size() / 2);
  const std::uint64_t range_offset = file.size() / 3 + 12345;
  for (int rep = 0; rep < s.large_reps; ++rep) {
    for (Target* target : order_for(ctx, rep)) {
      measured(ctx, *target, "pull-large", [&] {
        Connection connection(target->host, target->port, target->auth.get());
        const double cpu_before = process_cpu_seconds(target->pid);
        auto start = Clock::now();
        get_blob_checked(connection, repo, ctx.large_digest, file.data(), file.size());
        double elapsed = seconds_since(start);
        const double cpu = process_cpu_seconds(target->pid) - cpu_before;
        ctx.recorder.value("pull-large", "throughput", target->name, file.size() / 1e6 / elapsed,
                           "MB/s", "higher");
        ctx.recorder.value("pull-large", "server_cpu", target->name, cpu / (file.size() / 1e9),
                           "CPU-s/GB", "lower");
        start = Clock::now();
        get_blob_checked(connection, repo, ctx.large_digest, file.data(), file.size(),
                         range_offset, range_size);
        elapsed = seconds_since(start);
        ctx.recorder.value("pull-range", "throughput", target->name, range_size / 1e6 / elapsed,
                           "MB/s", "higher");
      });
    }
  }
}

void pull_concurrent(Context& ctx) {
  const auto& s = ctx.settings;
  const std::string repo(kConcurrentRepo);
  const std::string blob = Random(kConcurrentBlobSeed).bytes(s.concurrent_blob);
  const std::string digest = sha256_digest(blob);
  const std::vector<Target*> ready = push_to_each(ctx, "pull-concurrent", repo, blob, digest);
  for (int rep = 0; rep < s.concurrent_reps; ++rep) {
    for (Target* target : order_for(ctx, rep)) {
      if (!is_ready(ready, target)) continue;
      measured(ctx, *target, "pull-concurrent", [&] {
        const int clients = s.concurrent_clients;
        std::vector<std::vector<double>> latencies(clients);
        std::vector<std::string> errors(clients);
        std::latch connected(clients + 1);
        std::latch go(1);
        Clock::time_point start;
        {
          std::vector<std::jthread> workers;
          for (int c = 0; c < clients; ++c) {
            workers.emplace_back([&, c] {
              Connection connection(target->host, target->port, target->auth.get());
              Response response;
              bool ok = connection.send({"GET", "/v2/", {}, Body::none()}, response);
              connected.count_down();
              go.wait();
              if (!ok) {
                errors[c] = "connect: " + connection.error();
                return;
              }
              try {
                for (int round = 0; round < s.concurrent_rounds; ++round) {
                  const auto begin = Clock::now();
                  get_blob_checked(connection, repo, digest, blob.data(), blob.size());
                  latencies[c].push_back(seconds_since(begin) * 1000);
                }
              } catch (const std::exception& e) {
                errors[c] = e.what();
              }
            });
          }
          connected.arrive_and_wait();
          start = Clock::now();
          go.count_down();
        }
        const double elapsed = seconds_since(start);
        for (const auto& error : errors) check(error.empty(), error);
        std::vector<double> all;
        for (const auto& list : latencies) all.insert(all.end(), list.begin(), list.end());
        const double bytes = static_cast<double>(blob.size()) * all.size();
        ctx.recorder.value("pull-concurrent", "throughput", target->name, bytes / 1e6 / elapsed,
                           "MB/s", "higher");
        ctx.recorder.value("pull-concurrent", "p99_latency", target->name, percentile(all, 99),
                           "ms", "lower");
      });
    }
  }
}

// How the small-ops connections present themselves.
enum class Clients {
  // The load generator is one client: all connections send its shared session's credentials
  // (on the reference without authentication, none).
  one_shared,
  // Every connection is its own client that did its own challenge and token request before
  // the window: berth sees as many different access tokens as connections; the reference
  // with htpasswd checks the password on every request.
  one_per_connection,
};

// The header lines each connection sends: empty (none), one entry for all, or one per
// connection. Fetches the tokens, so it runs outside the measured window.
std::vector<std::string> small_ops_headers(const Target& target, Clients clients, int connections,
                                           const Request& sample) {
  if (target.auth == nullptr) return {};
  auto header_line = [&](ClientAuth& session, Connection& connection) {
    std::string error;
    auto authorization = session.authorization_for(connection, sample, error);
    check(authorization.has_value(), "credentials: " + error);
    std::string line = "Authorization: ";
    line.append(*authorization).append("\r\n");
    return line;
  };
  Connection connection(target.host, target.port);
  if (clients == Clients::one_shared) return {header_line(*target.auth, connection)};
  std::vector<std::string> lines;
  for (int i = 0; i < connections; ++i) {
    ClientAuth session = target.auth->fresh_session();
    session.set_repository_actions("pull");  // these clients only read
    lines.push_back(header_line(session, connection));
  }
  return lines;
}

void run_small_ops(Context& ctx, const std::string& workload, Clients clients) {
  const auto& s = ctx.settings;
  const bool auth_workload = clients == Clients::one_per_connection;
  const std::string repo = "bench/small";
  const Image image = make_image(4000, 1024, "small-ops");
  std::vector<Target*> ready;
  for (Target* target : order_for(ctx, 0, auth_workload)) {
    if (prepared(ctx, *target, workload, [&] {
          Connection connection(target->host, target->port, target->auth.get());
          push_image(connection, *target, repo, "v1", image);
          target->remember_repo(repo);
        })) {
      ready.push_back(target);
    }
  }
  auto header_is = [](const SmallResponse& r, std::string_view name, std::string_view expected) {
    auto value = r.header(name);
    return value && *value == expected;
  };
  const std::string layer_size = std::to_string(image.layer.size());
  const double warmup = std::min(1.0, s.small_seconds / 4);
  for (int rep = 0; rep < s.small_reps; ++rep) {
    for (Target* target : order_for(ctx, rep, auth_workload)) {
      if (std::find(ready.begin(), ready.end(), target) == ready.end()) continue;
      const std::string host_line = "Host: " + target->host + ":" + std::to_string(target->port) + "\r\n";
      const std::string manifest_path = "/v2/" + repo + "/manifests/v1";
      const std::vector<Operation> operations = {
          {"GET " + manifest_path + " HTTP/1.1\r\n" + host_line +
               "Accept: " + std::string(kManifestType) + "\r\n\r\n",
           false,
           [&](const SmallResponse& r) -> std::string {
             if (r.status != 200) return "manifest GET: status " + std::to_string(r.status);
             if (r.body != image.manifest) return "manifest GET: body differs";
             if (!header_is(r, "Docker-Content-Digest", image.manifest_digest)) {
               return "manifest GET: wrong Docker-Content-Digest";
             }
             if (!header_is(r, "Content-Type", kManifestType)) return "manifest GET: wrong Content-Type";
             return {};
           }},
          {"HEAD /v2/" + repo + "/blobs/" + image.layer_digest + " HTTP/1.1\r\n" + host_line + "\r\n",
           true,
           [&](const SmallResponse& r) -> std::string {
             if (r.status != 200) return "blob HEAD: status " + std::to_string(r.status);
             if (!header_is(r, "Content-Length", layer_size)) return "blob HEAD: wrong Content-Length";
             if (!header_is(r, "Docker-Content-Digest", image.layer_digest)) {
               return "blob HEAD: wrong Docker-Content-Digest";
             }
             return {};
           }},
      };
      measured(ctx, *target, workload, [&] {
        const auto headers = small_ops_headers(*target, clients, s.small_connections,
                                               {"GET", manifest_path, {}, Body::none()});
        double cpu_before = 0, self_before = 0;
        auto result = run_event_load(target->host, target->port, s.small_connections, operations,
                                     warmup, s.small_seconds, [&] {
                                       cpu_before = process_cpu_seconds(target->pid);
                                       self_before = self_cpu_seconds();
                                     }, headers);
        const double server_cpu = process_cpu_seconds(target->pid) - cpu_before;
        const double self_cpu = self_cpu_seconds() - self_before;
        check(result.error.empty(), result.error);
        auto& all = result.latencies_us;
        check(!all.empty(), "no request completed in the measured window");
        const double wall = result.window_seconds;
        ctx.recorder.value(workload, "throughput", target->name, all.size() / wall, "req/s",
                           "higher");
        ctx.recorder.value(workload, "p50_latency", target->name, percentile(all, 50) / 1000,
                           "ms", "lower");
        ctx.recorder.value(workload, "p99_latency", target->name, percentile(all, 99) / 1000,
                           "ms", "lower");
        ctx.recorder.value(workload, "server_cpu", target->name, server_cpu / wall, "cores",
                           "lower");
        ctx.recorder.value(workload, "loadgen_cpu", target->name, self_cpu / wall, "cores",
                           "lower");
      });
    }
  }
}

void small_ops(Context& ctx) { run_small_ops(ctx, "small-ops", Clients::one_shared); }

void small_ops_auth(Context& ctx) {
  run_small_ops(ctx, "small-ops-auth", Clients::one_per_connection);
}

std::vector<Image> many_images(const Settings& s, std::uint64_t seed) {
  std::vector<Image> images;
  images.reserve(s.many_images);
  for (int i = 0; i < s.many_images; ++i) {
    images.push_back(make_image(seed + i, 1024, numbered("image-", i)));
  }
  return images;
}

// Pushes `images` to `repo` (tags i00000, i00001, ...) from many_clients connections and
// records images/s and server CPU; then reads a sample back. Every image is pushed by its own
// client session (Clients::one_per_connection) or all by the load generator's shared one.
// Returns when the timed part ended (the last push was answered).
Clock::time_point push_many_measured(Context& ctx, Target& target, const std::string& workload,
                                     const std::string& repo, const std::vector<Image>& images,
                                     Clients clients) {
  const auto& s = ctx.settings;
  const bool auth_workload = clients == Clients::one_per_connection;
  if (!auth_workload) warm_credentials(target, "/v2/" + repo + "/blobs/uploads/");
  std::atomic<int> tokens{0};
  const double cpu_before = process_cpu_seconds(target.pid);
  const auto start = Clock::now();
  run_parallel(target, s.many_clients, images.size(), [&](Connection& connection, std::size_t i) {
    if (!auth_workload) {
      push_image(connection, target, repo, numbered("i", i), images[i]);
      return;
    }
    // A new client (one `docker push`): challenge, token request, then the push.
    ClientAuth session = target.auth->fresh_session();
    connection.set_auth(&session);
    try {
      push_image(connection, target, repo, numbered("i", i), images[i]);
    } catch (...) {
      connection.set_auth(target.auth.get());
      throw;
    }
    connection.set_auth(target.auth.get());
    tokens += session.tokens_fetched();
  });
  const auto end = Clock::now();
  const double elapsed = std::chrono::duration<double>(end - start).count();
  const double cpu = process_cpu_seconds(target.pid) - cpu_before;
  target.remember_repo(repo);
  ctx.recorder.value(workload, "throughput", target.name, images.size() / elapsed, "images/s",
                     "higher");
  // Low server CPU with low throughput means the server waits (fsync, locks), not computes.
  ctx.recorder.value(workload, "server_cpu", target.name, cpu / elapsed, "cores", "lower");
  if (auth_workload && target.auth->kind() == ClientAuth::Kind::bearer) {
    check(tokens.load() == static_cast<int>(images.size()),
          std::to_string(tokens.load()) + " access tokens fetched for " +
              std::to_string(images.size()) + " client sessions, expected one each");
  }
  Connection connection(target.host, target.port, target.auth.get());
  for (std::size_t i = 0; i < images.size(); i += std::max<std::size_t>(1, images.size() / 25)) {
    get_manifest_checked(connection, "/v2/" + repo + "/manifests/" + numbered("i", i), images[i]);
    head_blob_checked(connection, "/v2/" + repo + "/blobs/" + images[i].layer_digest,
                      images[i].layer_digest, images[i].layer.size());
  }
  return end;
}

void run_push_many(Context& ctx, const std::string& workload, const std::string& repo,
                   std::uint64_t seed, Clients clients) {
  const std::vector<Image> images = many_images(ctx.settings, seed);
  for (Target* target : order_for(ctx, 0, clients == Clients::one_per_connection)) {
    measured(ctx, *target, workload,
             [&] { push_many_measured(ctx, *target, workload, repo, images, clients); });
  }
}

void push_many(Context& ctx) { run_push_many(ctx, "push-many", "bench/many", 100000, Clients::one_shared); }

void push_many_auth(Context& ctx) {
  // Other images than push-many's, so that berth (which ran push-many) stores new blobs too.
  run_push_many(ctx, "push-many-auth", "bench/many-auth", 200000, Clients::one_per_connection);
}

// push-many-webhooks: the webhooks live on berth's default registry.
constexpr std::string_view kWebhookRegistry = "default";
// How long after the last push the fast receiver may take to have every delivery; the
// dispatcher delivers one webhook's events one at a time, each with a recorded attempt.
constexpr double kCatchUpLimitSeconds = 120;
// How long the slow receiver's first attempt may take to be recorded as failed: berthd's
// delivery timeout (2 s in run.sh, 10 s by default) plus its polls.
constexpr double kAttemptLimitSeconds = 60;

// Polls `done` every 100 ms for at most `limit_seconds`; returns whether it became true.
bool poll_until(double limit_seconds, const std::function<bool()>& done) {
  const auto start = Clock::now();
  for (;;) {
    if (done()) return true;
    if (seconds_since(start) > limit_seconds) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Checks that `bodies` are exactly one push event of `repo` per tag i00000 .. i<count-1>.
void check_push_deliveries(const std::vector<std::string>& bodies, const std::string& repo,
                           std::size_t count) {
  check(bodies.size() == count, "fast receiver: " + std::to_string(bodies.size()) +
                                    " deliveries for " + std::to_string(count) +
                                    " pushed images, expected one each");
  std::set<std::string> tags;
  for (const auto& body : bodies) {
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(body, ec);
    const auto* object = !ec ? parsed.if_object() : nullptr;
    const auto* action = object ? object->if_contains("action") : nullptr;
    const auto* target = object ? object->if_contains("target") : nullptr;
    const auto* target_object = target ? target->if_object() : nullptr;
    const auto* repository = target_object ? target_object->if_contains("repository") : nullptr;
    const auto* tag = target_object ? target_object->if_contains("tag") : nullptr;
    check(action && action->is_string() && action->as_string() == "push" && repository &&
              repository->is_string() && repository->as_string() == repo && tag &&
              tag->is_string(),
          "fast receiver: not a push event of " + repo + ": " + body.substr(0, 300));
    check(tags.insert(std::string(tag->as_string())).second,
          "fast receiver: tag " + std::string(tag->as_string()) + " delivered twice");
  }
  for (std::size_t i = 0; i < count; ++i) {
    check(tags.count(numbered("i", i)) == 1,
          "fast receiver: no delivery for tag " + numbered("i", i));
  }
}

// One push-many-webhooks run against a target with berth's management API: two receivers, two
// webhooks on the workload's repository, the timed pushes, then the deliveries checked.
void push_with_webhooks(Context& ctx, Target& target, const std::string& workload,
                        const std::string& repo, const std::vector<Image>& images) {
  const std::string registry(kWebhookRegistry);
  WebhookReceiver fast(WebhookReceiver::Answer::at_once);
  WebhookReceiver slow(WebhookReceiver::Answer::never);
  const WebhookSpec fast_hook{"benchfast", fast.uri("/fast"), repo + ":*"};
  const WebhookSpec slow_hook{"benchslow", slow.uri("/slow"), repo + ":*"};
  Connection management(target.host, target.port);
  std::vector<std::string> created;
  // Deletes the webhooks created, last first; each name is forgotten once deleted.
  auto delete_created = [&] {
    while (!created.empty()) {
      delete_webhook(management, target.admin_token, registry, created.back());
      created.pop_back();
    }
  };
  try {
    for (const WebhookSpec* hook : {&fast_hook, &slow_hook}) {
      create_webhook(management, target.admin_token, registry, *hook);
      created.push_back(hook->name);
    }
    const auto pushed =
        push_many_measured(ctx, target, workload, repo, images, Clients::one_shared);

    const auto caught_up = fast.wait_for_requests(images.size(), kCatchUpLimitSeconds);
    check(caught_up.has_value(),
          "fast receiver: " + std::to_string(fast.requests()) + " of " +
              std::to_string(images.size()) + " deliveries within " +
              std::to_string(static_cast<int>(kCatchUpLimitSeconds)) + " s of the last push");
    const double lag = std::max(0.0, std::chrono::duration<double>(*caught_up - pushed).count());
    ctx.recorder.value(workload, "fast_webhook_lag", target.name, lag, "s", "lower");

    check(slow.wait_for_requests(1, kAttemptLimitSeconds).has_value(),
          "slow receiver: no delivery attempt within " +
              std::to_string(static_cast<int>(kAttemptLimitSeconds)) + " s");
    // berth records the slow receiver's attempts as failed (timed out) and retries them later.
    std::vector<DeliveryAttempt> slow_attempts;
    const bool slow_failed = poll_until(kAttemptLimitSeconds, [&] {
      slow_attempts =
          webhook_deliveries(management, target.admin_token, registry, slow_hook.name, 100);
      return std::any_of(slow_attempts.begin(), slow_attempts.end(), [](const DeliveryAttempt& a) {
        return a.action == "push" && a.result == "failed";
      });
    });
    check(slow_failed, "webhook " + slow_hook.name + ": no failed attempt recorded (" +
                           std::to_string(slow_attempts.size()) + " attempts recorded)");
    check(std::none_of(slow_attempts.begin(), slow_attempts.end(),
                       [](const DeliveryAttempt& a) { return a.result == "delivered"; }),
          "webhook " + slow_hook.name + ": an attempt recorded as delivered, though unanswered");
    // The fast receiver's newest attempts are recorded as delivered (the record of the last
    // one is written just after its answer).
    const std::size_t newest = std::min<std::size_t>(100, images.size());
    std::vector<DeliveryAttempt> fast_attempts;
    const bool fast_recorded = poll_until(kAttemptLimitSeconds, [&] {
      fast_attempts = webhook_deliveries(management, target.admin_token, registry, fast_hook.name,
                                         static_cast<int>(newest));
      return fast_attempts.size() == newest &&
             std::all_of(fast_attempts.begin(), fast_attempts.end(), [](const DeliveryAttempt& a) {
               return a.action == "push" && a.result == "delivered";
             });
    });
    check(fast_recorded, "webhook " + fast_hook.name + ": the newest " + std::to_string(newest) +
                             " attempts are not all delivered pushes");
    delete_created();
    check(fast.error().empty(), fast.error());
    check(slow.error().empty(), slow.error());
    // Checked last, so that a delivery repeated in the meantime is seen too.
    check_push_deliveries(fast.bodies(), repo, images.size());
    ctx.recorder.note(workload, target.name,
                      "slow webhook: delivery attempts received " +
                          std::to_string(slow.requests()) +
                          ", none answered; fast webhook: deliveries received " +
                          std::to_string(fast.requests()));
  } catch (...) {
    // Later workloads must not deliver to receivers that are gone: delete what was created,
    // and report the first failure.
    for (const auto& name : created) {
      try {
        delete_webhook(management, target.admin_token, registry, name);
      } catch (const std::exception& e) {
        ctx.recorder.note(workload, target.name, e.what());
      }
    }
    throw;
  }
}

// push-many with a fast and a slow webhook on the pushed repository (berth only: the
// reference has no webhooks). Deliveries never run on a push's path, so the figure to compare
// is this throughput against push-many's of the same run.
void push_many_webhooks(Context& ctx) {
  const std::string workload = "push-many-webhooks";
  // Other images than push-many's and push-many-auth's.
  const std::vector<Image> images = many_images(ctx.settings, 300000);
  bool ran = false;
  for (Target* target : order_for(ctx, 0)) {
    if (target->admin_token.empty()) continue;
    ran = true;
    measured(ctx, *target, workload,
             [&] { push_with_webhooks(ctx, *target, workload, "bench/many-hooks", images); });
  }
  if (!ran) {
    ctx.recorder.failure(workload, "all",
                         "no target with an administrator token (--admin-token-file)");
  }
}

// gc and push-many-gc run on berth only: the reference collects offline (`registry
// garbage-collect` with the registry stopped or read-only), so there is nothing to run next to
// pushes. run.sh starts berthd with a 1 s grace period, so what the workload deletes is
// collectable two seconds later.
constexpr double kGcLimitSeconds = 600;
constexpr int kGcPollMs = 20;

// Deletes the manifest of every tenth image of `repo` (tags g00000, ...): two blobs each (a
// unique config and layer) become garbage. Returns how many blobs that makes.
std::uint64_t delete_every_tenth(Target& target, const std::string& repo,
                                 const std::vector<Image>& images) {
  // A client session of its own whose tokens also carry the delete action.
  std::optional<ClientAuth> deleter;
  if (target.auth) {
    deleter.emplace(target.auth->fresh_session());
    deleter->set_repository_actions("pull,push,delete");
  }
  Connection connection(target.host, target.port, deleter ? &*deleter : nullptr);
  std::uint64_t garbage = 0;
  for (std::size_t i = 0; i < images.size(); i += 10) {
    Response response;
    send_checked(connection,
                 {"DELETE", "/v2/" + repo + "/manifests/" + images[i].manifest_digest, {},
                  Body::none()},
                 response, "delete a manifest");
    expect_status(response, 202, "delete a manifest");
    garbage += 2;
  }
  return garbage;
}

// The timed sweep of a registry with `garbage` collectable blobs among its images, then the
// images checked: a sample of the kept ones pulls, the deleted ones' blobs are gone.
void timed_sweep(Context& ctx, Target& target, const std::string& workload,
                 const std::string& repo, const std::vector<Image>& images,
                 std::uint64_t garbage) {
  Connection management(target.host, target.port);
  const auto start = Clock::now();
  auto started = start_gc(management, target.admin_token);
  check(started.has_value(), "a garbage collection was already running");
  const GcRunState run =
      wait_for_gc(management, target.admin_token, started->id, kGcPollMs, kGcLimitSeconds);
  const double elapsed = seconds_since(start);
  const std::string run_name = numbered("run ", static_cast<std::size_t>(run.id));
  check(run.status == "succeeded",
        "garbage collection " + run_name + " " + run.status + ": " + run.error);
  // At least the deleted images' blobs; the run also takes what earlier workloads left
  // unreferenced (the blob-push probe, for one).
  check(run.blobs_deleted >= garbage, numbered("garbage collection deleted ", run.blobs_deleted) +
                                          " blobs, expected at least " + std::to_string(garbage));
  ctx.recorder.value(workload, "sweep_time", target.name, elapsed, "s", "lower");
  ctx.recorder.value(workload, "examined_rate", target.name, run.blobs_examined / elapsed,
                     "blobs/s", "higher");
  ctx.recorder.note(workload, target.name,
                    run_name + ": " + std::to_string(run.blobs_examined) +
                        " blob records and " + std::to_string(run.stored_blobs_examined) +
                        " stored blobs examined, " + std::to_string(run.links_removed) +
                        " links and " + std::to_string(run.blobs_deleted) + " blobs (" +
                        std::to_string(run.bytes_reclaimed) + " bytes) removed");
  Connection connection(target.host, target.port, target.auth.get());
  const std::size_t step = std::max<std::size_t>(1, images.size() / 50);
  for (std::size_t i = 0; i < images.size(); i += step) {
    if (i % 10 == 0) {
      Response response;
      send_checked(connection,
                   {"HEAD", "/v2/" + repo + "/blobs/" + images[i].layer_digest, {}, Body::none()},
                   response, "HEAD a collected blob");
      expect_status(response, 404, "HEAD a blob of a deleted image after collection");
      continue;
    }
    get_manifest_checked(connection, "/v2/" + repo + "/manifests/" + numbered("g", i), images[i]);
    head_blob_checked(connection, "/v2/" + repo + "/blobs/" + images[i].layer_digest,
                      images[i].layer_digest, images[i].layer.size());
  }
}

// gc: a registry of gc_images images (two blobs each), a tenth of them deleted; one run of the
// collector over it, timed, with its examination rate.
void gc(Context& ctx) {
  const std::string workload = "gc";
  const std::string repo = "bench/gc";
  std::vector<Image> images;
  images.reserve(ctx.settings.gc_images);
  for (int i = 0; i < ctx.settings.gc_images; ++i) {
    images.push_back(make_image(400000 + i, 512, numbered("gc-", i)));
  }
  bool ran = false;
  for (Target* target : order_for(ctx, 0)) {
    if (target->admin_token.empty()) continue;
    ran = true;
    std::uint64_t garbage = 0;
    const bool ready = prepared(ctx, *target, workload, [&] {
      run_parallel(*target, ctx.settings.many_clients, images.size(),
                   [&](Connection& connection, std::size_t i) {
                     push_image(connection, *target, repo, numbered("g", i), images[i]);
                   });
      target->remember_repo(repo);
      garbage = delete_every_tenth(*target, repo, images);
      // Past the grace period run.sh gives berthd.
      std::this_thread::sleep_for(std::chrono::milliseconds(2200));
    });
    if (!ready) continue;
    measured(ctx, *target, workload,
             [&] { timed_sweep(ctx, *target, workload, repo, images, garbage); });
  }
  if (!ran) {
    ctx.recorder.failure(workload, "all", "no target with an administrator token (--admin-token-file)");
  }
}

// Collections run back to back over the whole registry from a thread of their own, from
// construction until stop(); stop() waits for the run in progress to end.
class BackToBackCollector {
 public:
  explicit BackToBackCollector(Target& target) : thread_([this, &target] { collect(target); }) {}
  BackToBackCollector(const BackToBackCollector&) = delete;
  BackToBackCollector& operator=(const BackToBackCollector&) = delete;
  ~BackToBackCollector() { join(); }

  // The number of runs that finished; throws what went wrong with a run.
  int stop() {
    join();
    check(error_.empty(), "the collector beside the pushes: " + error_);
    return finished_;
  }

 private:
  void join() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  void collect(Target& target) {
    try {
      Connection management(target.host, target.port);
      while (!stop_) {
        auto started = start_gc(management, target.admin_token);
        if (!started) {
          std::this_thread::sleep_for(std::chrono::milliseconds(kGcPollMs));
          continue;
        }
        const GcRunState run = wait_for_gc(management, target.admin_token, started->id,
                                           kGcPollMs, kGcLimitSeconds);
        if (run.status != "succeeded") {
          error_ = numbered("run ", static_cast<std::size_t>(run.id)) + " " + run.status + ": " +
                   run.error;
          return;
        }
        ++finished_;
      }
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }

  std::atomic<bool> stop_{false};
  int finished_ = 0;
  std::string error_;
  std::thread thread_;
};

// Rounds of push-many-gc: one push-many-gc-off and one push-many-gc each, alternating, so that
// drift in the machine's speed (page cache, other processes) falls on both sides alike. The
// report takes the median round of each.
constexpr int kGcPushRounds = 3;

// push-many-gc: push-many's load while collections run back to back over the whole registry
// (after gc, a hundred thousand blobs and more), alternating with the same load without
// collection (push-many-gc-off) on the same registry, to compare the two. Every round pushes
// new images into a repository of its own.
void push_many_gc(Context& ctx) {
  const std::string workload = "push-many-gc";
  const std::string quiet = "push-many-gc-off";
  bool ran = false;
  for (Target* target : order_for(ctx, 0)) {
    if (target->admin_token.empty()) continue;
    ran = true;
    int collections = 0;
    for (int round = 0; round < kGcPushRounds; ++round) {
      const std::string suffix = std::string("-") + std::to_string(round + 1);
      const auto seed = static_cast<std::uint64_t>(round) * 10000;
      const std::vector<Image> quiet_images = many_images(ctx.settings, 600000 + seed);
      const std::vector<Image> images = many_images(ctx.settings, 700000 + seed);
      measured(ctx, *target, quiet, [&] {
        push_many_measured(ctx, *target, quiet, "bench/many-gc-off" + suffix, quiet_images,
                           Clients::one_shared);
      });
      measured(ctx, *target, workload, [&] {
        BackToBackCollector collector(*target);
        push_many_measured(ctx, *target, workload, "bench/many-gc" + suffix, images,
                           Clients::one_shared);
        collections += collector.stop();
      });
    }
    if (collections == 0) {
      ctx.recorder.failure(workload, target->name,
                           "no collection finished while the images were pushed");
      continue;
    }
    ctx.recorder.note(workload, target->name,
                      std::to_string(collections) + " collection runs finished during the pushes of " +
                          std::to_string(kGcPushRounds) + " rounds");
  }
  if (!ran) {
    ctx.recorder.failure(workload, "all", "no target with an administrator token (--admin-token-file)");
  }
}

// cache: berth as a pull-through cache of the reference (rule cache/* -> <ref>/bench/cachesrc/*).
// cache-cold pulls images through berth for the first time (berth fetches them from the
// reference while it answers), cache-warm pulls them again once berth has stored them; both
// against the same pulls straight from the reference (the "ref" figures of the same workload
// names). cache-plain pulls the same images pushed to berth itself: what a warm pull through
// the cache has to keep up with.
constexpr int kCacheClients = 4;
constexpr int kCacheReps = 3;
constexpr double kCacheStoreLimitSeconds = 300;

// Pulls image i of `images` from repository `prefix` + "img<i>" (tag "1"): the manifest, the
// config and the layer, every byte checked. The bytes pulled.
double pull_cached_images(Target& target, const std::string& prefix,
                          const std::vector<Image>& images) {
  std::atomic<std::uint64_t> bytes{0};
  run_parallel(target, kCacheClients, images.size(), [&](Connection& connection, std::size_t i) {
    const std::string repo = prefix + numbered("img", i);
    get_manifest_checked(connection, "/v2/" + repo + "/manifests/1", images[i]);
    bytes += get_blob_checked(connection, repo, images[i].config_digest,
                              images[i].config.data(), images[i].config.size());
    bytes += get_blob_checked(connection, repo, images[i].layer_digest, images[i].layer.data(),
                              images[i].layer.size());
  });
  return static_cast<double>(bytes.load());
}

void record_cache_pull(Context& ctx, Target& target, const std::string& workload,
                       const std::string& prefix, const std::vector<Image>& images) {
  measured(ctx, target, workload, [&] {
    const double cpu_before = process_cpu_seconds(target.pid);
    const auto start = Clock::now();
    const double bytes = pull_cached_images(target, prefix, images);
    const double elapsed = seconds_since(start);
    ctx.recorder.value(workload, "throughput", target.name, bytes / 1e6 / elapsed, "MB/s",
                       "higher");
    ctx.recorder.value(workload, "server_cpu", target.name,
                       (process_cpu_seconds(target.pid) - cpu_before) / (bytes / 1e9),
                       "CPU-s/GB", "lower");
  });
}

// Waits until berth answers every image's tag from what it stored.
void wait_until_cached(Target& berth, const std::string& prefix, const std::vector<Image>& images) {
  Connection connection(berth.host, berth.port, berth.auth.get());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string path = "/v2/" + prefix + numbered("img", i) + "/manifests/1";
    check(poll_until(kCacheStoreLimitSeconds,
                     [&] {
                       Response response;
                       send_checked(connection, {"HEAD", path, {}, Body::none()}, response,
                                    "HEAD a cached manifest");
                       return response.status == 200 && cache_status(response) == "hit";
                     }),
          "berth did not store " + path + " in time");
  }
}

void cache(Context& ctx) {
  const std::string workload = "cache-cold";
  Target* berth = nullptr;
  Target* ref = nullptr;
  for (auto& target : ctx.targets) {
    if (target->name == "berth") berth = target.get();
    if (target->name == "ref") ref = target.get();
  }
  if (berth == nullptr || ref == nullptr || berth->admin_token.empty()) {
    ctx.recorder.failure(workload, "all",
                         "needs the targets berth (with --admin-token-file) and ref");
    return;
  }
  const auto& s = ctx.settings;
  const auto count = static_cast<std::size_t>(std::max(10, s.many_images / 40));
  const std::size_t layer_size = s.concurrent_blob / 4;
  std::vector<Image> images;
  for (std::size_t i = 0; i < count; ++i) {
    images.push_back(make_image(900000 + i, layer_size, numbered("cache-", i)));
  }
  const std::string source = "bench/cachesrc/";
  const std::string plain = "bench/cacheplain/";
  const std::string cached = "cache/";
  const bool ready = prepared(ctx, *berth, workload, [&] {
    run_parallel(*ref, kCacheClients, count, [&](Connection& connection, std::size_t i) {
      push_image(connection, *ref, source + numbered("img", i), "1", images[i]);
    });
    run_parallel(*berth, kCacheClients, count, [&](Connection& connection, std::size_t i) {
      push_image(connection, *berth, plain + numbered("img", i), "1", images[i]);
    });
    Connection management(berth->host, berth->port);
    create_cache_rule(management, berth->admin_token, "benchcache",
                      ref->host + ":" + std::to_string(ref->port) + "/bench/cachesrc/*", "cache/*");
    warm_credentials(*berth, "/v2/" + cached + numbered("img", 0) + "/manifests/1");
  });
  if (!ready) return;
  // Cold: the first pull through the cache, once, and the same pull straight from the reference.
  record_cache_pull(ctx, *berth, "cache-cold", cached, images);
  record_cache_pull(ctx, *ref, "cache-cold", source, images);
  try {
    wait_until_cached(*berth, cached, images);
  } catch (const std::exception& e) {
    ctx.recorder.failure("cache-warm", berth->name, e.what());
    return;
  }
  for (int rep = 0; rep < kCacheReps; ++rep) {
    for (Target* target : order_for(ctx, rep)) {
      if (target == berth) {
        record_cache_pull(ctx, *berth, "cache-warm", cached, images);
        record_cache_pull(ctx, *berth, "cache-plain", plain, images);
      } else if (target == ref) {
        record_cache_pull(ctx, *ref, "cache-warm", source, images);
      }
    }
  }
  ctx.recorder.note(workload, berth->name,
                    std::to_string(count) + " images of " + std::to_string(layer_size) +
                        " bytes, " + std::to_string(kCacheClients) + " clients");
}

void lists(Context& ctx) {
  const auto& s = ctx.settings;
  const std::string tag_repo = "bench/tags";
  const std::string source_repo = "bench/src";
  const Image image = make_image(5000, 1024, "lists");
  std::vector<std::string> expected_tags;
  for (int i = 0; i < s.tags; ++i) expected_tags.push_back(numbered("t", i));
  std::vector<std::string> catalog_repos;
  for (int i = 0; i < s.repos; ++i) catalog_repos.push_back(numbered("bench/cat/r", i));

  std::vector<Target*> ready;
  for (Target* target : order_for(ctx, 0)) {
    const bool ok = prepared(ctx, *target, "list-tags", [&] {
      Connection connection(target->host, target->port, target->auth.get());
      push_image(connection, *target, tag_repo, expected_tags.front(), image);
      push_image(connection, *target, source_repo, "v1", image);
      target->remember_repo(tag_repo);
      target->remember_repo(source_repo);
      auto start = Clock::now();
      run_parallel(*target, s.populate_clients, expected_tags.size(),
                   [&](Connection& c, std::size_t i) { put_manifest(c, tag_repo, expected_tags[i], image); });
      ctx.recorder.value("populate-tags", "throughput", target->name,
                         expected_tags.size() / seconds_since(start), "tags/s", "higher");
      std::atomic<int> declined{0};
      start = Clock::now();
      run_parallel(*target, s.populate_clients, catalog_repos.size(),
                   [&](Connection& c, std::size_t i) {
                     const auto& repo = catalog_repos[i];
                     if (!mount_blob(c, repo, source_repo, image.config_digest, image.config)) ++declined;
                     if (!mount_blob(c, repo, source_repo, image.layer_digest, image.layer)) ++declined;
                     put_manifest(c, repo, "v1", image);
                   });
      ctx.recorder.value("populate-repos", "throughput", target->name,
                         catalog_repos.size() / seconds_since(start), "repos/s", "higher");
      if (declined > 0) {
        ctx.recorder.note("populate-repos", target->name,
                          std::to_string(declined.load()) + " cross-repository mounts declined");
      }
      for (const auto& repo : catalog_repos) target->remember_repo(repo);
    });
    if (ok) ready.push_back(target);
  }

  const std::string n = std::to_string(s.page_size);
  for (int rep = 0; rep < s.list_reps; ++rep) {
    for (Target* target : order_for(ctx, rep)) {
      if (std::find(ready.begin(), ready.end(), target) == ready.end()) continue;
      measured(ctx, *target, "list-tags", [&] {
        Connection connection(target->host, target->port, target->auth.get());
        int pages = 0;
        const auto start = Clock::now();
        auto tags = list_all(connection, "/v2/" + tag_repo + "/tags/list?n=" + n, "tags", pages);
        const double elapsed = seconds_since(start);
        std::sort(tags.begin(), tags.end());
        check(tags == expected_tags, "tags/list: " + std::to_string(tags.size()) +
                                         " tags listed, expected exactly " +
                                         std::to_string(expected_tags.size()));
        ctx.recorder.value("list-tags", "full_listing", target->name, elapsed * 1000, "ms", "lower");
        ctx.recorder.value("list-tags", "pages", target->name, pages, "requests", "lower", "max");
      });
      measured(ctx, *target, "catalog", [&] {
        warm_credentials(*target, "/v2/_catalog");
        Connection connection(target->host, target->port, target->auth.get());
        int pages = 0;
        const auto start = Clock::now();
        auto repos = list_all(connection, "/v2/_catalog?n=" + n, "repositories", pages);
        const double elapsed = seconds_since(start);
        std::set<std::string> listed(repos.begin(), repos.end());
        std::size_t catalog_prefix = 0;
        for (const auto& repo : repos) catalog_prefix += repo.rfind("bench/cat/", 0) == 0;
        check(catalog_prefix == catalog_repos.size(),
              "_catalog: " + std::to_string(catalog_prefix) + " bench/cat/ repositories, expected " +
                  std::to_string(catalog_repos.size()));
        std::lock_guard lock(target->mutex);
        for (const auto& repo : target->manifest_repos) {
          check(listed.count(repo) == 1, "_catalog: repository " + repo + " missing");
        }
        ctx.recorder.value("catalog", "full_listing", target->name, elapsed * 1000, "ms", "lower");
        ctx.recorder.value("catalog", "pages", target->name, pages, "requests", "lower", "max");
        ctx.recorder.value("catalog", "repositories", target->name, repos.size(), "repos", "higher",
                           "max");
      });
    }
  }
}

struct Workload {
  std::string name;
  void (*run)(Context&);
  bool pulls_large_blob;  // needs push-large's blob, which is deleted after the last of these
};

// The client pulls run right after the load generator's own, on the same blobs.
const std::vector<Workload>& workloads() {
  static const std::vector<Workload> list = {
      {"push-large", push_large, true},
      {"push-chunked", push_chunked, false},
      {"pull-large", pull_large, true},
      {"pull-concurrent", pull_concurrent, false},
      {"curl-pull", curl_pull, true},
      {"curl-range", curl_range, true},
      {"curl-concurrent", curl_concurrent, false},
      {"skopeo-pull", skopeo_pull, true},
      {"ctr-pull", ctr_pull, true},
      {"first-pull", first_pull, false},
      {"small-ops", small_ops, false},
      {"small-ops-auth", small_ops_auth, false},
      {"push-many", push_many, false},
      {"push-many-webhooks", push_many_webhooks, false},
      {"push-many-auth", push_many_auth, false},
      {"lists", lists, false},
      {"gc", gc, false},
      {"push-many-gc", push_many_gc, false},
      {"cache", cache, false},
  };
  return list;
}

bool selected(const SuiteOptions& options, const std::string& name) {
  return options.only.empty() ||
         std::find(options.only.begin(), options.only.end(), name) != options.only.end();
}

// Deletes push-large's blob once no selected workload after `done` pulls it.
void release_large_blob(Context& ctx, const SuiteOptions& options, std::size_t done) {
  if (ctx.large_path.empty()) return;
  const auto& list = workloads();
  for (std::size_t i = done + 1; i < list.size(); ++i) {
    if (list[i].pulls_large_blob && selected(options, list[i].name)) return;
  }
  ::unlink(ctx.large_path.c_str());
  ctx.large_path.clear();
}

}  // namespace

int run_suite(const SuiteOptions& options) {
  Recorder recorder(options.out);
  std::vector<std::unique_ptr<Target>> targets;
  for (const auto& spec : options.targets) {
    auto target = std::make_unique<Target>();
    target->name = spec.name;
    target->host = spec.host;
    target->port = spec.port;
    target->pid = spec.pid;
    if (spec.auth) target->auth = std::make_unique<ClientAuth>(*spec.auth);
    target->auth_workloads_only = spec.auth_workloads_only;
    target->admin_token = spec.admin_token;
    targets.push_back(std::move(target));
  }
  Context ctx{options.quick ? quick_settings() : full_settings(),
              options.workdir,
              recorder,
              targets,
              {},
              {},
              options.containerd_socket,
              options.client_dir.empty() ? options.workdir : options.client_dir};

  for (auto& target : targets) {
    const double idle = process_status_mib(target->pid, "VmRSS");
    if (idle < 0) {
      recorder.failure("rss-idle", target->name, "cannot read the server's /proc status");
      continue;
    }
    recorder.value("rss-idle", "rss", target->name, idle, "MiB", "lower", "max");
    try {
      Connection connection(target->host, target->port, target->auth.get());
      probe_blob_push_mode(connection, *target);
      recorder.note("blob-push", target->name,
                    target->single_post ? "monolithic POST ?digest= with body (one request)"
                                        : "POST then PUT ?digest= with body (two requests)");
    } catch (const std::exception& e) {
      recorder.failure("blob-push", target->name, e.what());
    }
  }
  const auto& list = workloads();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& workload = list[i];
    if (!selected(options, workload.name)) continue;
    const auto start = Clock::now();
    try {
      workload.run(ctx);
    } catch (const std::exception& e) {
      recorder.failure(workload.name, "all", e.what());
    }
    release_large_blob(ctx, options, i);
    std::cerr << "[" << workload.name << "] done in " << seconds_since(start) << " s\n";
  }
  release_large_blob(ctx, options, list.size());
  return recorder.failed() ? 1 : 0;
}

}  // namespace berth::bench
