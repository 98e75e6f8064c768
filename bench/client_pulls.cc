#include "client_pulls.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <utility>

#include "bench_util.h"
#include "http_client.h"

extern char** environ;

namespace berth::bench {
namespace {

// The image of skopeo-pull and ctr-pull: push-large's blob as its only (uncompressed) layer.
constexpr std::string_view kClientImageRepo = "bench/large";
constexpr std::string_view kClientImageTag = "clients";
constexpr std::string_view kUncompressedLayerType = "application/vnd.oci.image.layer.v1.tar";
constexpr std::string_view kCtrNamespace = "berth-bench";
// curl's -w line for every transfer, on stderr: a marker, then the figures.
constexpr std::string_view kCurlReportMarker = "berth-bench-transfer";
// Upper bound of one client run: a client that hangs fails the workload, not the whole run.
constexpr int kClientTimeLimitSeconds = 900;

// ---------------------------------------------------------------- processes

// A file descriptor closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

// Close-on-exec on both ends, so that no other client inherits them (a stray copy of a write
// end would keep the reader from ever seeing EOF).
Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail(std::string("pipe: ") + std::strerror(errno));
  Pipe pipe{Fd(fds[0]), Fd(fds[1])};
  ::fcntl(pipe.read.get(), F_SETPIPE_SZ, static_cast<int>(kMiB));  // fewer wake-ups; best effort
  return pipe;
}

// The full path of a client on PATH; fails naming it when it is not installed (a missing
// client fails the run: a skip is not a pass).
std::string find_client(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream directories(path ? path : "/usr/bin:/bin");
  std::string directory;
  while (std::getline(directories, directory, ':')) {
    if (directory.empty()) continue;
    const std::string candidate = directory + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  fail("missing client '" + name + "': not found on PATH (this workload needs it installed)");
}

std::vector<char*> argv_of(std::vector<std::string>& arguments) {
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  return argv;
}

// Starts `arguments` (arguments[0] a full path) with the given stdin and stdout (-1:
// /dev/null) and stderr appended to `log`.
pid_t spawn(std::vector<std::string> arguments, int stdin_fd, int stdout_fd,
            const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  }
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  auto argv = argv_of(arguments);
  pid_t pid = 0;
  const int error = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) fail("cannot run " + arguments[0] + ": " + std::strerror(error));
  return pid;
}

// Waits for `pid`; "" when it exited with 0, else how it ended.
std::string wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::string("waitpid: ") + std::strerror(errno);
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status) == 0 ? "" : "exit status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended abnormally";
}

std::string tail_of(const std::string& path, std::size_t bytes = 1500) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > bytes) text = "..." + text.substr(text.size() - bytes);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// Reads `fd` to EOF, comparing the stream with `expected` repeated back to back (one copy per
// transfer). Returns the number of bytes read; `mismatch` gets the first difference. Reading
// goes on after a difference so that the writer never blocks.
std::uint64_t compare_stream(int fd, std::string_view expected, std::string& mismatch) {
  std::vector<char> buffer(kMiB);
  std::uint64_t position = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (mismatch.empty()) mismatch = std::string("read: ") + std::strerror(errno);
      return position;
    }
    if (n == 0) return position;
    for (std::size_t done = 0; done < static_cast<std::size_t>(n) && mismatch.empty();) {
      const std::size_t offset = expected.empty() ? 0 : position % expected.size();
      const std::size_t step = std::min<std::size_t>(n - done, expected.size() - offset);
      if (step == 0 || std::memcmp(buffer.data() + done, expected.data() + offset, step) != 0) {
        mismatch = "bytes differ from the blob at offset " + std::to_string(offset) +
                   " (stream offset " + std::to_string(position) + ")";
        break;
      }
      done += step;
      position += step;
    }
  }
}

