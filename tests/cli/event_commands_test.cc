// The webhook verbs and `audit list` in-process: the request each one sends, what it prints in
// table, json and tsv, what it refuses before any request (exit 2), and that a webhook's
// secret never shows.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "cli_fixture.h"

namespace berth::cli {
namespace {
namespace json = boost::json;
using testing::CliTest;

const std::string kReg = "http://srv:5000/mgmt/v1/registries/myreg";
const std::string kHooks = kReg + "/webhooks";
constexpr const char* kSecret = "whsec-9c1d-do-not-print";

const char* kWebhook = R"({"name":"hook1","registry":"myreg","actions":["push","delete"],
  "scope":"app:*","status":"enabled","format":"default","signed":true,
  "createdTime":"2026-12-02T15:04:05Z"})";

const char* kDeliveries = R"({"events":[
  {"deliveryId":18,"id":"7d9f6a52-0b4e-4c1f-9a57-2f1e8c3b6d40","action":"ping","attempt":2,
   "result":"failed","timestamp":"2026-12-02T15:04:06.250Z","latencyMs":3000,
   "eventRequestMessage":{"method":"POST","headers":{"Authorization":"*****"},"content":{}},
   "eventResponseMessage":{"statusCode":0,"headers":{},"content":""},
   "error":"connection refused"},
  {"deliveryId":17,"id":"0b5c3e1a-77aa-4f0e-8d21-5e6f7a8b9c0d","action":"push","attempt":1,
   "result":"delivered","timestamp":"2026-12-02T15:04:05.123Z","latencyMs":12,
   "eventRequestMessage":{"method":"POST","headers":{},"content":{}},
   "eventResponseMessage":{"statusCode":200,"headers":{},"content":"ok"},"error":""}],
  "next":"17"})";

const char* kAudit = R"({"events":[
  {"sequence":42,"id":"a1b2","time":"2026-12-02T15:04:05.123Z","action":"push",
   "repository":"team/app","tag":"v1",
   "digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
   "mediaType":"application/vnd.oci.image.manifest.v1+json","size":524,
   "identity":"adminuser:myreg","identityKind":"adminUser","clientAddress":"127.0.0.1",
   "requestId":"r-1","userAgent":"podman/4.3"},
  {"sequence":41,"id":"a1b1","time":"2026-12-02T15:04:01Z","action":"ping","repository":"",
   "tag":"","digest":"","mediaType":"","size":0,"identity":"","identityKind":"",
   "clientAddress":"","requestId":"","userAgent":""}]})";

class EventTest : public CliTest {
 protected:
  void expect_request(const char* method, const std::string& url) {
    ASSERT_FALSE(fake.requests.empty());
    EXPECT_EQ(fake.requests.back().method, method);
    EXPECT_EQ(fake.requests.back().url, url);
  }

  // Each run fails with exit 2 before any request, its message holding the fragment.
  void expect_refused(const std::vector<std::vector<std::string>>& runs,
                      const std::vector<std::string>& fragments) {
    ASSERT_EQ(runs.size(), fragments.size());
    for (std::size_t i = 0; i < runs.size(); ++i) {
      SCOPED_TRACE(::testing::Message() << "run " << i);
      expect_error(run(runs[i]), ExitCode::kUsage, fragments[i]);
      EXPECT_EQ(err.find(kSecret), std::string::npos) << err;
    }
    EXPECT_TRUE(fake.requests.empty());
  }

  static std::vector<std::string> with(std::vector<std::string> base,
                                       const std::vector<std::string>& extra) {
    base.insert(base.end(), extra.begin(), extra.end());
    return base;
  }
};

bool contains(const std::string& text, std::string_view fragment) {
  return text.find(fragment) != std::string::npos;
}

// ------------------------------------------------------------------ create

