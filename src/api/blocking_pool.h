#pragma once
// Threads for the work that blocks: fsync, atomic renames, SQLite commits, file creation.
// The event-loop threads are few (one per core); if they waited on the disk, every connection
// on them would wait too, and concurrent pushes could not overlap their syncs (nor let the
// metadata store group their commits).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

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

 private:
  boost::asio::thread_pool pool_;
};

// Runs `work` on `pool` and resumes the calling coroutine, on its own executor, with the result.
// Without a pool the work runs inline (unit tests that need no threads).
template <class Work>
boost::asio::awaitable<std::invoke_result_t<Work&>> offload(BlockingPool* pool, Work work) {
  using Value = std::invoke_result_t<Work&>;
  if (pool == nullptr) co_return work();
  if constexpr (std::is_void_v<Value>) {
    co_await boost::asio::co_spawn(
        pool->executor(), [&]() -> boost::asio::awaitable<void> { work(); co_return; },
        boost::asio::use_awaitable);
  } else {
    // Carried in an optional: co_spawn would need Value to be default-constructible.
    std::optional<Value> value;
    co_await boost::asio::co_spawn(
        pool->executor(),
        [&]() -> boost::asio::awaitable<void> {
          value.emplace(work());
          co_return;
        },
        boost::asio::use_awaitable);
    co_return std::move(*value);
  }
}

}  // namespace berth::api
