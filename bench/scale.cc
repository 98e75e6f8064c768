// The scale profile: populating one registry in steps, measuring small requests at each size,
// and many concurrent connections. See scale.h for the commands and bench/README.md.

#include "scale.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "bench_util.h"
#include "client_auth.h"
#include "event_load.h"
#include "http_client.h"
#include "recorder.h"
#include "registry_ops.h"

namespace berth::bench {
namespace {

constexpr std::string_view kBigRepo = "scale/big";
constexpr std::string_view kConnectionsRepo = "scale/conn";
// Repository and tag numbers are zero-padded so that byte order (the order of listings) is
// numeric order.
constexpr int kNameDigits = 7;
constexpr std::uint64_t kImageSeed = 7000;

int usage(const std::string& message) {
  std::cerr << "berth_loadgen scale: " << message << "\n(see bench/scale.h for usage)\n";
  return 2;
}

// --name value pairs; every option of the scale commands takes a value and may repeat.
using Options = std::map<std::string, std::vector<std::string>>;

std::optional<Options> parse_options(const std::vector<std::string>& args, std::size_t from,
                                     std::string& error) {
  Options options;
  for (std::size_t i = from; i < args.size(); i += 2) {
    if (args[i].rfind("--", 0) != 0 || i + 1 >= args.size()) {
      error = "bad argument " + args[i];
      return std::nullopt;
    }
    options[args[i].substr(2)].push_back(args[i + 1]);
  }
  return options;
}

std::string option(const Options& options, const std::string& name,
                   const std::string& fallback = {}) {
  auto found = options.find(name);
  return found == options.end() ? fallback : found->second.back();
}

std::uint64_t number_option(const Options& options, const std::string& name,
                            std::uint64_t fallback) {
  const std::string text = option(options, name);
  if (text.empty()) return fallback;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    throw std::invalid_argument("--" + name + " is not a number: " + text);
  }
  return value;
}

double seconds_option(const Options& options, const std::string& name, double fallback) {
  const std::string text = option(options, name);
  return text.empty() ? fallback : std::stod(text);
}

// The first line of a secret file.
std::string read_secret(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line.empty())
    throw std::runtime_error("cannot read " + path);
  return line;
}

// NAME=HOST:PORT:PID
std::unique_ptr<Target> parse_target(const std::string& spec) {
  const auto equals = spec.find('=');
  const auto last_colon = spec.rfind(':');
  const auto port_colon =
      last_colon == std::string::npos ? std::string::npos : spec.rfind(':', last_colon - 1);
  if (equals == std::string::npos || port_colon == std::string::npos || port_colon < equals) {
    throw std::invalid_argument("bad --target " + spec + " (NAME=HOST:PORT:PID)");
  }
  auto target = std::make_unique<Target>();
  target->name = spec.substr(0, equals);
  target->host = spec.substr(equals + 1, port_colon - equals - 1);
  target->port = static_cast<std::uint16_t>(
      std::stoul(spec.substr(port_colon + 1, last_colon - port_colon - 1)));
  target->pid = static_cast<pid_t>(std::stol(spec.substr(last_colon + 1)));
  if (target->port == 0 || target->pid <= 0) throw std::invalid_argument("bad --target " + spec);
  return target;
}

std::string numbered(std::string_view prefix, std::uint64_t number) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%0*llu", kNameDigits,
                static_cast<unsigned long long>(number));
  return std::string(prefix) + digits;
}

std::string small_repo(std::uint64_t index) { return numbered("scale/r", index); }
std::string big_tag(std::uint64_t index) { return numbered("t", index); }
std::string small_tag(std::uint64_t index) { return "v" + std::to_string(index); }

// The registry's shape: `repos` repositories in all (scale/big and repos - 1 small ones).
struct Shape {
  std::uint64_t repos = 0;
  std::uint64_t big_tags = 0;
  std::uint64_t tags_per_repo = 0;

  std::uint64_t small_repos() const { return repos == 0 ? 0 : repos - 1; }
  std::uint64_t tags() const { return big_tags + small_repos() * tags_per_repo; }
};

Shape shape_of(const Options& options) {
  Shape shape;
  shape.repos = number_option(options, "repos", 0);
  shape.big_tags = number_option(options, "big-tags", 0);
  shape.tags_per_repo = number_option(options, "tags-per-repo", 1);
  if (shape.repos > 0 && (shape.big_tags == 0 || shape.tags_per_repo == 0)) {
    throw std::invalid_argument(
        "a registry with repositories needs --big-tags and --tags-per-repo >= 1");
  }
  return shape;
}

