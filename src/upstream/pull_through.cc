#include "upstream/pull_through.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "common/clock.h"
#include "oci/manifest.h"

namespace berth::upstream {
namespace {

using SteadyClock = std::chrono::steady_clock;
using registry::Errc;
using registry::RegistryError;

// A fetch that ended stays joinable this long, so a request that just missed it in the
// registry's links does not start a second one.
constexpr auto kEndedFetchMemory = std::chrono::seconds(60);
// Child manifests deep: an index of indexes is as far as the cache follows.
constexpr int kMaxManifestDepth = 2;
// A fetched manifest not stored after this long (its completion failed) is fetched again.
constexpr auto kPendingManifestMemory = std::chrono::minutes(10);
// Blob sizes learnt from manifests, kept for HEAD answers; forgotten wholesale past this.
constexpr std::size_t kMaxKnownSizes = 100'000;

std::string key_of(metadata::RegistryId registry, std::string_view repository,
                   std::string_view item) {
  std::string key = std::to_string(registry);
  key += '\n';
  key += repository;
  key += '\n';
  key += item;
  return key;
}

std::string reference_text(const oci::Reference& reference) {
  if (const auto* digest = std::get_if<oci::Digest>(&reference)) return digest->str();
  return std::get<std::string>(reference);
}

RegistryError upstream_failure(const PullThrough& through, const client::ClientError& error,
                               Errc not_found) {
  if (error.code == client::ClientErrc::not_found) {
    return RegistryError{not_found, fmt::format("{} unknown to the upstream {}/{}",
                                                not_found == Errc::blob_unknown ? "blob"
                                                                                : "manifest",
                                                through.upstream.login_server,
                                                through.upstream.repository)};
  }
  return RegistryError{Errc::upstream_unavailable,
                       fmt::format("the upstream {} of cache rule '{}' did not answer: {} ({})",
                                   through.upstream.login_server, through.rule.name,
                                   error.message, client::errc_name(error.code))};
}

metadata::EventOrigin cache_origin(const PullThrough& through) {
  metadata::EventOrigin origin;
  origin.identity = "cache:" + through.rule.name;
  origin.identity_kind = "system";
  return origin;
}

// An unlinked file in `dir` for a blob's bytes on their way.
int open_spool(const std::filesystem::path& dir, std::string& why) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string pattern = (dir / "spool-XXXXXX").string();
  fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    why = fmt::format("cannot make a spool file in {}: {}", dir.string(), std::strerror(errno));
    return -1;
  }
  ::unlink(pattern.c_str());
  return fd;
}

struct FetchedManifest {
  std::string bytes;
  std::string media_type;
  oci::Digest digest;
};

registry::StoredManifest stored_of(const FetchedManifest& fetched) {
  return registry::StoredManifest{fetched.digest, fetched.media_type, fetched.bytes};
}

// The blob's bytes for the fetch's readers: exactly as the spool has them so far.
class Flight {
 public:
  void finish(registry::Result<CachedManifest> result) {
    {
      std::lock_guard lock(mutex_);
      result_ = std::move(result);
    }
    done_.notify_all();
  }
  registry::Result<CachedManifest> wait() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return result_.has_value(); });
    return *result_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::optional<registry::Result<CachedManifest>> result_;
};

}  // namespace

// --- BlobFetch ---

BlobFetch::BlobFetch(oci::Digest digest, std::uint64_t size, int spool)
    : digest_(std::move(digest)), size_(size), spool_(spool) {}

BlobFetch::~BlobFetch() {
  if (spool_ >= 0) ::close(spool_);
}

registry::RegistryError BlobFetch::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::int64_t BlobFetch::read(std::uint64_t offset, std::span<std::byte> out) const {
  std::uint64_t have = available_.load(std::memory_order_acquire);
  // The last byte waits for the digest check: a client never gets a whole blob whose bytes
  // turn out to be wrong, only one cut short.
  if (state_.load() != State::succeeded && have > 0 && have >= size_) have = size_ - 1;
  if (offset >= have) return state_.load() == State::failed ? -1 : 0;
  const std::size_t want =
      static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), have - offset));
  ssize_t n = ::pread(spool_, out.data(), want, static_cast<off_t>(offset));
  if (n < 0) return -1;
  return n;
}

