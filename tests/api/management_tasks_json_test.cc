// The wire shapes of runs (api/management_tasks_json.h), without a server or a task service: a
// run request's body as it becomes a RunRequest or the 400 naming the field, and a run as JSON.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <variant>

#include "api/management_tasks_json.h"

namespace berth::api {
namespace {

namespace json = boost::json;

const std::string kSource =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

tasks::RunRequest accepted(std::string_view body) {
  auto parsed = task_json::run_request_of(json::parse(body).as_object());
  if (auto* refused = std::get_if<http::Response>(&parsed)) {
    ADD_FAILURE() << body << " was refused: " << refused->body;
    return {};
  }
  return std::get<tasks::RunRequest>(parsed);
}

// The 400's error object.
json::object refused(std::string_view body) {
  auto parsed = task_json::run_request_of(json::parse(body).as_object());
  auto* response = std::get_if<http::Response>(&parsed);
  if (response == nullptr) {
    ADD_FAILURE() << body << " was accepted";
    return {};
  }
  EXPECT_EQ(response->status, 400u) << body;
  return json::parse(response->body).as_object().at("error").as_object();
}

void expect_refused(std::string_view body, std::string_view target, std::string_view fragment) {
  json::object error = refused(body);
  if (error.empty()) return;
  EXPECT_EQ(error.at("code").as_string(), "InvalidRequest") << body;
  EXPECT_EQ(error.at("target"), json::value(target)) << body;
  std::string message(error.at("message").as_string());
  EXPECT_NE(message.find(fragment), std::string::npos) << body << ": " << message;
}

TEST(RunRequestJson, AQuickBuildTakesEveryBuildField) {
  tasks::RunRequest request = accepted(R"({"type":"QuickBuild","source":")" + kSource +
                                       R"(","dockerfile":"build/Dockerfile",
      "images":["app:v1","app:latest"],"buildArgs":{"Z":"1","A":"2"},"target":"final",
      "platform":"linux/arm64","noPush":true,"timeout":600})");
  EXPECT_EQ(request.kind, tasks::RunKind::build);
  EXPECT_EQ(request.source_digest, kSource);
  EXPECT_EQ(request.dockerfile, "build/Dockerfile");
  EXPECT_EQ(request.images, (std::vector<std::string>{"app:v1", "app:latest"}));
  // In the order sent, not sorted.
  EXPECT_EQ(request.build_args,
            (std::vector<std::pair<std::string, std::string>>{{"Z", "1"}, {"A", "2"}}));
  EXPECT_EQ(request.target, "final");
  EXPECT_EQ(request.platform, "linux/arm64");
  EXPECT_TRUE(request.no_push);
  EXPECT_EQ(request.timeout_seconds, 600);
}

TEST(RunRequestJson, DefaultsAreTheContracts) {
  tasks::RunRequest request =
      accepted(R"({"type":"QuickBuild","source":")" + kSource + R"(","images":["app:v1"]})");
  EXPECT_EQ(request.dockerfile, "Dockerfile");
  EXPECT_FALSE(request.no_push);
  EXPECT_TRUE(request.build_args.empty());
  EXPECT_EQ(request.timeout_seconds, tasks::kDefaultRunTimeoutSeconds);
}

TEST(RunRequestJson, AQuickRunAndATaskFile) {
  tasks::RunRequest run = accepted(R"({"type":"QuickRun","cmd":"alpine echo hi","timeout":5})");
  EXPECT_EQ(run.kind, tasks::RunKind::cmd);
  EXPECT_EQ(run.cmd, "alpine echo hi");
  EXPECT_EQ(run.source_digest, "");
  EXPECT_EQ(run.timeout_seconds, 5);

  tasks::RunRequest file = accepted(R"({"type":"TaskFile","taskFile":"version: v1.1.0\nsteps: []\n",
      "values":{"tag":"v2","env":"prod"},"source":")" + kSource + R"("})");
  EXPECT_EQ(file.kind, tasks::RunKind::file);
  EXPECT_EQ(file.task_file, "version: v1.1.0\nsteps: []\n");
  EXPECT_EQ(file.values.at("tag"), "v2");
  EXPECT_EQ(file.values.at("env"), "prod");
  EXPECT_EQ(file.source_digest, kSource);
}