// Runs fn(connection, item) for items [0, count) on `threads` threads, each with its own
// keep-alive connection. Throws the first failure.
void parallel_for(const Target& target, ClientAuth* auth, int threads, std::size_t count,
                  const std::function<void(Connection&, std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string first_error;
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        Connection connection(target.host, target.port, auth);
        while (!stop) {
          const std::size_t item = next++;
          if (item >= count) break;
          try {
            fn(connection, item);
          } catch (const std::exception& e) {
            std::lock_guard lock(mutex);
            if (first_error.empty()) first_error = e.what();
            stop = true;
          }
        }
      });
    }
  }
  if (!first_error.empty()) fail(first_error);
}

// A session that has seen the challenge, so that its copies need not ask again.
ClientAuth bearer_session(const Target& target, const std::string& refresh_token_file,
                          const std::string& actions) {
  ClientAuth session = ClientAuth::bearer(read_secret(refresh_token_file));
  session.set_repository_actions(actions);
  Connection connection(target.host, target.port);
  std::string error;
  check(session.prime(connection, {}, error), "credentials: " + error);
  return session;
}

// One token covering the scopes of `targets` (request paths), cached in `session`.
void prime_for(ClientAuth& session, Connection& connection, const std::vector<Request>& requests,
               const std::string& actions) {
  std::vector<std::string> keys;
  for (const auto& request : requests)
    keys.push_back(scope_for(request.method, request.target, actions));
  std::string error;
  check(session.prime(connection, keys, error), "credentials: " + error);
}

// ---- populate ----------------------------------------------------------------------------

void populate_big(const Target& target, ClientAuth& session, const Image& image, std::uint64_t from,
                  std::uint64_t to, int connections) {
  Connection connection(target.host, target.port, &session);
  const std::string repo(kBigRepo);
  if (from == 0) {
    // Two requests per blob (POST, then PUT with the body): every registry takes that.
    push_blob(connection, target, repo, image.config_digest, Body::from_memory(image.config));
    push_blob(connection, target, repo, image.layer_digest, Body::from_memory(image.layer));
  }
  parallel_for(target, &session, connections, to - from, [&](Connection& c, std::size_t i) {
    put_manifest(c, repo, big_tag(from + i), image);
  });
}

// Each batch of repositories shares one access token; each repository gets the image's two
// blobs by cross-repository mounts from scale/big and its tags by manifest PUTs. Returns the
// number of batches (= token requests).
std::uint64_t populate_small(const Target& target, const ClientAuth& session, const Image& image,
                             std::uint64_t from, std::uint64_t to, std::uint64_t tags_per_repo,
                             int connections, std::uint64_t scopes_per_token,
                             std::atomic<int>& declined) {
  const std::uint64_t count = to - from;
  const std::uint64_t spread = (count + connections - 1) / connections;
  const std::uint64_t batch = std::clamp<std::uint64_t>(spread, 1, scopes_per_token);
  const std::uint64_t batches = (count + batch - 1) / batch;
  const std::string from_repo(kBigRepo);
  std::atomic<std::uint64_t> done{0};
  const std::uint64_t report_every = std::max<std::uint64_t>(batches / 10, 1);
  const auto start = Clock::now();
  parallel_for(target, nullptr, connections, batches, [&](Connection& c, std::size_t b) {
    const std::uint64_t first = from + b * batch;
    const std::uint64_t last = std::min(first + batch, to);
    ClientAuth batch_session(session);
    std::vector<Request> requests;
    for (std::uint64_t r = first; r < last; ++r) {
      const std::string repo = small_repo(r);
      requests.push_back(
          {"POST",
           "/v2/" + repo + "/blobs/uploads/?mount=" + image.layer_digest + "&from=" + from_repo,
           {},
           Body::none()});
      requests.push_back({"PUT", "/v2/" + repo + "/manifests/v0", {}, Body::none()});
    }
    c.set_auth(&batch_session);
    try {
      prime_for(batch_session, c, requests, "pull,push");
      for (std::uint64_t r = first; r < last; ++r) {
        const std::string repo = small_repo(r);
        if (!mount_blob(c, repo, from_repo, image.config_digest, image.config)) ++declined;
        if (!mount_blob(c, repo, from_repo, image.layer_digest, image.layer)) ++declined;
        for (std::uint64_t t = 0; t < tags_per_repo; ++t)
          put_manifest(c, repo, small_tag(t), image);
      }
    } catch (...) {
      c.set_auth(nullptr);
      throw;
    }
    c.set_auth(nullptr);
    if (const auto finished = ++done; finished % report_every == 0) {
      std::cerr << "  populate: " << std::min(finished * batch, count) << " of " << count
                << " repositories in " << static_cast<int>(seconds_since(start)) << " s\n";
    }
  });
  return batches;
}

