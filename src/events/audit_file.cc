#include "events/audit_file.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <fstream>
#include <map>
#include <stdexcept>
#include <vector>

#include "events/payload.h"

namespace berth::events {
namespace {

constexpr std::size_t kBatch = 1000;

std::int64_t read_position(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::int64_t position = -1;
  if (in >> position && position >= 0) return position;
  return -1;
}

// Appends `text` and syncs it, so the position saved afterwards never runs ahead of the file.
bool append_synced(const std::filesystem::path& file, const std::string& text) {
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  bool synced = ::fdatasync(fd) == 0;
  return ::close(fd) == 0 && synced;
}

}  // namespace

AuditFile::AuditFile(metadata::EventStore& store, std::filesystem::path file,
                     RegistryName registry_name, std::chrono::milliseconds interval)
    : store_(store),
      file_(std::move(file)),
      position_file_(file_.string() + ".position"),
      registry_name_(std::move(registry_name)),
      interval_(interval) {
  if (!append_synced(file_, "")) {
    throw std::runtime_error("cannot append to the audit file " + file_.string());
  }
  position_ = read_position(position_file_);
  if (position_ < 0) {
    // A first start: from the newest event on.
    position_ = 0;
    for (;;) {
      auto page = store_.events_after(position_, kBatch);
      if (!page) throw std::runtime_error("audit file: " + page.error().message);
      if (page->empty()) break;
      position_ = page->back().sequence;
    }
    save_position(position_);
  }
  worker_ = std::thread([this] { run(); });
}

AuditFile::~AuditFile() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
  catch_up();
}

void AuditFile::catch_up() {
  std::lock_guard lock(catch_up_mutex_);
  for (;;) {
    auto page = store_.events_after(position_, kBatch);
    if (!page) {
      spdlog::warn("audit file: cannot read the event log: {}", page.error().message);
      return;
    }
    if (page->empty()) return;
    std::string lines;
    std::map<metadata::RegistryId, std::string> names;  // looked up once per batch
    for (const auto& event : *page) {
      boost::json::object entry = audit_entry(event);
      auto name = names.find(event.registry);
      if (name == names.end()) {
        name = names.emplace(event.registry, registry_name_(event.registry)).first;
      }
      entry["registry"] = name->second;
      lines += boost::json::serialize(entry);
      lines += '\n';
    }
    if (!append_synced(file_, lines)) {
      spdlog::error("audit file: cannot append to {}", file_.string());
      return;
    }
    position_ = page->back().sequence;
    save_position(position_);
  }
}

void AuditFile::save_position(std::int64_t sequence) {
  auto temporary = position_file_.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << sequence << '\n';
    if (!out) {
      spdlog::error("audit file: cannot write {}", temporary);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, position_file_, ec);
  if (ec) spdlog::error("audit file: cannot replace {}: {}", position_file_.string(), ec.message());
}

void AuditFile::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    catch_up();
    lock.lock();
  }
}

}  // namespace berth::events
