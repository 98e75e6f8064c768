#pragma once
// The wire shapes of runs and build sources (docs/management-api.md, "Runs and sources"): a run
// request's JSON body as a tasks::RunRequest, and a run as JSON. Internal to api/; used by
// management_tasks.cc. Needs nothing of the task service but its types, so it is tested alone.

#include <boost/json/object.hpp>
#include <string_view>
#include <variant>

#include "http/message.h"
#include "metadata/task_store.h"
#include "tasks/run_request.h"
#include "tasks/task_service.h"

namespace berth::api::task_json {

// The run request body
//   {"type": "QuickBuild"|"QuickRun"|"TaskFile", "source"?, "dockerfile"?, "images"?,
//    "buildArgs"?, "target"?, "platform"?, "noPush"?, "cmd"?, "taskFile"?, "values"?,
//    "timeout"?}
// as a RunRequest, or the 400 to answer: an unknown field, a field of the wrong JSON type, a
// field another type of run takes, a missing one the type needs (a quick build's "source", a
// quick run's "cmd", a task file's "taskFile"), a source that is not a sha256 digest, a timeout
// out of 1..kMaxRunTimeoutSeconds. What the fields say (image names, the Dockerfile's path, the
// task file itself) is the task service's to check.
std::variant<tasks::RunRequest, http::Response> run_request_of(const boost::json::object& body);

// "Queued", "Running", "Succeeded", "Failed", "Canceled", "Timeout".
std::string_view status_name(metadata::RunStatus status);

// {"runId","registry","status","runType","task","trigger","createTime","startTime",
//  "finishTime","outputImages":[{"registry","repository","tag","digest"}],
//  "baseImages":[{"image","digest"}],"error","logSize"}. Start and finish are null until they
// happen. The images come from the run's stored JSON (arrays of such objects); stored text
// that is not such an array shows as [] rather than failing the answer.
boost::json::object run_json(const tasks::RunView& view);

}  // namespace berth::api::task_json
