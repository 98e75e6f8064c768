// The TaskStore conformance suite: every backend runs it (see conformance_test.h). It covers
// tasks (values kept exactly, every refusal of the contract, the limit on tasks, the walk of the
// enabled ones), trigger state and its compare-and-set, base images and the tasks a base image
// starts, the life of a run (numbers, the queue, start within the registry's limit, heartbeat,
// cancel, end, abandoned runs, pruning), live logs, blob pins, what deleting a task or a
// registry takes with it, and concurrent callers on several threads and several stores on one
// database: numbers are distinct and consecutive, no registry passes its limit of running runs,
// each run goes to one runner, creates never pass the limit of tasks, one change of a trigger's
// state wins, racing appends keep every byte.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "metadata/conformance_test.h"

namespace berth::metadata {
namespace {

using namespace conformance;

// Inside a test, gtest's Test::Run hides the name Run.
using TaskRun = Run;

constexpr std::size_t kManyTasks = 100;
constexpr RegistryId kUnknownRegistry = 9999;
constexpr std::int64_t kT0 = 1'700'000'000;

Task task_named(std::string name, RegistryId registry = kDefaultRegistryId, bool enabled = true) {
  return Task{
      .registry = registry,
      .name = std::move(name),
      .definition = R"({"steps":[{"build":"-t app:{{.Run.ID}} ."}]})",
      .enabled = enabled,
      .created_at = kT0,
      .updated_at = kT0,
  };
}

TaskRun run_request(std::string task = "build", RegistryId registry = kDefaultRegistryId,
                    std::int64_t created_at = kT0) {
  return TaskRun{
      .registry = registry,
      .task = std::move(task),
      .trigger = "manual",
      .request = R"({"steps":[],"context":"sha256:abc"})",
      .created_at = created_at,
  };
}

RunOutcome outcome_of(RunStatus status) {
  return RunOutcome{
      .status = status,
      .outputs = R"([{"image":"app:cb1","digest":"sha256:01"}])",
      .base_images = R"([{"image":"docker.io/library/alpine:3.20","digest":"sha256:02"}])",
      .error = status == RunStatus::succeeded ? "" : "step 2 exited with 1",
      .log_digest = oci::digest_of(std::string("the log")).str(),
      .log_size = 7,
  };
}

std::vector<std::string> names_of(const std::vector<Task>& tasks) {
  std::vector<std::string> names;
  for (const Task& task : tasks) names.push_back(task.name);
  return names;
}

std::vector<std::int64_t> numbers_of(const std::vector<TaskRun>& runs) {
  std::vector<std::int64_t> numbers;
  for (const TaskRun& run : runs) numbers.push_back(run.number);
  return numbers;
}

std::vector<std::string> trigger_names(const std::vector<TriggerState>& states) {
  std::vector<std::string> names;
  for (const TriggerState& state : states) names.push_back(state.trigger);
  return names;
}

// A string of `size` bytes of every value, that differs with `seed`.
std::string bytes_of_size(std::size_t size, unsigned seed) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>((i * 131 + seed * 7) % 256);
  return text;
}

// --- tasks ---

TEST_P(TaskStoreConformance, TasksKeepTheirValuesExactly) {
  const Task build = task_named("build");
  EXPECT_EQ(MUST(tasks().create_task(build, kManyTasks)), build);
  Task bare = task_named("bare", kDefaultRegistryId, false);
  bare.definition = "";
  EXPECT_EQ(MUST(tasks().create_task(bare, kManyTasks)), bare);
  // Names are exact: another spelling is another task.
  const Task upper = task_named("Build");
  EXPECT_EQ(MUST(tasks().create_task(upper, kManyTasks)), upper);

  EXPECT_EQ(MUST(tasks().find_task(kDefaultRegistryId, "build")), build);
  EXPECT_EQ(MUST(tasks().find_task(kDefaultRegistryId, "bare")), bare);
  EXPECT_EQ(MUST(tasks().find_task(kDefaultRegistryId, "BUILD")), std::nullopt);
  EXPECT_EQ(MUST(tasks().list_tasks(kDefaultRegistryId)), (std::vector<Task>{upper, bare, build}));

  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(tasks().find_task(kDefaultRegistryId, "bare")), bare);
  EXPECT_EQ(MUST(tasks().list_tasks(kDefaultRegistryId)).size(), 3u);
}

TEST_P(TaskStoreConformance, TaskTimesDefaultToNowAndAnUpdateKeepsWhenItWasCreated) {
  Task task = task_named("build");
  task.created_at = 0;
  task.updated_at = 0;
  const std::int64_t before = unix_now();
  const Task created = MUST(tasks().create_task(task, kManyTasks));
  const std::int64_t after = unix_now();
  EXPECT_GE(created.created_at, before);
  EXPECT_LE(created.created_at, after);
  EXPECT_EQ(created.updated_at, created.created_at);

  // An update replaces the definition and enabled, and only those.
  Task change = task_named("build");
  change.definition = R"({"steps":[]})";
  change.enabled = false;
  change.created_at = 5;
  change.updated_at = kT0 + 50;
  const Task updated = MUST(tasks().update_task(change));
  EXPECT_EQ(updated.definition, change.definition);
  EXPECT_FALSE(updated.enabled);
  EXPECT_EQ(updated.created_at, created.created_at);
  EXPECT_EQ(updated.updated_at, kT0 + 50);
  EXPECT_EQ(MUST(tasks().find_task(kDefaultRegistryId, "build")), updated);

  change.updated_at = 0;
  const std::int64_t before_update = unix_now();
  EXPECT_GE(MUST(tasks().update_task(change)).updated_at, before_update);
}

TEST_P(TaskStoreConformance, TaskRefusalsStoreNothing) {
  MUST(tasks().create_task(task_named("build"), kManyTasks));
  EXPECT_EQ(error_of(tasks().create_task(task_named(""), kManyTasks)), Errc::invalid_argument);
  EXPECT_EQ(error_of(tasks().update_task(task_named(""))), Errc::invalid_argument);
  Task again = task_named("build");
  again.definition = "other";
  EXPECT_EQ(error_of(tasks().create_task(again, kManyTasks)), Errc::conflict);
  EXPECT_EQ(error_of(tasks().update_task(task_named("missing"))), Errc::not_found);

  const Task elsewhere = task_named("build", kUnknownRegistry);
  EXPECT_EQ(error_of(tasks().create_task(elsewhere, kManyTasks)), Errc::not_found);
  EXPECT_EQ(error_of(tasks().update_task(elsewhere)), Errc::not_found);
  EXPECT_EQ(error_of(tasks().find_task(kUnknownRegistry, "build")), Errc::not_found);
  EXPECT_EQ(error_of(tasks().list_tasks(kUnknownRegistry)), Errc::not_found);
  EXPECT_EQ(error_of(tasks().delete_task(kUnknownRegistry, "build")), Errc::not_found);

  EXPECT_FALSE(MUST(tasks().delete_task(kDefaultRegistryId, "missing")));
  EXPECT_EQ(MUST(tasks().list_tasks(kDefaultRegistryId)), std::vector<Task>{task_named("build")});
}