bool BlobFetch::wait() const {
  std::unique_lock lock(mutex_);
  ended_.wait(lock, [this] { return state_.load() != State::running; });
  return state_.load() == State::succeeded;
}

bool BlobFetch::append(std::span<const std::byte> bytes) {
  std::uint64_t at = available_.load(std::memory_order_relaxed);
  std::size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::pwrite(spool_, bytes.data() + written, bytes.size() - written,
                         static_cast<off_t>(at + written));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  available_.store(at + written, std::memory_order_release);
  return true;
}

void BlobFetch::finish(std::optional<registry::RegistryError> failure) {
  {
    std::lock_guard lock(mutex_);
    if (failure) error_ = std::move(*failure);
    state_ = failure ? State::failed : State::succeeded;
  }
  ended_.notify_all();
}

std::string_view cache_status_name(CacheStatus status) {
  switch (status) {
    case CacheStatus::hit:
      return "hit";
    case CacheStatus::revalidated:
      return "revalidated";
    case CacheStatus::miss:
      return "miss";
    case CacheStatus::stale:
      return "stale";
  }
  return "";
}

// --- PullThroughCache ---

struct PullThroughCache::Impl {
  Impl(UpstreamService& upstream, metadata::UpstreamStore& store,
       const registry::RegistryServices& registries, PullThroughOptions options)
      : upstream(upstream), store(store), registries(registries), options(std::move(options)) {}

  struct RulesEntry {
    SteadyClock::time_point read_at;
    RegistryRules rules;
  };
  struct FetchEntry {
    std::shared_ptr<BlobFetch> fetch;
  };

  UpstreamService& upstream;
  metadata::UpstreamStore& store;
  const registry::RegistryServices& registries;
  PullThroughOptions options;

  std::mutex mutex;
  std::map<metadata::RegistryId, RulesEntry> rules;
  std::map<std::string, std::shared_ptr<client::RegistryClient>> clients;
  std::map<std::string, std::shared_ptr<BlobFetch>> fetches;
  std::map<std::string, SteadyClock::time_point> ended_fetches;
  struct Pending {
    FetchedManifest manifest;
    SteadyClock::time_point fetched_at;
  };
  std::map<std::string, Pending> pending;  // fetched manifests not yet stored
  std::map<std::string, std::shared_ptr<Flight>> flights;
  std::set<std::string> completions;
  std::map<std::string, std::uint64_t> known_sizes;

  std::atomic<bool> stopping{false};
  std::condition_variable idle;
  int active = 0;

  // Runs `work` on a thread of its own; the destructor waits for every one.
  void spawn(std::function<void()> work) {
    {
      std::lock_guard lock(mutex);
      ++active;
    }
    std::thread([this, work = std::move(work)] {
      try {
        work();
      } catch (const std::exception& e) {
        spdlog::error("pull-through cache: {}", e.what());
      }
      std::lock_guard lock(mutex);
      if (--active == 0) idle.notify_all();
    }).detach();
  }

  void wait_idle() {
    std::unique_lock lock(mutex);
    idle.wait(lock, [this] { return active == 0; });
  }

  registry::Result<RegistryRules> rules_of(metadata::RegistryId registry) {
    const auto now = SteadyClock::now();
    {
      std::lock_guard lock(mutex);
      auto found = rules.find(registry);
      if (found != rules.end() && now - found->second.read_at < options.rule_cache) {
        return found->second.rules;
      }
    }
    auto read = upstream.rules_of(registry);
    if (!read) return RegistryError{Errc::internal, read.error().message};
    std::lock_guard lock(mutex);
    rules[registry] = RulesEntry{now, *read};
    return std::move(*read);
  }

  registry::Result<std::shared_ptr<client::RegistryClient>> client_for(const PullThrough& through) {
    std::string key = through.upstream.login_server;
    if (through.login) {
      key += '\n';
      key += through.login->username;
      key += '\n';
      key += through.login->password;
    }
    std::lock_guard lock(mutex);
    if (auto found = clients.find(key); found != clients.end()) return found->second;
    std::optional<client::Credentials> credentials;
    if (through.login) {
      credentials = client::Credentials{through.login->username, through.login->password};
    }
    auto made = client::RegistryClient::create(
        options.client, connect_host(through.upstream.login_server), std::move(credentials));
    if (!made) {
      return RegistryError{Errc::upstream_unavailable,
                           fmt::format("cache rule '{}': {}", through.rule.name,
                                       made.error().message)};
    }
    auto client = std::make_shared<client::RegistryClient>(std::move(*made));
    clients.emplace(std::move(key), client);
    return client;
  }