int command_populate(const Options& options) {
  auto target = parse_target(option(options, "target"));
  Recorder recorder(option(options, "out"));
  const Shape shape = shape_of(options);
  Shape before = shape;
  before.repos = number_option(options, "from-repos", 0);
  before.big_tags = number_option(options, "from-big-tags", 0);
  const int connections =
      static_cast<int>(std::max<std::uint64_t>(number_option(options, "connections", 32), 1));
  // Ten repositories per token: a tenth of the token requests of one per repository, while
  // the token, which every request carries and berth handles per request, stays small (with
  // 100 repositories per token berth took about a third fewer requests per second).
  const std::uint64_t scopes_per_token =
      std::max<std::uint64_t>(number_option(options, "scopes-per-token", 10), 1);
  const std::string workload = "populate";
  const std::string& name = target->name;
  recorder.value("size", "repositories", name, shape.repos, "repos", "higher", "max");
  recorder.value("size", "tags", name, shape.tags(), "tags", "higher", "max");
  if (shape.repos < before.repos || shape.big_tags < before.big_tags) {
    return usage("populate: the registry cannot shrink");
  }
  if (shape.repos == before.repos) return 0;
  try {
    const Image image = make_image(kImageSeed, 1024, "scale");
    ClientAuth session = bearer_session(*target, option(options, "credentials"), "pull,push");
    const auto start = Clock::now();
    populate_big(*target, session, image, before.big_tags, shape.big_tags, connections);
    const double big_seconds = seconds_since(start);
    std::atomic<int> declined{0};
    const auto small_start = Clock::now();
    const std::uint64_t batches =
        populate_small(*target, session, image, before.small_repos(), shape.small_repos(),
                       shape.tags_per_repo, connections, scopes_per_token, declined);
    const double small_seconds = seconds_since(small_start);
    const double seconds = seconds_since(start);
    const std::uint64_t new_repos = shape.small_repos() - before.small_repos();
    const std::uint64_t new_tags = shape.tags() - before.tags();
    recorder.value(workload, "seconds", name, seconds, "s", "lower");
    recorder.value(workload, "tags_per_s", name, new_tags / seconds, "tags/s", "higher");
    recorder.value(workload, "big_tags_per_s", name,
                   (shape.big_tags - before.big_tags) / big_seconds, "tags/s", "higher");
    recorder.value(workload, "repos_per_s", name, new_repos / small_seconds, "repos/s", "higher");
    // Per repository: two mounts and its tags' manifest PUTs (the tokens come on top).
    recorder.value(
        workload, "requests_per_s", name,
        ((shape.big_tags - before.big_tags) + new_repos * (2 + shape.tags_per_repo)) / seconds,
        "req/s", "higher");
    recorder.value(workload, "token_requests", name,
                   static_cast<double>(session.tokens_fetched() + batches), "requests", "lower",
                   "max");
    if (declined > 0) {
      recorder.note(workload, name,
                    std::to_string(declined.load()) + " cross-repository mounts declined");
    }
  } catch (const std::exception& e) {
    recorder.failure(workload, name, e.what());
  }
  return recorder.failed() ? 1 : 0;
}

// ---- measure -----------------------------------------------------------------------------

// One timed request (the ticket-th of the run, warm-up included): returns its latency in
// microseconds; throws on a wrong answer.
using TimedRequest = std::function<double(Connection&, std::mt19937_64&, std::uint64_t ticket)>;

// `warmup` untimed requests, then `samples` timed ones, over `connections` keep-alive
// connections; records p50/p99 and the rate.
void measure_operation(Recorder& recorder, const Target& target, ClientAuth& session,
                       const std::string& workload, int connections, std::uint64_t warmup,
                       std::uint64_t samples, const TimedRequest& request) {
  std::atomic<std::uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string first_error;
  std::vector<double> latencies;
  Clock::time_point window_start{};
  std::atomic<bool> window_open{false};
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < connections; ++t) {
      workers.emplace_back([&, t] {
        Connection connection(target.host, target.port, &session);
        std::mt19937_64 random(1234 + t);
        std::vector<double> mine;
        while (!stop) {
          const std::uint64_t ticket = next++;
          if (ticket >= warmup + samples) break;
          try {
            if (ticket == warmup) {
              std::lock_guard lock(mutex);
              window_start = Clock::now();
              window_open = true;
            }
            const double latency = request(connection, random, ticket);
            if (ticket >= warmup) mine.push_back(latency);
          } catch (const std::exception& e) {
            std::lock_guard lock(mutex);
            if (first_error.empty()) first_error = e.what();
            stop = true;
          }
        }
        std::lock_guard lock(mutex);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    }
  }
  if (!first_error.empty()) fail(first_error);
  const double window = window_open ? seconds_since(window_start) : 0;
  check(latencies.size() == samples, workload + ": " + std::to_string(latencies.size()) +
                                         " samples, expected " + std::to_string(samples));
  recorder.value(workload, "p50_latency", target.name, percentile(latencies, 50) / 1000, "ms",
                 "lower");
  recorder.value(workload, "p99_latency", target.name, percentile(latencies, 99) / 1000, "ms",
                 "lower");
  recorder.value(workload, "throughput", target.name, samples / window, "req/s", "higher");
}

