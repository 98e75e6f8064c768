// The EventStore conformance suite: every backend runs it (see conformance_test.h). It covers
// what the webhook dispatcher and the audit rely on: events commit with their change or not at
// all, a webhook is leased to one owner at a time, its events come in order after its cursor,
// and every change to its delivery state needs the lease.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "metadata/conformance_test.h"

namespace berth::metadata {
namespace {

using namespace conformance;

constexpr std::int64_t kNow = 1'800'000'000'000;  // ms
constexpr std::int64_t kLease = 60'000;

EventRecord event_of(std::string_view action, std::string_view repository, std::string_view tag,
                     RegistryId registry = kDefaultRegistryId) {
  EventRecord event;
  event.id = std::string(action) + ":" + std::string(repository) + ":" + std::string(tag);
  event.registry = registry;
  event.action = std::string(action);
  event.repository = std::string(repository);
  event.tag = std::string(tag);
  event.deliverable = event_action::is_deliverable(action);
  event.origin.identity = "adminuser:test";
  event.origin.client_address = "127.0.0.1";
  event.created_at = kNow;
  return event;
}

WebhookRecord webhook_named(std::string name, RegistryId registry = kDefaultRegistryId) {
  WebhookRecord webhook;
  webhook.registry = registry;
  webhook.name = std::move(name);
  webhook.service_uri = "http://127.0.0.1:9/hook";
  webhook.actions = {"push", "delete"};
  return webhook;
}

std::vector<std::string> ids_of(const std::vector<EventRecord>& events) {
  std::vector<std::string> ids;
  for (const auto& event : events) ids.push_back(event.id);
  return ids;
}

DeliveryRecord delivered(const EventRecord& event, std::int64_t webhook) {
  DeliveryRecord record;
  record.webhook = webhook;
  record.event_sequence = event.sequence;
  record.event_id = event.id;
  record.action = event.action;
  record.started_at = kNow;
  record.status = 200;
  record.request_headers_json = "{}";
  record.request_body = "{}";
  record.response_headers_json = "{}";
  record.result = "delivered";
  return record;
}

DeliveryOutcome advance(std::int64_t to, std::int64_t now = kNow) {
  return DeliveryOutcome{.advance_to = to, .attempt = 0, .next_attempt_at = 0,
                         .lease_until = now + kLease};
}

// --- events commit with their change ---

TEST_P(EventStoreConformance, PushAppendsItsEventInTheSameTransaction) {
  EventRecord pushed = event_of("push", "app", "v1");
  ManifestRecord manifest = manifest_of(manifest_json("a"));
  pushed.digest = manifest.digest.str();
  MUST(store().put_manifest(repo("app"), manifest, {}, std::string("v1"), std::span(&pushed, 1)));
  auto listed = MUST(events().list_events(EventFilter{}));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, pushed.id);
  EXPECT_EQ(listed[0].action, "push");
  EXPECT_EQ(listed[0].repository, "app");
  EXPECT_EQ(listed[0].tag, "v1");
  EXPECT_EQ(listed[0].digest, manifest.digest.str());
  EXPECT_EQ(listed[0].origin.identity, "adminuser:test");
  EXPECT_EQ(listed[0].created_at, kNow);
  EXPECT_TRUE(listed[0].deliverable);
  EXPECT_GT(listed[0].sequence, 0);
}

TEST_P(EventStoreConformance, FailedChangeAppendsNoEvent) {
  EventRecord pushed = event_of("push", "app", "v1", /*registry=*/999);
  auto stored = store().put_manifest(repo("app", 999), manifest_of(manifest_json("a")), {},
                                     std::string("v1"), std::span(&pushed, 1));
  EXPECT_FALSE(stored);
  EventFilter filter;
  filter.registry = 999;
  EXPECT_TRUE(MUST(events().list_events(filter)).empty());
}

TEST_P(EventStoreConformance, DeletesAppendEventsOnlyWhenSomethingWent) {
  ManifestRecord manifest = manifest_of(manifest_json("a"));
  MUST(store().put_manifest(repo("app"), manifest, {}, std::string("v1")));
  EventRecord untag = event_of("untag", "app", "nope");
  EXPECT_FALSE(MUST(store().delete_tag(repo("app"), "nope", std::span(&untag, 1))));
  EventRecord gone = event_of("delete", "app", "");
  EXPECT_FALSE(MUST(store().delete_manifest(repo("app"), oci::digest_of("other"),
                                            std::span(&gone, 1))));
  EXPECT_FALSE(MUST(store().delete_repository(repo("absent"), std::span(&gone, 1))));
  EXPECT_TRUE(MUST(events().list_events(EventFilter{})).empty());

  untag = event_of("untag", "app", "v1");
  EXPECT_TRUE(MUST(store().delete_tag(repo("app"), "v1", std::span(&untag, 1))));
  EXPECT_TRUE(MUST(store().delete_manifest(repo("app"), manifest.digest, std::span(&gone, 1))));
  EventRecord repository_gone = event_of("delete", "app", "repo");
  EXPECT_TRUE(MUST(store().delete_repository(repo("app"), std::span(&repository_gone, 1))));
  auto listed = MUST(events().list_events(EventFilter{}));
  EXPECT_EQ(ids_of(listed), (std::vector<std::string>{repository_gone.id, gone.id, untag.id}));
  EXPECT_FALSE(listed[2].deliverable);  // an untag is audited, not delivered
}

// --- webhooks ---

TEST_P(EventStoreConformance, WebhookNamesAreUniqueIgnoringCaseAndCounted) {
  auto created = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  EXPECT_GT(created.id, 0);
  EXPECT_EQ(created.actions, (std::vector<std::string>{"push", "delete"}));
  EXPECT_EQ(created.format, "default");
  EXPECT_EQ(error_of(events().create_webhook(webhook_named("ALPHA1"), 10)), Errc::conflict);
  MUST(events().create_webhook(webhook_named("beta22"), 10));
  EXPECT_EQ(error_of(events().create_webhook(webhook_named("gamma3"), 2)), Errc::limit_reached);
  EXPECT_EQ(MUST(events().count_webhooks(kDefaultRegistryId)), 2u);
  auto listed = MUST(events().list_webhooks(kDefaultRegistryId));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "alpha1");
  EXPECT_EQ(listed[1].name, "beta22");
  EXPECT_EQ(error_of(events().create_webhook(webhook_named("delta4", 999), 10)), Errc::not_found);
}

