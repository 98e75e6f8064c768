// ImportWorker: takes queued import jobs and runs them (importer.h). A job reads its source
// (an upstream through the OCI client, or another registry of this deployment), plans what to
// copy (every platform of an index, the referrers when asked), copies the blobs through the
// registry's content path, then stores the manifests children first and the tags last, so a
// client never sees a tag whose content is not all there.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <limits>
#include <map>
#include <set>

#include "common/clock.h"
#include "oci/manifest.h"
#include "upstream/importer.h"

namespace berth::upstream {
namespace {

namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kProgressInterval = std::chrono::seconds(1);
constexpr std::size_t kMaxPlannedManifests = 1000;
constexpr std::size_t kPruneBatch = 1000;

// Why a job failed, for people: the step and the cause.
struct JobFailure {
  std::string message;
};

// A step's outcome: nothing, or why the job fails.
using Step = std::optional<JobFailure>;

JobFailure failure(std::string message) { return JobFailure{std::move(message)}; }

std::string describe(const client::ClientError& error) {
  return fmt::format("{} ({})", error.message, client::errc_name(error.code));
}

std::string reference_text(const oci::Reference& reference) {
  if (const auto* digest = std::get_if<oci::Digest>(&reference)) return digest->str();
  return std::get<std::string>(reference);
}

// Where the imported content goes: a repository, with a tag or untagged.
struct Target {
  std::string repository;
  std::optional<std::string> tag;
};

std::vector<Target> targets_of(const ImportRequest& request, const ImageName& source) {
  std::vector<Target> targets;
  std::string why;
  for (const auto& text : request.target_tags) {
    if (auto image = parse_image(text, why)) {
      targets.push_back({image->repository, std::get<std::string>(image->reference)});
    }
  }
  for (const auto& repository : request.untagged_target_repositories) {
    targets.push_back({repository, std::nullopt});
  }
  if (targets.empty()) {
    // As the hosted service does: the source's repository and tag (untagged for a digest).
    std::optional<std::string> tag;
    if (const auto* name = std::get_if<std::string>(&source.reference)) tag = *name;
    targets.push_back({source.repository, tag});
  }
  return targets;
}

std::vector<std::string> repositories_of(const std::vector<Target>& targets) {
  std::vector<std::string> repositories;
  for (const auto& target : targets) {
    if (std::find(repositories.begin(), repositories.end(), target.repository) ==
        repositories.end()) {
      repositories.push_back(target.repository);
    }
  }
  return repositories;
}

struct FetchedManifest {
  std::string bytes;
  std::string media_type;
  oci::Digest digest;
};

// What an import reads from: an upstream registry or a registry of this deployment.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::string describe_source() const = 0;
  virtual std::variant<FetchedManifest, JobFailure> manifest(std::string_view reference) = 0;
  // The descriptors of the manifest's referrers.
  virtual std::variant<std::vector<oci::Descriptor>, JobFailure> referrers(
      const oci::Digest& digest) = 0;
  // Stores the blob in `repository` of `target`; `progress` is told of every byte copied.
  virtual Step copy_blob(registry::Registry& target, std::string_view repository,
                         const oci::Descriptor& blob,
                         const std::function<bool(std::uint64_t)>& progress) = 0;
  // Whether the blob is copied byte by byte (false: linked).
  virtual bool copies_bytes() const = 0;
};

std::vector<oci::Descriptor> descriptors_of_index(std::string_view bytes) {
  std::vector<oci::Descriptor> out;
  auto parsed = oci::parse_manifest(bytes, "application/vnd.oci.image.index.v1+json");
  if (!parsed) return out;
  return parsed->manifests;
}

class UpstreamSource final : public Source {
 public:
  UpstreamSource(client::RegistryClient client, std::string login_server, std::string repository)
      : client_(std::move(client)),
        login_server_(std::move(login_server)),
        repository_(std::move(repository)) {}

  std::string describe_source() const override {
    return fmt::format("{}/{}", login_server_, repository_);
  }

  std::variant<FetchedManifest, JobFailure> manifest(std::string_view reference) override {
    auto fetched = client_.get_manifest(repository_, reference);
    if (!fetched) {
      return failure(fmt::format("cannot read manifest {} of {}: {}", reference,
                                 describe_source(), describe(fetched.error())));
    }
    return FetchedManifest{std::move(fetched->bytes), std::move(fetched->media_type),
                           fetched->digest};
  }