template <typename Fn>
double timed(Fn&& fn) {
  const auto start = Clock::now();
  fn();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// The entries of one listing page, checked to be exactly `expected` in that order, with a
// Link header exactly when `more` entries follow.
void check_page(const Response& response, const std::string& target_path, const char* key,
                const std::vector<std::string>& expected, bool more) {
  expect_status(response, 200, "list GET " + target_path);
  boost::system::error_code ec;
  auto parsed = boost::json::parse(response.body, ec);
  check(!ec && parsed.is_object(), "list GET " + target_path + ": body is not a JSON object");
  const auto* entries = parsed.as_object().if_contains(key);
  check(entries && entries->is_array(), "list GET " + target_path + ": no '" + key + "' array");
  const auto& array = entries->as_array();
  bool same = array.size() == expected.size();
  for (std::size_t i = 0; same && i < array.size(); ++i) {
    same = array[i].is_string() && array[i].as_string() == expected[i];
  }
  check(same, "list GET " + target_path + ": " + std::to_string(array.size()) +
                  " entries, not the expected " + std::to_string(expected.size()) +
                  " names in order");
  check(response.header("Link").has_value() == more,
        "list GET " + target_path + (more ? ": no Link header" : ": Link header on the last page"));
}

// GET of a listing page after `last`: names(i) for i in (last_index, end), at most `page`.
double list_page(Connection& connection, const std::string& path_and_n, const char* key,
                 const std::string& last, std::uint64_t last_index, std::uint64_t end,
                 std::uint64_t page, const std::function<std::string(std::uint64_t)>& names) {
  const std::string target_path = path_and_n + "&last=" + url_encode(last);
  Response response;
  const double latency = timed([&] {
    send_checked(connection, {"GET", target_path, {}, Body::none()}, response, "list GET");
  });
  std::vector<std::string> expected;
  for (std::uint64_t i = last_index + 1; i < end && expected.size() < page; ++i)
    expected.push_back(names(i));
  check_page(response, target_path, key, expected, last_index + page + 1 < end);
  return latency;
}

// A random index in the middle half of [0, count).
std::uint64_t middle_index(std::mt19937_64& random, std::uint64_t count) {
  return count / 4 + random() % std::max<std::uint64_t>(count / 2, 1);
}

// Full listing with n=1000, checked against `expected` (sorted); records its time.
void full_listing(Recorder& recorder, const Target& target, Connection& connection,
                  const std::string& workload, const std::string& first, const char* key,
                  const std::vector<std::string>& expected) {
  int pages = 0;
  const auto start = Clock::now();
  auto listed = list_all(connection, first, key, pages);
  const double elapsed = seconds_since(start);
  check(listed == expected, workload + ": " + std::to_string(listed.size()) +
                                " names listed, not exactly the expected " +
                                std::to_string(expected.size()) + " in order");
  recorder.value(workload, "full_listing", target.name, elapsed * 1000, "ms", "lower");
  recorder.value(workload, "pages", target.name, pages, "requests", "lower", "max");
}

void measure_all(Recorder& recorder, const Target& target, const Options& options,
                 const Shape& shape) {
  const int connections =
      static_cast<int>(std::max<std::uint64_t>(number_option(options, "connections", 4), 1));
  const std::uint64_t samples = std::max<std::uint64_t>(number_option(options, "samples", 2000), 1);
  // One scope per token by default, as registry clients ask: a token's size is part of every
  // request's cost, so it must not change from step to step.
  const std::uint64_t scopes_per_token =
      std::max<std::uint64_t>(number_option(options, "scopes-per-token", 1), 1);
  const Image image = make_image(kImageSeed, 1024, "scale");
  ClientAuth session = bearer_session(target, option(options, "credentials"), "pull");

  // Requests go to random repositories of a sample drawn over the whole registry; its tokens
  // are fetched before any timing.
  const std::uint64_t small = shape.small_repos();
  std::vector<std::string> sample_repos;
  std::mt19937_64 draw(99);
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(small, 1000); ++i) {
    sample_repos.push_back(small_repo(draw() % small));
  }
  if (sample_repos.empty()) sample_repos.push_back(std::string(kBigRepo));
  // The warm-up visits every sampled repository (and uses every token) once, so that no timed
  // request is the first to its repository or the first with its token.
  const std::uint64_t warmup =
      std::max<std::uint64_t>(number_option(options, "warmup", 200), sample_repos.size());
  {
    Connection connection(target.host, target.port, &session);
    std::vector<Request> requests;
    for (std::size_t i = 0; i < sample_repos.size(); ++i) {
      requests.push_back({"GET", "/v2/" + sample_repos[i] + "/manifests/v0", {}, Body::none()});
      if (requests.size() == scopes_per_token || i + 1 == sample_repos.size()) {
        prime_for(session, connection, requests, "pull");
        requests.clear();
      }
    }
    prime_for(session, connection,
              {{"GET", "/v2/" + std::string(kBigRepo) + "/tags/list", {}, Body::none()},
               {"GET", "/v2/_catalog", {}, Body::none()}},
              "pull");
  }
  auto random_repo = [&](std::mt19937_64& random, std::uint64_t ticket) -> const std::string& {
    return sample_repos[ticket < sample_repos.size() ? ticket : random() % sample_repos.size()];
  };
  const bool big_only = small == 0;

  measure_operation(
      recorder, target, session, "manifest-get", connections, warmup, samples,
      [&](Connection& c, std::mt19937_64& random, std::uint64_t ticket) {
        const std::string& repo = random_repo(random, ticket);
        const std::string tag = big_only ? big_tag(random() % shape.big_tags)
                                         : small_tag(random() % shape.tags_per_repo);
        return timed([&] { get_manifest_checked(c, "/v2/" + repo + "/manifests/" + tag, image); });
      });
  measure_operation(
      recorder, target, session, "blob-head", connections, warmup, samples,
      [&](Connection& c, std::mt19937_64& random, std::uint64_t ticket) {
        const std::string path =
            "/v2/" + random_repo(random, ticket) + "/blobs/" + image.layer_digest;
        return timed([&] { head_blob_checked(c, path, image.layer_digest, image.layer.size()); });
      });
  const std::uint64_t page = 100;
  const std::string tags_path =
      "/v2/" + std::string(kBigRepo) + "/tags/list?n=" + std::to_string(page);
  measure_operation(recorder, target, session, "tags-page", connections, warmup, samples,
                    [&](Connection& c, std::mt19937_64& random, std::uint64_t) {
                      const std::uint64_t last = middle_index(random, shape.big_tags);
                      return list_page(c, tags_path, "tags", big_tag(last), last, shape.big_tags,
                                       page, big_tag);
                    });
  if (!big_only) {
    // scale/big sorts before every scale/r..., so the page after scale/r<i> holds r<i+1>...
    const std::string catalog_path = "/v2/_catalog?n=" + std::to_string(page);
    measure_operation(recorder, target, session, "catalog-page", connections, warmup, samples,
                      [&](Connection& c, std::mt19937_64& random, std::uint64_t) {
                        const std::uint64_t last = middle_index(random, small);
                        return list_page(c, catalog_path, "repositories", small_repo(last), last,
                                         small, page, small_repo);
                      });
  }

  // Every listed name checked, once per step: the whole tag list of scale/big and the whole
  // catalog (nothing else lives in this registry while the steps run).
  Connection connection(target.host, target.port, &session);
  std::vector<std::string> expected;
  for (std::uint64_t i = 0; i < shape.big_tags; ++i) expected.push_back(big_tag(i));
  full_listing(recorder, target, connection, "tags-full",
               tags_path.substr(0, tags_path.find('?')) + "?n=1000", "tags", expected);
  expected.assign(1, std::string(kBigRepo));
  for (std::uint64_t i = 0; i < small; ++i) expected.push_back(small_repo(i));
  full_listing(recorder, target, connection, "catalog-full", "/v2/_catalog?n=1000", "repositories",
               expected);
}

