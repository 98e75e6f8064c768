#pragma once

// Shared helpers of the benchmark tools: digests, deterministic random bytes, /proc probes,
// timing and statistics.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace berth::bench {

// A failed check: the server gave a wrong answer or the transport failed.
struct CheckFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& message);
inline void check(bool condition, const std::string& message) {
  if (!condition) fail(message);
}

// Incremental SHA-256 on OpenSSL's EVP interface; digest() gives "sha256:<hex>".
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  std::string digest();

 private:
  void* context_;
};

std::string sha256_digest(std::string_view bytes);

// xoshiro256** seeded by splitmix64: fast, reproducible, incompressible filler bytes.
class Random {
 public:
  explicit Random(std::uint64_t seed);
  std::uint64_t next();
  void fill(char* data, std::size_t size);
  std::string bytes(std::size_t size);

 private:
  std::uint64_t s_[4];
};

// Writes `size` random bytes to `path` and returns their digest.
std::string write_random_file(const std::string& path, std::uint64_t size, std::uint64_t seed);

// A read-only mapping of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const char* data() const { return data_; }
  std::uint64_t size() const { return size_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  const char* data_ = nullptr;
  std::uint64_t size_ = 0;
};

// Server process probes. All return a negative value when the process cannot be read.
double process_cpu_seconds(pid_t pid);              // utime + stime, all threads
double process_status_mib(pid_t pid, const char* field);  // e.g. "VmRSS", "VmHWM"
bool reset_peak_rss(pid_t pid);                      // echo 5 > /proc/PID/clear_refs
double self_cpu_seconds();

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Percentile (0..100) of the samples by nearest rank; the vector is reordered.
double percentile(std::vector<double>& samples, double p);
double median(std::vector<double> values);

}  // namespace berth::bench