  std::variant<std::vector<oci::Descriptor>, JobFailure> referrers(
      const oci::Digest& digest) override {
    auto index = client_.get_referrers(repository_, digest);
    if (!index) {
      return failure(fmt::format("cannot list the referrers of {} on {}: {}", digest.str(),
                                 describe_source(), describe(index.error())));
    }
    return descriptors_of_index(*index);
  }

  Step copy_blob(registry::Registry& target, std::string_view repository,
                 const oci::Descriptor& blob,
                 const std::function<bool(std::uint64_t)>& progress) override {
    auto session = target.start_single_request_upload(repository);
    if (!session) {
      return failure(fmt::format("cannot store blob {} in '{}': {}", blob.digest.str(),
                                 repository, session.error().message));
    }
    std::optional<std::string> store_error;
    client::BlobFetchOptions options;
    options.expected_size = static_cast<std::uint64_t>(blob.size);
    auto fetched = client_.get_blob(
        repository_, blob.digest,
        [&](std::span<const std::byte> bytes) {
          if (auto appended = (*session)->append(bytes); !appended) {
            store_error = appended.error().message;
            return false;
          }
          return progress(bytes.size());
        },
        options);
    if (!fetched) {
      (*session)->abandon();
      if (store_error) {
        return failure(fmt::format("cannot store blob {}: {}", blob.digest.str(), *store_error));
      }
      return failure(fmt::format("cannot copy blob {} from {}: {}", blob.digest.str(),
                                 describe_source(), describe(fetched.error())));
    }
    auto committed = (*session)->commit(blob.digest);
    if (!committed) {
      return failure(fmt::format("cannot store blob {} in '{}': {}", blob.digest.str(),
                                 repository, committed.error().message));
    }
    return std::nullopt;
  }

  bool copies_bytes() const override { return true; }

 private:
  client::RegistryClient client_;
  std::string login_server_;
  std::string repository_;
};

// Another registry of this deployment: manifests are read through its content service, blobs
// linked without copying.
class LocalSource final : public Source {
 public:
  LocalSource(registry::Registry source, std::string name, std::string repository)
      : source_(std::move(source)), name_(std::move(name)), repository_(std::move(repository)) {}

  std::string describe_source() const override {
    return fmt::format("registry '{}', repository '{}'", name_, repository_);
  }

  std::variant<FetchedManifest, JobFailure> manifest(std::string_view reference) override {
    auto parsed = oci::parse_reference(reference);
    if (!parsed) return failure(fmt::format("'{}' is not a tag or a digest", reference));
    auto stored = source_.get_manifest(repository_, *parsed);
    if (!stored) {
      return failure(fmt::format("cannot read manifest {} of {}: {}", reference,
                                 describe_source(), stored.error().message));
    }
    return FetchedManifest{std::move(stored->content), std::move(stored->media_type),
                           stored->digest};
  }

  std::variant<std::vector<oci::Descriptor>, JobFailure> referrers(
      const oci::Digest& digest) override {
    auto listed = source_.list_referrers(repository_, digest, std::nullopt);
    if (!listed) {
      return failure(fmt::format("cannot list the referrers of {} in {}: {}", digest.str(),
                                 describe_source(), listed.error().message));
    }
    std::vector<oci::Descriptor> descriptors;
    for (const auto& referrer : *listed) {
      descriptors.push_back(oci::Descriptor{.media_type = referrer.media_type,
                                            .digest = referrer.digest,
                                            .size = static_cast<std::int64_t>(referrer.size)});
    }
    return descriptors;
  }

  Step copy_blob(registry::Registry& target, std::string_view repository,
                 const oci::Descriptor& blob,
                 const std::function<bool(std::uint64_t)>& progress) override {
    auto linked = target.mount_blob_from(source_, repository_, repository, blob.digest);
    if (!linked) {
      return failure(fmt::format("cannot link blob {} from {}: {}", blob.digest.str(),
                                 describe_source(), linked.error().message));
    }
    progress(static_cast<std::uint64_t>(blob.size));
    return std::nullopt;
  }

  bool copies_bytes() const override { return false; }