TEST_P(TaskStoreConformance, TheTaskLimitIsReachedExactlyAtMax) {
  const RegistryId team = NEW_REGISTRY("team");
  for (int i = 0; i < 3; ++i) MUST(tasks().create_task(task_named(numbered("t", i), team), 3));
  auto refused = tasks().create_task(task_named("t3", team), 3);
  EXPECT_EQ(error_of(refused), Errc::limit_reached);
  EXPECT_EQ(MUST(tasks().list_tasks(team)).size(), 3u);
  // The limit is per registry, and room comes back with a delete.
  MUST(tasks().create_task(task_named("t3"), 3));
  ASSERT_TRUE(MUST(tasks().delete_task(team, "t0")));
  MUST(tasks().create_task(task_named("t3", team), 3));
  EXPECT_EQ(names_of(MUST(tasks().list_tasks(team))), (std::vector<std::string>{"t1", "t2", "t3"}));
  EXPECT_EQ(error_of(tasks().create_task(task_named("none", NEW_REGISTRY("zero")), 0)),
            Errc::limit_reached);
}

TEST_P(TaskStoreConformance, EnabledTasksAreWalkedAcrossRegistriesInPages) {
  const RegistryId team = NEW_REGISTRY("team");
  const RegistryId empty = NEW_REGISTRY("empty");
  MUST(tasks().create_task(task_named("b"), kManyTasks));
  MUST(tasks().create_task(task_named("a"), kManyTasks));
  MUST(tasks().create_task(task_named("off", kDefaultRegistryId, false), kManyTasks));
  MUST(tasks().create_task(task_named("c", team), kManyTasks));
  MUST(tasks().create_task(task_named("a", team), kManyTasks));
  MUST(tasks().create_task(task_named("z", empty, false), kManyTasks));

  std::vector<TaskRef> all;
  for (const Task& task : MUST(tasks().list_enabled_tasks(std::nullopt, 100))) {
    EXPECT_TRUE(task.enabled);
    all.push_back(TaskRef{task.registry, task.name});
  }
  const std::vector<TaskRef> expected{
      {kDefaultRegistryId, "a"}, {kDefaultRegistryId, "b"}, {team, "a"}, {team, "c"}};
  EXPECT_EQ(all, expected);

  std::vector<TaskRef> paged;
  std::optional<TaskRef> after;
  for (int guard = 0; guard < 10; ++guard) {
    const std::vector<Task> page = MUST(tasks().list_enabled_tasks(after, 3));
    for (const Task& task : page) paged.push_back(TaskRef{task.registry, task.name});
    if (page.size() < 3) break;
    after = TaskRef{page.back().registry, page.back().name};
  }
  EXPECT_EQ(paged, expected);
  EXPECT_EQ(names_of(MUST(tasks().list_enabled_tasks(TaskRef{kDefaultRegistryId, "b"}, 1))),
            std::vector<std::string>{"a"});
  EXPECT_TRUE(MUST(tasks().list_enabled_tasks(std::nullopt, 0)).empty());

  // Disabling a task takes it out of the walk.
  Task off = task_named("a", team, false);
  MUST(tasks().update_task(off));
  EXPECT_EQ(MUST(tasks().list_enabled_tasks(TaskRef{kDefaultRegistryId, "b"}, 10)).size(), 1u);
}

TEST_P(TaskStoreConformance, DeletingATaskTakesItsTriggerStateAndBaseImagesAndKeepsItsRuns) {
  MUST(tasks().create_task(task_named("build"), kManyTasks));
  MUST(tasks().set_trigger_state(kDefaultRegistryId, "build", "commit", "abc123", kT0));
  MUST(tasks().set_task_base_images(kDefaultRegistryId, "build", {"docker.io/library/alpine:3"}));
  const TaskRun run = MUST(tasks().create_run(run_request("build")));

  ASSERT_TRUE(MUST(tasks().delete_task(kDefaultRegistryId, "build")));
  EXPECT_EQ(MUST(tasks().find_task(kDefaultRegistryId, "build")), std::nullopt);
  EXPECT_EQ(error_of(tasks().trigger_states(kDefaultRegistryId, "build")), Errc::not_found);
  EXPECT_TRUE(MUST(tasks().tasks_using_base_image("docker.io/library/alpine:3")).empty());
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, run.number)), run);
  EXPECT_EQ(numbers_of(MUST(tasks().list_runs(kDefaultRegistryId, "build", std::nullopt, 10))),
            std::vector<std::int64_t>{run.number});

  // A task made again under the name starts without the old one's state.
  MUST(tasks().create_task(task_named("build"), kManyTasks));
  EXPECT_TRUE(MUST(tasks().trigger_states(kDefaultRegistryId, "build")).empty());
  EXPECT_TRUE(MUST(tasks().task_base_images(kDefaultRegistryId, "build")).empty());
}

// --- trigger state ---

TEST_P(TaskStoreConformance, TriggerStateIsKeptPerTrigger) {
  MUST(tasks().create_task(task_named("build"), kManyTasks));
  MUST(tasks().create_task(task_named("other"), kManyTasks));
  EXPECT_TRUE(MUST(tasks().trigger_states(kDefaultRegistryId, "build")).empty());
  MUST(tasks().set_trigger_state(kDefaultRegistryId, "build", "timer", "2026-01-01T10:00", kT0));
  MUST(tasks().set_trigger_state(kDefaultRegistryId, "build", "commit", "abc123", kT0 + 1));
  MUST(tasks().set_trigger_state(kDefaultRegistryId, "other", "commit", "fff", kT0 + 2));
  // Setting again replaces the state and its time.
  MUST(tasks().set_trigger_state(kDefaultRegistryId, "build", "timer", "2026-01-01T10:05",
                                 kT0 + 300));

  const std::vector<TriggerState> expected{{"commit", "abc123", kT0 + 1},
                                           {"timer", "2026-01-01T10:05", kT0 + 300}};
  EXPECT_EQ(MUST(tasks().trigger_states(kDefaultRegistryId, "build")), expected);
  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(tasks().trigger_states(kDefaultRegistryId, "build")), expected);
  EXPECT_EQ(trigger_names(MUST(tasks().trigger_states(kDefaultRegistryId, "other"))),
            std::vector<std::string>{"commit"});
}