TEST_P(EventStoreConformance, WebhookUpdateChangesOnlyWhatIsGiven) {
  MUST(events().create_webhook(webhook_named("alpha1"), 10));
  WebhookChanges changes;
  changes.enabled = false;
  changes.actions = std::vector<std::string>{"chart_push"};
  EXPECT_TRUE(MUST(events().update_webhook(kDefaultRegistryId, "ALPHA1", changes)));
  auto found = MUST(events().find_webhook(kDefaultRegistryId, "alpha1"));
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->enabled);
  EXPECT_EQ(found->actions, (std::vector<std::string>{"chart_push"}));
  EXPECT_EQ(found->service_uri, "http://127.0.0.1:9/hook");
  EXPECT_FALSE(MUST(events().update_webhook(kDefaultRegistryId, "absent1", changes)));
  EXPECT_TRUE(MUST(events().delete_webhook(kDefaultRegistryId, "alpha1")));
  EXPECT_FALSE(MUST(events().delete_webhook(kDefaultRegistryId, "alpha1")));
}

TEST_P(EventStoreConformance, DeletingARegistryDeletesItsWebhooksButKeepsItsAudit) {
  RegistryId other = NEW_REGISTRY("other");
  MUST(events().create_webhook(webhook_named("alpha1", other), 10));
  EventRecord pushed = event_of("push", "app", "v1", other);
  MUST(events().append_events(std::span(&pushed, 1)));
  EXPECT_TRUE(MUST(store().delete_registry(other)));
  EXPECT_EQ(MUST(events().count_webhooks(other)), 0u);
  EventFilter filter;
  filter.registry = other;
  EXPECT_EQ(MUST(events().list_events(filter)).size(), 1u);
}

// --- the outbox ---

TEST_P(EventStoreConformance, NewWebhookGetsOnlyLaterEvents) {
  EventRecord before = event_of("push", "app", "old");
  MUST(events().append_events(std::span(&before, 1)));
  auto webhook = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  EXPECT_TRUE(MUST(events().pending_events(webhook.id, 10)).empty());
  EventRecord after = event_of("push", "app", "new");
  MUST(events().append_events(std::span(&after, 1)));
  EXPECT_EQ(ids_of(MUST(events().pending_events(webhook.id, 10))),
            (std::vector<std::string>{after.id}));
}