 private:
  registry::Registry source_;
  std::string name_;
  std::string repository_;
};

struct PlannedManifest {
  FetchedManifest manifest;
  std::vector<oci::Descriptor> blobs;
};

// What an import stores: manifests in the order they are put (children before their index,
// the root, then referrers after their subjects), and every blob they need once.
struct Plan {
  std::vector<PlannedManifest> manifests;
  std::size_t root = 0;
  std::vector<oci::Descriptor> blobs;
  std::uint64_t bytes = 0;
};

class Planner {
 public:
  Planner(Source& source, bool include_referrers)
      : source_(source), include_referrers_(include_referrers) {}

  std::variant<Plan, JobFailure> plan(std::string_view reference) {
    auto root = source_.manifest(reference);
    if (auto* failed = std::get_if<JobFailure>(&root)) return std::move(*failed);
    if (auto bad = add(std::move(std::get<FetchedManifest>(root)), true)) return std::move(*bad);
    if (include_referrers_) {
      // Referrers of everything planned so far (the root and its children), and of theirs.
      for (std::size_t next = 0; next < plan_.manifests.size(); ++next) {
        if (auto bad = add_referrers(plan_.manifests[next].manifest.digest)) {
          return std::move(*bad);
        }
      }
    }
    return std::move(plan_);
  }

 private:
  Step add(FetchedManifest manifest, bool is_root) {
    if (plan_.manifests.size() >= kMaxPlannedManifests) {
      return failure(fmt::format("the image has more than {} manifests", kMaxPlannedManifests));
    }
    if (!seen_manifests_.insert(manifest.digest.str()).second) return std::nullopt;
    auto parsed = oci::parse_manifest(manifest.bytes, manifest.media_type);
    if (!parsed) {
      return failure(fmt::format("manifest {} is not a valid manifest: {}",
                                 manifest.digest.str(), parsed.error().message));
    }
    PlannedManifest planned{std::move(manifest), {}};
    if (parsed->kind == oci::ManifestKind::index) {
      for (const auto& child : parsed->manifests) {
        auto fetched = source_.manifest(child.digest.str());
        if (auto* failed = std::get_if<JobFailure>(&fetched)) return std::move(*failed);
        if (auto bad = add(std::move(std::get<FetchedManifest>(fetched)), false)) return bad;
      }
    } else {
      if (parsed->config) planned.blobs.push_back(*parsed->config);
      for (const auto& layer : parsed->layers) {
        if (oci::must_be_present(layer)) planned.blobs.push_back(layer);
      }
    }
    for (const auto& blob : planned.blobs) {
      if (!seen_blobs_.insert(blob.digest.str()).second) continue;
      plan_.blobs.push_back(blob);
      plan_.bytes += static_cast<std::uint64_t>(blob.size);
    }
    plan_.manifests.push_back(std::move(planned));
    if (is_root) plan_.root = plan_.manifests.size() - 1;
    return std::nullopt;
  }

  Step add_referrers(const oci::Digest& subject) {
    auto listed = source_.referrers(subject);
    if (auto* failed = std::get_if<JobFailure>(&listed)) return std::move(*failed);
    for (const auto& referrer : std::get<std::vector<oci::Descriptor>>(listed)) {
      if (seen_manifests_.contains(referrer.digest.str())) continue;
      auto fetched = source_.manifest(referrer.digest.str());
      if (auto* failed = std::get_if<JobFailure>(&fetched)) return std::move(*failed);
      if (auto bad = add(std::move(std::get<FetchedManifest>(fetched)), false)) return bad;
    }
    return std::nullopt;
  }

  Source& source_;
  bool include_referrers_;
  Plan plan_;
  std::set<std::string> seen_manifests_;
  std::set<std::string> seen_blobs_;
};

}  // namespace

// One job's run: everything it needs, and its progress.
class ImportRun {
 public:
  ImportRun(ImportWorker& worker, metadata::ImportJob job) : worker_(worker), job_(std::move(job)) {}

  // Runs the job to its end; false when this node lost it (another node took it over, or the
  // worker stops) and must not finish it.
  void run();

