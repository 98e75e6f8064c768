#pragma once
// Purge: deletes old tags by name pattern, as `acr purge` does, through the registry's one
// content path (Registry::untag and delete_manifest, so locks, soft delete and events apply).
//
// A filter is "repository-regex:tag-regex" (ECMAScript regular expressions, searched anywhere
// in the name: anchor them with ^ and $ to match whole names). For each repository a filter's
// first part matches, the tags its second part matches that were last changed before `ago`
// are deleted, except the `keep` most recently changed of the matching tags and tags that are
// write- or delete-locked. Only the tags go: with `untagged`, so do the manifests left without
// a tag (by this purge or before) that were last changed before `ago`, unless they are locked,
// a child of another manifest of the repository, or a referrer of a stored manifest.
//
// A run first plans, then deletes exactly the plan; a dry run returns the plan. So a dry run
// lists what the real run deletes when nothing changes in between.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/gc_store.h"
#include "metadata/lifecycle_store.h"
#include "registry/registry.h"

namespace berth::registry {

struct PurgeRequest {
  std::vector<std::string> filters;  // "repository-regex:tag-regex"
  std::chrono::seconds ago{0};
  bool untagged = false;
  std::uint64_t keep = 0;
};

struct PurgedTag {
  std::string repository;
  std::string tag;
  std::string digest;
  bool operator==(const PurgedTag&) const = default;
};

struct PurgedManifest {
  std::string repository;
  std::string digest;
  bool operator==(const PurgedManifest&) const = default;
};

struct PurgePlan {
  std::vector<PurgedTag> tags;            // by repository, then tag
  std::vector<PurgedManifest> manifests;  // by repository, then digest
};

struct PurgeOutcome {
  bool dry_run = false;
  PurgePlan deleted;                  // the plan (dry run) or what was deleted
  std::vector<std::string> failures;  // items of the plan that could not be deleted, and why
};

// The longest filter and the most filters a purge takes.
inline constexpr std::size_t kMaxPurgeFilterLength = 256;
inline constexpr std::size_t kMaxPurgeFilters = 20;

// "30d", "1d12h", "90m", "45s", "0" (days, hours, minutes, seconds, in that order); nullopt
// when it does not parse.
std::optional<std::chrono::seconds> parse_purge_age(std::string_view text);
// The age as parse_purge_age reads it, in its largest exact units ("30d", "1d12h", "0").
std::string format_purge_age(std::chrono::seconds age);

// unsupported with a message when a filter does not parse (no ':', a bad regular expression,
// too long) or there are none or too many.
Result<void> check_purge_request(const PurgeRequest& request);

class Purge {
 public:
  // `registry` is the registry's content service; `gc` lists every repository (listed or not).
  Purge(Registry& registry, metadata::LifecycleStore& lifecycle, metadata::GcStore& gc)
      : registry_(registry), lifecycle_(lifecycle), gc_(gc) {}

  // What a purge would delete at `now` (Unix seconds).
  Result<PurgePlan> plan(const PurgeRequest& request, std::int64_t now);
  // Plans and, unless `dry_run`, deletes the plan.
  Result<PurgeOutcome> run(const PurgeRequest& request, bool dry_run, std::int64_t now);

 private:
  Registry& registry_;
  metadata::LifecycleStore& lifecycle_;
  metadata::GcStore& gc_;
};

}  // namespace berth::registry