TEST_P(TaskStoreConformance, TriggerStateRefusals) {
  MUST(tasks().create_task(task_named("build"), kManyTasks));
  EXPECT_EQ(error_of(tasks().set_trigger_state(kDefaultRegistryId, "missing", "t", "s", kT0)),
            Errc::not_found);
  EXPECT_EQ(error_of(tasks().set_trigger_state(kUnknownRegistry, "build", "t", "s", kT0)),
            Errc::not_found);
  EXPECT_EQ(error_of(tasks().trigger_states(kDefaultRegistryId, "missing")), Errc::not_found);
  EXPECT_EQ(error_of(tasks().compare_and_set_trigger_state(kDefaultRegistryId, "missing", "t", "",
                                                           "s", kT0)),
            Errc::not_found);
  EXPECT_EQ(error_of(tasks().set_trigger_state(kDefaultRegistryId, "", "t", "s", kT0)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(tasks().set_trigger_state(kDefaultRegistryId, "build", "", "s", kT0)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(tasks().compare_and_set_trigger_state(kDefaultRegistryId, "build", "", "", "s",
                                                           kT0)),
            Errc::invalid_argument);
  EXPECT_TRUE(MUST(tasks().trigger_states(kDefaultRegistryId, "build")).empty());
}

TEST_P(TaskStoreConformance, CompareAndSetChangesOnlyFromTheExpectedState) {
  MUST(tasks().create_task(task_named("build"), kManyTasks));
  // "" matches a trigger with no state yet, and nothing else does.
  EXPECT_FALSE(MUST(tasks().compare_and_set_trigger_state(kDefaultRegistryId, "build", "commit",
                                                          "abc", "def", kT0)));
  EXPECT_TRUE(MUST(tasks().trigger_states(kDefaultRegistryId, "build")).empty());
  EXPECT_TRUE(MUST(tasks().compare_and_set_trigger_state(kDefaultRegistryId, "build", "commit", "",
                                                         "abc", kT0)));
  EXPECT_FALSE(MUST(tasks().compare_and_set_trigger_state(kDefaultRegistryId, "build", "commit", "",
                                                          "zzz", kT0 + 1)));
  EXPECT_FALSE(MUST(tasks().compare_and_set_trigger_state(kDefaultRegistryId, "build", "commit",
                                                          "old", "zzz", kT0 + 1)));
  EXPECT_EQ(MUST(tasks().trigger_states(kDefaultRegistryId, "build")),
            (std::vector<TriggerState>{{"commit", "abc", kT0}}));
  EXPECT_TRUE(MUST(tasks().compare_and_set_trigger_state(kDefaultRegistryId, "build", "commit",
                                                         "abc", "def", kT0 + 2)));
  EXPECT_EQ(MUST(tasks().trigger_states(kDefaultRegistryId, "build")),
            (std::vector<TriggerState>{{"commit", "def", kT0 + 2}}));
}

// Threads on two stores (two nodes polling one trigger) see the same change and try to record it
// at once: exactly one of them succeeds, so the change starts one run.
TEST_P(TaskStoreConformance, OneOfConcurrentCompareAndSetsWins) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  MUST(tasks().create_task(task_named("build"), kManyTasks));
  constexpr int kCallers = 6;
  std::string expected;
  for (int round = 0; round < 4; ++round) {
    const std::string next = numbered("commit-", round);
    std::vector<int> won(kCallers, 0);
    std::vector<std::string> errors(kCallers);
    std::latch start(kCallers);
    std::vector<std::thread> callers;
    for (int i = 0; i < kCallers; ++i) {
      TaskStore& node = i % 2 == 0 ? tasks() : static_cast<TaskStore&>(*other);
      callers.emplace_back([&, i] {
        start.arrive_and_wait();
        auto changed = node.compare_and_set_trigger_state(kDefaultRegistryId, "build", "commit",
                                                          expected, next, kT0 + round);
        const auto at = static_cast<std::size_t>(i);
        if (!changed) {
          errors[at] = changed.error().message;
        } else if (*changed) {
          won[at] = 1;
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    EXPECT_EQ(std::count(won.begin(), won.end(), 1), 1) << "round " << round;
    for (const std::string& error : errors) EXPECT_EQ(error, "") << "round " << round;
    EXPECT_EQ(MUST(other->trigger_states(kDefaultRegistryId, "build")).at(0).state, next);
    expected = next;
  }
}

// --- base images ---

TEST_P(TaskStoreConformance, BaseImagesAreReplacedAndStoredOnce) {
  MUST(tasks().create_task(task_named("build"), kManyTasks));
  EXPECT_TRUE(MUST(tasks().task_base_images(kDefaultRegistryId, "build")).empty());
  MUST(tasks().set_task_base_images(
      kDefaultRegistryId, "build",
      {"mcr.microsoft.com/dotnet/sdk:8.0", "docker.io/library/alpine:3.20",
       "mcr.microsoft.com/dotnet/sdk:8.0"}));
  EXPECT_EQ(MUST(tasks().task_base_images(kDefaultRegistryId, "build")),
            (std::vector<std::string>{"docker.io/library/alpine:3.20",
                                      "mcr.microsoft.com/dotnet/sdk:8.0"}));
  MUST(tasks().set_task_base_images(kDefaultRegistryId, "build", {"ghcr.io/org/base:1"}));
  EXPECT_EQ(MUST(tasks().task_base_images(kDefaultRegistryId, "build")),
            std::vector<std::string>{"ghcr.io/org/base:1"});
  MUST(tasks().set_task_base_images(kDefaultRegistryId, "build", {}));
  EXPECT_TRUE(MUST(tasks().task_base_images(kDefaultRegistryId, "build")).empty());

  EXPECT_EQ(error_of(tasks().set_task_base_images(kDefaultRegistryId, "missing", {"a:1"})),
            Errc::not_found);
  EXPECT_EQ(error_of(tasks().set_task_base_images(kUnknownRegistry, "build", {"a:1"})),
            Errc::not_found);
  EXPECT_EQ(error_of(tasks().set_task_base_images(kDefaultRegistryId, "build", {"a:1", ""})),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(tasks().set_task_base_images(kDefaultRegistryId, "", {"a:1"})),
            Errc::invalid_argument);
  EXPECT_TRUE(MUST(tasks().task_base_images(kDefaultRegistryId, "build")).empty());
}

TEST_P(TaskStoreConformance, ABaseImageFindsTheEnabledTasksUsingItInOrder) {
  const RegistryId team = NEW_REGISTRY("team");
  const std::string alpine = "docker.io/library/alpine:3.20";
  for (const Task& task :
       {task_named("web", team), task_named("api", team), task_named("zeta"), task_named("alpha"),
        task_named("off", kDefaultRegistryId, false), task_named("unrelated")}) {
    MUST(tasks().create_task(task, kManyTasks));
  }
  for (const char* name : {"web", "api"}) {
    MUST(tasks().set_task_base_images(team, name, {alpine, "golang:1.22"}));
  }
  for (const char* name : {"zeta", "alpha", "off"}) {
    MUST(tasks().set_task_base_images(kDefaultRegistryId, name, {alpine}));
  }
  MUST(tasks().set_task_base_images(kDefaultRegistryId, "unrelated", {"golang:1.22"}));

  const std::vector<TaskRef> expected{
      {kDefaultRegistryId, "alpha"}, {kDefaultRegistryId, "zeta"}, {team, "api"}, {team, "web"}};
  EXPECT_EQ(MUST(tasks().tasks_using_base_image(alpine)), expected);
  EXPECT_EQ(
      MUST(tasks().tasks_using_base_image("golang:1.22")),
      (std::vector<TaskRef>{{kDefaultRegistryId, "unrelated"}, {team, "api"}, {team, "web"}}));
  EXPECT_TRUE(MUST(tasks().tasks_using_base_image("docker.io/library/alpine:3.19")).empty());

  // Enabling the disabled one brings it in.
  MUST(tasks().update_task(task_named("off")));
  EXPECT_EQ(MUST(tasks().tasks_using_base_image(alpine)).size(), 5u);
}

// --- runs ---

TEST_P(TaskStoreConformance, RunsAreNumberedPerRegistryAndNumbersAreNeverReused) {
  const RegistryId team = NEW_REGISTRY("team");
  // What a new run has is the caller's task, trigger, request and creation time; the rest is the
  // store's.
  TaskRun asked = run_request("build");
  asked.number = 77;
  asked.status = RunStatus::running;
  asked.holder = "node-a";
  asked.heartbeat_at = 5;
  asked.cancel_requested = true;
  asked.outputs = "x";
  asked.error = "y";
  asked.log_digest = "z";
  asked.log_size = 9;
  asked.started_at = 6;
  asked.finished_at = 7;
  const TaskRun first = MUST(tasks().create_run(asked));
  const TaskRun expected{
      .registry = kDefaultRegistryId,
      .number = 1,
      .task = "build",
      .status = RunStatus::queued,
      .trigger = "manual",
      .request = asked.request,
      .created_at = kT0,
  };
  EXPECT_EQ(first, expected);
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, 1)), expected);

  // A quick run has no task.
  const TaskRun quick = MUST(tasks().create_run(run_request("")));
  EXPECT_EQ(quick.number, 2);
  EXPECT_EQ(quick.task, "");
  EXPECT_EQ(MUST(tasks().create_run(run_request("build", team))).number, 1);

  TaskRun now = run_request("build");
  now.created_at = 0;
  const std::int64_t before = unix_now();
  const TaskRun third = MUST(tasks().create_run(now));
  EXPECT_EQ(third.number, 3);
  EXPECT_GE(third.created_at, before);

  EXPECT_EQ(error_of(tasks().create_run(run_request("build", kUnknownRegistry))), Errc::not_found);
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, 99)), std::nullopt);

  // Runs pruned are gone, their numbers stay used.
  for (std::int64_t number : {1, 2, 3}) {
    ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, number, "node-a", 10, kT0 + 1)));
    ASSERT_TRUE(MUST(tasks().finish_run(kDefaultRegistryId, number, "node-a",
                                        outcome_of(RunStatus::succeeded), kT0 + 2)));
  }
  EXPECT_EQ(MUST(tasks().prune_runs(kT0 + 3, 10)).size(), 3u);
  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(tasks().create_run(run_request("build"))).number, 4);
}