 private:
  std::variant<std::unique_ptr<Source>, JobFailure> open_source(const ImportRequest& request,
                                                                const ImageName& image);
  std::optional<client::Credentials> login_for(const ImportRequest& request, Step& problem);
  Step check_no_force(registry::Registry& target, const std::vector<Target>& targets,
                      const oci::Digest& root);
  Step copy_blobs(Source& source, registry::Registry& target,
                  const std::vector<std::string>& repositories, const Plan& plan);
  Step put_manifests(registry::Registry& target, const std::vector<Target>& targets,
                     const Plan& plan, bool force);
  // Records progress at most once a second (and when `now`); false when the job was lost.
  bool report(bool now);
  std::string result_json(const Plan& plan, const std::vector<Target>& targets) const;

  ImportWorker& worker_;
  metadata::ImportJob job_;
  metadata::ImportProgress progress_;
  SteadyClock::time_point last_report_{};
  bool lost_ = false;
  std::uint64_t bytes_copied_ = 0;
};

ImportWorker::ImportWorker(metadata::UpstreamStore& store, metadata::MetadataStore& metadata,
                           const registry::RegistryServices& registries,
                           const registry::TenantResolver& hosts, UpstreamService& upstream,
                           const auth::DeploymentKey& key, ImportWorkerOptions options)
    : store_(store),
      metadata_(metadata),
      registries_(registries),
      hosts_(hosts),
      upstream_(upstream),
      key_(key),
      options_(std::move(options)) {}

ImportWorker::~ImportWorker() { stop(); }

void ImportWorker::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void ImportWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    woken_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ImportWorker::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wakeup_.notify_all();
}

void ImportWorker::loop() {
  auto last_prune = SteadyClock::time_point{};
  while (!stopping_) {
    bool ran = false;
    try {
      ran = run_one();
    } catch (const std::exception& e) {
      spdlog::error("import worker: {}", e.what());
    }
    if (SteadyClock::now() - last_prune > std::chrono::hours(1)) {
      last_prune = SteadyClock::now();
      const auto keep = std::chrono::duration_cast<std::chrono::seconds>(options_.keep_finished);
      if (auto pruned = store_.prune_imports(unix_now() - keep.count(), kPruneBatch); !pruned) {
        spdlog::warn("import worker: cannot forget old imports: {}", pruned.error().message);
      }
    }
    if (ran) continue;
    std::unique_lock lock(mutex_);
    wakeup_.wait_for(lock, options_.poll_interval, [this] { return woken_ || stopping_.load(); });
    woken_ = false;
  }
}

bool ImportWorker::run_one() {
  const std::int64_t now = unix_now();
  const std::int64_t stale_before = options_.only_node
                                        ? std::numeric_limits<std::int64_t>::max()
                                        : now - options_.stale_after.count();
  auto claimed = store_.claim_import(options_.node, now, stale_before);
  if (!claimed) {
    spdlog::warn("import worker: cannot look for imports: {}", claimed.error().message);
    return false;
  }
  if (!*claimed) return false;
  spdlog::info("import {} started on node {}", (*claimed)->id, options_.node);
  ImportRun run(*this, std::move(**claimed));
  run.run();
  return true;
}

void ImportRun::run() {
  auto request = request_of_json(job_.request);
  std::string why;
  std::optional<ImageName> image;
  if (request) image = parse_image(request->source_image, why);
  auto finish = [&](metadata::ImportStatus status, std::string_view result,
                    std::string_view error) {
    if (lost_) return;
    auto ended = worker_.store_.finish_import(job_.id, worker_.options_.node, status, result,
                                              error, unix_now());
    if (!ended) {
      spdlog::error("import {}: cannot record its end: {}", job_.id, ended.error().message);
    } else if (*ended) {
      spdlog::info("import {} {}{}{}", job_.id, status_name(status), error.empty() ? "" : ": ",
                   error);
    }
  };
  if (!request || !image) {
    finish(metadata::ImportStatus::failed, "", "the stored request is not readable");
    return;
  }
  auto opened = open_source(*request, *image);
  if (auto* failed = std::get_if<JobFailure>(&opened)) {
    finish(metadata::ImportStatus::failed, "", failed->message);
    return;
  }
  Source& source = *std::get<std::unique_ptr<Source>>(opened);
  metadata::EventOrigin origin;
  origin.identity = fmt::format("import:{}", job_.id);
  origin.identity_kind = "system";
  registry::Registry target = worker_.registries_.for_registry(job_.registry, origin);
  const std::vector<Target> targets = targets_of(*request, *image);

  auto planned = Planner(source, request->include_referrers).plan(reference_text(image->reference));
  if (auto* failed = std::get_if<JobFailure>(&planned)) {
    finish(metadata::ImportStatus::failed, "", failed->message);
    return;
  }
  const Plan& plan = std::get<Plan>(planned);
  const oci::Digest& root = plan.manifests[plan.root].manifest.digest;
  if (request->mode == ImportMode::no_force) {
    if (auto refused = check_no_force(target, targets, root)) {
      finish(metadata::ImportStatus::failed, "", refused->message);
      return;
    }
  }
  const std::vector<std::string> repositories = repositories_of(targets);
  progress_.blobs_total = plan.blobs.size() * repositories.size();
  progress_.bytes_total = plan.bytes;
  if (!report(true)) return;
  if (auto failed = copy_blobs(source, target, repositories, plan)) {
    finish(metadata::ImportStatus::failed, "", failed->message);
    return;
  }
  if (lost_) return;
  if (auto failed = put_manifests(target, targets, plan, request->mode == ImportMode::force)) {
    finish(metadata::ImportStatus::failed, "", failed->message);
    return;
  }
  finish(metadata::ImportStatus::succeeded, result_json(plan, targets), "");
}

