#pragma once
// How each API answer is shown: the columns of every resource, in one place.
//
// The functions take the API's JSON as it arrived and never fail: a missing or mistyped field
// shows as an empty cell, so an older or newer server still prints. As json, a single resource
// prints as the API sent it, a listing as the array of its items and usage as
// {"value":[{"name","currentValue","limit","unit"}]}: the shapes `az acr` prints.

#include <boost/json/value.hpp>
#include <string>

#include "cli/output.h"

namespace berth::cli {

View registry_view(const boost::json::value& registry);       // Registry
View registry_list_view(const boost::json::value& answer);    // {"registries":[...]}
View usage_view(const boost::json::value& usage);             // Usage
View health_view(const boost::json::value& health);           // {"healthy","checks"}
View repository_view(const boost::json::value& repository);   // Repository
View repository_list_view(const boost::json::value& answer);  // {"repositories":[...]}
View tag_list_view(const boost::json::value& answer);         // {"tags":[...]}
View manifest_view(const boost::json::value& manifest);       // Manifest
View manifest_list_view(const boost::json::value& answer);    // {"manifests":[...]}
// A repository, tag or manifest as `repository update` changed it: what it is (its name, or its
// digest for a manifest) and its changeableAttributes.
View changeable_attributes_view(const boost::json::value& item);

// Access control. Secrets (password values, generated identity secrets) appear only in the
// views of the answers that carry them: admin credentials, token create, token credential
// generate and identity create; the table format shows them in full, never cut.
View credentials_view(const boost::json::value& credentials);  // admin user: {"username","passwords"}
View token_view(const boost::json::value& token);                  // Token
View token_list_view(const boost::json::value& answer);            // {"tokens":[...]}
View token_created_view(const boost::json::value& token);          // Token with password values
View token_passwords_view(const boost::json::value& credentials);  // generate's answer
View scope_map_view(const boost::json::value& scope_map);          // one row per action
View scope_map_list_view(const boost::json::value& answer);        // {"scopeMaps":[...]}
View identity_view(const boost::json::value& identity);            // Identity (+ "secret")
View identity_list_view(const boost::json::value& answer);         // {"identities":[...]}
View role_assignment_view(const boost::json::value& assignment);
View role_assignment_list_view(const boost::json::value& answer);  // {"roleAssignments":[...]}
View network_rules_view(const boost::json::value& rules);  // {"defaultAction","ipRules"}
View login_audit_view(const boost::json::value& answer);   // {"events":[...]}

// Webhooks and the audit log of repository events. No view shows a webhook's secret (the API
// never sends it back); the configuration view shows the service URI and custom header values
// in full, as the API answers them only to those who may change them. The delivery and audit
// listings print, in table format, how to get the next page when the server says one follows.
View webhook_view(const boost::json::value& webhook);        // Webhook
View webhook_list_view(const boost::json::value& answer);    // {"webhooks":[...]}
View webhook_config_view(const boost::json::value& config);  // {"serviceUri","customHeaders"}
View delivery_list_view(const boost::json::value& answer);   // {"events":[...],"next"?}
View audit_event_list_view(const boost::json::value& answer);  // {"events":[...],"next"?}
// A queued event ({"id"}: ping, redeliver), with `message` after the table.
View queued_event_view(const boost::json::value& answer, std::string message);

// Garbage collection runs: progress counters, the rate, and the reclaimed bytes.
View gc_run_view(const boost::json::value& run);         // GcRun
View gc_run_list_view(const boost::json::value& answer);  // {"runs":[...],"next"?}

// Content lifecycle. Times are shown to the second, sizes in binary units (tsv: bytes); a quota
// that is not set shows as "none", a time that is null as "never" (tsv: empty).
View soft_delete_policy_view(const boost::json::value& policy);  // {"status","days",...}
View retention_policy_view(const boost::json::value& policy);    // {"type","status","days",...}
View registry_quota_view(const boost::json::value& quota);       // {"registry","quotaBytes",...}
View repository_quota_view(const boost::json::value& quota);     // {"repository","quotaBytes",...}
View deleted_repository_list_view(const boost::json::value& answer);  // {"repositories":[name]}
View deleted_manifest_list_view(const boost::json::value& answer);    // {"manifests":[...]}
View deleted_tag_list_view(const boost::json::value& answer);         // {"tags":[...]}
// restore's answer: a row per manifest and tag restored and per tag not restored, with a line
// saying what came back and why tags were left.
View restored_view(const boost::json::value& answer);
// purge's answer. Table format: one line per tag ("repository:tag (digest)") and manifest
// ("repository@digest"), then "Deleted N tags and M manifests" ("Would delete ..." for a dry
// run, which the answer's dryRun says, else `dry_run`); tsv: kind, repository, tag, digest.
// The answer's failures become the view's failures.
View purge_view(const boost::json::value& answer, bool dry_run);
View purge_schedule_view(const boost::json::value& schedule);
View purge_schedule_list_view(const boost::json::value& answer);  // {"schedules":[...]}

// Imports, credential sets and cache rules. No answer carries a password, so no view shows one.
// An import's table says its progress in bytes (tsv: bytes done and total); a succeeded import
// adds a line with what it imported, a failed one its error; a page with a next one, how to get
// it.
View credential_set_view(const boost::json::value& set);         // CredentialSet
View credential_set_list_view(const boost::json::value& answer); // {"credentialSets":[...]}
View cache_rule_view(const boost::json::value& rule);            // CacheRule
View cache_rule_list_view(const boost::json::value& answer);     // {"cacheRules":[...]}
View import_view(const boost::json::value& import);              // Import
View import_list_view(const boost::json::value& answer);         // {"imports":[...],"next"?}

// Build runs. A run's duration is shown from its start to its finish ("2m05s"; tsv: seconds),
// empty until it has both; a single run adds a line per image it pushed and its error.
View run_view(const boost::json::value& run);          // Run
View run_list_view(const boost::json::value& answer);  // {"runs":[...],"next"?}

// No JSON and no table: only `message`, in table format (a DELETE's confirmation).
View message_view(std::string message);

}  // namespace berth::cli
