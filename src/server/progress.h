#pragma once
// Progress of a long copy (berthd migrate) for the person watching it. On a terminal: one bar
// redrawn in place,
//   copying blobs [#########-----------]  45%  1.2 GiB / 2.7 GiB  12/40  85.0 MiB/s  ETA 0:18
// elsewhere (a log file, a pipe, a journal): a plain line every few seconds and one at the end,
//   copying blobs: 12/40, 1.2 GiB of 2.7 GiB (45%), 85.0 MiB/s, ETA 18 s
// A phase counts bytes when it has a byte total (blobs), else items (metadata rows). Work found
// already done (blobs present at the destination) counts towards the done part but not towards
// the rate, so the ETA reflects the speed of what is really copied.
//
// Used by one thread at a time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace berth::server {

// "0 B", "512 B", "1.5 KiB", "2.0 GiB": binary units, one decimal from KiB up.
std::string format_bytes(std::uint64_t bytes);
// "0:07", "12:34", "1:02:03" (a bar's ETA).
std::string format_clock(std::chrono::seconds duration);
// "7 s", "12 min 34 s", "1 h 2 min" (a log line's ETA).
std::string format_duration(std::chrono::seconds duration);

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    bool terminal = false;                                // bar in place, else plain lines
    std::chrono::milliseconds line_interval{5000};        // plain lines at most this often
    std::chrono::milliseconds redraw_interval{200};       // the bar at most this often
    std::function<Clock::time_point()> now = Clock::now;  // a fake clock in tests
  };

  Progress(std::ostream& out, Options options);

  // Starts a phase: `label` names it ("copying blobs"), the totals are what the phase will
  // have done when complete (0 bytes: the phase counts items only).
  void begin(std::string_view label, std::uint64_t total_bytes, std::uint64_t total_items);
  // `bytes` more copied (they count towards the rate).
  void copied(std::uint64_t bytes);
  // `bytes` found already done (present at the destination, or an upload resumed).
  void skipped(std::uint64_t bytes);
  // `count` more items complete.
  void items_done(std::uint64_t count = 1);
  // Ends the phase with a final line (a terminal's bar stays, completed).
  void end();
  // A line of its own (a warning, a phase's result), without breaking the bar.
  void note(std::string_view line);

  // What the status says now, as the plain line would (tests, and the final line).
  std::string status_line() const;

 private:
  void maybe_show();
  void show();
  std::string bar_line() const;
  double rate() const;  // bytes (or items) per second of real copying; 0 when unknown
  std::uint64_t done() const;
  std::uint64_t total() const;

  std::ostream& out_;
  Options options_;
  std::string label_;
  std::uint64_t total_bytes_ = 0;
  std::uint64_t total_items_ = 0;
  std::uint64_t copied_bytes_ = 0;
  std::uint64_t skipped_bytes_ = 0;
  std::uint64_t items_ = 0;
  Clock::time_point started_{};
  Clock::time_point last_shown_{};
  bool active_ = false;
  bool bar_on_screen_ = false;
};

}  // namespace berth::server
