#pragma once
// For tests: the programs a test support starts (docker-registry, htpasswd, openssl), run
// without a shell. Started servers are the test binary's children and are killed if it dies.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace berth::testing {

// Whether BERTH_ALLOW_SKIP=1: a missing program then skips the tests instead of failing them.
bool skips_allowed();

// The program's path when `name` is found on PATH (or is an executable path itself).
std::optional<std::filesystem::path> find_program(const std::string& name);

// Starts `argv` in `directory` with stdout and stderr appended to `log`; the child gets
// SIGKILL when this process dies. -1 with `error` set on failure.
pid_t spawn_process(const std::vector<std::string>& argv, const std::filesystem::path& log,
                    const std::filesystem::path& directory, std::string& error);

// Runs `argv` to its end with stdout written to `output` and stderr to `errors`; "" on
// success (exit status 0), else what failed with the end of `errors`.
std::string run_process(const std::vector<std::string>& argv, const std::filesystem::path& output,
                        const std::filesystem::path& errors);

// Whether the child has exited (it is then reaped).
bool process_exited(pid_t pid);
// SIGTERM, then SIGKILL after `grace`; reaps the child.
void stop_process(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(5));

// A port of 127.0.0.1 that was free a moment ago; 0 on failure.
int free_loopback_port();
// Whether something accepts TCP connections on 127.0.0.1:port.
bool accepts_connections(int port);

// The whole file, or its last `limit` bytes.
std::string read_file_tail(const std::filesystem::path& file, std::size_t limit = 4000);

}  // namespace berth::testing