// A secret in a file of mode 0600 under the work directory, removed on destruction.
class SecretFile {
 public:
  SecretFile() = default;
  SecretFile(std::string path, const std::string& contents) : path_(std::move(path)) {
    ::unlink(path_.c_str());
    Fd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    check(fd.get() >= 0, "cannot create " + path_ + ": " + std::strerror(errno));
    check(::write(fd.get(), contents.data(), contents.size()) ==
              static_cast<ssize_t>(contents.size()),
          "cannot write " + path_);
  }
  ~SecretFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  SecretFile(SecretFile&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  SecretFile& operator=(SecretFile&&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------- curl

struct CurlTransfer {
  int http_code = 0;
  double seconds = 0;      // curl's time_total
  std::uint64_t size = 0;  // size_download
  std::string content_range;
};

// The header file curl sends (-H @file): the shared session's Bearer token for `path`,
// fetched now, before the timed part. Empty path without credentials.
SecretFile curl_credentials(Context& ctx, Target& target, const std::string& path,
                            const std::string& label) {
  if (target.auth == nullptr) return {};
  Connection connection(target.host, target.port);
  std::string error;
  auto authorization =
      target.auth->authorization_for(connection, {"GET", path, {}, Body::none()}, error);
  check(authorization.has_value(), "credentials: " + error);
  return SecretFile(ctx.workdir + "/curl-auth-" + label + ".txt",
                    "Authorization: " + *authorization + "\n");
}

std::string url_of(const Target& target, const std::string& path) {
  return "http://" + target.host + ":" + std::to_string(target.port) + path;
}

std::string blob_path(std::string_view repo, const std::string& digest) {
  return "/v2/" + std::string(repo) + "/blobs/" + digest;
}

// The curl command line for `transfers` GETs of `url` on one connection, each writing the
// body to stdout and a report line to stderr.
std::vector<std::string> curl_command(const std::string& curl, const std::string& url,
                                      const SecretFile& auth, int transfers,
                                      const std::string& range = "") {
  std::vector<std::string> command = {
      curl,
      "-q",
      "--silent",
      "--show-error",
      "--noproxy",
      "*",
      "--max-time",
      std::to_string(kClientTimeLimitSeconds),
      "--write-out",
      "%{stderr}" + std::string(kCurlReportMarker) +
          " %{http_code} %{time_total} %{size_download} %header{content-range}\\n"};
  if (!auth.path().empty()) command.insert(command.end(), {"--header", "@" + auth.path()});
  if (!range.empty()) command.insert(command.end(), {"--range", range});
  for (int i = 0; i < transfers; ++i) command.push_back(url);
  return command;
}

// The report lines curl wrote to `log`, in transfer order; everything else it said goes to
// `other` (its error messages).
std::vector<CurlTransfer> curl_report(const std::string& log, std::string& other) {
  std::ifstream in(log);
  std::vector<CurlTransfer> transfers;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(kCurlReportMarker, 0) != 0) {
      other += line + " ";
      continue;
    }
    std::istringstream fields(line.substr(kCurlReportMarker.size()));
    CurlTransfer transfer;
    fields >> transfer.http_code >> transfer.seconds >> transfer.size;
    std::getline(fields >> std::ws, transfer.content_range);
    while (!transfer.content_range.empty() &&
           (transfer.content_range.back() == '\r' || transfer.content_range.back() == ' ')) {
      transfer.content_range.pop_back();
    }
    transfers.push_back(std::move(transfer));
  }
  return transfers;
}

// Runs one curl process whose stdout streams through the comparison with `expected` (one
// copy per transfer), and checks its exit status, the number of transfers and bytes, and
// each transfer's status. Returns the transfers' reports.
std::vector<CurlTransfer> run_curl(Context& ctx, const std::vector<std::string>& command,
                                   std::string_view expected, int transfers, int status,
                                   const std::string& label) {
  const std::string log = ctx.workdir + "/curl-" + label + ".log";
  ::unlink(log.c_str());
  Pipe out = make_pipe();
  const pid_t pid = spawn(command, -1, out.write.get(), log);
  out.write.reset();
  std::string mismatch;
  const std::uint64_t received = compare_stream(out.read.get(), expected, mismatch);
  const std::string ended = wait_exit(pid);
  std::string other;
  auto report = curl_report(log, other);
  check(ended.empty(), "curl: " + ended + ": " + other);
  check(static_cast<int>(report.size()) == transfers,
        "curl reported " + std::to_string(report.size()) + " transfers, expected " +
            std::to_string(transfers) + ": " + other);
  for (const auto& transfer : report) {
    check(transfer.http_code == status, "curl GET: status " + std::to_string(transfer.http_code) +
                                            ", expected " + std::to_string(status));
    check(transfer.size == expected.size(), "curl GET: " + std::to_string(transfer.size) +
                                                " bytes, expected " +
                                                std::to_string(expected.size()));
  }
  check(mismatch.empty(), "curl GET: " + mismatch);
  check(received == expected.size() * transfers, "curl GET: " + std::to_string(received) +
                                                     " bytes on stdout, expected " +
                                                     std::to_string(expected.size() * transfers));
  ::unlink(log.c_str());
  return report;
}

bool have_large_blob(Context& ctx, const std::string& workload) {
  if (!ctx.large_path.empty()) return true;
  for (Target* target : order_for(ctx, 0)) {
    ctx.recorder.failure(workload, target->name, "no blob: push-large must run first");
  }
  return false;
}

// GET of a whole blob with curl, timed by curl's time_total; records MB/s (and, with
// `server_cpu`, the server's CPU-seconds per GB) under `workload`.
void timed_curl_get(Context& ctx, Target& target, const std::string& workload,
                    std::string_view repo, const std::string& digest, std::string_view bytes,
                    bool server_cpu) {
  const std::string curl = find_client("curl");
  const std::string path = blob_path(repo, digest);
  const SecretFile auth = curl_credentials(ctx, target, path, target.name);
  const double cpu_before = process_cpu_seconds(target.pid);
  auto report = run_curl(ctx, curl_command(curl, url_of(target, path), auth, 1), bytes, 1, 200,
                         workload + "-" + target.name);
  const double cpu = process_cpu_seconds(target.pid) - cpu_before;
  ctx.recorder.value(workload, "throughput", target.name, bytes.size() / 1e6 / report[0].seconds,
                     "MB/s", "higher");
  if (server_cpu) {
    ctx.recorder.value(workload, "server_cpu", target.name, cpu / (bytes.size() / 1e9), "CPU-s/GB",
                       "lower");
  }
}

std::string_view view_of(const MappedFile& file) { return {file.data(), file.size()}; }

// ---------------------------------------------------------------- the client image

// An image whose only layer is push-large's blob, as an uncompressed layer (so its diff_id
// is its digest). `layer` stays empty: the blob is already in the repository.
Image client_image(const std::string& layer_digest, std::uint64_t layer_size) {
  Image image;
  image.layer_digest = layer_digest;
  image.config = R"({"architecture":"amd64","os":"linux","config":{"Labels":{"bench":"clients"}},)"
                 R"("rootfs":{"type":"layers","diff_ids":[")" +
                 layer_digest + R"("]}})";
  image.config_digest = sha256_digest(image.config);
  image.manifest = std::string(R"({"schemaVersion":2,"mediaType":")") + std::string(kManifestType) +
                   R"(","config":{"mediaType":")" + std::string(kConfigType) + R"(","digest":")" +
                   image.config_digest + R"(","size":)" + std::to_string(image.config.size()) +
                   R"(},"layers":[{"mediaType":")" + std::string(kUncompressedLayerType) +
                   R"(","digest":")" + layer_digest + R"(","size":)" + std::to_string(layer_size) +
                   "}]}";
  image.manifest_digest = sha256_digest(image.manifest);
  return image;
}