TEST_P(TaskStoreConformance, ARunGoesFromQueuedToItsEnd) {
  const TaskRun created = MUST(tasks().create_run(run_request("build")));
  EXPECT_EQ(numbers_of(MUST(tasks().queued_runs(10))), std::vector<std::int64_t>{created.number});

  const std::optional<TaskRun> started =
      MUST(tasks().start_run(kDefaultRegistryId, created.number, "node-a", 2, kT0 + 10));
  ASSERT_TRUE(started.has_value());
  TaskRun expected = created;
  expected.status = RunStatus::running;
  expected.holder = "node-a";
  expected.heartbeat_at = kT0 + 10;
  expected.started_at = kT0 + 10;
  EXPECT_EQ(*started, expected);
  EXPECT_TRUE(MUST(tasks().queued_runs(10)).empty());
  // Started once: a second start (by anyone) finds it no longer queued.
  EXPECT_EQ(MUST(tasks().start_run(kDefaultRegistryId, created.number, "node-b", 2, kT0 + 11)),
            std::nullopt);

  EXPECT_EQ(MUST(tasks().renew_run(kDefaultRegistryId, created.number, "node-a", kT0 + 20)),
            std::optional<bool>(false));
  expected.heartbeat_at = kT0 + 20;
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, created.number)), expected);

  const RunOutcome outcome = outcome_of(RunStatus::failed);
  EXPECT_TRUE(
      MUST(tasks().finish_run(kDefaultRegistryId, created.number, "node-a", outcome, kT0 + 30)));
  expected.status = RunStatus::failed;
  expected.outputs = outcome.outputs;
  expected.base_images = outcome.base_images;
  expected.error = outcome.error;
  expected.log_digest = outcome.log_digest;
  expected.log_size = outcome.log_size;
  expected.finished_at = kT0 + 30;
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, created.number)), expected);
  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, created.number)), expected);

  // Ended: neither renewed nor ended again.
  EXPECT_EQ(MUST(tasks().renew_run(kDefaultRegistryId, created.number, "node-a", kT0 + 40)),
            std::nullopt);
  EXPECT_FALSE(MUST(tasks().finish_run(kDefaultRegistryId, created.number, "node-a",
                                       outcome_of(RunStatus::succeeded), kT0 + 40)));
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, created.number)), expected);
}

TEST_P(TaskStoreConformance, EveryEndIsRecordedAndAnErrorIsKeptExactly) {
  std::string unusual = "step failed: \"exit 1\"\n\ttab, quotes and a long line ";
  unusual += std::string(5000, 'x');
  for (RunStatus status :
       {RunStatus::succeeded, RunStatus::failed, RunStatus::canceled, RunStatus::timeout}) {
    const TaskRun run = MUST(tasks().create_run(run_request("build")));
    ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, run.number, "node-a", 10, kT0)));
    RunOutcome outcome = outcome_of(status);
    outcome.error = unusual;
    ASSERT_TRUE(
        MUST(tasks().finish_run(kDefaultRegistryId, run.number, "node-a", outcome, kT0 + 1)));
    const std::optional<TaskRun> ended = MUST(tasks().find_run(kDefaultRegistryId, run.number));
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(ended->status, status);
    EXPECT_EQ(ended->error, unusual);
  }
}

TEST_P(TaskStoreConformance, OnlyTheHolderRenewsOrEndsARunAndRefusalsChangeNothing) {
  const TaskRun run = MUST(tasks().create_run(run_request("build")));
  // Not yet started: there is nothing to renew or end.
  EXPECT_EQ(MUST(tasks().renew_run(kDefaultRegistryId, run.number, "node-a", kT0)), std::nullopt);
  EXPECT_FALSE(MUST(tasks().finish_run(kDefaultRegistryId, run.number, "node-a",
                                       outcome_of(RunStatus::succeeded), kT0)));
  EXPECT_EQ(error_of(tasks().start_run(kDefaultRegistryId, run.number, "", 1, kT0)),
            Errc::invalid_argument);
  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, run.number, "node-a", 1, kT0)));
  const TaskRun running = *MUST(tasks().find_run(kDefaultRegistryId, run.number));

  EXPECT_EQ(MUST(tasks().renew_run(kDefaultRegistryId, run.number, "node-b", kT0 + 5)),
            std::nullopt);
  EXPECT_FALSE(MUST(tasks().finish_run(kDefaultRegistryId, run.number, "node-b",
                                       outcome_of(RunStatus::succeeded), kT0 + 5)));
  EXPECT_EQ(error_of(tasks().renew_run(kDefaultRegistryId, run.number, "", kT0 + 5)),
            Errc::invalid_argument);
  EXPECT_EQ(error_of(tasks().finish_run(kDefaultRegistryId, run.number, "",
                                        outcome_of(RunStatus::succeeded), kT0 + 5)),
            Errc::invalid_argument);
  for (RunStatus status : {RunStatus::queued, RunStatus::running}) {
    EXPECT_EQ(error_of(tasks().finish_run(kDefaultRegistryId, run.number, "node-a",
                                          outcome_of(status), kT0 + 5)),
              Errc::invalid_argument);
  }
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, run.number)), running);
  // Unknown runs: nothing to start, renew or end.
  EXPECT_EQ(MUST(tasks().start_run(kDefaultRegistryId, 99, "node-a", 5, kT0)), std::nullopt);
  EXPECT_EQ(MUST(tasks().renew_run(kDefaultRegistryId, 99, "node-a", kT0)), std::nullopt);
  EXPECT_FALSE(MUST(
      tasks().finish_run(kDefaultRegistryId, 99, "node-a", outcome_of(RunStatus::succeeded), kT0)));
}