TEST_P(EventStoreConformance, PendingEventsComeInOrderAndSkipOtherRegistriesAndPulls) {
  RegistryId other = NEW_REGISTRY("other");
  auto webhook = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  std::vector<EventRecord> appended = {
      event_of("push", "a", "1"), event_of("pull", "a", "1"), event_of("push", "b", "2", other),
      event_of("delete", "a", ""), event_of("push", "c", "3")};
  MUST(events().append_events(appended));
  EXPECT_EQ(ids_of(MUST(events().pending_events(webhook.id, 10))),
            (std::vector<std::string>{appended[0].id, appended[3].id, appended[4].id}));
  EXPECT_EQ(MUST(events().pending_events(webhook.id, 2)).size(), 2u);
}

TEST_P(EventStoreConformance, EventsForOneWebhookAreOnlyItsOwn) {
  auto one = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  auto two = MUST(events().create_webhook(webhook_named("beta22"), 10));
  EventRecord ping = event_of("ping", "", "");
  ping.webhook = one.id;
  MUST(events().append_events(std::span(&ping, 1)));
  EXPECT_EQ(MUST(events().pending_events(one.id, 10)).size(), 1u);
  EXPECT_TRUE(MUST(events().pending_events(two.id, 10)).empty());
}

TEST_P(EventStoreConformance, ClaimLeasesAWebhookToOneOwnerUntilTheLeaseExpires) {
  auto webhook = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  EXPECT_TRUE(MUST(events().claim_due_webhooks("a", kNow, kNow + kLease, 10)).empty())
      << "nothing to deliver, nothing to claim";
  EventRecord pushed = event_of("push", "app", "v1");
  MUST(events().append_events(std::span(&pushed, 1)));

  auto claimed = MUST(events().claim_due_webhooks("a", kNow, kNow + kLease, 10));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, webhook.id);
  EXPECT_EQ(claimed[0].lease_owner, "a");
  EXPECT_TRUE(MUST(events().claim_due_webhooks("b", kNow + 1, kNow + kLease, 10)).empty());
  EXPECT_TRUE(MUST(events().claim_due_webhooks("a", kNow + 1, kNow + kLease, 10)).empty())
      << "a webhook its owner already holds is not handed out again";
  // Owner a died: once the lease has expired, b takes over.
  auto taken = MUST(events().claim_due_webhooks("b", kNow + kLease, kNow + 2 * kLease, 10));
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].lease_owner, "b");
  // a's late report changes nothing.
  EXPECT_FALSE(MUST(events().finish_attempt(webhook.id, "a", delivered(pushed, webhook.id),
                                            advance(pushed.sequence))));
  EXPECT_TRUE(MUST(events().list_deliveries(webhook.id, 0, 10)).empty());
  auto pending = MUST(events().pending_events(webhook.id, 10));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_TRUE(MUST(events().finish_attempt(webhook.id, "b", delivered(pending[0], webhook.id),
                                           advance(pending[0].sequence))));
  EXPECT_TRUE(MUST(events().pending_events(webhook.id, 10)).empty());
  EXPECT_EQ(MUST(events().list_deliveries(webhook.id, 0, 10)).size(), 1u);
  MUST(events().release_webhook(webhook.id, "b"));
  EXPECT_TRUE(MUST(events().claim_due_webhooks("c", kNow + kLease, kNow + 2 * kLease, 10)).empty())
      << "caught up: nothing left to claim";
}

TEST_P(EventStoreConformance, ConcurrentClaimsNeverShareAWebhook) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(MUST(events().create_webhook(webhook_named(numbered("hook", 10 + i)), 10)).id);
  }
  EventRecord pushed = event_of("push", "app", "v1");
  MUST(events().append_events(std::span(&pushed, 1)));
  std::vector<std::vector<WebhookRecord>> claims(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      claims[t] = MUST(events().claim_due_webhooks(numbered("owner", t), kNow, kNow + kLease, 3));
    });
  }
  for (auto& thread : threads) thread.join();
  std::multiset<std::int64_t> claimed;
  for (const auto& claim : claims) {
    for (const auto& webhook : claim) claimed.insert(webhook.id);
  }
  EXPECT_EQ(claimed.size(), 8u);
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(), 8u);
}