TEST(RunRequestJson, UnknownAndMistypedFieldsAreRefusedByName) {
  expect_refused(R"({"type":"QuickRun","cmd":"alpine","command":"x"})", "command",
                 "unknown field 'command'");
  expect_refused(R"({"type":"QuickBuild","source":")" + kSource + R"(","images":"app:v1"})",
                 "images", "array of strings");
  expect_refused(R"({"type":"QuickBuild","source":")" + kSource + R"(","noPush":"yes"})",
                 "noPush", "boolean");
  expect_refused(R"({"type":"QuickBuild","source":")" + kSource + R"(","buildArgs":{"A":1}})",
                 "buildArgs", "object of strings");
  expect_refused(R"({"type":"QuickRun","cmd":"alpine","timeout":"60"})", "timeout",
                 "whole number");
  expect_refused(R"({"type":"QuickRun","cmd":"alpine","timeout":1.5})", "timeout",
                 "whole number");
  expect_refused(R"({"type":7})", "type", "string");
}

TEST(RunRequestJson, TheTypeIsRequiredAndDecidesTheFields) {
  expect_refused(R"({"cmd":"alpine"})", "type", "'type' is required");
  expect_refused(R"({"type":"Build"})", "type", "QuickBuild, QuickRun or TaskFile");
  expect_refused(R"({"type":"QuickRun","cmd":"alpine","images":["app:v1"]})", "images",
                 "'images' is for QuickBuild runs, not QuickRun");
  expect_refused(R"({"type":"QuickBuild","source":")" + kSource + R"(","cmd":"alpine"})", "cmd",
                 "'cmd' is for QuickRun runs");
  expect_refused(R"({"type":"QuickBuild","source":")" + kSource + R"(","values":{}})", "values",
                 "'values' is for TaskFile runs");
  expect_refused(R"({"type":"TaskFile","taskFile":"x","noPush":true})", "noPush",
                 "for QuickBuild runs");
}

TEST(RunRequestJson, WhatATypeNeedsIsRequired) {
  expect_refused(R"({"type":"QuickBuild","images":["app:v1"]})", "source",
                 "a QuickBuild run needs the field 'source'");
  expect_refused(R"({"type":"QuickRun"})", "cmd", "needs the field 'cmd'");
  expect_refused(R"({"type":"QuickRun","cmd":""})", "cmd", "needs the field 'cmd'");
  expect_refused(R"({"type":"TaskFile","values":{"a":"b"}})", "taskFile",
                 "needs the field 'taskFile'");
}

TEST(RunRequestJson, SourcesTimeoutsAndNamesAreChecked) {
  expect_refused(R"({"type":"QuickBuild","source":"sha256:abc"})", "source", "sha256 digest");
  expect_refused(R"({"type":"QuickBuild","source":"sha512:)" + std::string(128, 'a') + R"("})",
                 "source", "sha256 digest");
  expect_refused(R"({"type":"QuickBuild","source":")" + std::string("SHA256") +
                     kSource.substr(6) + R"("})",
                 "source", "sha256 digest");
  expect_refused(R"({"type":"QuickRun","cmd":"alpine","timeout":0})", "timeout",
                 "from 1 to 28800");
  expect_refused(R"({"type":"QuickRun","cmd":"alpine","timeout":28801})", "timeout",
                 "from 1 to 28800");
  expect_refused(R"({"type":"QuickRun","cmd":"alpine","timeout":18446744073709551615})",
                 "timeout", "from 1 to 28800");
  expect_refused(R"({"type":"QuickBuild","source":")" + kSource + R"(","dockerfile":""})",
                 "dockerfile", "name the Dockerfile");
  expect_refused(R"({"type":"QuickBuild","source":")" + kSource + R"(","buildArgs":{"":"x"}})",
                 "buildArgs", "empty name");
  expect_refused(R"({"type":"TaskFile","taskFile":"x","values":{"":"x"}})", "values",
                 "empty name");
  EXPECT_EQ(accepted(R"({"type":"QuickRun","cmd":"alpine","timeout":28800})").timeout_seconds,
            28800);
}