  void remember_sizes(const oci::Manifest& manifest) {
    std::lock_guard lock(mutex);
    if (known_sizes.size() > kMaxKnownSizes) known_sizes.clear();
    if (manifest.config) {
      known_sizes[manifest.config->digest.str()] =
          static_cast<std::uint64_t>(manifest.config->size);
    }
    for (const auto& layer : manifest.layers) {
      known_sizes[layer.digest.str()] = static_cast<std::uint64_t>(layer.size);
    }
  }

  std::optional<FetchedManifest> pending_manifest(const std::string& key) {
    std::lock_guard lock(mutex);
    auto found = pending.find(key);
    if (found == pending.end()) return std::nullopt;
    return found->second.manifest;
  }

  // The manifest `digest_or_tag` from the upstream (or as fetched already and not yet stored).
  registry::Result<FetchedManifest> upstream_manifest(metadata::RegistryId registry,
                                                      std::string_view repository,
                                                      const PullThrough& through,
                                                      const std::string& reference) {
    if (oci::Digest::parse(reference)) {
      if (auto kept = pending_manifest(key_of(registry, repository, reference))) return *kept;
    }
    auto client = client_for(through);
    if (!client) return client.error();
    auto fetched = (*client)->get_manifest(through.upstream.repository, reference);
    if (!fetched) return upstream_failure(through, fetched.error(), Errc::manifest_unknown);
    FetchedManifest manifest{std::move(fetched->bytes), std::move(fetched->media_type),
                             fetched->digest};
    if (auto parsed = oci::parse_manifest(manifest.bytes, manifest.media_type)) {
      remember_sizes(*parsed);
    } else {
      return RegistryError{Errc::upstream_unavailable,
                           fmt::format("the upstream {} served an invalid manifest: {}",
                                       through.upstream.login_server, parsed.error().message)};
    }
    std::lock_guard lock(mutex);
    const auto now = SteadyClock::now();
    // What a completion that failed left behind is fetched again when asked for.
    std::erase_if(pending, [&](const auto& entry) {
      return now - entry.second.fetched_at > kPendingManifestMemory;
    });
    pending.insert_or_assign(key_of(registry, repository, manifest.digest.str()),
                             Pending{manifest, now});
    return manifest;
  }

