#pragma once
// Client-side checks, run before any request so a typo costs no round trip and exits 2.
// Each check returns the reason a value is refused, or nothing when it is accepted.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cli/error.h"

namespace berth::cli {

// 5-50 ASCII letters or digits (the server's rule, ignoring case).
std::optional<std::string> check_registry_name(std::string_view name);

// OCI distribution repository name: lower-case path components separated by '/'.
std::optional<std::string> check_repository_name(std::string_view name);

// OCI tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
std::optional<std::string> check_tag(std::string_view tag);

// algorithm:encoded; sha256 and sha512 need their exact lower-case hex lengths.
std::optional<std::string> check_digest(std::string_view digest);

struct ImageReference {
  std::string repository;
  std::string tag;     // set for repo:tag
  std::string digest;  // set for repo@digest
};

// "repo:tag" or "repo@algorithm:hex"; a bare repository or both forms at once is refused.
Result<ImageReference> parse_image_reference(std::string_view text);

// Token and scope-map names: 5-50 letters, digits, '-' or '_' (the system scope maps start
// with '_', e.g. _repositories_pull).
std::optional<std::string> check_access_name(std::string_view kind, std::string_view name);

// Identity names: 1-128 letters, digits, '.', '_', '-' or '@' (an e-mail address fits).
std::optional<std::string> check_identity_name(std::string_view name);

// Identity and role-assignment ids: 1-128 letters, digits, '.', '_' or '-', so an id is one
// path segment.
std::optional<std::string> check_id(std::string_view kind, std::string_view id);

// An IPv4 or IPv6 address, optionally with a /prefix in range (syntax only: host bits may be
// set, as the server decides what it stores).
std::optional<std::string> check_ip_or_cidr(std::string_view text);

// content/read, content/write, content/delete, metadata/read or metadata/write.
std::optional<std::string> check_action(std::string_view action);

// A repository name, or a pattern: a repository name followed by "/*".
std::optional<std::string> check_repository_pattern(std::string_view pattern);

// "/registries/<r>" or "/registries/<r>/repositories/<repository or pattern>".
std::optional<std::string> check_role_scope(std::string_view scope);

// The roles of the contract, in their API spelling.
inline constexpr std::string_view kRoles[] = {
    "AcrPull", "AcrPush", "AcrDelete", "AcrImageSigner", "Owner", "Contributor", "Reader"};

// An RFC 3339 date-time ("2026-12-02T06:00:00Z", "2026-12-02t07:00:00.5+01:00"), answered as
// the UTC instant in whole seconds since the epoch.
Result<std::int64_t> parse_rfc3339(std::string_view text);

// Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ".
std::string format_rfc3339(std::int64_t seconds);

// An http:// or https:// URL with a host and no spaces.
std::optional<std::string> check_http_url(std::string_view what, std::string_view url);

// A whole number in [min, max] written as plain digits (no sign, no exponent, at most 18 of
// them); nothing otherwise.
std::optional<std::int64_t> parse_bounded_number(std::string_view text, std::int64_t min,
                                                 std::int64_t max);

// An identity filter of the audit listings: 1-128 printable characters without spaces.
std::optional<std::string> check_identity_filter(std::string_view identity);

// Webhook names: 5-50 ASCII letters or digits (the server's rule, ignoring case).
std::optional<std::string> check_webhook_name(std::string_view name);

// The actions a webhook can subscribe to, in their API spelling.
inline constexpr std::string_view kWebhookActions[] = {"push", "delete", "quarantine",
                                                       "chart_push", "chart_delete"};

// A webhook's scope: "" (every repository), "repository" (its tag latest) or
// "repository:tag", each part letters, digits, '.', '_', '-' and '*' wildcards, the repository
// also '/'.
std::optional<std::string> check_webhook_scope(std::string_view scope);

// A custom header given as NAME=VALUE: NAME an HTTP token (RFC 9110), VALUE visible ASCII,
// spaces and tabs (no CR or LF, so no header can be injected); VALUE may be empty. A refusal
// names only the leading name characters, never the value (it may be a credential).
struct HeaderAssignment {
  std::string name;
  std::string value;
};
Result<HeaderAssignment> parse_header_assignment(std::string_view text);

// A purge's age (--ago): "0", or a number of days, hours, minutes and seconds, each at most
// once and in that order ("30d", "1d12h", "90m", "45s"), at most 100 years in all: the
// server's grammar.
std::optional<std::string> check_purge_age(std::string_view age);

// A purge filter: "repository-regex:tag-regex" (split at the first ':', neither part empty), at
// most 256 characters. The regular expressions themselves are the server's to judge.
std::optional<std::string> check_purge_filter(std::string_view filter);
inline constexpr std::size_t kMaxPurgeFilters = 20;

// A purge schedule's cron expression, by its shape: five fields (minute hour day-of-month month
// day-of-week) of digits, '*', ',', '-' and '/'. The server judges the values.
std::optional<std::string> check_cron_expression(std::string_view expression);

// A size with a unit: a number, optionally with a fraction, then B, KB, MB, GB, TB (powers of
// 1000) or KiB, MiB, GiB, TiB (powers of 1024), in any case ("10GiB", "1.5 TB"); answered in
// bytes, which must be a whole number and at most kMaxQuotaBytes.
Result<std::uint64_t> parse_size(std::string_view text);
inline constexpr std::uint64_t kMaxQuotaBytes = 999'999'999'999'999'999;

// Credential set and cache rule names: 5-50 ASCII letters, digits or '-', starting with a
// letter or a digit (the server's rule). `kind` names the resource in the message.
std::optional<std::string> check_resource_name(std::string_view kind, std::string_view name);

// An upstream registry's login server: HOST or HOST:PORT, HOST a DNS name or a bracketed IPv6
// address, without a scheme, path or credentials (the server's rule).
std::optional<std::string> check_upstream_server(std::string_view server);

// What `import --source` names: HOST/REPOSITORY[:TAG|@DIGEST] (the tag latest when neither is
// given). HOST must look like one, as docker decides: it holds a '.' or a ':', or is localhost;
// so "library/alpine:3" is refused with a hint rather than sent to a host named "library".
struct ImportSource {
  std::string registry_uri;  // HOST[:PORT]
  std::string image;         // REPOSITORY[:TAG|@DIGEST], as given
  std::string repository;    // REPOSITORY
};
Result<ImportSource> parse_import_source(std::string_view text);

// A cache rule's repositories: the source HOST/PATH or HOST/PATH/* (HOST as for
// check_upstream_server, and looking like a host as for parse_import_source), the target PATH
// or PATH/*. Both end in /* or neither does: checked
// by check_cache_rule_shape.
std::optional<std::string> check_cache_source(std::string_view source);
std::optional<std::string> check_cache_target(std::string_view target);
std::optional<std::string> check_cache_rule_shape(std::string_view source, std::string_view target);

// How long a cached tag is trusted before the upstream is asked again, in seconds: 0 (ask every
// time) to 30 days, the server's range.
inline constexpr std::int64_t kMaxTagTtlSeconds = 30LL * 24 * 3600;
std::optional<std::string> check_tag_ttl(std::string_view seconds);

}  // namespace berth::cli
