#include "tasks/process.h"

// Boost.Process uses std::filesystem with this (else Boost.Filesystem, which berth does not
// link).
#define BOOST_PROCESS_USE_STD_FS
#include <boost/process.hpp>
#include <boost/process/extend.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace berth::tasks {
namespace {

namespace bp = boost::process;
using SteadyClock = std::chrono::steady_clock;

// Puts the child into a process group of its own before exec, so that signals reach everything
// it starts, and leaves berthd's group alone.
struct OwnProcessGroup : bp::extend::handler {
  template <class Executor>
  void on_exec_setup(Executor&) const {
    ::setpgid(0, 0);
  }
};

// Splits arriving bytes into lines for the sink.
class LineSplitter {
 public:
  explicit LineSplitter(const LineSink& sink) : sink_(sink) {}
  void feed(std::string_view bytes) {
    for (char c : bytes) {
      if (c == '\n') {
        flush();
      } else {
        pending_.push_back(c);
        if (pending_.size() >= kMaxLine) flush();
      }
    }
  }
  void finish() {
    if (!pending_.empty()) flush();
  }

 private:
  static constexpr std::size_t kMaxLine = 64 * 1024;
  void flush() {
    if (!pending_.empty() && pending_.back() == '\r') pending_.pop_back();
    if (sink_) sink_(pending_);
    pending_.clear();
  }
  const LineSink& sink_;
  std::string pending_;
};

bp::environment environment_of(const std::map<std::string, std::string>& variables) {
  bp::environment env;
  env.clear();
  for (const auto& [name, value] : variables) env[name] = value;
  return env;
}

void signal_group(pid_t group, int signal) {
  if (group > 0) ::kill(-group, signal);
}

// Reads the pipe until it closes (every writer in the group ended) while enforcing the
// deadline and the cancel flag; returns why it stopped waiting for output.
ProcessEnd pump_output(int fd, bp::child& child, const ProcessSpec& spec, LineSplitter& lines,
                       const std::atomic<bool>* cancel) {
  const pid_t group = child.id();
  const auto started = SteadyClock::now();
  std::optional<SteadyClock::time_point> kill_at;  // set once a stop began
  bool killed = false;
  std::optional<SteadyClock::time_point> exited_at;
  ProcessEnd end = ProcessEnd::exited;
  std::array<char, 16 * 1024> buffer{};
  while (true) {
    const auto now = SteadyClock::now();
    if (end == ProcessEnd::exited) {
      if (spec.timeout.count() > 0 && now - started >= spec.timeout) end = ProcessEnd::timed_out;
      if (cancel != nullptr && cancel->load()) end = ProcessEnd::canceled;
      if (end != ProcessEnd::exited) {
        signal_group(group, SIGTERM);
        kill_at = now + spec.kill_grace;
      }
    }
    if (kill_at && now >= *kill_at) {
      if (killed) return end;  // something outside the group holds the pipe: stop reading
      signal_group(group, SIGKILL);
      killed = true;
      kill_at = now + std::chrono::seconds(2);
    }
    pollfd watched{fd, POLLIN, 0};
    const int ready = ::poll(&watched, 1, 100);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return end;
    }
    if (ready == 0) {
      // The child ended but something it left outside its group still holds the pipe: give
      // it a moment to write its last words, then stop reading.
      std::error_code ignored;
      if (!exited_at && !child.running(ignored)) exited_at = now;
      if (exited_at && now - *exited_at > std::chrono::seconds(2)) return end;
      continue;
    }
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return end;
    }
    if (got == 0) return end;  // every writer closed the pipe
    lines.feed(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
  }
}

}  // namespace

std::string find_program(std::string_view name,
                         const std::map<std::string, std::string>& environment) {
  if (name.find('/') != std::string_view::npos) return std::string(name);
  std::string path;
  if (auto it = environment.find("PATH"); it != environment.end()) {
    path = it->second;
  } else if (const char* own = std::getenv("PATH")) {
    path = own;
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::filesystem::path candidate = std::filesystem::path(path.substr(start, end - start)) /
                                      std::string(name);
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return "";
}

ProcessResult run_process(const ProcessSpec& spec, const LineSink& output,
                          const std::atomic<bool>* cancel) {
  ProcessResult result;
  if (spec.argv.empty()) {
    result.error = "no program to run";
    return result;
  }
  const std::string program = find_program(spec.argv.front(), spec.environment);
  if (program.empty()) {
    result.error = "program not found: " + spec.argv.front();
    return result;
  }
  std::vector<std::string> arguments(spec.argv.begin() + 1, spec.argv.end());
  bp::pipe merged;
  std::error_code launch_error;
  bp::child child;
  {
    const std::filesystem::path directory =
        spec.working_directory.empty() ? std::filesystem::current_path()
                                       : std::filesystem::path(spec.working_directory);
    child = bp::child(bp::exe = program, bp::args = arguments,
                      (bp::std_out & bp::std_err) > merged, bp::std_in.close(),
                      bp::env = environment_of(spec.environment), bp::start_dir = directory,
                      OwnProcessGroup{}, launch_error);
  }
  // Only the child writes now: with berthd's copy of the write end closed, the read sees the
  // end once the child (and everything it started that kept the pipe) has gone.
  ::close(merged.native_sink());
  merged.assign_sink(-1);
  if (launch_error || !child.valid()) {
    result.error = "cannot start " + program + ": " + launch_error.message();
    return result;
  }
  LineSplitter lines(output);
  const pid_t group = child.id();
  result.end = pump_output(merged.native_source(), child, spec, lines, cancel);
  lines.finish();
  std::error_code wait_error;
  child.wait(wait_error);
  // A stopped step's helpers that ignored SIGTERM and closed their output go now.
  if (result.end != ProcessEnd::exited) signal_group(group, SIGKILL);
  const int native = child.native_exit_code();
  if (WIFSIGNALED(native)) {
    result.exit_code = 128 + WTERMSIG(native);
  } else {
    result.exit_code = child.exit_code();
  }
  return result;
}

}  // namespace berth::tasks