tasks::RunView sample_run() {
  tasks::RunView view;
  view.registry = "myreg";
  view.id = "cb12";
  view.run_type = "QuickBuild";
  view.run.number = 12;
  view.run.status = metadata::RunStatus::succeeded;
  view.run.trigger = "manual";
  view.run.created_at = 1796223845;   // 2026-12-02T15:04:05Z
  view.run.started_at = 1796223846;
  view.run.finished_at = 1796223905;
  view.run.outputs =
      R"([{"registry":"myreg.registry.local","repository":"app","tag":"v1","digest":"sha256:aa"}])";
  view.run.base_images = R"([{"image":"docker.io/library/alpine:3.20","digest":"sha256:bb"}])";
  view.run.log_size = 4096;
  return view;
}

TEST(RunJson, ARunHasEveryFieldOfTheContract) {
  json::value shown = task_json::run_json(sample_run());
  EXPECT_EQ(shown, json::parse(R"({"runId":"cb12","registry":"myreg","status":"Succeeded",
      "runType":"QuickBuild","task":"","trigger":"manual","createTime":"2026-12-02T15:04:05Z",
      "startTime":"2026-12-02T15:04:06Z","finishTime":"2026-12-02T15:05:05Z",
      "outputImages":[{"registry":"myreg.registry.local","repository":"app","tag":"v1",
                       "digest":"sha256:aa"}],
      "baseImages":[{"image":"docker.io/library/alpine:3.20","digest":"sha256:bb"}],
      "error":"","logSize":4096})"));
}

TEST(RunJson, TimesNotYetReachedAreNull) {
  tasks::RunView view = sample_run();
  view.run.status = metadata::RunStatus::queued;
  view.run.started_at = 0;
  view.run.finished_at = 0;
  view.run.outputs.clear();
  view.run.base_images.clear();
  json::object shown = task_json::run_json(view);
  EXPECT_EQ(shown.at("status"), "Queued");
  EXPECT_TRUE(shown.at("startTime").is_null());
  EXPECT_TRUE(shown.at("finishTime").is_null());
  EXPECT_EQ(shown.at("outputImages"), json::array());
  EXPECT_EQ(shown.at("baseImages"), json::array());
}

TEST(RunJson, StoredImagesThatAreNotTheExpectedArrayShowAsNone) {
  tasks::RunView view = sample_run();
  view.run.outputs = "not json";
  view.run.base_images = R"({"image":"x"})";
  json::object shown = task_json::run_json(view);
  EXPECT_EQ(shown.at("outputImages"), json::array());
  EXPECT_EQ(shown.at("baseImages"), json::array());
  // Missing or mistyped keys show as empty strings, other keys are not shown.
  view.run.outputs = R"([{"repository":"app","tag":7,"extra":"x"}, "junk"])";
  shown = task_json::run_json(view);
  EXPECT_EQ(shown.at("outputImages"), json::parse(R"([{"registry":"","repository":"app",
      "tag":"","digest":""}])"));
}

TEST(RunJson, EveryStatusHasItsWireName) {
  const std::pair<metadata::RunStatus, std::string_view> names[] = {
      {metadata::RunStatus::queued, "Queued"},       {metadata::RunStatus::running, "Running"},
      {metadata::RunStatus::succeeded, "Succeeded"}, {metadata::RunStatus::failed, "Failed"},
      {metadata::RunStatus::canceled, "Canceled"},   {metadata::RunStatus::timeout, "Timeout"}};
  for (const auto& [status, name] : names) {
    tasks::RunView view = sample_run();
    view.run.status = status;
    view.run.error = status == metadata::RunStatus::failed ? "step build exited 1" : "";
    json::object shown = task_json::run_json(view);
    EXPECT_EQ(shown.at("status"), json::value(name));
    EXPECT_EQ(shown.at("error"), json::value(view.run.error));
  }
}

}  // namespace
}  // namespace berth::api
