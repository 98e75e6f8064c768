#pragma once
// Progress of a job the server runs while a verb waits for it (`gc run --wait`, `import`), on
// standard error so that standard output keeps only the verb's result (`-o json | jq` works
// while the progress shows). On a terminal it is one line rewritten in place; elsewhere (a
// pipe, a CI log) lines that do not rewrite themselves, only when the verb asks for them.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "cli/config_store.h"

namespace berth::cli {

class ProgressLine {
 public:
  ProgressLine(std::ostream& err, bool terminal) : err_(err), terminal_(terminal) {}
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine() { end(); }

  bool terminal() const { return terminal_; }

  // On a terminal: `text` replaces the line. Elsewhere: nothing.
  void redraw(std::string_view text);
  // Elsewhere: `text` as a line of its own. On a terminal: nothing (the line says it).
  void note(std::string_view text);
  // Clears the line on a terminal, so what follows starts on a clean one. Idempotent.
  void end();

 private:
  std::ostream& err_;
  bool terminal_;
  bool drawn_ = false;
};

// How often a waiting verb asks the server: once a second, or BERTH_POLL_INTERVAL_MS (1 to
// 60000; scripts and tests).
std::chrono::milliseconds poll_interval(const Environment& env);

// A transfer's progress for a terminal line: "[#####---------------]  25%  13.0 MiB/52.0 MiB
// 3.2 MiB/s  ETA 0:12". Without a total (not known yet) only the bytes done; the rate and ETA
// only with a rate (bytes a second) above zero.
std::string transfer_progress(std::uint64_t done, std::uint64_t total,
                              std::optional<double> bytes_per_second);

// "0:07", "12:34", "1:02:03".
std::string duration_text(std::chrono::seconds duration);

// The rate of a transfer from samples of its bytes done: the bytes a second between the first
// sample that moved and the latest one, nothing until there are two such.
class RateMeter {
 public:
  using Clock = std::chrono::steady_clock;
  void sample(std::uint64_t bytes_done, Clock::time_point now);
  std::optional<double> bytes_per_second() const;

 private:
  std::optional<std::pair<std::uint64_t, Clock::time_point>> first_;
  std::optional<std::pair<std::uint64_t, Clock::time_point>> last_;
};

}  // namespace berth::cli