TEST_F(EventTest, CreateSendsEveryFlagAndPrintsTheWebhook) {
  fake.answer(201, kWebhook);
  EXPECT_EQ(run({"webhook", "create", "--name", "hook1", "--registry", "myreg", "--uri",
                 "https://ci.example/hook?x=1", "--actions", "push", "DELETE", "--scope", "app:*",
                 "--headers", "Authorization=Bearer abc", "X-Team=a=b", "--status", "Disabled",
                 "--secret", kSecret, "--format", "CloudEvents"}),
            0)
      << err;
  expect_request("POST", kHooks);
  EXPECT_EQ(last_body(), json::parse(std::string(R"({"name":"hook1",
      "serviceUri":"https://ci.example/hook?x=1","actions":["push","delete"],"scope":"app:*",
      "customHeaders":{"Authorization":"Bearer abc","X-Team":"a=b"},"status":"disabled",
      "secret":")") + kSecret + R"(","format":"cloudevents"})"));
  EXPECT_EQ(out,
            "NAME   STATUS   ACTIONS      SCOPE  FORMAT   SIGNED  CREATED\n"
            "-----  -------  -----------  -----  -------  ------  --------------------\n"
            "hook1  enabled  push,delete  app:*  default  true    2026-12-02T15:04:05Z\n");
  EXPECT_FALSE(contains(out, kSecret));
}

TEST_F(EventTest, CreateSendsOnlyWhatWasGiven) {
  fake.answer(201, kWebhook);
  EXPECT_EQ(run({"webhook", "create", "-n", "hook1", "-r", "myreg", "--uri", "http://10.0.0.5:8080/",
                 "--actions", "push,chart_push", "-o", "json"}),
            0)
      << err;
  EXPECT_EQ(last_body(), json::parse(R"({"name":"hook1","serviceUri":"http://10.0.0.5:8080/",
      "actions":["push","chart_push"]})"));
  EXPECT_EQ(json::parse(out), json::parse(kWebhook));
}

TEST_F(EventTest, CreateReadsTheSecretFromStandardInputOrAFile) {
  input = std::string(kSecret) + "\r\n";
  fake.answer(201, kWebhook);
  EXPECT_EQ(run({"webhook", "create", "-n", "hook1", "-r", "myreg", "--uri", "http://h/",
                 "--actions", "push", "--secret", "-"}),
            0)
      << err;
  EXPECT_EQ(last_body().at("secret"), kSecret);

  auto file = home.path() / "secret.txt";
  std::ofstream(file) << kSecret << "\n";
  fake.answer(201, kWebhook);
  EXPECT_EQ(run({"webhook", "create", "-n", "hook1", "-r", "myreg", "--uri", "http://h/",
                 "--actions", "push", "--secret-file", file.string()}),
            0)
      << err;
  EXPECT_EQ(last_body().at("secret"), kSecret);
  EXPECT_FALSE(contains(out, kSecret));
}

TEST_F(EventTest, CreateRefusesBadInputBeforeAnyRequest) {
  const std::vector<std::string> base = {"webhook", "create", "-n", "hook1", "-r", "myreg"};
  const std::vector<std::string> ok = {"--uri", "http://h/", "--actions", "push"};
  auto empty_file = home.path() / "empty";
  std::ofstream(empty_file) << "\n";
  auto two_lines = home.path() / "two";
  std::ofstream(two_lines) << kSecret << "\nmore\n";
  std::vector<std::string> many_headers = with(base, ok);
  many_headers.push_back("--headers");
  for (int i = 0; i < 33; ++i) many_headers.push_back(std::string("X-H") + std::to_string(i) + "=v");
  expect_refused(
      {with(base, {"--actions", "push"}),
       with(base, {"--uri", "http://h/"}),
       with(base, {"--uri", "ftp://h/", "--actions", "push"}),
       with(base, {"--uri", "http://h/", "--actions", "push", "build"}),
       with(base, {"--uri", "http://h/", "--actions", "push", "Push"}),
       with(base, with(ok, {"--scope", "app:v/1"})),
       with(base, with(ok, {"--headers", "Authorization: Bearer whsec"})),
       with(base, with(ok, {"--headers", "X-A=1", "x-a=2"})),
       with(base, with(ok, {"--headers", "", "X-A=1"})),
       with(base, with(ok, {"--status", "paused"})),
       with(base, with(ok, {"--format", "xml"})),
       with(base, with(ok, {"--secret", kSecret, "--secret-file", "/nonexistent"})),
       with(base, with(ok, {"--secret", std::string(257, 's')})),
       with(base, with(ok, {"--secret-file", "/nonexistent/secret"})),
       with(base, with(ok, {"--secret-file", empty_file.string()})),
       with(base, with(ok, {"--secret-file", two_lines.string()})),
       many_headers,
       with({"webhook", "create", "-n", "hook-1", "-r", "myreg"}, ok),
       with({"webhook", "create", "-n", "hook1"}, ok)},
      {"--uri is required", "--actions is required",
       "--uri: service URI 'ftp://h/' must be an http:// or https:// URL",
       "--actions: 'build' is not one of push, delete, quarantine, chart_push, chart_delete",
       "--actions: 'push' is given twice", "--scope: scope 'app:v/1' must be",
       "--headers: header 'Authorization' must be NAME=VALUE",
       "--headers: header 'x-a' is given twice", "--headers '' (no headers) cannot be combined",
       "--status: 'paused' is not one of enabled, disabled",
       "--format: 'xml' is not one of default, cloudevents", "excludes",
       "the secret is longer than 256 bytes", "--secret-file: cannot read '/nonexistent/secret'",
       "is empty", "holds more than one line", "a webhook has at most 32 headers",
       "-n: webhook name 'hook-1' must be 5-50 letters or digits",
       "--registry is required"});
}

