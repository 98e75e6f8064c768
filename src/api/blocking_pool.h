#pragma once
// Threads for the work that blocks: fsync, atomic renames, SQLite commits, file creation.
// The event-loop threads are few (one per core); if they waited on the disk, every connection
// on them would wait too, and concurrent pushes could not overlap their syncs (nor let the
// metadata store group their commits).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace berth::api {

class BlockingPool {
 public:
  explicit BlockingPool(unsigned threads) : pool_(threads) {}
  ~BlockingPool() { pool_.join(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }

  // The work handed to the pool (by offload()) and not finished: waiting for a thread, and
  // running on one. For the metrics; each number is exact, the pair is not one snapshot.
  struct Load {
    std::uint64_t queued = 0;
    std::uint64_t running = 0;
  };
  Load load() const {
    return {queued_.load(std::memory_order_relaxed), running_.load(std::memory_order_relaxed)};
  }

  // Counts one piece of work: queued from construction, running from start(), gone at finish()
  // or destruction (whichever comes first, so work that throws is not counted forever).
  class WorkCount {
   public:
    explicit WorkCount(BlockingPool& pool) : pool_(pool) {
      pool_.queued_.fetch_add(1, std::memory_order_relaxed);
    }
    ~WorkCount() { finish(); }
    WorkCount(const WorkCount&) = delete;
    WorkCount& operator=(const WorkCount&) = delete;
    void start() {
      if (state_ != State::queued) return;
      pool_.running_.fetch_add(1, std::memory_order_relaxed);
      pool_.queued_.fetch_sub(1, std::memory_order_relaxed);
      state_ = State::running;
    }
    void finish() {
      if (state_ == State::queued) pool_.queued_.fetch_sub(1, std::memory_order_relaxed);
      if (state_ == State::running) pool_.running_.fetch_sub(1, std::memory_order_relaxed);
      state_ = State::done;
    }

   private:
    enum class State { queued, running, done };
    BlockingPool& pool_;
    State state_ = State::queued;
  };

 private:
  boost::asio::thread_pool pool_;
  std::atomic<std::uint64_t> queued_{0};
  std::atomic<std::uint64_t> running_{0};
};

// Runs `work` on `pool` and resumes the calling coroutine, on its own executor, with the result.
// Without a pool the work runs inline (unit tests that need no threads).
template <class Work>
boost::asio::awaitable<std::invoke_result_t<Work&>> offload(BlockingPool* pool, Work work) {
  using Value = std::invoke_result_t<Work&>;
  if (pool == nullptr) co_return work();
  // Finished on the pool's thread, so the count drops before the caller resumes.
  BlockingPool::WorkCount count(*pool);
  if constexpr (std::is_void_v<Value>) {
    co_await boost::asio::co_spawn(
        pool->executor(),
        [&]() -> boost::asio::awaitable<void> {
          count.start();
          work();
          count.finish();
          co_return;
        },
        boost::asio::use_awaitable);
  } else {
    // Carried in an optional: co_spawn would need Value to be default-constructible.
    std::optional<Value> value;
    co_await boost::asio::co_spawn(
        pool->executor(),
        [&]() -> boost::asio::awaitable<void> {
          count.start();
          value.emplace(work());
          count.finish();
          co_return;
        },
        boost::asio::use_awaitable);
    co_return std::move(*value);
  }
}

}  // namespace berth::api
