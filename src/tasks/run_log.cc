#include "tasks/run_log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace berth::tasks {

std::string log_timestamp(std::chrono::system_clock::time_point at) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(at);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(at - seconds).count();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", seconds, millis);
}

RunLog::RunLog(Flush flush, std::chrono::milliseconds interval, Clock clock)
    : flush_(std::move(flush)), interval_(interval), clock_(std::move(clock)) {
  thread_ = std::thread([this] { flusher(); });
}

RunLog::~RunLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  flush();
}

void RunLog::line(std::string_view step, std::string_view text) {
  std::string entry = log_timestamp(clock_());
  if (!step.empty()) {
    entry += " [";
    entry += step;
    entry += "]";
  }
  entry += " ";
  entry += text;
  entry += "\n";
  std::lock_guard lock(mutex_);
  if (truncated_) return;
  if (text_.size() + entry.size() > kMaxLogBytes) {
    truncated_ = true;
    text_ += log_timestamp(clock_());
    text_ += " the log reached its limit of 16 MiB: later lines are not kept\n";
    return;
  }
  text_ += entry;
}

bool RunLog::send_pending(std::unique_lock<std::mutex>& lock) {
  if (sent_ >= text_.size()) return true;
  const std::string batch = text_.substr(sent_);
  lock.unlock();
  const bool stored = flush_ ? flush_(batch) : true;
  lock.lock();
  if (stored) sent_ += batch.size();
  return stored;
}

void RunLog::flush() {
  std::lock_guard send(send_mutex_);
  std::unique_lock lock(mutex_);
  send_pending(lock);
}

void RunLog::flusher() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    flush();
    lock.lock();
  }
}

std::string RunLog::text() const {
  std::lock_guard lock(mutex_);
  return text_;
}

std::size_t RunLog::size() const {
  std::lock_guard lock(mutex_);
  return text_.size();
}

}  // namespace berth::tasks