// Pushes the client image's config and manifest (untimed) to every target; returns the
// targets where that worked.
std::vector<Target*> push_client_image(Context& ctx, const std::string& workload,
                                       const Image& image) {
  std::vector<Target*> ready;
  for (Target* target : order_for(ctx, 0)) {
    if (prepared(ctx, *target, workload, [&] {
          Connection connection(target->host, target->port, target->auth.get());
          const std::string repo(kClientImageRepo);
          push_blob(connection, *target, repo, image.config_digest,
                    Body::from_memory(image.config));
          put_manifest(connection, repo, std::string(kClientImageTag), image);
          target->remember_repo(repo);
        })) {
      ready.push_back(target);
    }
  }
  return ready;
}

std::string image_reference(const Target& target) {
  return target.host + ":" + std::to_string(target.port) + "/" + std::string(kClientImageRepo) +
         ":" + std::string(kClientImageTag);
}

// Compares a file with `expected` through a read-only mapping.
void check_file(const std::string& path, std::string_view expected, const std::string& what) {
  struct stat info {};
  check(::stat(path.c_str(), &info) == 0, what + ": " + path + " missing");
  check(static_cast<std::uint64_t>(info.st_size) == expected.size(),
        what + ": " + std::to_string(info.st_size) + " bytes, expected " +
            std::to_string(expected.size()));
  if (expected.empty()) return;
  MappedFile file(path);
  check(std::memcmp(file.data(), expected.data(), expected.size()) == 0,
        what + ": bytes differ from the source");
}

