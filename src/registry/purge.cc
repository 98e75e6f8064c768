#include "registry/purge.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <regex>
#include <set>
#include <utility>

namespace berth::registry {
namespace {

constexpr std::size_t kRepositoryPage = 1000;
// The most tags and manifests one purge plans, so a request cannot make the server build an
// unbounded answer; a purge that hits it deletes the first part and the next run the rest.
constexpr std::size_t kMaxPlanItems = 100'000;
// At most 100 years: nothing a purge means is older.
constexpr std::int64_t kMaxAgeSeconds = std::int64_t{36500} * 86400;

struct CompiledFilter {
  std::regex repository;
  std::regex tag;
};

RegistryError bad_request(std::string message) { return {Errc::unsupported, std::move(message)}; }

Result<std::vector<CompiledFilter>> compile(const std::vector<std::string>& filters) {
  if (filters.empty()) return bad_request("a purge needs at least one --filter");
  if (filters.size() > kMaxPurgeFilters) {
    return bad_request(fmt::format("a purge takes at most {} filters", kMaxPurgeFilters));
  }
  std::vector<CompiledFilter> compiled;
  for (const std::string& filter : filters) {
    if (filter.size() > kMaxPurgeFilterLength) {
      return bad_request(fmt::format("filter is longer than {} characters", kMaxPurgeFilterLength));
    }
    auto colon = filter.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == filter.size()) {
      return bad_request(fmt::format(
          "filter '{}' is not repository-regex:tag-regex (e.g. 'app:.*' or 'team/.*:^dev-')",
          filter));
    }
    try {
      compiled.push_back({std::regex(filter.substr(0, colon), std::regex::ECMAScript),
                          std::regex(filter.substr(colon + 1), std::regex::ECMAScript)});
    } catch (const std::regex_error& error) {
      return bad_request(
          fmt::format("filter '{}' is not a valid regular expression: {}", filter, error.what()));
    }
  }
  return compiled;
}

bool found_in(const std::regex& pattern, const std::string& text) {
  try {
    return std::regex_search(text, pattern);
  } catch (const std::regex_error&) {
    return false;  // too complex for this name: it does not match
  }
}

// The tags of `repository` the filters (those whose repository part matched) would delete.
std::vector<metadata::TagRecord> tags_to_delete(std::vector<metadata::TagRecord> tags,
                                                const std::vector<const CompiledFilter*>& filters,
                                                const PurgeRequest& request, std::int64_t cutoff) {
  std::vector<metadata::TagRecord> chosen;
  for (auto& tag : tags) {
    bool matched = std::any_of(filters.begin(), filters.end(), [&](const CompiledFilter* filter) {
      return found_in(filter->tag, tag.name);
    });
    bool old_enough = tag.updated_at <= cutoff;
    bool unlocked = tag.attributes.write_enabled && tag.attributes.delete_enabled;
    if (matched && old_enough && unlocked) chosen.push_back(std::move(tag));
  }
  // Keep the most recently changed ones.
  std::sort(chosen.begin(), chosen.end(), [](const auto& a, const auto& b) {
    return a.updated_at != b.updated_at ? a.updated_at > b.updated_at : a.name < b.name;
  });
  auto kept = std::min<std::uint64_t>(request.keep, chosen.size());
  chosen.erase(chosen.begin(), chosen.begin() + static_cast<std::ptrdiff_t>(kept));
  std::sort(chosen.begin(), chosen.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return chosen;
}

}  // namespace

std::optional<std::chrono::seconds> parse_purge_age(std::string_view text) {
  if (text == "0") return std::chrono::seconds(0);
  if (text.empty()) return std::nullopt;
  constexpr std::pair<char, std::int64_t> kUnits[] = {
      {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
  std::int64_t total = 0;
  std::size_t next_unit = 0;
  while (!text.empty()) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value < 0 || end == text.data() || end == text.data() + text.size()) {
      return std::nullopt;
    }
    char unit = *end;
    std::size_t index = next_unit;
    while (index < std::size(kUnits) && kUnits[index].first != unit) ++index;
    if (index == std::size(kUnits)) return std::nullopt;  // unknown or out of order
    if (value > kMaxAgeSeconds / kUnits[index].second) return std::nullopt;
    total += value * kUnits[index].second;
    next_unit = index + 1;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()) + 1);
  }
  if (total > kMaxAgeSeconds) return std::nullopt;
  return std::chrono::seconds(total);
}