int command_measure(const Options& options) {
  auto target = parse_target(option(options, "target"));
  Recorder recorder(option(options, "out"));
  const Shape shape = shape_of(options);
  if (shape.repos > 0) {
    try {
      measure_all(recorder, *target, options, shape);
    } catch (const std::exception& e) {
      recorder.failure("measure", target->name, e.what());
    }
  }
  return recorder.failed() ? 1 : 0;
}

// ---- connections -------------------------------------------------------------------------

struct SmallBlob {
  std::string bytes;
  std::string digest;
};

void run_connections(Recorder& recorder, std::vector<std::unique_ptr<Target>>& targets,
                     const Options& options) {
  const int connections =
      static_cast<int>(std::max<std::uint64_t>(number_option(options, "connections", 1000), 1));
  const double seconds = seconds_option(options, "seconds", 5);
  const double warmup = seconds_option(options, "warmup", 1);
  const std::uint64_t reps = std::max<std::uint64_t>(number_option(options, "reps", 2), 1);
  const std::uint64_t blob_size =
      std::max<std::uint64_t>(number_option(options, "blob-size", 4096), 1);
  const std::uint64_t blob_count = std::max<std::uint64_t>(number_option(options, "blobs", 16), 1);
  const std::string repo(kConnectionsRepo);
  const std::string workload = "connections";

  std::vector<SmallBlob> blobs;
  for (std::uint64_t i = 0; i < blob_count; ++i) {
    SmallBlob blob{Random(8000 + i).bytes(blob_size), {}};
    blob.digest = sha256_digest(blob.bytes);
    blobs.push_back(std::move(blob));
  }
  std::vector<Operation> operations;
  for (const auto& blob : blobs) {
    operations.push_back({"GET /v2/" + repo + "/blobs/" + blob.digest + " HTTP/1.1\r\n\r\n", false,
                          [&blob](const SmallResponse& r) -> std::string {
                            if (r.status != 200)
                              return "blob GET: status " + std::to_string(r.status);
                            if (r.body != blob.bytes) return "blob GET: body differs from the blob";
                            auto digest = r.header("Docker-Content-Digest");
                            if (digest && *digest != blob.digest)
                              return "blob GET: wrong Docker-Content-Digest";
                            return {};
                          }});
  }
  // Per target: its Host line, and its Authorization line when it has credentials.
  std::vector<std::vector<std::string>> headers(targets.size());
  std::vector<bool> ready(targets.size(), false);
  for (std::size_t t = 0; t < targets.size(); ++t) {
    Target& target = *targets[t];
    try {
      Connection connection(target.host, target.port, target.auth.get());
      for (const auto& blob : blobs) {
        push_blob(connection, target, repo, blob.digest, Body::from_memory(blob.bytes));
      }
      std::string lines = "Host: " + target.host + ":" + std::to_string(target.port) + "\r\n";
      if (target.auth) {
        std::string error;
        auto authorization = target.auth->authorization_for(
            connection, {"GET", "/v2/" + repo + "/blobs/" + blobs.front().digest, {}, Body::none()},
            error);
        check(authorization.has_value(), "credentials: " + error);
        lines += "Authorization: " + *authorization + "\r\n";
      }
      headers[t].push_back(std::move(lines));
      ready[t] = true;
    } catch (const std::exception& e) {
      recorder.failure(workload, target.name, std::string("preparation: ") + e.what());
    }
  }
  for (std::uint64_t rep = 0; rep < reps; ++rep) {
    for (std::size_t k = 0; k < targets.size(); ++k) {
      const std::size_t t = rep % 2 == 0 ? k : targets.size() - 1 - k;  // alternate the order
      if (!ready[t]) continue;
      Target& target = *targets[t];
      std::cerr << "[" << workload << "] " << target.name << ": " << connections
                << " connections\n";
      try {
        check(reset_peak_rss(target.pid), "cannot reset peak RSS (server gone?)");
        double cpu_before = 0, self_before = 0;
        auto result = run_event_load(
            target.host, target.port, connections, operations, warmup, seconds,
            [&] {
              cpu_before = process_cpu_seconds(target.pid);
              self_before = self_cpu_seconds();
            },
            headers[t]);
        const double server_cpu = process_cpu_seconds(target.pid) - cpu_before;
        const double self_cpu = self_cpu_seconds() - self_before;
        const double peak = process_status_mib(target.pid, "VmHWM");
        check(result.error.empty(), result.error);
        auto& all = result.latencies_us;
        check(!all.empty(), "no request completed in the measured window");
        const double wall = result.window_seconds;
        recorder.value(workload, "throughput", target.name, all.size() / wall, "req/s", "higher");
        recorder.value(workload, "p50_latency", target.name, percentile(all, 50) / 1000, "ms",
                       "lower");
        recorder.value(workload, "p99_latency", target.name, percentile(all, 99) / 1000, "ms",
                       "lower");
        // The load stops at the first wrong answer (recorded as a failure), so a finished
        // window had none.
        recorder.value(workload, "errors", target.name, 0, "errors", "lower", "max");
        recorder.value(workload, "server_cpu", target.name, server_cpu / wall, "cores", "lower");
        recorder.value(workload, "loadgen_cpu", target.name, self_cpu / wall, "cores", "lower");
        check(peak >= 0, "server process is gone");
        recorder.value(workload, "peak_rss", target.name, peak, "MiB", "lower", "max");
      } catch (const std::exception& e) {
        recorder.failure(workload, target.name, e.what());
      }
    }
  }
}

