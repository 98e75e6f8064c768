// SqliteMetadataStore: the group-commit writer. Write calls queue; the first caller that finds
// no leader becomes it, takes everything queued and runs it as one transaction on the writer
// connection, each call in a savepoint of its own (when there is more than one), so one fsync
// makes the whole batch durable and one failing call does not undo the others.

#include "metadata/sqlite_writer.h"

#include <exception>
#include <mutex>
#include <string>

#include "metadata/sqlite_connection.h"

namespace berth::metadata {

Result<void> SqliteMetadataStore::submit_write(PendingWrite& write) {
  std::unique_lock lock(writes_mutex_);
  queued_writes_.push_back(&write);
  while (!write.done) {
    if (leader_active_) {
      writes_done_.wait(lock);
      continue;
    }
    // Lead: take everything queued so far (our own write included, unless an earlier leader
    // already ran it) and commit it as one transaction.
    leader_active_ = true;
    batch_.swap(queued_writes_);
    lock.unlock();
    run_batch();
    lock.lock();
    for (PendingWrite* finished : batch_) finished->done = true;
    batch_.clear();
    leader_active_ = false;
    writes_done_.notify_all();
  }
  if (write.error) return std::move(*write.error);
  return {};
}

void SqliteMetadataStore::run_batch() {
  SqliteConnection& connection = *writer_;
  auto fail_unfinished = [&](const MetadataError& error) {
    for (PendingWrite* pending : batch_) {
      if (!pending->error) pending->error = error;
    }
  };
  auto invoke = [&](PendingWrite& pending) -> Result<void> {
    try {
      return pending.invoke(pending.body, connection);
    } catch (const std::exception& e) {
      // Only allocation failure can get here; it must not leave the leader role taken.
      return MetadataError{Errc::database_error, std::string("metadata write failed: ") + e.what()};
    }
  };

  if (auto begun = connection.run(Sql::begin_immediate); !begun) {
    rollback_if_open(connection);
    fail_unfinished(begun.error());
    return;
  }
  // Alone in the batch, a write needs no savepoint: on failure the whole transaction goes.
  const bool isolate = batch_.size() > 1;
  for (PendingWrite* pending : batch_) {
    if (isolate) {
      if (auto saved = connection.run(Sql::savepoint); !saved) {
        pending->error = saved.error();
        continue;
      }
    }
    auto result = invoke(*pending);
    if (result && isolate) result = connection.run(Sql::release_savepoint);
    if (result) continue;

    pending->error = result.error();
    if (!isolate) break;
    if (sqlite3_get_autocommit(connection.db()) != 0) {
      // SQLite aborted the whole transaction (I/O error, disk full): everything done so far in
      // this batch is gone.
      // A full disk stays a full disk for the writes that shared the transaction.
      fail_unfinished(MetadataError{
          result.error().code == Errc::storage_full ? Errc::storage_full : Errc::database_error,
          "metadata database: transaction aborted by another write: " + result.error().message});
      return;
    }
    auto undone = connection.run(Sql::rollback_to_savepoint);
    if (undone) undone = connection.run(Sql::release_savepoint);
    if (!undone) {
      rollback_if_open(connection);
      fail_unfinished(undone.error());
      return;
    }
  }
  if (!isolate && batch_.front()->error) {
    rollback_if_open(connection);
    return;
  }
  if (auto committed = connection.run(Sql::commit); !committed) {
    rollback_if_open(connection);
    fail_unfinished(committed.error());
  }
}

}  // namespace berth::metadata