TEST_P(TaskStoreConformance, StartingKeepsEachRegistryWithinItsLimit) {
  const RegistryId team = NEW_REGISTRY("team");
  for (int i = 0; i < 3; ++i) MUST(tasks().create_run(run_request("build")));
  MUST(tasks().create_run(run_request("build", team)));

  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, 1, "node-a", 2, kT0)));
  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, 2, "node-b", 2, kT0)));
  EXPECT_EQ(MUST(tasks().start_run(kDefaultRegistryId, 3, "node-a", 2, kT0)), std::nullopt);
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, 3))->status, RunStatus::queued);
  // Another registry's running runs are its own.
  EXPECT_TRUE(MUST(tasks().start_run(team, 1, "node-a", 1, kT0)).has_value());
  // A limit of 0 starts nothing.
  EXPECT_EQ(MUST(tasks().start_run(kDefaultRegistryId, 3, "node-a", 0, kT0)), std::nullopt);

  // An end makes room.
  ASSERT_TRUE(MUST(tasks().finish_run(kDefaultRegistryId, 1, "node-a",
                                      outcome_of(RunStatus::succeeded), kT0 + 1)));
  EXPECT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, 3, "node-a", 2, kT0 + 1)).has_value());
}

TEST_P(TaskStoreConformance, QueuedRunsAreListedOldestFirstAcrossRegistries) {
  const RegistryId team = NEW_REGISTRY("team");
  MUST(tasks().create_run(run_request("a", kDefaultRegistryId, kT0 + 30)));  // default 1
  MUST(tasks().create_run(run_request("b", team, kT0 + 10)));                // team 1
  MUST(tasks().create_run(run_request("c", kDefaultRegistryId, kT0 + 20)));  // default 2
  MUST(tasks().create_run(run_request("d", kDefaultRegistryId, kT0 + 5)));   // default 3
  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, 3, "node-a", 5, kT0 + 40)));

  std::vector<std::string> order;
  for (const TaskRun& run : MUST(tasks().queued_runs(10))) order.push_back(run.task);
  EXPECT_EQ(order, (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_EQ(MUST(tasks().queued_runs(1)).at(0).task, "b");
  EXPECT_TRUE(MUST(tasks().queued_runs(0)).empty());
}

TEST_P(TaskStoreConformance, RunsAreListedNewestFirstInPagesOfATask) {
  const RegistryId team = NEW_REGISTRY("team");
  for (int i = 0; i < 7; ++i) MUST(tasks().create_run(run_request(i % 2 == 0 ? "even" : "odd")));
  MUST(tasks().create_run(run_request("even", team)));

  EXPECT_EQ(
      numbers_of(MUST(tasks().list_runs(kDefaultRegistryId, std::nullopt, std::nullopt, 100))),
      (std::vector<std::int64_t>{7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(numbers_of(MUST(tasks().list_runs(kDefaultRegistryId, std::nullopt, 5, 2))),
            (std::vector<std::int64_t>{4, 3}));
  EXPECT_EQ(numbers_of(MUST(tasks().list_runs(kDefaultRegistryId, "even", std::nullopt, 100))),
            (std::vector<std::int64_t>{7, 5, 3, 1}));
  EXPECT_EQ(numbers_of(MUST(tasks().list_runs(kDefaultRegistryId, "even", 5, 1))),
            std::vector<std::int64_t>{3});
  EXPECT_TRUE(MUST(tasks().list_runs(kDefaultRegistryId, "none", std::nullopt, 100)).empty());
  EXPECT_TRUE(MUST(tasks().list_runs(kDefaultRegistryId, std::nullopt, std::nullopt, 0)).empty());
  EXPECT_EQ(numbers_of(MUST(tasks().list_runs(team, "even", std::nullopt, 100))),
            std::vector<std::int64_t>{1});
}

TEST_P(TaskStoreConformance, CancelEndsAQueuedRunFlagsARunningOneAndLeavesAnEndedOne) {
  const TaskRun queued = MUST(tasks().create_run(run_request("build")));
  const TaskRun running = MUST(tasks().create_run(run_request("build")));
  const TaskRun ended = MUST(tasks().create_run(run_request("build")));
  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, running.number, "node-a", 5, kT0)));
  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, ended.number, "node-a", 5, kT0)));
  ASSERT_TRUE(MUST(tasks().finish_run(kDefaultRegistryId, ended.number, "node-a",
                                      outcome_of(RunStatus::succeeded), kT0 + 1)));
  const TaskRun ended_before = *MUST(tasks().find_run(kDefaultRegistryId, ended.number));

  // Queued: ends at once, and is no longer in the queue.
  const TaskRun canceled = MUST(tasks().request_cancel(kDefaultRegistryId, queued.number, kT0 + 5));
  EXPECT_EQ(canceled.status, RunStatus::canceled);
  EXPECT_EQ(canceled.finished_at, kT0 + 5);
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, queued.number)), canceled);
  EXPECT_TRUE(MUST(tasks().queued_runs(10)).empty());
  EXPECT_EQ(MUST(tasks().start_run(kDefaultRegistryId, queued.number, "node-a", 5, kT0 + 6)),
            std::nullopt);

  // Running: flagged; its runner sees it at its next renewal, and ends it.
  const TaskRun flagged = MUST(tasks().request_cancel(kDefaultRegistryId, running.number, kT0 + 5));
  EXPECT_EQ(flagged.status, RunStatus::running);
  EXPECT_TRUE(flagged.cancel_requested);
  EXPECT_EQ(flagged.finished_at, 0);
  EXPECT_EQ(MUST(tasks().renew_run(kDefaultRegistryId, running.number, "node-a", kT0 + 6)),
            std::optional<bool>(true));
  EXPECT_TRUE(MUST(tasks().finish_run(kDefaultRegistryId, running.number, "node-a",
                                      outcome_of(RunStatus::canceled), kT0 + 7)));
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, running.number))->status,
            RunStatus::canceled);

  // Ended: unchanged.
  EXPECT_EQ(MUST(tasks().request_cancel(kDefaultRegistryId, ended.number, kT0 + 8)), ended_before);
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, ended.number)), ended_before);

  EXPECT_EQ(error_of(tasks().request_cancel(kDefaultRegistryId, 99, kT0)), Errc::not_found);
  EXPECT_EQ(error_of(tasks().request_cancel(kUnknownRegistry, 1, kT0)), Errc::not_found);
}