std::optional<client::Credentials> ImportRun::login_for(const ImportRequest& request,
                                                        Step& problem) {
  if (!job_.sealed_credentials.empty()) {
    auto opened = worker_.key_.unseal(job_.sealed_credentials);
    boost::system::error_code ec;
    json::value login = opened ? json::parse(*opened, ec) : json::value();
    if (!opened || ec || !login.is_object() || !login.as_object().contains("username") ||
        !login.as_object().contains("password")) {
      problem = failure("the import's credentials cannot be read with this deployment's key");
      return std::nullopt;
    }
    return client::Credentials{std::string(login.at("username").as_string()),
                               std::string(login.at("password").as_string())};
  }
  if (!request.credential_set.empty()) {
    auto set = worker_.upstream_.credential_set_login(job_.registry, request.credential_set);
    if (!set) {
      problem = failure(set.error().message);
      return std::nullopt;
    }
    return client::Credentials{set->second.username, set->second.password};
  }
  return std::nullopt;
}

std::variant<std::unique_ptr<Source>, JobFailure> ImportRun::open_source(
    const ImportRequest& request, const ImageName& image) {
  // A login server of this deployment ("<name>.<domain>") is another registry here: link.
  const std::string local_name = worker_.hosts_.registry_name_of(request.source_registry);
  if (!local_name.empty()) {
    auto record = worker_.metadata_.find_registry(local_name);
    if (!record || !*record) {
      return failure(fmt::format("registry '{}' of this deployment does not exist", local_name));
    }
    return std::unique_ptr<Source>(std::make_unique<LocalSource>(
        worker_.registries_.for_registry((*record)->id), (*record)->name, image.repository));
  }
  Step problem;
  auto credentials = login_for(request, problem);
  if (problem) return std::move(*problem);
  auto client = client::RegistryClient::create(worker_.options_.client,
                                               connect_host(request.source_registry),
                                               std::move(credentials));
  if (!client) {
    return failure(fmt::format("cannot reach '{}': {}", request.source_registry,
                               describe(client.error())));
  }
  return std::unique_ptr<Source>(std::make_unique<UpstreamSource>(
      std::move(*client), request.source_registry, image.repository));
}

Step ImportRun::check_no_force(registry::Registry& target, const std::vector<Target>& targets,
                               const oci::Digest& root) {
  for (const auto& t : targets) {
    if (!t.tag) continue;
    auto existing = target.get_manifest(t.repository, oci::Reference(*t.tag));
    if (!existing) continue;  // no such tag (or repository): nothing to keep
    if (existing->digest == root) continue;
    return failure(fmt::format("tag '{}:{}' exists and points at {}; mode NoForce keeps it (use "
                               "Force to move it)",
                               t.repository, *t.tag, existing->digest.str()));
  }
  return std::nullopt;
}