TEST_P(EventStoreConformance, RetryScheduleDelaysTheNextClaimAndKeepsTheCursor) {
  auto webhook = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  EventRecord pushed = event_of("push", "app", "v1");
  MUST(events().append_events(std::span(&pushed, 1)));
  ASSERT_EQ(MUST(events().claim_due_webhooks("a", kNow, kNow + kLease, 10)).size(), 1u);
  auto pending = MUST(events().pending_events(webhook.id, 10));
  ASSERT_EQ(pending.size(), 1u);
  DeliveryRecord failed = delivered(pending[0], webhook.id);
  failed.status = 500;
  failed.result = "failed";
  DeliveryOutcome retry{.advance_to = std::nullopt, .attempt = 1,
                        .next_attempt_at = kNow + 5'000, .lease_until = kNow + kLease};
  EXPECT_TRUE(MUST(events().finish_attempt(webhook.id, "a", failed, retry)));
  MUST(events().release_webhook(webhook.id, "a"));

  EXPECT_TRUE(MUST(events().claim_due_webhooks("a", kNow + 4'999, kNow + kLease, 10)).empty());
  auto again = MUST(events().claim_due_webhooks("a", kNow + 5'000, kNow + kLease, 10));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 1u);
  EXPECT_EQ(MUST(events().pending_events(webhook.id, 10)).size(), 1u) << "not delivered yet";
  auto attempts = MUST(events().list_deliveries(webhook.id, 0, 10));
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].status, 500);
  EXPECT_EQ(attempts[0].result, "failed");
  EXPECT_EQ(attempts[0].event_id, pushed.id);
}

TEST_P(EventStoreConformance, CursorNeverMovesBack) {
  auto webhook = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  std::vector<EventRecord> appended = {event_of("push", "a", "1"), event_of("push", "a", "2")};
  MUST(events().append_events(appended));
  ASSERT_EQ(MUST(events().claim_due_webhooks("a", kNow, kNow + kLease, 10)).size(), 1u);
  auto pending = MUST(events().pending_events(webhook.id, 10));
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_TRUE(MUST(events().finish_attempt(webhook.id, "a", std::nullopt,
                                           advance(pending[1].sequence))));
  EXPECT_TRUE(MUST(events().finish_attempt(webhook.id, "a", std::nullopt,
                                           advance(pending[0].sequence))));
  EXPECT_TRUE(MUST(events().pending_events(webhook.id, 10)).empty());
}

TEST_P(EventStoreConformance, DisabledWebhooksAreNotClaimed) {
  auto webhook = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  WebhookChanges off;
  off.enabled = false;
  MUST(events().update_webhook(kDefaultRegistryId, "alpha1", off));
  EventRecord pushed = event_of("push", "app", "v1");
  MUST(events().append_events(std::span(&pushed, 1)));
  EXPECT_TRUE(MUST(events().claim_due_webhooks("a", kNow, kNow + kLease, 10)).empty());
  EXPECT_EQ(MUST(events().outbox_stats()).undelivered, 0u);
  // Enabled again: what happened meanwhile is not delivered, what happens next is.
  WebhookChanges on;
  on.enabled = true;
  MUST(events().update_webhook(kDefaultRegistryId, "alpha1", on));
  EXPECT_TRUE(MUST(events().pending_events(webhook.id, 10)).empty());
  EventRecord later = event_of("push", "app", "v2");
  MUST(events().append_events(std::span(&later, 1)));
  EXPECT_EQ(ids_of(MUST(events().pending_events(webhook.id, 10))),
            (std::vector<std::string>{later.id}));
}

TEST_P(EventStoreConformance, OutboxStatsCountWhatEnabledWebhooksHaveNotHandled) {
  EXPECT_EQ(MUST(events().outbox_stats()).undelivered, 0u);
  auto webhook = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  MUST(events().create_webhook(webhook_named("beta22"), 10));
  std::vector<EventRecord> appended = {event_of("push", "a", "1"), event_of("push", "a", "2"),
                                       event_of("pull", "a", "2")};
  appended[1].created_at = kNow + 10;
  MUST(events().append_events(appended));
  OutboxStats stats = MUST(events().outbox_stats());
  EXPECT_EQ(stats.undelivered, 2u) << "each event once, however many webhooks wait for it";
  EXPECT_EQ(stats.oldest_created_at, kNow);
  ASSERT_EQ(MUST(events().claim_due_webhooks("a", kNow, kNow + kLease, 1)).size(), 1u);
  auto pending = MUST(events().pending_events(webhook.id, 10));
  ASSERT_FALSE(pending.empty());
  (void)events().finish_attempt(webhook.id, "a", std::nullopt, advance(pending.back().sequence));
  EXPECT_EQ(MUST(events().outbox_stats()).undelivered, 2u) << "beta22 still waits for both";
}

TEST_P(EventStoreConformance, DeliveryStateSurvivesAReopen) {
  auto webhook = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  std::vector<EventRecord> appended = {event_of("push", "a", "1"), event_of("push", "a", "2")};
  MUST(events().append_events(appended));
  ASSERT_EQ(MUST(events().claim_due_webhooks("a", kNow, kNow + kLease, 10)).size(), 1u);
  auto pending = MUST(events().pending_events(webhook.id, 10));
  ASSERT_EQ(pending.size(), 2u);
  MUST(events().finish_attempt(webhook.id, "a", delivered(pending[0], webhook.id),
                               advance(pending[0].sequence)));
  ASSERT_TRUE(reopen());
  EXPECT_EQ(ids_of(MUST(events().pending_events(webhook.id, 10))),
            (std::vector<std::string>{appended[1].id}));
  EXPECT_EQ(MUST(events().list_deliveries(webhook.id, 0, 10)).size(), 1u);
}

// --- the audit ---

TEST_P(EventStoreConformance, AuditListingFiltersAndPagesNewestFirst) {
  std::vector<EventRecord> appended;
  for (int i = 0; i < 10; ++i) {
    EventRecord event = event_of(i % 2 == 0 ? "push" : "pull", i < 5 ? "a" : "b",
                                 numbered("t", i));
    event.created_at = kNow + i * 1000;
    if (i == 7) event.origin.identity = "token:reader";
    appended.push_back(event);
  }
  MUST(events().append_events(appended));
  EventFilter filter;
  filter.limit = 4;
  auto first = MUST(events().list_events(filter));
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[0].tag, "t9");
  filter.before = first.back().sequence;
  auto second = MUST(events().list_events(filter));
  ASSERT_EQ(second.size(), 4u);
  EXPECT_EQ(second[0].tag, "t5");

  EventFilter pulls;
  pulls.action = "pull";
  pulls.repository = "b";
  EXPECT_EQ(MUST(events().list_events(pulls)).size(), 3u);  // t5, t7, t9
  EventFilter by_identity;
  by_identity.identity = "token:reader";
  auto mine = MUST(events().list_events(by_identity));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].tag, "t7");
  EventFilter window;
  window.from = kNow + 2000;
  window.to = kNow + 4000;
  EXPECT_EQ(MUST(events().list_events(window)).size(), 2u);  // t2, t3
  auto found = MUST(events().find_event(kDefaultRegistryId, appended[3].id));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->tag, "t3");
  EXPECT_FALSE(MUST(events().find_event(kDefaultRegistryId, "no-such-event")));
}