int command_connections(const Options& options) {
  Recorder recorder(option(options, "out"));
  std::vector<std::unique_ptr<Target>> targets;
  auto found = options.find("target");
  if (found == options.end()) return usage("connections: no --target");
  for (const auto& spec : found->second) targets.push_back(parse_target(spec));
  if (auto credentials = options.find("credentials"); credentials != options.end()) {
    for (const auto& spec : credentials->second) {
      const auto equals = spec.find('=');
      auto target = std::find_if(targets.begin(), targets.end(), [&](const auto& t) {
        return equals != std::string::npos && t->name == spec.substr(0, equals);
      });
      if (target == targets.end()) return usage("--credentials for no --target: " + spec);
      (*target)->auth =
          std::make_unique<ClientAuth>(ClientAuth::bearer(read_secret(spec.substr(equals + 1))));
      (*target)->auth->set_repository_actions("pull,push");
    }
  }
  run_connections(recorder, targets, options);
  return recorder.failed() ? 1 : 0;
}

// ---- report ------------------------------------------------------------------------------

struct Figure {
  std::string unit;
  std::string agg;
  std::vector<double> values;

  double aggregate() const {
    if (agg == "max") return *std::max_element(values.begin(), values.end());
    return median(values);
  }
};

// (workload, metric, target) -> values, from one JSON-lines file; failures and notes apart.
struct Results {
  std::map<std::tuple<std::string, std::string, std::string>, Figure> figures;
  std::vector<std::string> failures;
  std::vector<std::string> notes;
  std::vector<boost::json::object> lines;
};

