#pragma once
// BatchWriter: records that must reach a store without a write per record on the request path
// (login attempts, pulls). Records queue in memory and a background thread hands them to the
// writer in batches at least every `interval`. The queue is bounded: when the store falls
// behind, the oldest queued records are dropped and the drop is logged. Destruction writes what
// is queued.

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace berth {

template <class Record>
class BatchWriter {
 public:
  // Writes one batch; returns why it failed, or nullopt.
  using Write = std::function<std::optional<std::string>(const std::vector<Record>&)>;

  // `what` names the records in log lines ("login audit").
  BatchWriter(std::string what, Write write, std::size_t max_queued,
              std::chrono::milliseconds interval = std::chrono::seconds(1))
      : what_(std::move(what)),
        write_(std::move(write)),
        max_queued_(max_queued),
        interval_(interval),
        worker_([this] { run(); }) {}

  ~BatchWriter() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    worker_.join();
    flush();
  }
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  void record(Record record) {
    std::lock_guard lock(mutex_);
    if (queued_.size() >= max_queued_) {
      queued_.pop_front();
      ++dropped_;
    }
    queued_.push_back(std::move(record));
  }

  // Writes everything queued so far (tests, shutdown).
  void flush() {
    std::vector<Record> records;
    std::size_t dropped = 0;
    {
      std::lock_guard lock(mutex_);
      records.assign(std::make_move_iterator(queued_.begin()),
                     std::make_move_iterator(queued_.end()));
      queued_.clear();
      std::swap(dropped, dropped_);
    }
    if (dropped > 0) spdlog::warn("{}: {} records dropped, the store fell behind", what_, dropped);
    if (records.empty()) return;
    std::lock_guard lock(write_mutex_);  // one batch at a time, in order
    if (auto failed = write_(records)) {
      spdlog::error("{}: {} records could not be written: {}", what_, records.size(), *failed);
    }
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, interval_, [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      flush();
      lock.lock();
    }
  }

  std::string what_;
  Write write_;
  std::size_t max_queued_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Record> queued_;  // guarded by mutex_
  std::size_t dropped_ = 0;    // guarded by mutex_
  bool stopping_ = false;      // guarded by mutex_
  std::mutex write_mutex_;
  std::thread worker_;  // last: starts once everything above is ready
};

}  // namespace berth