TEST_P(TaskStoreConformance, AbandonedRunsFailByStaleHeartbeatOrByHolder) {
  const RegistryId team = NEW_REGISTRY("team");
  for (int i = 0; i < 5; ++i) MUST(tasks().create_run(run_request("build")));
  MUST(tasks().create_run(run_request("build", team)));
  // 1: stale (its node stopped renewing); 2: fresh, this node's before a restart; 3: fresh,
  // another node's; 4: ended long ago; 5: queued; team 1: stale.
  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, 1, "node-gone", 10, kT0)));
  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, 2, "node-me", 10, kT0 + 100)));
  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, 3, "node-other", 10, kT0 + 100)));
  ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, 4, "node-gone", 10, kT0)));
  ASSERT_TRUE(MUST(tasks().finish_run(kDefaultRegistryId, 4, "node-gone",
                                      outcome_of(RunStatus::succeeded), kT0 + 1)));
  ASSERT_TRUE(MUST(tasks().start_run(team, 1, "node-gone", 10, kT0)));
  const TaskRun ended = *MUST(tasks().find_run(kDefaultRegistryId, 4));
  const TaskRun other = *MUST(tasks().find_run(kDefaultRegistryId, 3));
  const TaskRun queued = *MUST(tasks().find_run(kDefaultRegistryId, 5));
  std::vector<TaskRun> before{*MUST(tasks().find_run(kDefaultRegistryId, 1)),
                              *MUST(tasks().find_run(kDefaultRegistryId, 2)),
                              *MUST(tasks().find_run(team, 1))};
  std::sort(before.begin(), before.end(), [](const TaskRun& a, const TaskRun& b) {
    return std::pair(a.registry, a.number) < std::pair(b.registry, b.number);
  });

  std::vector<TaskRun> failed =
      MUST(tasks().fail_abandoned_runs(kT0 + 50, "node-me", "its node stopped", kT0 + 200));
  std::sort(failed.begin(), failed.end(), [](const TaskRun& a, const TaskRun& b) {
    return std::pair(a.registry, a.number) < std::pair(b.registry, b.number);
  });
  EXPECT_EQ(failed, before);  // as they were
  for (const TaskRun& run : before) {
    const TaskRun now = *MUST(tasks().find_run(run.registry, run.number));
    EXPECT_EQ(now.status, RunStatus::failed) << run.number;
    EXPECT_EQ(now.error, "its node stopped");
    EXPECT_EQ(now.finished_at, kT0 + 200);
    EXPECT_EQ(now.holder, run.holder);
  }
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, 3)), other);
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, 4)), ended);
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, 5)), queued);

  // Nothing is left to fail; "" matches no holder.
  EXPECT_TRUE(MUST(tasks().fail_abandoned_runs(kT0 + 50, "node-me", "again", kT0 + 300)).empty());
  EXPECT_TRUE(MUST(tasks().fail_abandoned_runs(kT0 + 50, "", "again", kT0 + 300)).empty());
  EXPECT_EQ(MUST(tasks().fail_abandoned_runs(kT0 + 50, "node-other", "gone", kT0 + 300)),
            std::vector<TaskRun>{other});
}

TEST_P(TaskStoreConformance, PruningForgetsRunsThatEndedBeforeTheCutoffWithTheirLogs) {
  for (int i = 0; i < 6; ++i) MUST(tasks().create_run(run_request("build")));
  // 1, 2, 3 end at kT0 + 10, + 20, + 30; 4 at kT0 + 100; 5 runs; 6 is queued.
  for (std::int64_t number : {1, 2, 3, 4, 5}) {
    ASSERT_TRUE(MUST(tasks().start_run(kDefaultRegistryId, number, "node-a", 10, kT0)));
    MUST(tasks().append_run_log(kDefaultRegistryId, number, numbered("log of ", number)));
  }
  for (std::int64_t number : {3, 1, 2}) {
    ASSERT_TRUE(MUST(tasks().finish_run(kDefaultRegistryId, number, "node-a",
                                        outcome_of(RunStatus::succeeded), kT0 + 10 * number)));
  }
  ASSERT_TRUE(MUST(tasks().finish_run(kDefaultRegistryId, 4, "node-a",
                                      outcome_of(RunStatus::failed), kT0 + 100)));
  const TaskRun third = *MUST(tasks().find_run(kDefaultRegistryId, 3));

  const std::vector<TaskRun> first = MUST(tasks().prune_runs(kT0 + 50, 2));
  EXPECT_EQ(numbers_of(first), (std::vector<std::int64_t>{1, 2}));  // the oldest ends first
  EXPECT_EQ(first.at(0).log_digest, outcome_of(RunStatus::succeeded).log_digest);
  EXPECT_EQ(MUST(tasks().prune_runs(kT0 + 50, 10)), std::vector<TaskRun>{third});
  EXPECT_TRUE(MUST(tasks().prune_runs(kT0 + 50, 10)).empty());
  EXPECT_TRUE(MUST(tasks().prune_runs(kT0 + 500, 0)).empty());

  for (std::int64_t number : {1, 2, 3}) {
    EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, number)), std::nullopt);
    EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, number, 0, 100)), "");
    EXPECT_EQ(error_of(tasks().append_run_log(kDefaultRegistryId, number, "more")),
              Errc::not_found);
  }
  EXPECT_EQ(numbers_of(MUST(tasks().list_runs(kDefaultRegistryId, std::nullopt, std::nullopt, 10))),
            (std::vector<std::int64_t>{6, 5, 4}));
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, 4, 0, 100)), "log of 4");
  // Running and queued runs are never pruned, whatever the cutoff.
  EXPECT_EQ(numbers_of(MUST(tasks().prune_runs(kT0 + 100'000, 10))), std::vector<std::int64_t>{4});
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, 5, 0, 100)), "log of 5");
}

TEST_P(TaskStoreConformance, DeletingARegistryTakesItsTasksAndRuns) {
  const RegistryId team = NEW_REGISTRY("team");
  const RegistryId other = NEW_REGISTRY("other");
  for (RegistryId registry : {team, other}) {
    MUST(tasks().create_task(task_named("build", registry), kManyTasks));
    MUST(tasks().set_trigger_state(registry, "build", "commit", "abc", kT0));
    MUST(tasks().set_task_base_images(registry, "build", {"alpine:3"}));
    MUST(tasks().create_run(run_request("build", registry)));
    MUST(tasks().create_run(run_request("build", registry)));
    ASSERT_TRUE(MUST(tasks().start_run(registry, 1, "node-a", 5, kT0)));
    MUST(tasks().append_run_log(registry, 1, "output"));
  }

  ASSERT_TRUE(MUST(store().delete_registry(team)));
  EXPECT_EQ(error_of(tasks().list_tasks(team)), Errc::not_found);
  EXPECT_EQ(error_of(tasks().trigger_states(team, "build")), Errc::not_found);
  EXPECT_EQ(MUST(tasks().find_run(team, 1)), std::nullopt);
  EXPECT_TRUE(MUST(tasks().list_runs(team, std::nullopt, std::nullopt, 10)).empty());
  EXPECT_EQ(MUST(tasks().read_run_log(team, 1, 0, 100)), "");
  EXPECT_EQ(MUST(tasks().tasks_using_base_image("alpine:3")),
            (std::vector<TaskRef>{{other, "build"}}));
  std::vector<RegistryId> queued_in;
  for (const TaskRun& run : MUST(tasks().queued_runs(10))) queued_in.push_back(run.registry);
  EXPECT_EQ(queued_in, std::vector<RegistryId>{other});
  std::vector<RegistryId> failed_in;
  for (const TaskRun& run : MUST(tasks().fail_abandoned_runs(kT0 + 1000, "", "gone", kT0 + 1000))) {
    failed_in.push_back(run.registry);
  }
  EXPECT_EQ(failed_in, std::vector<RegistryId>{other});

  // The other registry keeps all of its own.
  EXPECT_EQ(names_of(MUST(tasks().list_tasks(other))), std::vector<std::string>{"build"});
  EXPECT_EQ(MUST(tasks().read_run_log(other, 1, 0, 100)), "output");

  // A registry made again under the name starts with nothing, numbered from 1.
  const RegistryId again = NEW_REGISTRY("team");
  EXPECT_TRUE(MUST(tasks().list_tasks(again)).empty());
  EXPECT_EQ(MUST(tasks().create_run(run_request("build", again))).number, 1);
}

