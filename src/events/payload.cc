#include "events/payload.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/clock.h"
#include "events/webhook_rules.h"

namespace berth::events {
namespace {

namespace json = boost::json;
namespace action = metadata::event_action;

void put_if(json::object& object, std::string_view key, std::string_view value) {
  if (!value.empty()) object[key] = value;
}

bool is_chart(std::string_view event_action) {
  return event_action == action::kChartPush || event_action == action::kChartDelete;
}

json::object target_of(const metadata::EventRecord& event) {
  json::object target;
  put_if(target, "mediaType", event.media_type);
  // Pushes say how big the manifest is (size and length, as the hosted service sends both).
  bool pushed = event.action == action::kPush || event.action == action::kChartPush;
  if (pushed && event.size > 0) target["size"] = event.size;
  put_if(target, "digest", event.digest);
  if (pushed && event.size > 0) target["length"] = event.size;
  put_if(target, "repository", event.repository);
  put_if(target, "tag", event.tag);
  if (is_chart(event.action)) {
    // A chart's name is its repository's last path component; its version is the tag.
    std::string_view repository = event.repository;
    auto slash = repository.rfind('/');
    put_if(target, "name", slash == std::string_view::npos ? repository : repository.substr(slash + 1));
    put_if(target, "version", event.tag);
  }
  return target;
}

json::object request_of(const metadata::EventOrigin& origin) {
  json::object request;
  request["id"] = origin.request_id;
  request["host"] = origin.host;
  request["method"] = origin.method;
  request["useragent"] = origin.user_agent;
  return request;
}

json::object service_object(const metadata::EventRecord& event) {
  json::object payload;
  payload["id"] = event.id;
  payload["timestamp"] = format_timestamp_ms(event.created_at);
  payload["action"] = event.action;
  if (event.action != action::kPing) {
    payload["target"] = target_of(event);
    payload["request"] = request_of(event.origin);
  }
  return payload;
}

std::string subject_of(const metadata::EventRecord& event) {
  if (!event.tag.empty()) return event.repository + ":" + event.tag;
  if (!event.digest.empty()) return event.repository + "@" + event.digest;
  return event.repository;
}

}  // namespace

std::string format_timestamp_ms(std::int64_t unix_ms) {
  std::int64_t seconds = unix_ms / 1000;
  std::int64_t millis = unix_ms % 1000;
  std::string text = format_rfc3339(seconds);  // "...T08:46:11Z"
  text.pop_back();
  return fmt::format("{}.{:03}Z", text, millis);
}

boost::json::object audit_entry(const metadata::EventRecord& e) {
  return json::object{
      {"sequence", e.sequence},
      {"id", e.id},
      {"time", format_timestamp_ms(e.created_at)},
      {"action", e.action},
      {"repository", e.repository},
      {"tag", e.tag},
      {"digest", e.digest},
      {"mediaType", e.media_type},
      {"size", e.size},
      {"identity", e.origin.identity},
      {"identityKind", e.origin.identity_kind},
      {"clientAddress", e.origin.client_address},
      {"requestId", e.origin.request_id},
      {"userAgent", e.origin.user_agent},
  };
}

std::string service_payload(const metadata::EventRecord& event) {
  return json::serialize(service_object(event));
}

std::string cloudevents_payload(const metadata::EventRecord& event, std::string_view registry) {
  json::object envelope;
  envelope["specversion"] = "1.0";
  envelope["id"] = event.id;
  envelope["source"] = fmt::format("/registries/{}", registry);
  envelope["type"] = fmt::format("io.berth.registry.{}", event.action);
  envelope["time"] = format_timestamp_ms(event.created_at);
  std::string subject = subject_of(event);
  if (!subject.empty()) envelope["subject"] = subject;
  envelope["datacontenttype"] = "application/json";
  envelope["data"] = service_object(event);
  return json::serialize(envelope);
}

Payload payload_for(const metadata::EventRecord& event, std::string_view format,
                    std::string_view registry) {
  if (format == kFormatCloudEvents) {
    return {cloudevents_payload(event, registry), "application/cloudevents+json; charset=utf-8"};
  }
  return {service_payload(event), "application/json"};
}

std::string signature(std::string_view secret, std::int64_t unix_seconds, std::string_view body) {
  std::string signed_text = fmt::format("{}.", unix_seconds);
  signed_text += body;
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac.data(),
       &length);
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", mac[i]);
  return fmt::format("t={},v1={}", unix_seconds, hex);
}

}  // namespace berth::events
