#pragma once
// The MetadataStore and AccessStore conformance suites, shared by every backend. A backend runs
// them by instantiating MetadataStoreConformance and AccessStoreConformance with a factory (see
// sqlite_test.cc):
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, MetadataStoreConformance,
//                            testing::Values(ConformanceBackend{"sqlite", make_harness}),
//                            ConformanceBackendName());
//
// The suites themselves (conformance_test.cc) use only the two interfaces.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <optional>
#include <string_view>

#include "metadata/access_store.h"
#include "metadata/coordination_store.h"
#include "metadata/event_store.h"
#include "metadata/gc_store.h"
#include "metadata/lifecycle_store.h"
#include "metadata/metadata_store.h"
#include "metadata/store.h"
#include "metadata/task_store.h"
#include "metadata/upstream_store.h"
#include "oci/digest.h"

namespace berth::metadata {

// One fresh, empty store and whatever backs it (a temp file, a throwaway database), released
// when the harness is destroyed.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual MetadataStore& store() = 0;
  // The same store's access part: one database, so registries created through store() are
  // the ones access() knows.
  virtual AccessStore& access() = 0;
  // The same store's event part.
  virtual EventStore& events() = 0;
  // The same store's garbage-collection part.
  virtual GcStore& gc() = 0;
  // The same store's lifecycle part (soft delete, retention, quotas).
  virtual LifecycleStore& lifecycle() = 0;
  // The same store's coordination part (deployment settings, leases).
  virtual CoordinationStore& coordination() = 0;
  // The same store's part for content from other registries (credential sets, cache rules,
  // cached tags, import jobs).
  virtual UpstreamStore& upstream() = 0;
  // The same store's part for build tasks, their runs and blob pins.
  virtual TaskStore& tasks() = 0;
  // A second store on the same data, as another node (or another process on the same file)
  // opens it; nullptr (with a recorded failure) when that fails.
  virtual std::unique_ptr<Store> open_another() = 0;
  // Closes the store and opens it again on the same data, as a restart does; store() and
  // access() then return the new one. False (with a recorded failure) when that fails.
  virtual bool reopen() = 0;
};


// Helpers the suites share (conformance_test.cc, event_conformance_test.cc).
namespace conformance {

inline constexpr char kImageManifest[] = "application/vnd.oci.image.manifest.v1+json";

// Unwraps a successful result; otherwise records a failure at the caller's line with the
// store's message and returns an empty value so the test can go on reporting.
template <class T>
T must(Result<T> result, const char* file, int line) {
  if (!result) {
    ADD_FAILURE_AT(file, line) << "store call failed: " << result.error().message;
    return T();
  }
  return std::move(*result);
}

inline void must(Result<void> result, const char* file, int line) {
  if (!result) ADD_FAILURE_AT(file, line) << "store call failed: " << result.error().message;
}

#define MUST(expr) must((expr), __FILE__, __LINE__)

// A repository of the default registry unless another is named.
inline RepositoryRef repo(std::string_view name, RegistryId registry = kDefaultRegistryId) {
  return RepositoryRef{.registry = registry, .name = name};
}

inline RegistryRecord registry_named(std::string name) {
  return RegistryRecord{.name = std::move(name), .tier = "Standard", .region = "westeurope"};
}

// Creates a registry and returns its id (0 after a recorded failure).
#define NEW_REGISTRY(name) MUST(store().create_registry(registry_named(name))).id

// The error code of a call expected to fail.
template <class T>
std::optional<Errc> error_of(const Result<T>& result) {
  if (result) return std::nullopt;
  return result.error().code;
}

inline std::string manifest_json(std::string_view seed) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","seed":")" +
         std::string(seed) + R"("})";
}

inline ManifestRecord manifest_of(std::string content, std::string media_type = kImageManifest) {
  oci::Digest digest = oci::digest_of(content);
  return ManifestRecord{
      .digest = std::move(digest),
      .media_type = std::move(media_type),
      .content = std::move(content),
      .created_at = 1'700'000'000,
  };
}

}  // namespace conformance

struct ConformanceBackend {
  std::string name;
  // Called once per test; a failure to set up should fail the test via gtest assertions and
  // return nullptr.
  std::function<std::unique_ptr<StoreHarness>()> make_harness;
};

inline void PrintTo(const ConformanceBackend& backend, std::ostream* out) { *out << backend.name; }

// "<prefix><n>", for generated tag and repository names. Built by appending: GCC 12 at -O3
// reports a false -Wrestrict on `"t" + std::to_string(n)` (the inlined
// operator+(const char*, std::string&&) inserting in front of the temporary, GCC bug 105651),
// which -Werror turns into a failed Release build.
inline std::string numbered(std::string_view prefix, long long n) {
  std::string name(prefix);
  name += std::to_string(n);
  return name;
}

struct ConformanceBackendName {
  std::string operator()(const testing::TestParamInfo<ConformanceBackend>& info) const {
    return info.param.name;
  }
};

// One fresh store per test, from the backend's factory; the suites below see the parts of it
// they test.
class StoreConformance : public ::testing::TestWithParam<ConformanceBackend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make_harness();
    ASSERT_NE(harness_, nullptr) << "backend " << GetParam().name << " failed to set up";
  }
  void TearDown() override { harness_.reset(); }

  MetadataStore& store() { return harness_->store(); }
  bool reopen() { return harness_->reopen(); }
  StoreHarness& harness() { return *harness_; }

 private:
  std::unique_ptr<StoreHarness> harness_;
};

class MetadataStoreConformance : public StoreConformance {};

// The AccessStore part of the suite; registries come from the MetadataStore of the same store.
class AccessStoreConformance : public StoreConformance {
 protected:
  AccessStore& access() { return harness().access(); }
};

// The EventStore part of the suite (event_conformance_test.cc): the outbox (appends in the
// change's transaction, claims, leases, ordering), webhooks and the audit listing.
class EventStoreConformance : public StoreConformance {
 protected:
  EventStore& events() { return harness().events(); }
};

// The GcStore part of the suite (gc_conformance_test.cc): sweeps, claims and the re-checks
// that keep collection safe next to writers.
class GcStoreConformance : public StoreConformance {
 protected:
  GcStore& gc() { return harness().gc(); }
  // Blob pins, which the claims re-check.
  TaskStore& tasks() { return harness().tasks(); }
};

// The LifecycleStore part of the suite (lifecycle_conformance_test.cc): soft delete and
// restore, expiry, retention candidates, quotas and the usage counters.
class LifecycleStoreConformance : public StoreConformance {
 protected:
  LifecycleStore& lifecycle() { return harness().lifecycle(); }
  GcStore& gc() { return harness().gc(); }
};

// The CoordinationStore part of the suite (coordination_conformance_test.cc): deployment
// settings, leases under concurrent callers, and the registry flags the nodes share.
class CoordinationStoreConformance : public StoreConformance {
 protected:
  CoordinationStore& coordination() { return harness().coordination(); }
};

// The UpstreamStore part of the suite (upstream_conformance_test.cc): credential sets, cache
// rules within their limit, cached tags, and import jobs claimed by concurrent nodes.
class UpstreamStoreConformance : public StoreConformance {
 protected:
  UpstreamStore& upstream() { return harness().upstream(); }
};

// The TaskStore part of the suite (task_conformance_test.cc): tasks within their limit, trigger
// state, base images, runs from queued to their end under concurrent nodes, live logs and blob
// pins.
class TaskStoreConformance : public StoreConformance {
 protected:
  TaskStore& tasks() { return harness().tasks(); }
};

}  // namespace berth::metadata
