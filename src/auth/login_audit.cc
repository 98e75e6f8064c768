#include "auth/login_audit.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace berth::auth {

LoginAudit::LoginAudit(metadata::AccessStore& store) : store_(store), worker_([this] { run(); }) {}

LoginAudit::~LoginAudit() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
  flush();
}

void LoginAudit::record(metadata::LoginEventRecord event) {
  std::lock_guard lock(mutex_);
  if (queued_.size() >= kMaxQueued) {
    queued_.erase(queued_.begin());
    ++dropped_;
  }
  queued_.push_back(std::move(event));
}

void LoginAudit::flush() {
  std::vector<metadata::LoginEventRecord> events;
  std::size_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    events.swap(queued_);
    std::swap(dropped, dropped_);
  }
  if (dropped > 0) spdlog::warn("login audit: {} events dropped, the store fell behind", dropped);
  if (!events.empty()) write(std::move(events));
}

void LoginAudit::write(std::vector<metadata::LoginEventRecord> events) {
  std::lock_guard lock(write_mutex_);
  if (auto appended = store_.append_login_events(events); !appended) {
    spdlog::error("login audit: {} events could not be written: {}", events.size(),
                  appended.error().message);
  }
}

void LoginAudit::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    flush();
    lock.lock();
  }
}

}  // namespace berth::auth