// --- run logs ---

TEST_P(TaskStoreConformance, RunLogsAreAppendedInPiecesAndReadAtOffsets) {
  const TaskRun run = MUST(tasks().create_run(run_request("build")));
  const TaskRun other = MUST(tasks().create_run(run_request("build")));
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 0, 100)), "");
  EXPECT_EQ(MUST(tasks().append_run_log(kDefaultRegistryId, run.number, "Step 1/3 : FROM ")), 16u);
  EXPECT_EQ(MUST(tasks().append_run_log(kDefaultRegistryId, other.number, "other")), 5u);
  EXPECT_EQ(MUST(tasks().append_run_log(kDefaultRegistryId, run.number, "")), 16u);
  EXPECT_EQ(MUST(tasks().append_run_log(kDefaultRegistryId, run.number, "alpine\n")), 23u);
  // Bytes are bytes: NUL and invalid UTF-8 come back as they went in.
  const std::string raw("\0\xff\xfe\n", 4);
  EXPECT_EQ(MUST(tasks().append_run_log(kDefaultRegistryId, run.number, raw)), 27u);

  std::string whole = "Step 1/3 : FROM alpine\n";
  whole += raw;
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 0, 1000)), whole);
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 5, 6)), "1/3 : ");
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 14, 5)), "M alp");
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 22, 100)), whole.substr(22));
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 27, 100)), "");
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 1000, 100)), "");
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 0, 0)), "");
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, other.number, 0, 100)), "other");

  EXPECT_EQ(error_of(tasks().append_run_log(kDefaultRegistryId, 99, "x")), Errc::not_found);
  EXPECT_EQ(error_of(tasks().append_run_log(kUnknownRegistry, run.number, "x")), Errc::not_found);
  ASSERT_TRUE(reopen());
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 0, 1000)), whole);
}