  registry::Result<CachedManifest> single_flight(const std::string& key,
                                                 const std::function<registry::Result<CachedManifest>()>& work) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard lock(mutex);
      auto& slot = flights[key];
      if (!slot) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      flight = slot;
    }
    if (!leader) return flight->wait();
    auto result = work();
    {
      std::lock_guard lock(mutex);
      flights.erase(key);
    }
    flight->finish(result);
    return result;
  }

  // --- blobs ---

  void forget_ended_fetches() {
    const auto now = SteadyClock::now();
    for (auto it = ended_fetches.begin(); it != ended_fetches.end();) {
      if (now - it->second < kEndedFetchMemory) {
        ++it;
        continue;
      }
      fetches.erase(it->first);
      it = ended_fetches.erase(it);
    }
  }

  std::shared_ptr<BlobFetch> joinable_fetch(const std::string& key) {
    std::lock_guard lock(mutex);
    auto found = fetches.find(key);
    if (found == fetches.end()) return nullptr;
    if (found->second->state() == BlobFetch::State::failed) {
      fetches.erase(found);
      ended_fetches.erase(key);
      return nullptr;
    }
    return found->second;
  }

  registry::Result<std::shared_ptr<BlobFetch>> start_fetch(metadata::RegistryId registry,
                                                           std::string_view repository,
                                                           const oci::Digest& digest,
                                                           std::uint64_t size,
                                                           const PullThrough& through) {
    auto client = client_for(through);
    if (!client) return client.error();
    const std::string key = key_of(registry, repository, digest.str());
    std::shared_ptr<BlobFetch> fetch;
    {
      std::lock_guard lock(mutex);
      forget_ended_fetches();
      if (auto found = fetches.find(key);
          found != fetches.end() && found->second->state() != BlobFetch::State::failed) {
        return found->second;
      }
      std::string why;
      int spool = open_spool(options.spool_dir, why);
      if (spool < 0) return RegistryError{Errc::internal, why};
      fetch = std::make_shared<BlobFetch>(digest, size, spool);
      fetches[key] = fetch;
      ended_fetches.erase(key);
    }
    spawn([this, fetch, key, registry, repository = std::string(repository), through,
           client = *client] { run_fetch(*fetch, key, registry, repository, through, *client); });
    return fetch;
  }

  void run_fetch(BlobFetch& fetch, const std::string& key, metadata::RegistryId registry,
                 const std::string& repository, const PullThrough& through,
                 client::RegistryClient& client) {
    registry::Registry target = registries.for_registry(registry, cache_origin(through));
    std::optional<RegistryError> failure;
    auto session = target.start_single_request_upload(repository);
    if (!session) {
      failure = session.error();
    } else {
      std::optional<std::string> spool_error;
      client::BlobFetchOptions fetch_options;
      fetch_options.expected_size = fetch.size();
      auto fetched = client.get_blob(
          through.upstream.repository, fetch.digest(),
          [&](std::span<const std::byte> bytes) {
            if (stopping) return false;
            if (!fetch.append(bytes)) {
              spool_error = "cannot write the spool file";
              return false;
            }
            if (auto appended = (*session)->append(bytes); !appended) {
              spool_error = appended.error().message;
              return false;
            }
            return true;
          },
          fetch_options);
      if (!fetched) {
        (*session)->abandon();
        failure = spool_error ? RegistryError{Errc::internal, *spool_error}
                              : upstream_failure(through, fetched.error(), Errc::blob_unknown);
      } else if (auto committed = (*session)->commit(fetch.digest()); !committed) {
        failure = committed.error();
      }
    }
    if (failure) {
      spdlog::warn("cache rule '{}': blob {} of {}/{} not cached: {}", through.rule.name,
                   fetch.digest().str(), through.upstream.login_server,
                   through.upstream.repository, failure->message);
    }
    fetch.finish(failure);
    std::lock_guard lock(mutex);
    ended_fetches[key] = SteadyClock::now();
  }

  // --- storing what was fetched ---

  void start_completion(metadata::RegistryId registry, const std::string& repository,
                        const PullThrough& through, const FetchedManifest& root,
                        std::optional<std::string> tag) {
    std::string key = key_of(registry, repository, root.digest.str());
    if (tag) {
      key += '\n';
      key += *tag;
    }
    {
      std::lock_guard lock(mutex);
      if (!completions.insert(key).second) return;
    }
    spawn([this, key, registry, repository, through, root, tag] {
      complete(registry, repository, through, root, tag);
      std::lock_guard lock(mutex);
      completions.erase(key);
    });
  }

  // Stores `manifest` once everything it needs is stored; why not as the error.
  std::optional<std::string> ensure_stored(registry::Registry& target, const std::string& repository,
                                           const PullThrough& through,
                                           const FetchedManifest& manifest, int depth) {
    if (stopping) return "the server is stopping";
    if (target.get_manifest(repository, oci::Reference(manifest.digest))) return std::nullopt;
    auto parsed = oci::parse_manifest(manifest.bytes, manifest.media_type);
    if (!parsed) return parsed.error().message;
    if (parsed->kind == oci::ManifestKind::index) {
      if (depth >= kMaxManifestDepth) return "indexes nest too deep";
      for (const auto& child : parsed->manifests) {
        auto fetched = upstream_manifest(target.id(), repository, through, child.digest.str());
        if (!fetched) return fetched.error().message;
        if (auto failed = ensure_stored(target, repository, through, *fetched, depth + 1)) {
          return failed;
        }
      }
    } else {
      std::vector<oci::Descriptor> blobs;
      if (parsed->config) blobs.push_back(*parsed->config);
      for (const auto& layer : parsed->layers) {
        if (oci::must_be_present(layer)) blobs.push_back(layer);
      }
      // Every blob at once: a client pulling the image joins these fetches.
      std::vector<std::shared_ptr<BlobFetch>> started;
      for (const auto& blob : blobs) {
        if (target.stat_blob(repository, blob.digest)) continue;
        auto fetch = joinable_fetch(key_of(target.id(), repository, blob.digest.str()));
        if (!fetch) {
          auto begun = start_fetch(target.id(), repository, blob.digest,
                                   static_cast<std::uint64_t>(blob.size), through);
          if (!begun) return begun.error().message;
          fetch = std::move(*begun);
        }
        started.push_back(std::move(fetch));
      }
      for (const auto& fetch : started) {
        if (!fetch->wait()) return fetch->error().message;
      }
    }
    auto stored = target.put_manifest(repository, oci::Reference(manifest.digest),
                                      manifest.bytes, manifest.media_type);
    if (!stored) return stored.error().message;
    std::lock_guard lock(mutex);
    pending.erase(key_of(target.id(), repository, manifest.digest.str()));
    return std::nullopt;
  }

  void complete(metadata::RegistryId registry, const std::string& repository,
                const PullThrough& through, const FetchedManifest& root,
                const std::optional<std::string>& tag) {
    registry::Registry target = registries.for_registry(registry, cache_origin(through));
    auto failed = ensure_stored(target, repository, through, root, 0);
    if (!failed && tag) {
      auto tagged =
          target.put_manifest(repository, oci::Reference(*tag), root.bytes, root.media_type);
      if (!tagged) {
        failed = tagged.error().message;
      } else if (auto marked = store.set_tag_validated_at({registry, repository}, *tag, unix_now());
                 !marked) {
        spdlog::warn("cache rule '{}': cannot record the check of tag {}: {}", through.rule.name,
                     *tag, marked.error().message);
      }
    }
    if (failed) {
      spdlog::warn("cache rule '{}': {}/{}@{} not cached: {}", through.rule.name,
                   through.upstream.login_server, through.upstream.repository, root.digest.str(),
                   *failed);
    }
    std::lock_guard lock(mutex);
    pending.erase(key_of(registry, repository, root.digest.str()));
  }
};