// ------------------------------------------------------------------ update

TEST_F(EventTest, UpdateSendsOnlyTheGivenFields) {
  struct Case {
    std::vector<std::string> flags;
    std::string body;
  };
  const std::vector<Case> cases = {
      {{"--status", "disabled"}, R"({"status":"disabled"})"},
      {{"--uri", "https://new.example/"}, R"({"serviceUri":"https://new.example/"})"},
      {{"--actions", "quarantine"}, R"({"actions":["quarantine"]})"},
      {{"--headers", ""}, R"({"customHeaders":{}})"},
      {{"--headers", "X-A=1"}, R"({"customHeaders":{"X-A":"1"}})"},
      {{"--scope", ""}, R"({"scope":""})"},
      {{"--scope", "team/*"}, R"({"scope":"team/*"})"},
      {{"--secret", ""}, R"({"secret":""})"},
      {{"--format", "default", "--status", "enabled"}, R"({"status":"enabled","format":"default"})"},
  };
  for (const auto& c : cases) {
    fake.answer(200, kWebhook);
    EXPECT_EQ(run(with({"webhook", "update", "-n", "hook1", "-r", "myreg"}, c.flags)), 0) << err;
    expect_request("PATCH", kHooks + "/hook1");
    EXPECT_EQ(last_body(), json::parse(c.body)) << c.body;
  }
  fake.requests.clear();
  expect_refused({{"webhook", "update", "-n", "hook1", "-r", "myreg"},
                  {"webhook", "update", "-n", "hook1", "-r", "myreg", "--uri", ""}},
                 {"nothing to update: give --uri, --actions, --headers, --scope, --status, "
                  "--secret, --secret-file or --format",
                  "--uri: service URI '' must be"});
}

// ------------------------------------------------------------------ list, show, delete, config

TEST_F(EventTest, ListShowDeleteGetConfig) {
  fake.answer(200, std::string(R"({"webhooks":[)") + kWebhook + "]}");
  EXPECT_EQ(run({"webhook", "list", "-r", "myreg", "-o", "json"}), 0) << err;
  expect_request("GET", kHooks);
  EXPECT_EQ(json::parse(out), json::parse(std::string("[") + kWebhook + "]"));

  fake.answer(200, std::string(R"({"webhooks":[)") + kWebhook + "]}");
  EXPECT_EQ(run({"webhook", "list", "-r", "myreg", "-o", "tsv"}), 0) << err;
  EXPECT_EQ(out, "hook1\tenabled\tpush,delete\tapp:*\tdefault\ttrue\t2026-12-02T15:04:05Z\n");

  fake.answer(200, kWebhook);
  EXPECT_EQ(run({"webhook", "show", "--name", "hook1", "--registry", "myreg"}), 0) << err;
  expect_request("GET", kHooks + "/hook1");
  EXPECT_TRUE(out.starts_with("NAME   STATUS")) << out;

  fake.answer(204);
  EXPECT_EQ(run({"webhook", "delete", "-n", "hook1", "-r", "myreg"}), 0) << err;
  expect_request("DELETE", kHooks + "/hook1");
  EXPECT_EQ(out, "Deleted webhook 'hook1' from registry 'myreg'.\n");
  fake.answer(204);
  EXPECT_EQ(run({"webhook", "delete", "-n", "hook1", "-r", "myreg", "-o", "json"}), 0) << err;
  EXPECT_EQ(out, "");

  const char* config = R"({"serviceUri":"https://ci.example/hook?token=abc",
      "customHeaders":{"Authorization":"Bearer abc","X-Team":"blue"}})";
  fake.answer(200, config);
  EXPECT_EQ(run({"webhook", "get-config", "-n", "hook1", "-r", "myreg"}), 0) << err;
  expect_request("GET", kHooks + "/hook1/config");
  EXPECT_EQ(out,
            "SERVICE URI                        HEADER         VALUE\n"
            "---------------------------------  -------------  ----------\n"
            "https://ci.example/hook?token=abc  Authorization  Bearer abc\n"
            "https://ci.example/hook?token=abc  X-Team         blue\n");
  fake.answer(200, config);
  EXPECT_EQ(run({"webhook", "get-config", "-n", "hook1", "-r", "myreg", "-o", "json"}), 0);
  EXPECT_EQ(json::parse(out), json::parse(config));
  fake.answer(200, R"({"serviceUri":"http://h/","customHeaders":{}})");
  EXPECT_EQ(run({"webhook", "get-config", "-n", "hook1", "-r", "myreg", "-o", "tsv"}), 0);
  EXPECT_EQ(out, "http://h/\t\t\n");
}

TEST_F(EventTest, ServerErrorsMapToExitCodes) {
  fake.answer(404, R"({"error":{"code":"WebhookNotFound","message":"webhook 'hook9' does not exist","target":"hook9"}})");
  expect_error(run({"webhook", "show", "-n", "hook9", "-r", "myreg"}), ExitCode::kNotFound,
               "webhook 'hook9' does not exist");
  fake.answer(409, R"({"error":{"code":"LimitExceeded","message":"tier Basic allows 2 webhooks","target":"Webhooks"}})");
  expect_error(run({"webhook", "create", "-n", "hook3", "-r", "myreg", "--uri", "http://h/",
                    "--actions", "push", "--secret", kSecret}),
               ExitCode::kConflict, "tier Basic allows 2 webhooks");
  EXPECT_FALSE(contains(err, kSecret));
  fake.answer(404, R"({"error":{"code":"EventNotFound","message":"no event 'e1' for webhook 'hook1'","target":"e1"}})");
  expect_error(run({"webhook", "redeliver", "-n", "hook1", "-r", "myreg", "--event-id", "e1"}),
               ExitCode::kNotFound, "no event 'e1'");
  fake.answer(403, R"({"error":{"code":"Forbidden","message":"the role Reader does not allow this"}})");
  expect_error(run({"webhook", "get-config", "-n", "hook1", "-r", "myreg"}), ExitCode::kAuth,
               "Reader");
}

// ------------------------------------------------------------------ ping, deliveries, redeliver

TEST_F(EventTest, PingAndRedeliverQueueAnEvent) {
  fake.answer(200, R"({"id":"7d9f6a52-0b4e-4c1f-9a57-2f1e8c3b6d40"})");
  EXPECT_EQ(run({"webhook", "ping", "-n", "hook1", "-r", "myreg"}), 0) << err;
  expect_request("POST", kHooks + "/hook1/ping");
  EXPECT_EQ(fake.requests.back().body, "");
  EXPECT_EQ(out,
            "EVENT ID\n"
            "------------------------------------\n"
            "7d9f6a52-0b4e-4c1f-9a57-2f1e8c3b6d40\n"
            "Ping queued for webhook 'hook1'; 'berth webhook list-events --name hook1 --registry "
            "myreg' shows its delivery.\n");
  fake.answer(200, R"({"id":"7d9f6a52-0b4e-4c1f-9a57-2f1e8c3b6d40"})");
  EXPECT_EQ(run({"webhook", "ping", "-n", "hook1", "-r", "myreg", "-o", "tsv"}), 0) << err;
  EXPECT_EQ(out, "7d9f6a52-0b4e-4c1f-9a57-2f1e8c3b6d40\n");

  fake.answer(202, R"({"id":"0b5c3e1a-77aa-4f0e-8d21-5e6f7a8b9c0d"})");
  EXPECT_EQ(run({"webhook", "redeliver", "-n", "hook1", "-r", "myreg", "--event-id",
                 "0b5c3e1a-77aa-4f0e-8d21-5e6f7a8b9c0d", "-o", "json"}),
            0)
      << err;
  expect_request("POST", kHooks + "/hook1/events/0b5c3e1a-77aa-4f0e-8d21-5e6f7a8b9c0d/redeliver");
  EXPECT_EQ(json::parse(out), json::parse(R"({"id":"0b5c3e1a-77aa-4f0e-8d21-5e6f7a8b9c0d"})"));

  fake.requests.clear();
  expect_refused({{"webhook", "redeliver", "-n", "hook1", "-r", "myreg"},
                  {"webhook", "redeliver", "-n", "hook1", "-r", "myreg", "--event-id", "a/b"},
                  {"webhook", "ping", "-n", "hook1"}},
                 {"--event-id is required", "--event-id: event id 'a/b' must be",
                  "--registry is required"});
}

TEST_F(EventTest, ListEventsPagesAndFitsTheWidth) {
  fake.answer(200, kDeliveries);
  EXPECT_EQ(run({"webhook", "list-events", "-n", "hook1", "-r", "myreg", "--top", "2",
                 "--before", "19"}),
            0)
      << err;
  expect_request("GET", kHooks + "/hook1/events?top=2&before=19");
  EXPECT_EQ(out,
            "ID  TIME                  ACTION  EVENT ID                              ATTEMPT  "
            "RESULT     STATUS  ERROR\n"
            "--  --------------------  ------  ------------------------------------  -------  "
            "---------  ------  ------------------\n"
            "18  2026-12-02T15:04:06Z  ping    7d9f6a52-0b4e-4c1f-9a57-2f1e8c3b6d40  2        "
            "failed             connection refused\n"
            "17  2026-12-02T15:04:05Z  push    0b5c3e1a-77aa-4f0e-8d21-5e6f7a8b9c0d  1        "
            "delivered  200\n"
            "More events follow: add --before 17 for the next page.\n");

  // tsv keeps the milliseconds; json is the array, each delivery as the API sent it.
  fake.answer(200, kDeliveries);
  EXPECT_EQ(run({"webhook", "list-events", "-n", "hook1", "-r", "myreg", "-o", "tsv"}), 0);
  expect_request("GET", kHooks + "/hook1/events");
  EXPECT_TRUE(out.starts_with("18\t2026-12-02T15:04:06.250Z\tping\t")) << out;
  fake.answer(200, kDeliveries);
  EXPECT_EQ(run({"webhook", "list-events", "-n", "hook1", "-r", "myreg", "-o", "json"}), 0);
  EXPECT_EQ(json::parse(out), json::parse(kDeliveries).at("events"));

  // A long error gives way; the event id, which redeliver takes, is never cut.
  json::value long_error = json::parse(kDeliveries);
  long_error.at("events").as_array()[0].as_object()["error"] = std::string(300, 'e');
  fake.answer(200, json::serialize(long_error));
  EXPECT_EQ(run({"webhook", "list-events", "-n", "hook1", "-r", "myreg"}), 0);
  for (std::size_t start = 0, end; start < out.size(); start = end + 1) {
    end = out.find('\n', start);
    std::string line = out.substr(start, end - start);
    std::size_t points = 0;
    for (char c : line) points += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (!line.starts_with("More")) {
      EXPECT_LE(points, 120u) << line;
    }
  }
  EXPECT_TRUE(contains(out, "7d9f6a52-0b4e-4c1f-9a57-2f1e8c3b6d40"));

  fake.answer(200, R"({"events":[]})");
  EXPECT_EQ(run({"webhook", "list-events", "-n", "hook1", "-r", "myreg"}), 0);
  EXPECT_FALSE(contains(out, "More events")) << out;

  fake.requests.clear();
  const std::vector<std::string> base = {"webhook", "list-events", "-n", "hook1", "-r", "myreg"};
  expect_refused({with(base, {"--top", "0"}), with(base, {"--top", "101"}),
                  with(base, {"--top", "ten"}), with(base, {"--before", "0"}),
                  with(base, {"--before", "-5"}), with(base, {"--before", "abc"})},
                 {"--top: '0' is not a number from 1 to 100", "--top: '101'", "--top: 'ten'",
                  "--before: '0' is not a delivery id", "--before", "--before: 'abc'"});
}

// ------------------------------------------------------------------ audit list

TEST_F(EventTest, AuditListBuildsTheQueryAndShowsEvents) {
  fake.answer(200, std::string(kAudit).insert(std::string(kAudit).size() - 1, R"(,"next":"41")"));
  EXPECT_EQ(run({"audit", "list", "-r", "myreg", "--since", "2026-12-02T07:00:00+01:00",
                 "--until", "2026-12-03T00:00:00Z", "--identity", "adminuser:myreg",
                 "--repository", "team/app", "--action", "PUSH", "--top", "2", "--before", "43"}),
            0)
      << err;
  expect_request("GET", kReg +
                            "/audit/events?since=2026-12-02T06%3A00%3A00Z&until=2026-12-03T00%3A00%"
                            "3A00Z&identity=adminuser%3Amyreg&repository=team%2Fapp&action=push&"
                            "top=2&before=43");
  EXPECT_EQ(out,
            "SEQUENCE  TIME                  ACTION  REPOSITORY  TAG  DIGEST               "
            "IDENTITY\n"
            "--------  --------------------  ------  ----------  ---  -------------------  "
            "---------------\n"
            "42        2026-12-02T15:04:05Z  push    team/app    v1   sha256:0123456789ab  "
            "adminuser:myreg\n"
            "41        2026-12-02T15:04:01Z  ping\n"
            "More events follow: add --before 41 for the next page.\n");

  fake.answer(200, kAudit);
  EXPECT_EQ(run({"audit", "list", "--name", "myreg", "-o", "json"}), 0) << err;
  expect_request("GET", kReg + "/audit/events");
  EXPECT_EQ(json::parse(out), json::parse(kAudit).at("events"));

  fake.answer(200, kAudit);
  EXPECT_EQ(run({"audit", "list", "-n", "myreg", "-o", "tsv"}), 0) << err;
  EXPECT_TRUE(out.starts_with("42\t2026-12-02T15:04:05.123Z\tpush\tteam/app\tv1\tsha256:"
                              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\t"
                              "adminuser:myreg\n"))
      << out;
}

TEST_F(EventTest, AuditListRefusesBadFiltersBeforeAnyRequest) {
  const std::vector<std::string> base = {"audit", "list", "-r", "myreg"};
  expect_refused({with(base, {"--since", "yesterday"}),
                  with(base, {"--since", "2026-12-02T00:00:00Z", "--until", "2026-12-01T00:00:00Z"}),
                  with(base, {"--identity", "a b"}), with(base, {"--repository", "Team/App"}),
                  with(base, {"--action", "quarantine"}), with(base, {"--top", "1001"}),
                  with(base, {"--before", "1.5"}), {"audit", "list"}},
                 {"--since: 'yesterday' is not an RFC 3339 time", "is after --until",
                  "--identity: identity 'a b'", "--repository: repository name 'Team/App'",
                  "--action: 'quarantine' is not one of push, delete, untag, pull, chart_push, "
                  "chart_delete, ping",
                  "--top: '1001' is not a number from 1 to 1000",
                  "--before: '1.5' is not an event sequence", "--registry is required"});
}

TEST_F(EventTest, AuditHoldsLoginsAndListAndWebhookItsVerbs) {
  expect_error(run({"audit"}), ExitCode::kUsage,
               "missing command for 'berth audit'; valid commands: logins, list");
  expect_error(run({"webhook"}), ExitCode::kUsage,
               "valid commands: create, list, show, update, delete, ping, get-config, "
               "list-events, redeliver");
  EXPECT_EQ(run({"webhook", "create", "--help"}), 0);
  EXPECT_TRUE(contains(out, "--secret-file")) << out;
  EXPECT_TRUE(fake.requests.empty());
}

}  // namespace
}  // namespace berth::cli