Results read_results(const std::string& path) {
  Results results;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto parsed = boost::json::parse(line, ec);
    if (ec || !parsed.is_object()) throw std::runtime_error(path + ": not a JSON line: " + line);
    auto& object = parsed.as_object();
    auto text = [&](const char* key) {
      const auto* value = object.if_contains(key);
      return value && value->is_string() ? std::string(value->as_string()) : std::string();
    };
    const std::string where = text("workload") + " [" + text("target") + "]";
    if (const auto* ok = object.if_contains("ok"); ok && ok->is_bool() && !ok->as_bool()) {
      results.failures.push_back(where + ": " + text("error"));
    } else if (object.contains("note")) {
      results.notes.push_back(where + ": " + text("note"));
    } else if (const auto* value = object.if_contains("value"); value && value->is_number()) {
      auto& figure = results.figures[{text("workload"), text("metric"), text("target")}];
      figure.unit = text("unit");
      figure.agg = text("agg");
      figure.values.push_back(value->to_number<double>());
    }
    results.lines.push_back(std::move(object));
  }
  return results;
}

struct Row {
  std::string label;
  std::string workload;
  std::string metric;
};

const std::vector<Row>& step_rows() {
  static const std::vector<Row> rows = {
      {"repositories", "size", "repositories"},
      {"tags", "size", "tags"},
      {"populate time (s)", "populate", "seconds"},
      {"populate tags/s", "populate", "tags_per_s"},
      {"populate repos/s", "populate", "repos_per_s"},
      {"populate req/s", "populate", "requests_per_s"},
      {"manifest GET p50 (ms)", "manifest-get", "p50_latency"},
      {"manifest GET p99 (ms)", "manifest-get", "p99_latency"},
      {"blob HEAD p50 (ms)", "blob-head", "p50_latency"},
      {"blob HEAD p99 (ms)", "blob-head", "p99_latency"},
      {"tags page p50 (ms)", "tags-page", "p50_latency"},
      {"tags page p99 (ms)", "tags-page", "p99_latency"},
      {"catalog page p50 (ms)", "catalog-page", "p50_latency"},
      {"catalog page p99 (ms)", "catalog-page", "p99_latency"},
      {"all tags, n=1000 (ms)", "tags-full", "full_listing"},
      {"whole catalog, n=1000 (ms)", "catalog-full", "full_listing"},
      {"RSS at rest (MiB)", "rss-rest", "rss"},
      {"  of it anonymous", "rss-rest", "rss_anon"},
      {"  of it file-backed", "rss-rest", "rss_file"},
      {"RSS after requests (MiB)", "rss-after", "rss"},
      {"  of it anonymous", "rss-after", "rss_anon"},
      {"  of it file-backed", "rss-after", "rss_file"},
      {"start-up (ms)", "startup", "ready"},
      {"RSS when ready (MiB)", "startup", "rss_ready"},
      {"metadata.db + WAL (MiB)", "disk", "metadata_db"},
      {"data directory (MiB)", "disk", "data_dir"},
  };
  return rows;
}

std::string format_value(std::optional<double> value) {
  if (!value) return "-";
  char text[32];
  const double v = *value;
  std::snprintf(text, sizeof text,
                std::fabs(v) >= 100  ? "%.0f"
                : std::fabs(v) >= 10 ? "%.1f"
                                     : "%.3f",
                v);
  return text;
}