PullThroughCache::PullThroughCache(UpstreamService& upstream, metadata::UpstreamStore& store,
                                   const registry::RegistryServices& registries,
                                   PullThroughOptions options)
    : impl_(std::make_unique<Impl>(upstream, store, registries, std::move(options))) {}

PullThroughCache::~PullThroughCache() {
  impl_->stopping = true;
  impl_->wait_idle();
}

void PullThroughCache::forget_rules(metadata::RegistryId registry) {
  std::lock_guard lock(impl_->mutex);
  impl_->rules.erase(registry);
}

registry::Result<std::optional<PullThrough>> PullThroughCache::rule_for(
    metadata::RegistryId registry, std::string_view repository) {
  auto rules = impl_->rules_of(registry);
  if (!rules) return rules.error();
  const metadata::CacheRule* rule = covering_rule(rules->rules, repository);
  if (rule == nullptr) return std::optional<PullThrough>();
  auto location = locate(*rule, repository);
  if (!location) return std::optional<PullThrough>();
  PullThrough through{*rule, std::move(*location), std::nullopt};
  if (!rule->credential_set.empty()) {
    auto login = rules->logins.find(rule->credential_set);
    if (login != rules->logins.end()) {
      through.login = login->second;
    } else if (std::find(rules->unreadable.begin(), rules->unreadable.end(),
                         rule->credential_set) != rules->unreadable.end()) {
      return RegistryError{Errc::internal,
                           fmt::format("the password of credential set '{}' (cache rule '{}') "
                                       "cannot be unsealed with this deployment's key",
                                       rule->credential_set, rule->name)};
    }
  }
  return std::optional<PullThrough>(std::move(through));
}

registry::Result<std::optional<CachedManifest>> PullThroughCache::fresh_manifest(
    registry::Registry& registry, std::string_view repository, const oci::Reference& reference,
    const PullThrough& through, bool pull) {
  const auto* tag = std::get_if<std::string>(&reference);
  if (tag != nullptr) {
    auto validated = impl_->store.tag_validated_at({registry.id(), repository}, *tag);
    if (!validated) return RegistryError{Errc::internal, validated.error().message};
    if (!*validated || unix_now() - **validated >= through.rule.tag_ttl_seconds) {
      return std::optional<CachedManifest>();
    }
  }
  auto local = registry.get_manifest(repository, reference, pull);
  if (local) return std::optional<CachedManifest>(CachedManifest{std::move(*local), CacheStatus::hit});
  if (local.error().code == Errc::manifest_unknown || local.error().code == Errc::name_unknown) {
    return std::optional<CachedManifest>();
  }
  return local.error();
}