TEST_P(TaskStoreConformance, ALogLargerThanAChunkIsReadWhole) {
  const TaskRun run = MUST(tasks().create_run(run_request("build")));
  // Pieces of odd sizes: one bigger than a chunk, one tiny, one several chunks long.
  const std::vector<std::string> pieces{bytes_of_size(70'001, 1), bytes_of_size(1, 2),
                                        bytes_of_size(300'123, 3), bytes_of_size(999, 4)};
  std::string whole;
  for (const std::string& piece : pieces) {
    whole += piece;
    EXPECT_EQ(MUST(tasks().append_run_log(kDefaultRegistryId, run.number, piece)), whole.size());
  }
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 0, whole.size() + 10)),
            whole);
  // Read as a follower streams it, in pieces that fall anywhere.
  std::string streamed;
  for (int guard = 0; guard < 1000; ++guard) {
    const std::string piece =
        MUST(tasks().read_run_log(kDefaultRegistryId, run.number, streamed.size(), 33'333));
    if (piece.empty()) break;
    EXPECT_LE(piece.size(), 33'333u);
    streamed += piece;
  }
  EXPECT_EQ(streamed.size(), whole.size());
  EXPECT_TRUE(streamed == whole);
  EXPECT_TRUE(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 65'000, 200'000)) ==
              whole.substr(65'000, 200'000));
}

TEST_P(TaskStoreConformance, DroppingALogForgetsItsChunksAndKeepsTheRun) {
  const TaskRun run = MUST(tasks().create_run(run_request("build")));
  MUST(tasks().append_run_log(kDefaultRegistryId, run.number, bytes_of_size(100'000, 5)));
  MUST(tasks().drop_run_log(kDefaultRegistryId, run.number));
  EXPECT_EQ(MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 0, 1000)), "");
  EXPECT_EQ(MUST(tasks().find_run(kDefaultRegistryId, run.number)), run);
  // Dropping again, or the log of a run that does not exist, changes nothing.
  MUST(tasks().drop_run_log(kDefaultRegistryId, run.number));
  MUST(tasks().drop_run_log(kDefaultRegistryId, 99));
}

// Appends to one run race (they come from one writer in practice): every byte of every append
// is kept, each append in one piece.
TEST_P(TaskStoreConformance, ConcurrentAppendsToOneRunKeepEveryByte) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  const TaskRun run = MUST(tasks().create_run(run_request("build")));
  constexpr int kWriters = 4;
  constexpr int kAppends = 20;
  constexpr std::size_t kRecord = 100;
  std::vector<std::string> errors(kWriters);
  std::latch start(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    TaskStore& node = w % 2 == 0 ? tasks() : static_cast<TaskStore&>(*other);
    writers.emplace_back([&, w] {
      start.arrive_and_wait();
      for (int i = 0; i < kAppends; ++i) {
        std::string record = numbered("writer ", w);
        record += numbered(" line ", i);
        record.resize(kRecord, '.');
        auto appended = node.append_run_log(kDefaultRegistryId, run.number, record);
        if (!appended) {
          errors[static_cast<std::size_t>(w)] = appended.error().message;
          return;
        }
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  for (const std::string& error : errors) EXPECT_EQ(error, "");

  const std::string log = MUST(tasks().read_run_log(kDefaultRegistryId, run.number, 0, 1'000'000));
  ASSERT_EQ(log.size(), kRecord * kWriters * kAppends);
  std::set<std::string> records;
  for (std::size_t at = 0; at < log.size(); at += kRecord) records.insert(log.substr(at, kRecord));
  EXPECT_EQ(records.size(), static_cast<std::size_t>(kWriters * kAppends));
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kAppends; ++i) {
      std::string record = numbered("writer ", w);
      record += numbered(" line ", i);
      record.resize(kRecord, '.');
      EXPECT_TRUE(records.contains(record)) << record;
    }
  }
}

// --- blob pins ---

TEST_P(TaskStoreConformance, PinsAreHeldPerOwner) {
  const oci::Digest context = oci::digest_of(std::string("build context"));
  const oci::Digest log = oci::digest_of(std::string("run log"));
  EXPECT_FALSE(MUST(tasks().is_blob_pinned(context)));
  MUST(tasks().pin_blob(context, "run:1:1", kT0));
  MUST(tasks().pin_blob(context, "run:1:1", kT0 + 1));  // idempotent
  MUST(tasks().pin_blob(context, "task:1:build", kT0));
  MUST(tasks().pin_blob(log, "run:1:1", kT0));
  EXPECT_TRUE(MUST(tasks().is_blob_pinned(context)));
  EXPECT_TRUE(MUST(tasks().is_blob_pinned(log)));

  EXPECT_EQ(MUST(tasks().unpin_blobs("run:1:1")), 2u);
  EXPECT_TRUE(MUST(tasks().is_blob_pinned(context)));  // the task still pins it
  EXPECT_FALSE(MUST(tasks().is_blob_pinned(log)));
  ASSERT_TRUE(reopen());
  EXPECT_TRUE(MUST(tasks().is_blob_pinned(context)));
  EXPECT_EQ(MUST(tasks().unpin_blobs("task:1:build")), 1u);
  EXPECT_FALSE(MUST(tasks().is_blob_pinned(context)));
  EXPECT_EQ(MUST(tasks().unpin_blobs("task:1:build")), 0u);

  EXPECT_EQ(error_of(tasks().pin_blob(context, "", kT0)), Errc::invalid_argument);
  EXPECT_EQ(error_of(tasks().unpin_blobs("")), Errc::invalid_argument);
  EXPECT_FALSE(MUST(tasks().is_blob_pinned(context)));
}

// Bytes garbage collection has claimed are going: a pin comes too late for them, and says so.
TEST_P(TaskStoreConformance, PinningADigestCollectionClaimedIsRefused) {
  const oci::Digest orphan = oci::digest_of(std::string("orphaned context"));
  ASSERT_TRUE(MUST(harness().gc().claim_orphan({orphan, 16})));
  EXPECT_EQ(error_of(tasks().pin_blob(orphan, "run:1:1", kT0)), Errc::being_deleted);
  EXPECT_FALSE(MUST(tasks().is_blob_pinned(orphan)));
  // Once the claim has ended (bytes and row gone), the content stored again can be pinned.
  const std::vector<oci::Digest> gone{orphan};
  MUST(harness().gc().forget_blobs(gone));
  MUST(tasks().pin_blob(orphan, "run:1:1", kT0));
  EXPECT_TRUE(MUST(tasks().is_blob_pinned(orphan)));
}

// --- concurrent callers ---

// Threads on two stores (two nodes) create runs in one registry at once: every run gets its own
// number, and together they are 1 to N.
TEST_P(TaskStoreConformance, ConcurrentCreatesGetDistinctConsecutiveNumbers) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  constexpr int kCallers = 4;
  constexpr int kRunsEach = 25;
  std::mutex mutex;
  std::vector<std::int64_t> numbers;  // guarded by mutex
  std::vector<std::string> errors;    // guarded by mutex
  std::latch start(kCallers);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    TaskStore& node = c % 2 == 0 ? tasks() : static_cast<TaskStore&>(*other);
    callers.emplace_back([&, c] {
      start.arrive_and_wait();
      for (int i = 0; i < kRunsEach; ++i) {
        auto run = node.create_run(run_request(numbered("task-", c)));
        std::lock_guard lock(mutex);
        if (!run) {
          errors.push_back(run.error().message);
          return;
        }
        numbers.push_back(run->number);
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  std::sort(numbers.begin(), numbers.end());
  std::vector<std::int64_t> expected(kCallers * kRunsEach);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<std::int64_t>(i + 1);
  EXPECT_EQ(numbers, expected);
  EXPECT_EQ(MUST(tasks().list_runs(kDefaultRegistryId, std::nullopt, std::nullopt, 1000)).size(),
            expected.size());
}

// Runners on two stores start the queued runs of one registry at once, round after round: each
// round starts exactly as many as the limit allows, every run goes to one runner (the one the
// run records), and the registry never has more than its limit running.
TEST_P(TaskStoreConformance, ConcurrentStartsNeverPassTheLimitAndGiveEachRunToOneRunner) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  constexpr int kRuns = 12;
  constexpr std::int64_t kMaxRunning = 3;
  constexpr int kRunners = 4;
  for (int i = 0; i < kRuns; ++i) MUST(tasks().create_run(run_request("build")));

  std::map<std::int64_t, std::string> started_by;
  for (int round = 0; round < kRuns && started_by.size() < static_cast<std::size_t>(kRuns);
       ++round) {
    std::mutex mutex;
    std::vector<std::pair<std::int64_t, std::string>> starts;  // guarded by mutex
    std::vector<std::string> errors;                           // guarded by mutex
    std::latch start(kRunners);
    std::vector<std::thread> runners;
    for (int r = 0; r < kRunners; ++r) {
      TaskStore& node = r % 2 == 0 ? tasks() : static_cast<TaskStore&>(*other);
      runners.emplace_back([&, r] {
        const std::string holder = numbered("node-", r);
        start.arrive_and_wait();
        // Each runner walks the runs from another place, as runners polling the queue would.
        for (int k = 0; k < kRuns; ++k) {
          const std::int64_t number = (k + r * 3) % kRuns + 1;
          auto started =
              node.start_run(kDefaultRegistryId, number, holder, kMaxRunning, kT0 + round);
          std::lock_guard lock(mutex);
          if (!started) {
            errors.push_back(started.error().message);
          } else if (*started) {
            starts.emplace_back(number, holder);
          }
        }
      });
    }
    for (std::thread& runner : runners) runner.join();
    ASSERT_TRUE(errors.empty()) << errors.front();
    const auto remaining = static_cast<std::int64_t>(kRuns - started_by.size());
    EXPECT_EQ(static_cast<std::int64_t>(starts.size()), std::min(kMaxRunning, remaining))
        << "round " << round;
    for (const auto& [number, holder] : starts) {
      EXPECT_TRUE(started_by.emplace(number, holder).second) << "run " << number << " twice";
      const std::optional<TaskRun> run = MUST(other->find_run(kDefaultRegistryId, number));
      ASSERT_TRUE(run.has_value());
      EXPECT_EQ(run->holder, holder);
      EXPECT_EQ(run->status, RunStatus::running);
    }
    std::size_t running = 0;
    for (const TaskRun& run :
         MUST(tasks().list_runs(kDefaultRegistryId, std::nullopt, std::nullopt, 100))) {
      if (run.status == RunStatus::running) ++running;
    }
    EXPECT_EQ(running, starts.size()) << "round " << round;
    // The round's runs end, which makes room for the next round.
    for (const auto& [number, holder] : starts) {
      EXPECT_TRUE(MUST(tasks().finish_run(kDefaultRegistryId, number, holder,
                                          outcome_of(RunStatus::succeeded), kT0 + round)));
    }
  }
  EXPECT_EQ(started_by.size(), static_cast<std::size_t>(kRuns));
}

// Threads on two stores create tasks against one limit at once: exactly the limit's worth
// succeed, the others are told the limit is reached.
TEST_P(TaskStoreConformance, ConcurrentTaskCreatesAtTheLimitStopExactlyThere) {
  std::unique_ptr<Store> other = harness().open_another();
  ASSERT_NE(other, nullptr);
  constexpr int kCallers = 10;
  constexpr std::size_t kMax = 4;
  for (int round = 0; round < 3; ++round) {
    const RegistryId registry = NEW_REGISTRY(numbered("round-", round));
    std::vector<std::optional<Errc>> outcomes(kCallers);
    std::vector<std::string> unexpected(kCallers);
    std::latch start(kCallers);
    std::vector<std::thread> callers;
    for (int i = 0; i < kCallers; ++i) {
      TaskStore& node = i % 2 == 0 ? tasks() : static_cast<TaskStore&>(*other);
      callers.emplace_back([&, i] {
        const Task task = task_named(numbered("task-", i), registry);
        start.arrive_and_wait();
        auto created = node.create_task(task, kMax);
        const auto at = static_cast<std::size_t>(i);
        if (!created) {
          outcomes[at] = created.error().code;
          if (outcomes[at] != Errc::limit_reached) unexpected[at] = created.error().message;
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    EXPECT_EQ(static_cast<std::size_t>(std::count(outcomes.begin(), outcomes.end(), std::nullopt)),
              kMax)
        << "round " << round;
    for (const std::string& message : unexpected) EXPECT_EQ(message, "") << "round " << round;
    EXPECT_EQ(MUST(tasks().list_tasks(registry)).size(), kMax) << "round " << round;
    EXPECT_EQ(MUST(other->list_tasks(registry)).size(), kMax) << "round " << round;
  }
}

}  // namespace
}  // namespace berth::metadata