int command_report(const Options& options) {
  std::vector<std::pair<std::string, Results>> steps;
  if (auto found = options.find("step"); found != options.end()) {
    for (const auto& spec : found->second) {
      const auto equals = spec.find('=');
      if (equals == std::string::npos) return usage("bad --step " + spec + " (NAME=FILE)");
      steps.emplace_back(spec.substr(0, equals), read_results(spec.substr(equals + 1)));
    }
  }
  std::optional<Results> connections;
  if (const auto path = option(options, "connections-in"); !path.empty())
    connections = read_results(path);
  const std::string target = option(options, "target", "berth");

  boost::json::object summary;
  boost::json::array step_array;
  std::vector<std::string> failures, notes;
  std::printf(
      "\nScale profile of %s (figures per step; growth = last step / first step with data)\n\n",
      target.c_str());
  std::printf("%-28s", "");
  for (const auto& [name, results] : steps) std::printf(" %12s", name.c_str());
  std::printf(" %8s\n", "growth");
  for (const auto& row : step_rows()) {
    std::printf("%-28s", row.label.c_str());
    std::optional<double> first, last;
    for (const auto& [name, results] : steps) {
      auto found = results.figures.find({row.workload, row.metric, target});
      std::optional<double> value;
      if (found != results.figures.end()) value = found->second.aggregate();
      std::printf(" %12s", format_value(value).c_str());
      if (value && !first) first = value;
      if (value) last = value;
    }
    std::optional<double> growth;
    if (first && last && *first > 0 && row.workload != "size") growth = *last / *first;
    std::printf(" %8s\n", growth ? (format_value(growth) + "x").c_str() : "");
  }
  for (auto& [name, results] : steps) {
    boost::json::object step{{"step", name}};
    boost::json::object figures;
    for (const auto& [key, figure] : results.figures) {
      const auto& [workload, metric, line_target] = key;
      figures[workload + "." + metric + "." + line_target] =
          boost::json::object{{"value", figure.aggregate()}, {"unit", figure.unit}};
    }
    step["figures"] = std::move(figures);
    step_array.push_back(std::move(step));
    for (const auto& failure : results.failures) failures.push_back(name + ": " + failure);
    for (const auto& note : results.notes) notes.push_back(name + ": " + note);
  }
  summary["steps"] = std::move(step_array);

  if (connections) {
    std::set<std::string> names;
    for (const auto& [key, figure] : connections->figures) names.insert(std::get<2>(key));
    static const std::vector<std::pair<std::string, std::string>> metrics = {
        {"throughput", "req/s"},         {"p50_latency", "p50 (ms)"},
        {"p99_latency", "p99 (ms)"},     {"errors", "errors"},
        {"peak_rss", "peak RSS (MiB)"},  {"server_cpu", "server cores"},
        {"loadgen_cpu", "loadgen cores"}};
    std::printf(
        "\nConcurrent connections pulling small blobs (median of repetitions, max for RSS)\n\n");
    std::printf("%-16s", "");
    for (const auto& name : names) std::printf(" %12s", name.c_str());
    std::printf("\n");
    boost::json::object by_target;
    for (const auto& [metric, label] : metrics) {
      std::printf("%-16s", label.c_str());
      for (const auto& name : names) {
        auto found = connections->figures.find({"connections", metric, name});
        std::optional<double> value;
        if (found != connections->figures.end()) {
          value = found->second.aggregate();
          auto& entry = by_target[name];
          if (!entry.is_object()) entry.emplace_object();
          entry.as_object()[metric] = *value;
        }
        std::printf(" %12s", format_value(value).c_str());
      }
      std::printf("\n");
    }
    summary["connections"] = std::move(by_target);
    for (const auto& failure : connections->failures) failures.push_back("connections: " + failure);
    for (const auto& note : connections->notes) notes.push_back("connections: " + note);
  }
  for (const auto& note : notes) std::printf("note: %s\n", note.c_str());
  for (const auto& failure : failures) std::printf("FAILED %s\n", failure.c_str());
  boost::json::array failure_array(failures.begin(), failures.end());
  summary["failures"] = std::move(failure_array);
  summary["ok"] = failures.empty();

  if (const auto path = option(options, "json"); !path.empty()) {
    std::ofstream out(path);
    out << boost::json::serialize(summary) << '\n';
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  // The raw lines of all steps in one file, each with its step.
  if (const auto path = option(options, "raw"); !path.empty()) {
    std::ofstream out(path);
    for (auto& [name, results] : steps) {
      for (auto line : results.lines) {
        line["step"] = name;
        out << boost::json::serialize(line) << '\n';
      }
    }
    if (connections) {
      for (auto line : connections->lines) {
        line["step"] = "connections";
        out << boost::json::serialize(line) << '\n';
      }
    }
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  return failures.empty() ? 0 : 1;
}

}  // namespace

int run_scale(const std::vector<std::string>& args) {
  if (args.empty()) return usage("missing subcommand");
  std::string error;
  auto options = parse_options(args, 1, error);
  if (!options) return usage(error);
  try {
    if (args[0] == "populate") return command_populate(*options);
    if (args[0] == "measure") return command_measure(*options);
    if (args[0] == "connections") return command_connections(*options);
    if (args[0] == "report") return command_report(*options);
  } catch (const std::invalid_argument& e) {
    return usage(e.what());
  }
  return usage("unknown subcommand " + args[0]);
}

}  // namespace berth::bench