std::string format_purge_age(std::chrono::seconds age) {
  std::int64_t left = age.count();
  if (left == 0) return "0";
  std::string text;
  for (auto [unit, seconds] :
       {std::pair<char, std::int64_t>{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}) {
    if (left >= seconds) {
      text += std::to_string(left / seconds);
      text += unit;
      left %= seconds;
    }
  }
  return text;
}

Result<void> check_purge_request(const PurgeRequest& request) {
  auto compiled = compile(request.filters);
  if (!compiled) return compiled.error();
  return {};
}

Result<PurgePlan> Purge::plan(const PurgeRequest& request, std::int64_t now) {
  auto filters = compile(request.filters);
  if (!filters) return filters.error();
  const std::int64_t cutoff = now - request.ago.count();
  PurgePlan plan;
  std::string after;
  for (;;) {
    auto names = gc_.gc_repositories(registry_.id(), after, kRepositoryPage);
    if (!names) return from_metadata(names.error());
    for (const std::string& repository : *names) {
      std::vector<const CompiledFilter*> matching;
      for (const auto& filter : *filters) {
        if (found_in(filter.repository, repository)) matching.push_back(&filter);
      }
      if (matching.empty()) continue;
      auto tags = registry_.tag_records(repository);
      if (!tags) {
        if (tags.error().code == Errc::name_unknown) continue;  // deleted meanwhile
        return tags.error();
      }
      std::set<std::string> still_tagged;
      auto doomed = tags_to_delete(*tags, matching, request, cutoff);
      std::set<std::string> doomed_names;
      for (const auto& tag : doomed) doomed_names.insert(tag.name);
      for (const auto& tag : *tags) {
        if (!doomed_names.contains(tag.name)) still_tagged.insert(tag.digest.str());
      }
      for (const auto& tag : doomed) {
        plan.tags.push_back({repository, tag.name, tag.digest.str()});
      }
      if (request.untagged) {
        auto disposable = lifecycle_.disposable_manifests({registry_.id(), repository}, cutoff);
        if (!disposable) return from_metadata(disposable.error());
        for (const auto& digest : *disposable) {
          if (!still_tagged.contains(digest.str())) {
            plan.manifests.push_back({repository, digest.str()});
          }
        }
      }
      if (plan.tags.size() + plan.manifests.size() >= kMaxPlanItems) return plan;
    }
    if (names->size() < kRepositoryPage) return plan;
    after = names->back();
  }
}

Result<PurgeOutcome> Purge::run(const PurgeRequest& request, bool dry_run, std::int64_t now) {
  auto planned = plan(request, now);
  if (!planned) return planned.error();
  PurgeOutcome outcome;
  outcome.dry_run = dry_run;
  if (dry_run) {
    outcome.deleted = std::move(*planned);
    return outcome;
  }
  for (const PurgedTag& tag : planned->tags) {
    // A tag moved since the plan names other content now: leave it.
    auto current = registry_.tag_record(tag.repository, tag.tag);
    if (!current || current->digest.str() != tag.digest) {
      outcome.failures.push_back(
          fmt::format("{}:{}: changed since the purge looked at it", tag.repository, tag.tag));
      continue;
    }
    if (auto untagged = registry_.untag(tag.repository, tag.tag); !untagged) {
      outcome.failures.push_back(
          fmt::format("{}:{}: {}", tag.repository, tag.tag, untagged.error().message));
      continue;
    }
    outcome.deleted.tags.push_back(tag);
  }
  for (const PurgedManifest& manifest : planned->manifests) {
    auto digest = oci::Digest::parse(manifest.digest);
    if (!digest) continue;  // came from the store: always parses
    if (auto deleted = registry_.delete_manifest(manifest.repository, *digest); !deleted) {
      outcome.failures.push_back(
          fmt::format("{}@{}: {}", manifest.repository, manifest.digest, deleted.error().message));
      continue;
    }
    outcome.deleted.manifests.push_back(manifest);
  }
  return outcome;
}

}  // namespace berth::registry
