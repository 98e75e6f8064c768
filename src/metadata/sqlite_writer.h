#pragma once
// Internal to the SQLite backend: the group-commit writer. A write call hands its body to
// SqliteMetadataStore::write, which queues it; one caller at a time (the leader) runs all that
// is queued in one transaction on the writer connection (sqlite_writer.cc).

#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>

#include "metadata/sqlite_connection.h"

namespace berth::metadata {

// Room reserved up front for the write queue, so queueing a write rarely allocates.
inline constexpr std::size_t kInitialWriteQueue = 64;

// One write call waiting for its commit. Lives on the caller's stack; the caller blocks until
// `done`, so the leader may use it (and whatever `body` refers to) until then.
struct SqliteMetadataStore::PendingWrite {
  void* body = nullptr;
  Result<void> (*invoke)(void* body, SqliteConnection& connection) = nullptr;
  std::optional<MetadataError> error;  // written by the leader before `done`
  bool done = false;                   // guarded by writes_mutex_
};

template <class Body>
Result<void> SqliteMetadataStore::write(Body&& body) {
  using Callable = std::remove_reference_t<Body>;
  PendingWrite pending;
  pending.body = static_cast<void*>(std::addressof(body));
  pending.invoke = [](void* erased, SqliteConnection& connection) -> Result<void> {
    return (*static_cast<Callable*>(erased))(connection);
  };
  return submit_write(pending);
}

}  // namespace berth::metadata