std::string hex_of(const std::string& digest) {
  const auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(colon + 1);
}

// ---------------------------------------------------------------- ctr

// The ctr command line against the bench's containerd.
std::vector<std::string> ctr_command(Context& ctx, const std::string& ctr,
                                     std::initializer_list<std::string> arguments) {
  std::vector<std::string> command = {ctr, "--address", ctx.containerd_socket, "--namespace",
                                      std::string(kCtrNamespace)};
  command.insert(command.end(), arguments);
  return command;
}

// Runs a ctr command to completion with its output in `log`; fails with that output.
void run_ctr(Context& ctx, std::vector<std::string> command, const std::string& what) {
  const std::string log = ctx.workdir + "/ctr.log";
  ::unlink(log.c_str());
  const std::string ended = wait_exit(spawn(std::move(command), -1, -1, log));
  check(ended.empty(), what + ": " + ended + ": " + tail_of(log));
}

// Runs `command` on a new pseudo-terminal (echo off) and answers its password prompt with
// `password` when that is not empty: ctr reads a password only from a terminal, and that
// keeps the secret off its command line. Returns "" when it exited with 0, else how it ended
// and the end of what it printed.
std::string run_on_terminal(std::vector<std::string> command, const std::string& password) {
  int master = -1, slave = -1;
  check(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0,
        std::string("openpty: ") + std::strerror(errno));
  Fd master_fd(master), slave_fd(slave);
  ::fcntl(master, F_SETFD, FD_CLOEXEC);
  termios mode{};
  if (::tcgetattr(slave, &mode) == 0) {
    mode.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
    ::tcsetattr(slave, TCSANOW, &mode);
  }
  auto argv = argv_of(command);
  const pid_t pid = ::fork();
  check(pid >= 0, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::setsid();
    ::ioctl(slave, TIOCSCTTY, 0);
    ::dup2(slave, 0);
    ::dup2(slave, 1);
    ::dup2(slave, 2);
    if (slave > 2) ::close(slave);
    ::execve(argv[0], argv.data(), environ);
    ::_exit(127);
  }
  slave_fd.reset();
  std::string output;
  bool answered = password.empty();
  bool timed_out = false;
  char buffer[4096];
  const auto start = Clock::now();
  for (;;) {
    pollfd ready{master, POLLIN, 0};
    if (::poll(&ready, 1, 1000) == 0) {
      if (seconds_since(start) < kClientTimeLimitSeconds) continue;
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO once the terminal's last user has closed it
    output.append(buffer, static_cast<std::size_t>(n));
    if (!answered && output.find("Password:") != std::string::npos) {
      const std::string line = password + "\n";
      answered = ::write(master, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    }
    if (output.size() > 64 * 1024) output.erase(0, output.size() - 4096);
  }
  std::string ended = wait_exit(pid);
  if (timed_out) ended = "no end after " + std::to_string(kClientTimeLimitSeconds) + " s, killed";
  if (ended.empty() && !answered) ended = "never asked for the password";
  if (ended.empty()) return "";
  if (output.size() > 1500) output = "..." + output.substr(output.size() - 1500);
  std::replace(output.begin(), output.end(), '\n', ' ');
  std::replace(output.begin(), output.end(), '\r', ' ');
  return ended + ": " + output;
}

// Whether containerd's content store holds `digest`.
bool ctr_has_content(Context& ctx, const std::string& ctr, const std::string& digest) {
  const std::string log = ctx.workdir + "/ctr-ls.log";
  ::unlink(log.c_str());
  Pipe out = make_pipe();
  const pid_t pid =
      spawn(ctr_command(ctx, ctr, {"content", "ls", "--quiet"}), -1, out.write.get(), log);
  out.write.reset();
  std::string listing;
  char buffer[4096];
  for (ssize_t n; (n = ::read(out.read.get(), buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    listing.append(buffer, static_cast<std::size_t>(n));
  }
  const std::string ended = wait_exit(pid);
  check(ended.empty(), "ctr content ls: " + ended + ": " + tail_of(log));
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) {
    if (line == digest) return true;
  }
  return false;
}

// Removes the image record and its content, so that the next fetch downloads again (both
// registries serve the same digests).
void ctr_forget(Context& ctx, const std::string& ctr, const std::string& reference,
                const Image& image) {
  const std::string log = ctx.workdir + "/ctr.log";
  ::unlink(log.c_str());
  // No image record is fine (a fetch that failed early).
  wait_exit(spawn(ctr_command(ctx, ctr, {"images", "rm", "--sync", reference}), -1, -1, log));
  for (const auto& digest : {image.manifest_digest, image.config_digest, image.layer_digest}) {
    if (ctr_has_content(ctx, ctr, digest)) {
      run_ctr(ctx, ctr_command(ctx, ctr, {"content", "rm", digest}), "ctr content rm " + digest);
    }
    check(!ctr_has_content(ctx, ctr, digest), "ctr: " + digest + " still in the content store");
  }
}

// Streams `ctr content get DIGEST` through the comparison with `expected`.
void ctr_check_content(Context& ctx, const std::string& ctr, const std::string& digest,
                       std::string_view expected) {
  const std::string log = ctx.workdir + "/ctr-get.log";
  ::unlink(log.c_str());
  Pipe out = make_pipe();
  const pid_t pid =
      spawn(ctr_command(ctx, ctr, {"content", "get", digest}), -1, out.write.get(), log);
  out.write.reset();
  std::string mismatch;
  const std::uint64_t received = compare_stream(out.read.get(), expected, mismatch);
  const std::string ended = wait_exit(pid);
  check(ended.empty(), "ctr content get " + digest + ": " + ended + ": " + tail_of(log));
  check(mismatch.empty(), "ctr content " + digest + ": " + mismatch);
  check(received == expected.size(), "ctr content " + digest + ": " + std::to_string(received) +
                                         " bytes, expected " + std::to_string(expected.size()));
}

}  // namespace

void curl_pull(Context& ctx) {
  if (!have_large_blob(ctx, "curl-pull")) return;
  MappedFile file(ctx.large_path);
  for (int rep = 0; rep < ctx.settings.client_reps; ++rep) {
    for (Target* target : order_for(ctx, rep)) {
      measured(ctx, *target, "curl-pull", [&] {
        timed_curl_get(ctx, *target, "curl-pull", kClientImageRepo, ctx.large_digest, view_of(file),
                       true);
      });
    }
  }
}

void curl_range(Context& ctx) {
  if (!have_large_blob(ctx, "curl-range")) return;
  MappedFile file(ctx.large_path);
  // The same unaligned range as pull-range.
  const std::uint64_t size = std::min(ctx.settings.range_size, file.size() / 2);
  const std::uint64_t first = file.size() / 3 + 12345;
  const std::uint64_t last = first + size - 1;
  const std::string expected_range = "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                     "/" + std::to_string(file.size());
  for (int rep = 0; rep < ctx.settings.client_reps; ++rep) {
    for (Target* target : order_for(ctx, rep)) {
      measured(ctx, *target, "curl-range", [&] {
        const std::string curl = find_client("curl");
        const std::string path = blob_path(kClientImageRepo, ctx.large_digest);
        const SecretFile auth = curl_credentials(ctx, *target, path, target->name);
        auto report =
            run_curl(ctx,
                     curl_command(curl, url_of(*target, path), auth, 1,
                                  std::to_string(first) + "-" + std::to_string(last)),
                     std::string_view(file.data() + first, size), 1, 206, "range-" + target->name);
        check(report[0].content_range == expected_range, "curl Range GET: Content-Range '" +
                                                             report[0].content_range +
                                                             "', expected " + expected_range);
        ctx.recorder.value("curl-range", "throughput", target->name, size / 1e6 / report[0].seconds,
                           "MB/s", "higher");
      });
    }
  }
}

void curl_concurrent(Context& ctx) {
  const auto& s = ctx.settings;
  const std::string repo(kConcurrentRepo);
  const std::string blob = Random(kConcurrentBlobSeed).bytes(s.concurrent_blob);
  const std::string digest = sha256_digest(blob);
  const std::vector<Target*> ready = push_to_each(ctx, "curl-concurrent", repo, blob, digest);
  for (int rep = 0; rep < s.concurrent_reps; ++rep) {
    for (Target* target : order_for(ctx, rep)) {
      if (!is_ready(ready, target)) continue;
      measured(ctx, *target, "curl-concurrent", [&] {
        const std::string curl = find_client("curl");
        const std::string shell = find_client("sh");
        const std::string path = blob_path(repo, digest);
        const SecretFile auth = curl_credentials(ctx, *target, path, target->name);
        const int clients = s.concurrent_clients;
        const int rounds = s.concurrent_rounds;
        // Every curl waits behind a shell reading its stdin; closing the write ends starts
        // them together, once all processes exist.
        std::vector<Pipe> gates, outputs;
        std::vector<pid_t> pids;
        std::vector<std::string> logs;
        for (int c = 0; c < clients; ++c) {
          gates.push_back(make_pipe());
          outputs.push_back(make_pipe());
          logs.push_back(ctx.workdir + "/curl-concurrent-" + std::to_string(c) + ".log");
          ::unlink(logs.back().c_str());
          std::vector<std::string> command = {shell, "-c", "read -r go; exec \"$@\"", "sh"};
          for (auto& argument : curl_command(curl, url_of(*target, path), auth, rounds)) {
            command.push_back(std::move(argument));
          }
          pids.push_back(spawn(std::move(command), gates.back().read.get(),
                               outputs.back().write.get(), logs.back()));
          gates.back().read.reset();
          outputs.back().write.reset();
        }
        std::vector<std::string> mismatches(clients);
        std::vector<std::uint64_t> received(clients);
        Clock::time_point start;
        {
          std::vector<std::jthread> readers;
          for (int c = 0; c < clients; ++c) {
            readers.emplace_back([&, c] {
              received[c] = compare_stream(outputs[c].read.get(), blob, mismatches[c]);
            });
          }
          start = Clock::now();
          for (auto& gate : gates) gate.write.reset();
        }
        const double elapsed = seconds_since(start);
        std::vector<double> latencies;
        std::string first_error;
        for (int c = 0; c < clients; ++c) {
          const std::string ended = wait_exit(pids[c]);
          std::string other;
          auto report = curl_report(logs[c], other);
          std::string error;
          if (!ended.empty()) {
            error = "curl: " + ended + ": " + other;
          } else if (static_cast<int>(report.size()) != rounds) {
            error = "curl reported " + std::to_string(report.size()) + " transfers: " + other;
          } else if (!mismatches[c].empty()) {
            error = "curl GET: " + mismatches[c];
          } else if (received[c] != blob.size() * rounds) {
            error = "curl GET: " + std::to_string(received[c]) + " bytes, expected " +
                    std::to_string(blob.size() * rounds);
          }
          for (const auto& transfer : report) {
            if (error.empty() && (transfer.http_code != 200 || transfer.size != blob.size())) {
              error = "curl GET: status " + std::to_string(transfer.http_code) + ", " +
                      std::to_string(transfer.size) + " bytes";
            }
            latencies.push_back(transfer.seconds * 1000);
          }
          if (first_error.empty()) first_error = error;
          ::unlink(logs[c].c_str());
        }
        check(first_error.empty(), first_error);
        const double bytes = static_cast<double>(blob.size()) * clients * rounds;
        ctx.recorder.value("curl-concurrent", "throughput", target->name, bytes / 1e6 / elapsed,
                           "MB/s", "higher");
        ctx.recorder.value("curl-concurrent", "p99_latency", target->name,
                           percentile(latencies, 99), "ms", "lower");
      });
    }
  }
}

void skopeo_pull(Context& ctx) {
  if (!have_large_blob(ctx, "skopeo-pull")) return;
  MappedFile file(ctx.large_path);
  const Image image = client_image(ctx.large_digest, file.size());
  const auto ready = push_client_image(ctx, "skopeo-pull", image);
  // Any signature policy would do for a copy to a directory; this one needs no system file.
  const std::string policy = ctx.workdir + "/skopeo-policy.json";
  std::ofstream(policy) << R"({"default":[{"type":"insecureAcceptAnything"}]})" << '\n';
  for (int rep = 0; rep < ctx.settings.client_reps; ++rep) {
    for (Target* target : order_for(ctx, rep)) {
      if (!is_ready(ready, target)) continue;
      measured(ctx, *target, "skopeo-pull", [&] {
        const std::string skopeo = find_client("skopeo");
        const std::string authority = target->host + ":" + std::to_string(target->port);
        // skopeo runs the token requests itself, with the user and password of its auth file
        // (an empty one for a registry without authentication).
        std::string auths = "{}";
        if (target->auth != nullptr) {
          const std::string basic =
              basic_authorization(target->auth->login_user(), target->auth->login_password());
          auths =
              R"({")" + authority + R"(":{"auth":")" + basic.substr(basic.find(' ') + 1) + R"("}})";
        }
        const SecretFile authfile(ctx.workdir + "/skopeo-auth-" + target->name + ".json",
                                  R"({"auths":)" + auths + "}\n");
        const std::string directory = ctx.client_dir + "/skopeo-" + target->name;
        std::filesystem::remove_all(directory);
        const std::string log = ctx.workdir + "/skopeo.log";
        ::unlink(log.c_str());
        const auto start = Clock::now();
        const std::string ended =
            wait_exit(spawn({skopeo, "--policy", policy, "--command-timeout",
                             std::to_string(kClientTimeLimitSeconds) + "s", "copy", "--quiet",
                             "--src-tls-verify=false", "--src-authfile", authfile.path(),
                             "docker://" + image_reference(*target), "dir:" + directory},
                            -1, -1, log));
        const double elapsed = seconds_since(start);
        try {
          check(ended.empty(), "skopeo copy: " + ended + ": " + tail_of(log));
          check_file(directory + "/" + hex_of(image.layer_digest), view_of(file), "skopeo's layer");
          check_file(directory + "/" + hex_of(image.config_digest), image.config,
                     "skopeo's config");
          check_file(directory + "/manifest.json", image.manifest, "skopeo's manifest");
        } catch (...) {
          std::filesystem::remove_all(directory);
          throw;
        }
        std::filesystem::remove_all(directory);
        ctx.recorder.value("skopeo-pull", "throughput", target->name, file.size() / 1e6 / elapsed,
                           "MB/s", "higher");
      });
    }
  }
}

void ctr_pull(Context& ctx) {
  if (!have_large_blob(ctx, "ctr-pull")) return;
  if (ctx.containerd_socket.empty()) {
    for (Target* target : order_for(ctx, 0)) {
      ctx.recorder.failure("ctr-pull", target->name,
                           "no containerd: --containerd-socket not given (run.sh starts one)");
    }
    return;
  }
  MappedFile file(ctx.large_path);
  const Image image = client_image(ctx.large_digest, file.size());
  const auto ready = push_client_image(ctx, "ctr-pull", image);
  for (int rep = 0; rep < ctx.settings.client_reps; ++rep) {
    for (Target* target : order_for(ctx, rep)) {
      if (!is_ready(ready, target)) continue;
      measured(ctx, *target, "ctr-pull", [&] {
        const std::string ctr = find_client("ctr");
        const std::string reference = image_reference(*target);
        ctr_forget(ctx, ctr, reference, image);
        // ctr runs the token requests itself. Its only ways to a password are the command
        // line (--user USER:PASSWORD) and a prompt on a terminal: it gets the user name on
        // the command line and the password at the prompt.
        std::vector<std::string> command =
            ctr_command(ctx, ctr, {"content", "fetch", "--plain-http"});
        std::string password;
        if (target->auth != nullptr) {
          command.insert(command.end(), {"--user", target->auth->login_user()});
          password = target->auth->login_password();
        }
        command.push_back(reference);
        const auto start = Clock::now();
        const std::string ended = run_on_terminal(std::move(command), password);
        const double elapsed = seconds_since(start);
        try {
          check(ended.empty(), "ctr content fetch: " + ended);
          ctr_check_content(ctx, ctr, image.layer_digest, view_of(file));
          ctr_check_content(ctx, ctr, image.config_digest, image.config);
          ctr_check_content(ctx, ctr, image.manifest_digest, image.manifest);
        } catch (...) {
          ctr_forget(ctx, ctr, reference, image);
          throw;
        }
        ctr_forget(ctx, ctr, reference, image);
        ctx.recorder.value("ctr-pull", "throughput", target->name, file.size() / 1e6 / elapsed,
                           "MB/s", "higher");
      });
    }
  }
}

void first_pull(Context& ctx) {
  const auto& s = ctx.settings;
  const std::string repo = "bench/first";
  for (int rep = 0; rep < s.client_reps; ++rep) {
    const auto order = order_for(ctx, rep);
    for (std::size_t i = 0; i < order.size(); ++i) {
      Target& target = *order[i];
      const std::string path = ctx.workdir + "/first-" + target.name + ".bin";
      std::string digest;
      const bool pushed = prepared(ctx, target, "first-pull", [&] {
        digest = write_random_file(path, s.first_pull_size, 7000 + rep * 16 + i);
        MappedFile file(path);
        Connection connection(target.host, target.port, target.auth.get());
        warm_credentials(target, "/v2/" + repo + "/blobs/uploads/");
        push_blob(connection, target, repo, digest, Body::from_file(file.fd(), 0, file.size()));
      });
      if (pushed) {
        MappedFile file(path);
        measured(ctx, target, "first-pull", [&] {
          timed_curl_get(ctx, target, "first-pull", repo, digest, view_of(file), false);
        });
      }
      ::unlink(path.c_str());
    }
  }
}

}  // namespace berth::bench