Step ImportRun::copy_blobs(Source& source, registry::Registry& target,
                           const std::vector<std::string>& repositories, const Plan& plan) {
  for (const auto& blob : plan.blobs) {
    std::optional<std::string> holder;  // a target repository that has the blob now
    for (const auto& repository : repositories) {
      if (worker_.stopping_) {
        lost_ = true;
        return std::nullopt;
      }
      if (target.stat_blob(repository, blob.digest)) {
        holder = repository;
      } else if (holder) {
        auto mounted = target.mount_blob(repository, *holder, blob.digest);
        if (!mounted) {
          return failure(fmt::format("cannot link blob {} into '{}': {}", blob.digest.str(),
                                     repository, mounted.error().message));
        }
      } else {
        std::uint64_t copied = 0;
        auto step = source.copy_blob(target, repository, blob, [&](std::uint64_t bytes) {
          copied += bytes;
          progress_.bytes_done += bytes;
          return report(false) && !worker_.stopping_;
        });
        if (lost_ || worker_.stopping_) {
          lost_ = true;
          return std::nullopt;
        }
        if (step) return step;
        if (source.copies_bytes()) bytes_copied_ += copied;
        holder = repository;
      }
      ++progress_.blobs_done;
      if (!report(false)) return std::nullopt;
    }
  }
  progress_.bytes_done = progress_.bytes_total;
  if (!report(true)) return std::nullopt;
  return std::nullopt;
}

Step ImportRun::put_manifests(registry::Registry& target, const std::vector<Target>& targets,
                              const Plan& plan, bool force) {
  const std::vector<std::string> repositories = repositories_of(targets);
  const PlannedManifest& root = plan.manifests[plan.root];
  auto put = [&](std::string_view repository, const PlannedManifest& planned,
                 const oci::Reference& reference) -> Step {
    auto stored = target.put_manifest(repository, reference, planned.manifest.bytes,
                                      planned.manifest.media_type);
    if (!stored) {
      return failure(fmt::format("cannot store manifest {} in '{}': {}",
                                 planned.manifest.digest.str(), repository,
                                 stored.error().message));
    }
    return std::nullopt;
  };
  for (const auto& repository : repositories) {
    // Children and the untagged root first; referrers after, so their subjects exist.
    for (std::size_t i = 0; i <= plan.root; ++i) {
      if (auto failed = put(repository, plan.manifests[i], plan.manifests[i].manifest.digest)) {
        return failed;
      }
    }
    for (std::size_t i = plan.root + 1; i < plan.manifests.size(); ++i) {
      if (auto failed = put(repository, plan.manifests[i], plan.manifests[i].manifest.digest)) {
        return failed;
      }
    }
  }
  for (const auto& t : targets) {
    if (!t.tag) continue;
    if (!force) {
      // Checked again at the end: a tag pushed while the import ran is kept too.
      if (auto refused = check_no_force(target, {t}, root.manifest.digest)) return refused;
    }
    if (auto failed = put(t.repository, root, oci::Reference(*t.tag))) return failed;
  }
  return std::nullopt;
}

bool ImportRun::report(bool now) {
  if (lost_) return false;
  const auto at = SteadyClock::now();
  if (!now && at - last_report_ < kProgressInterval) return true;
  last_report_ = at;
  auto recorded =
      worker_.store_.record_import_progress(job_.id, worker_.options_.node, progress_, unix_now());
  if (!recorded) {
    // The database is unreachable for now: keep going; the heartbeat is retried next time.
    spdlog::warn("import {}: cannot record progress: {}", job_.id, recorded.error().message);
    return true;
  }
  if (!*recorded) {
    spdlog::warn("import {}: another node runs it now; this node stops", job_.id);
    lost_ = true;
  }
  return !lost_;
}

std::string ImportRun::result_json(const Plan& plan, const std::vector<Target>& targets) const {
  const PlannedManifest& root = plan.manifests[plan.root];
  json::array tags;
  json::array repositories;
  for (const auto& t : targets) {
    if (t.tag) {
      tags.emplace_back(t.repository + ":" + *t.tag);
    } else {
      repositories.emplace_back(t.repository);
    }
  }
  return json::serialize(json::object{
      {"digest", root.manifest.digest.str()},
      {"mediaType", root.manifest.media_type},
      {"manifests", plan.manifests.size()},
      {"blobs", plan.blobs.size()},
      {"bytes", plan.bytes},
      {"bytesCopied", bytes_copied_},
      {"tags", std::move(tags)},
      {"untaggedRepositories", std::move(repositories)},
  });
}

}  // namespace berth::upstream