TEST_P(EventStoreConformance, EventsAfterFollowTheLogOfEveryRegistryInOrder) {
  RegistryId other = NEW_REGISTRY("other");
  std::vector<EventRecord> appended = {event_of("push", "a", "1"), event_of("pull", "b", "2", other),
                                       event_of("untag", "a", "1")};
  MUST(events().append_events(appended));
  auto all = MUST(events().events_after(0, 10));
  EXPECT_EQ(ids_of(all), (std::vector<std::string>{appended[0].id, appended[1].id,
                                                    appended[2].id}));
  auto rest = MUST(events().events_after(all[0].sequence, 1));
  EXPECT_EQ(ids_of(rest), (std::vector<std::string>{appended[1].id}));
  EXPECT_TRUE(MUST(events().events_after(all[2].sequence, 10)).empty());
}

TEST_P(EventStoreConformance, PruneKeepsWhatAWebhookStillWaitsFor) {
  std::vector<EventRecord> old = {event_of("pull", "a", "1"), event_of("push", "a", "2")};
  MUST(events().append_events(old));
  EXPECT_EQ(MUST(events().prune_events(kNow + 1)), 2u);
  auto webhook = MUST(events().create_webhook(webhook_named("alpha1"), 10));
  std::vector<EventRecord> waiting = {event_of("pull", "a", "3"), event_of("push", "a", "4")};
  MUST(events().append_events(waiting));
  EXPECT_EQ(MUST(events().prune_events(kNow + 1)), 1u) << "only the pull";
  EXPECT_EQ(MUST(events().pending_events(webhook.id, 10)).size(), 1u);
}

}  // namespace
}  // namespace berth::metadata
