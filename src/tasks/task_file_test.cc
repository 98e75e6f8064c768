#include "tasks/task_file.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::tasks {
namespace {

using Indices = std::vector<std::size_t>;

RunVariables run_variables() {
  RunVariables v;
  v.id = "cb7";
  v.registry = "127.0.0.1:5000";
  v.registry_name = "myregistry";
  v.date = 1796320200;
  v.values = {{"greeting", "hello"}};
  return v;
}

TaskFile parsed(std::string_view text, const RunVariables& v = run_variables()) {
  auto file = parse_task_file(text, v);
  EXPECT_TRUE(file) << (file ? "" : file.error().to_string());
  return file ? *file : TaskFile{};
}

ParseError error_of(std::string_view text, const RunVariables& v = run_variables()) {
  auto file = parse_task_file(text, v);
  EXPECT_FALSE(file) << text;
  return file ? ParseError{} : file.error();
}

TEST(TaskFile, ReadsEveryKindOfStepWithTheirProperties) {
  TaskFile file = parsed(
      "version: v1.1.0\n"
      "stepTimeout: 300\n"
      "workingDirectory: src\n"
      "env: [\"A=1\", \"B=2=3\"]\n"
      "secrets:\n"
      "  - id: token\n"
      "    name: deploy-token\n"
      "steps:\n"
      "  - build: -t $Registry/app:$ID -f Dockerfile --build-arg K=V .\n"
      "  - push:\n"
      "      - $Registry/app:$ID\n"
      "      - \"{{.Run.Registry}}/app:latest\"\n"
      "      - $Registry/app:$ID\n"
      "    retries: 2\n"
      "    retryDelay: 5\n"
      "  - id: greet\n"
      "    cmd: $Registry/app:$ID echo {{.Values.greeting}} \"$$HOME\"\n"
      "    when: [\"-\"]\n"
      "    timeout: 30\n"
      "    ignoreErrors: true\n"
      "    env: [\"A=9\", \"C=3\"]\n"
      "    workingDirectory: /work\n"
      "    entryPoint: /bin/sh\n"
      "    keep: true\n");
  EXPECT_EQ(file.version, "v1.1.0");
  EXPECT_EQ(file.step_timeout_seconds, 300);
  EXPECT_EQ(file.working_directory, "src");
  EXPECT_EQ(file.env, (std::vector<EnvVar>{{"A", "1"}, {"B", "2=3"}}));
  ASSERT_EQ(file.secrets.size(), 1u);
  EXPECT_EQ(file.secrets[0].id, "token");
  EXPECT_EQ(file.secrets[0].name, "deploy-token");
  EXPECT_EQ(file.secrets[0].line, 6u);
  ASSERT_EQ(file.steps.size(), 3u);

  const Step& build = file.steps[0];
  EXPECT_EQ(build.id, "acb_step_0");
  EXPECT_EQ(build.kind(), StepKind::build);
  EXPECT_EQ(build.line, 9u);
  EXPECT_EQ(build.text, "-t 127.0.0.1:5000/app:cb7 -f Dockerfile --build-arg K=V .");
  const auto& args = std::get<BuildArgs>(build.action);
  ASSERT_EQ(args.tags.size(), 1u);
  EXPECT_EQ(args.tags[0].str(), "127.0.0.1:5000/app:cb7");
  EXPECT_EQ(args.dockerfile, "Dockerfile");
  EXPECT_EQ(args.context, ".");
  EXPECT_TRUE(build.dependencies.empty());
  EXPECT_EQ(build.timeout_seconds, 300);
  EXPECT_EQ(build.working_directory, "src");
  EXPECT_EQ(build.env, file.env);

  const Step& push = file.steps[1];
  EXPECT_EQ(push.id, "acb_step_1");
  EXPECT_EQ(push.kind(), StepKind::push);
  const auto& images = std::get<PushImages>(push.action).images;
  ASSERT_EQ(images.size(), 2u);  // the repeated reference once
  EXPECT_EQ(images[0].str(), "127.0.0.1:5000/app:cb7");
  EXPECT_EQ(images[1].str(), "127.0.0.1:5000/app:latest");
  EXPECT_EQ(push.dependencies, Indices{0});
  EXPECT_EQ(push.retries, 2);
  EXPECT_EQ(push.retry_delay_seconds, 5);
  EXPECT_FALSE(push.ignore_errors);

  const Step& greet = file.steps[2];
  EXPECT_EQ(greet.id, "greet");
  EXPECT_EQ(greet.kind(), StepKind::cmd);
  const auto& cmd = std::get<CmdArgs>(greet.action);
  EXPECT_EQ(cmd.image.str(), "127.0.0.1:5000/app:cb7");
  EXPECT_EQ(cmd.args, (std::vector<std::string>{"echo", "hello", "$HOME"}));
  EXPECT_TRUE(greet.dependencies.empty());
  EXPECT_EQ(greet.timeout_seconds, 30);
  EXPECT_TRUE(greet.ignore_errors);
  EXPECT_TRUE(greet.keep);
  EXPECT_EQ(greet.entry_point, "/bin/sh");
  EXPECT_EQ(greet.working_directory, "/work");
  EXPECT_EQ(greet.env, (std::vector<EnvVar>{{"A", "9"}, {"B", "2=3"}, {"C", "3"}}));
}

// The example of docs/tasks.md.
TEST(TaskFile, TheDocumentedExampleParses) {
  RunVariables v = run_variables();
  v.values["version"] = "1.4.2";
  TaskFile file = parsed(
      "version: v1.1.0\n"
      "stepTimeout: 600\n"
      "workingDirectory: src\n"
      "env:\n"
      "  - GOFLAGS=-mod=vendor\n"
      "secrets:\n"
      "  - id: token\n"
      "    name: deploy-token\n"
      "steps:\n"
      "  - id: build\n"
      "    build: -t $Registry/app:$ID -t $Registry/app:latest --build-arg "
      "VERSION={{.Values.version}} .\n"
      "  - id: test\n"
      "    cmd: $Registry/app:$ID ./run-tests\n"
      "    timeout: 300\n"
      "  - id: lint\n"
      "    cmd: golangci/golangci-lint:v1.59 golangci-lint run\n"
      "    when: [\"-\"]\n"
      "    ignoreErrors: true\n"
      "  - id: push\n"
      "    push:\n"
      "      - $Registry/app:$ID\n"
      "      - $Registry/app:latest\n"
      "    when: [test, lint]\n"
      "    retries: 2\n"
      "    retryDelay: 5\n",
      v);
  ASSERT_EQ(file.steps.size(), 4u);
  EXPECT_EQ(std::get<BuildArgs>(file.steps[0].action).build_args,
            (std::vector<BuildArg>{{"VERSION", "1.4.2"}}));
  EXPECT_EQ(file.steps[1].dependencies, Indices{0});
  EXPECT_EQ(file.steps[2].dependencies, Indices{});
  EXPECT_EQ(file.steps[3].dependencies, (Indices{1, 2}));
  EXPECT_EQ(ready_steps(file, {}, {}), (Indices{0, 2}));
}

TEST(TaskFile, DefaultsApplyToAMinimalFile) {
  TaskFile file = parsed("steps:\n  - cmd: busybox true\n");
  EXPECT_EQ(file.version, "v1.0.0");
  EXPECT_EQ(file.step_timeout_seconds, kDefaultStepTimeoutSeconds);
  ASSERT_EQ(file.steps.size(), 1u);
  const Step& step = file.steps[0];
  EXPECT_EQ(step.id, "acb_step_0");
  EXPECT_EQ(step.timeout_seconds, 600);
  EXPECT_EQ(step.retries, 0);
  EXPECT_EQ(step.retry_delay_seconds, 0);
  EXPECT_FALSE(step.ignore_errors);
  EXPECT_FALSE(step.keep);
  EXPECT_FALSE(step.entry_point);
  EXPECT_TRUE(step.env.empty());
  EXPECT_TRUE(step.working_directory.empty());
  // stepTimeout written after the steps still sets their default.
  EXPECT_EQ(parsed("steps:\n  - cmd: busybox true\nstepTimeout: 42\n").steps[0].timeout_seconds,
            42);
}

TEST(TaskFile, WhenResolvesDependencies) {
  TaskFile file = parsed(
      "steps:\n"
      "  - id: a\n"
      "    cmd: busybox true\n"
      "  - id: b\n"
      "    cmd: busybox true\n"
      "    when: [\"-\"]\n"
      "  - id: c\n"
      "    cmd: busybox true\n"
      "  - id: d\n"
      "    cmd: busybox true\n"
      "    when: [a, c, a, later]\n"
      "  - id: later\n"
      "    cmd: busybox true\n"
      "    when: [b]\n");
  EXPECT_EQ(file.steps[0].dependencies, Indices{});
  EXPECT_EQ(file.steps[1].dependencies, Indices{});
  EXPECT_EQ(file.steps[2].dependencies, Indices{1});  // the step written before
  EXPECT_EQ(file.steps[3].dependencies, (Indices{0, 2, 4}));
  EXPECT_EQ(file.steps[4].dependencies, Indices{1});
  EXPECT_EQ(file.step_index("later"), 4u);
  EXPECT_FALSE(file.step_index("nope"));
}

TEST(TaskFile, ReadyStepsFollowTheDependencies) {
  TaskFile file = parsed(
      "steps:\n"
      "  - {id: build, build: -t app .}\n"
      "  - {id: test, cmd: app true, when: [build]}\n"
      "  - {id: lint, cmd: busybox true, when: [\"-\"]}\n"
      "  - {id: push, push: [app], when: [test, lint]}\n");
  using Ids = std::set<std::string>;
  EXPECT_EQ(ready_steps(file, {}, {}), (Indices{0, 2}));
  EXPECT_EQ(ready_steps(file, {}, Ids{"build", "lint"}), Indices{});
  EXPECT_EQ(ready_steps(file, Ids{"build"}, Ids{"build", "lint"}), Indices{1});
  EXPECT_EQ(ready_steps(file, Ids{"build", "test"}, Ids{"build", "lint", "test"}), Indices{});
  EXPECT_EQ(ready_steps(file, Ids{"build", "test", "lint"}, Ids{"build", "lint", "test"}),
            Indices{3});
  EXPECT_EQ(
      ready_steps(file, Ids{"build", "test", "lint", "push"}, Ids{"build", "lint", "test", "push"}),
      Indices{});
  // A failed step is never finished unless it ignores errors: its dependents never start.
  EXPECT_FALSE(lets_dependents_run(file.steps[1], false));
  EXPECT_TRUE(lets_dependents_run(file.steps[1], true));
  Step tolerant = file.steps[1];
  tolerant.ignore_errors = true;
  EXPECT_TRUE(lets_dependents_run(tolerant, false));
}

TEST(TaskFile, ErrorsCarryTheLineAndTheReason) {
  struct Case {
    std::string text;
    std::size_t line;
    std::string reason_part;
  };
  const std::vector<Case> cases = {
      {"steps:\n  - cmd: busybox true\nnetworks: []\n", 3,
       "'networks' at the top of the task file is not supported by berth"},
      {"steps:\n  - cmd: busybox true\nstages: []\n", 3, "unknown key 'stages'"},
      {"steps:\n  - cmd: busybox true\n    privileged: true\n", 3,
       "'privileged' in a step is not supported by berth"},
      {"steps:\n  - cmd: busybox true\n    detach: true\n", 3,
       "'detach' in a step is not supported"},
      {"steps:\n  - cmd: busybox true\n    repeat: 2\n", 3, "'repeat' in a step is not supported"},
      {"steps:\n  - cmd: busybox true\n    colour: red\n", 3, "unknown key 'colour' in a step"},
      {"steps:\n  - cmd: busybox true\n    timeout: \"600\"\n", 3,
       "timeout must be a whole number"},
      {"steps:\n  - cmd: busybox true\n    timeout: -1\n", 3, "timeout '-1' is out of range"},
      {"steps:\n  - cmd: busybox true\n    timeout: 0\n", 3, "out of range (1 to 86400)"},
      {"steps:\n  - cmd: busybox true\n    retries: -2\n", 3, "retries '-2' is out of range"},
      {"steps:\n  - cmd: busybox true\n    retryDelay: 1.5\n", 3,
       "retryDelay must be a whole number"},
      {"steps:\n  - cmd: busybox true\n    timeout: 99999999999999999999\n", 3, "out of range"},
      {"stepTimeout: -5\nsteps:\n  - cmd: busybox true\n", 1, "stepTimeout '-5' is out of range"},
      {"steps:\n  - cmd: busybox true\n    ignoreErrors: maybe\n", 3,
       "ignoreErrors must be true or false"},
      {"steps:\n  - cmd: busybox true\n    id: x\n  - cmd: busybox true\n    id: x\n", 4,
       "duplicate step id 'x'"},
      {"steps:\n  - cmd: busybox true\n  - cmd: busybox true\n    id: acb_step_0\n", 3,
       "duplicate step id 'acb_step_0'"},
      {"steps:\n  - cmd: busybox true\n    when: [ghost]\n", 3,
       "when names 'ghost', which is no step"},
      {"steps:\n  - cmd: busybox true\n    id: a\n    when: [a]\n", 4, "'a' waits for itself"},
      {"steps:\n  - cmd: busybox true\n    when: [\"-\", acb_step_0]\n", 3,
       "cannot be mixed with step ids"},
      {"steps:\n  - cmd: busybox true\n    when: []\n", 3, "when lists no step"},
      {"steps:\n  - cmd: busybox true\n    when: acb_step_0\n", 3, "when must be a list"},
      {"steps:\n  - id: a\n    cmd: busybox true\n    when: [c]\n  - id: b\n    cmd: busybox true\n"
       "  - id: c\n    cmd: busybox true\n",
       2, "the steps depend on each other in a cycle: a -> c -> b -> a"},
      {"steps:\n  - id: lonely\n", 2, "a step needs one of build, push or cmd"},
      {"steps:\n  - cmd: busybox true\n    push: [app]\n", 3,
       "a step has both cmd and push: write one kind per step"},
      {"steps:\n  - push: [\"App:1\"]\n", 2, "push: 'App' in 'App:1' is not a valid repository"},
      {"steps:\n  - push: []\n", 2, "push lists no image"},
      {"steps:\n  - push: app\n", 2, "push must be a list"},
      {"steps:\n  - build: -t app --squash .\n", 2, "build: unsupported flag '--squash'"},
      {"steps:\n  - build: -t app 'oops .\n", 2, "build: unterminated single quote"},
      {"steps:\n  - build: [a]\n", 2, "build must be a string"},
      {"steps:\n  - cmd:\n", 2, "'cmd' has no value"},
      {"steps:\n  - cmd: ''\n", 2, "cmd: the command is empty"},
      {"steps:\n  - build: -t app .\n    entryPoint: sh\n", 3,
       "'entryPoint' does not apply to a build step"},
      {"steps:\n  - push: [app]\n    workingDirectory: x\n", 3,
       "'workingDirectory' does not apply to a push step"},
      {"steps:\n  - push: [app]\n    keep: true\n", 3, "'keep' does not apply to a push step"},
      {"version: v2.0.0\nsteps:\n  - cmd: busybox true\n", 1,
       "version 'v2.0.0' is not supported: berth reads v1.0.0 and v1.1.0"},
      {"version: 1.0\nsteps:\n  - cmd: busybox true\n", 1, "version '1.0' is not supported"},
      {"steps:\n  - cmd: busybox true\nsteps: []\n", 3, "duplicate key 'steps'"},
      {"steps:\n  - cmd: busybox true\n    id: a\n    id: b\n", 4, "duplicate key 'id'"},
      {"env: [\"NOVALUE\"]\nsteps:\n  - cmd: busybox true\n", 1, "env 'NOVALUE' is not NAME=VALUE"},
      {"steps:\n  - cmd: busybox true\n    id: \"a b\"\n", 3, "the step id 'a b' must be"},
      {"secrets:\n  - id: s\n    keyvault: https://vault\nsteps:\n  - cmd: busybox true\n", 3,
       "'keyvault' in a secret is not supported by berth"},
      {"secrets:\n  - id: s\n    name: n\n    colour: red\nsteps:\n  - cmd: busybox true\n", 4,
       "unknown key 'colour' in a secret"},
      {"secrets:\n  - id: s\nsteps:\n  - cmd: busybox true\n", 2, "needs a name"},
      {"secrets:\n  - {id: s, name: a}\n  - {id: s, name: b}\nsteps:\n  - cmd: busybox true\n", 3,
       "duplicate secret id 's'"},
      {"steps:\n  - cmd: busybox echo {{.Secrets.nope}}\n", 2,
       "{{.Secrets.nope}}: the file declares no secret 'nope'"},
      {"steps: []\n", 1, "steps lists no step"},
      {"version: v1.1.0\n", 0, "the task file has no steps"},
      {"steps:\n  - cmd: busybox true\n  - [x\n", 4, "not valid YAML"},
      {"steps:\n  - cmd: busybox true\n---\nsteps: []\n", 4, "one YAML document, not several"},
      {"- a\n- b\n", 1, "a task file is a mapping"},
      {"", 0, "the task file is empty"},
      {"# only a comment\n", 0, "the task file is empty"},
      {"steps:\n  - cmd: x {{.Run.Nope}}\n", 2, "unknown variable {{.Run.Nope}}"},
  };
  for (const Case& c : cases) {
    ParseError error = error_of(c.text);
    EXPECT_EQ(error.line, c.line) << c.text << "\n-> " << error.to_string();
    EXPECT_NE(error.reason.find(c.reason_part), std::string::npos)
        << c.text << "\n-> " << error.to_string();
  }
}

TEST(TaskFile, ColumnsWhenKnown) {
  ParseError unknown = error_of("steps:\n  - cmd: busybox true\n    colour: red\n");
  EXPECT_EQ(unknown.column, 5u);
  EXPECT_EQ(unknown.to_string(), "line 3, column 5: unknown key 'colour' in a step");
  // After a substitution on the same line, the column is not known.
  ParseError shifted = error_of("steps:\n  - push: [$Registry/App]\n");
  EXPECT_EQ(shifted.line, 2u);
  EXPECT_EQ(shifted.column, 0u);
}

TEST(TaskFile, LinesStayRightAfterMultiLineValues) {
  RunVariables v = run_variables();
  v.values["list"] = "\"A=1\",\n      \"B=2\"";
  std::string_view text =
      "steps:\n"
      "  - cmd: busybox true\n"
      "    env: [{{.Values.list}}]\n"
      "    colour: red\n";
  ParseError error = error_of(text, v);
  EXPECT_EQ(error.line, 4u);
  EXPECT_EQ(error.column, 5u);
  // An error inside the value is on the line of the variable.
  v.values["list"] = "\"A=1\",\n      \"B\"";
  ParseError inside = error_of(text, v);
  EXPECT_EQ(inside.line, 3u);
  EXPECT_EQ(inside.column, 0u);
  EXPECT_EQ(inside.reason, "env 'B' is not NAME=VALUE");
}

TEST(TaskFile, SecretsResolveWhenGiven) {
  std::string_view text =
      "secrets:\n  - id: token\n    name: deploy-token\n"
      "steps:\n  - cmd: busybox echo {{.Secrets.token}}\n";
  EXPECT_EQ(std::get<CmdArgs>(parsed(text).steps[0].action).args,
            (std::vector<std::string>{"echo"}));
  RunVariables v = run_variables();
  v.secrets = std::map<std::string, std::string, std::less<>>{{"token", "s3cret"}};
  EXPECT_EQ(std::get<CmdArgs>(parsed(text, v).steps[0].action).args,
            (std::vector<std::string>{"echo", "s3cret"}));
}

TEST(TaskFile, RefusesAFileLargerThanTheLimit) {
  std::string big = "steps:\n  - cmd: busybox true\n";
  big.append(kMaxTaskFileBytes, '#');
  ParseError error = error_of(big);
  EXPECT_EQ(error.reason, "the task file is larger than 1 MiB");
}

}  // namespace
}  // namespace berth::tasks