registry::Result<CachedManifest> PullThroughCache::manifest(registry::Registry& registry,
                                                            std::string_view repository,
                                                            const oci::Reference& reference,
                                                            const PullThrough& through,
                                                            bool pull) {
  const metadata::RegistryId id = registry.id();
  auto local = registry.get_manifest(repository, reference, pull);
  if (!local && local.error().code != Errc::manifest_unknown &&
      local.error().code != Errc::name_unknown) {
    return local.error();
  }
  const std::string text = reference_text(reference);
  const auto* tag = std::get_if<std::string>(&reference);
  if (local && tag == nullptr) return CachedManifest{std::move(*local), CacheStatus::hit};
  if (local) {
    auto validated = impl_->store.tag_validated_at({id, repository}, *tag);
    if (validated && *validated &&
        unix_now() - **validated < through.rule.tag_ttl_seconds) {
      return CachedManifest{std::move(*local), CacheStatus::hit};
    }
  }
  const std::string flight = key_of(id, repository, text);
  return impl_->single_flight(flight, [&]() -> registry::Result<CachedManifest> {
    std::string name(repository);
    if (tag == nullptr) {
      auto fetched = impl_->upstream_manifest(id, repository, through, text);
      if (!fetched) return fetched.error();
      impl_->start_completion(id, name, through, *fetched, std::nullopt);
      return CachedManifest{stored_of(*fetched), CacheStatus::miss};
    }
    auto client = impl_->client_for(through);
    if (!client) {
      if (local) return CachedManifest{*local, CacheStatus::stale};
      return client.error();
    }
    auto head = (*client)->head_manifest(through.upstream.repository, *tag);
    if (!head) {
      if (local) return CachedManifest{*local, CacheStatus::stale};
      return upstream_failure(through, head.error(), Errc::manifest_unknown);
    }
    if (local && head->digest == local->digest) {
      if (auto marked = impl_->store.set_tag_validated_at({id, repository}, *tag, unix_now());
          !marked) {
        spdlog::warn("cache rule '{}': cannot record the check of tag {}: {}", through.rule.name,
                     *tag, marked.error().message);
      }
      return CachedManifest{*local, CacheStatus::revalidated};
    }
    auto fetched = impl_->upstream_manifest(id, repository, through, head->digest.str());
    if (!fetched) {
      if (local) return CachedManifest{*local, CacheStatus::stale};
      return fetched.error();
    }
    impl_->start_completion(id, name, through, *fetched, *tag);
    return CachedManifest{stored_of(*fetched), CacheStatus::miss};
  });
}

registry::Result<CachedBlob> PullThroughCache::blob(registry::Registry& registry,
                                                    std::string_view repository,
                                                    const oci::Digest& digest,
                                                    const PullThrough& through) {
  const std::string key = key_of(registry.id(), repository, digest.str());
  if (auto fetch = impl_->joinable_fetch(key)) return CachedBlob{std::move(fetch)};
  if (registry.stat_blob(repository, digest)) return CachedBlob{};
  auto size = blob_size(registry, repository, digest, through);
  if (!size) return size.error();
  auto fetch = impl_->start_fetch(registry.id(), repository, digest, *size, through);
  if (!fetch) return fetch.error();
  return CachedBlob{std::move(*fetch)};
}

registry::Result<std::uint64_t> PullThroughCache::blob_size(registry::Registry& registry,
                                                            std::string_view repository,
                                                            const oci::Digest& digest,
                                                            const PullThrough& through) {
  if (auto fetch = impl_->joinable_fetch(key_of(registry.id(), repository, digest.str()))) {
    return fetch->size();
  }
  {
    std::lock_guard lock(impl_->mutex);
    if (auto known = impl_->known_sizes.find(digest.str()); known != impl_->known_sizes.end()) {
      return known->second;
    }
  }
  auto client = impl_->client_for(through);
  if (!client) return client.error();
  auto head = (*client)->head_blob(through.upstream.repository, digest);
  if (!head) return upstream_failure(through, head.error(), Errc::blob_unknown);
  return head->size;
}

}  // namespace berth::upstream
