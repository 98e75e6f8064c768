#pragma once
// What a webhook receives: the hosted service's JSON payload, optionally wrapped in a
// CloudEvents 1.0 structured envelope; and the signature header over it. docs/events.md shows
// every form with examples.

#include <cstdint>
#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "metadata/metadata_store.h"

namespace berth::events {

// The hosted service's payload: id, timestamp, action, target{mediaType, size, digest, length,
// repository, tag} and request{id, host, method, useragent}; chart events add target.name and
// target.version. Fields without a value are left out.
std::string service_payload(const metadata::EventRecord& event);

// A CloudEvents 1.0 structured-mode envelope whose data is service_payload(): specversion,
// id, source "/registries/<registry>", type "io.berth.registry.<action>", time, subject
// ("<repository>:<tag>", "<repository>@<digest>" or "<repository>"), datacontenttype.
std::string cloudevents_payload(const metadata::EventRecord& event, std::string_view registry);

// The body for a webhook of `format` (webhook_rules.h) and its Content-Type.
struct Payload {
  std::string body;
  std::string content_type;
};
Payload payload_for(const metadata::EventRecord& event, std::string_view format,
                    std::string_view registry);

// The signature header's value: "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>' keyed
// with the secret>". Signing the time with the body lets receivers refuse replays of old
// deliveries.
std::string signature(std::string_view secret, std::int64_t unix_seconds, std::string_view body);

// An audit entry: sequence, id, time, action, repository, tag, digest, mediaType, size,
// identity, identityKind, clientAddress, requestId, userAgent (the management API's and the
// audit file's shape).
boost::json::object audit_entry(const metadata::EventRecord& event);

// RFC 3339 UTC with milliseconds: "2026-12-02T15:04:05.123Z".
std::string format_timestamp_ms(std::int64_t unix_ms);

}  // namespace berth::events
