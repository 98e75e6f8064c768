#pragma once
// A run's log while it runs: lines from every step (several at once when steps run in
// parallel), each stamped with the time and the step, kept in order in memory and appended to
// the metadata in batches (TaskStore::append_run_log), so that any node can stream it live.
// When the run ends, the whole text is what the runner stores as the log blob.
//
// Bounded: past kMaxLogBytes, lines are dropped and one note says so (a step printing without
// end cannot fill the database).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace berth::tasks {

inline constexpr std::size_t kMaxLogBytes = 16 * 1024 * 1024;

class RunLog {
 public:
  // Where batches go: returns false when they could not be stored (they are kept and sent
  // with the next batch).
  using Flush = std::function<bool(std::string_view bytes)>;
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  explicit RunLog(Flush flush, std::chrono::milliseconds interval = std::chrono::milliseconds(250),
                  Clock clock = [] { return std::chrono::system_clock::now(); });
  ~RunLog();  // flushes what is pending
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // "2026-12-03T18:10:00.123Z [step] text\n". `step` may be empty (the runner's own lines).
  void line(std::string_view step, std::string_view text);
  // Sends what is pending now (the runner calls it before the run's end is recorded).
  void flush();
  // The whole log so far (the blob stored at the end).
  std::string text() const;
  std::size_t size() const;

 private:
  void flusher();
  bool send_pending(std::unique_lock<std::mutex>& lock);

  Flush flush_;
  std::chrono::milliseconds interval_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string text_;         // guarded by mutex_
  std::size_t sent_ = 0;     // bytes of text_ the flush accepted; guarded by mutex_
  bool truncated_ = false;   // guarded by mutex_
  bool stopping_ = false;    // guarded by mutex_
  std::mutex send_mutex_;    // one flush at a time, in order
  std::thread thread_;
};

// "2026-12-03T18:10:00.123Z"
std::string log_timestamp(std::chrono::system_clock::time_point at);

}  // namespace berth::tasks
