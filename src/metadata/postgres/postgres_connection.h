#pragma once
// The PostgreSQL backend's connections: a bounded, thread-safe pool over libpqxx, and the two
// ways the store runs its SQL on it. Internal to the backend.
//
// - Database::write(body) runs body(Transaction&) in one SERIALIZABLE transaction and commits
//   it. SERIALIZABLE makes concurrent writers, on this node or on any other node of the
//   deployment, behave as if they had run one after the other, as SQLite's single writer does:
//   every check a write makes (a count against a limit, "no manifest references this link",
//   "no other repository of the registry links this blob") still holds when it commits. When
//   PostgreSQL cannot promise that, it aborts one of the transactions with a serialization
//   failure (40001) or a deadlock (40P01), and write() runs the body again from the start, on
//   a fresh snapshot, with a growing randomised pause between attempts. A body must therefore
//   start from scratch on every call (reset what it collects) and have no effect outside the
//   database.
// - Database::read(body) runs body(Transaction&) outside a transaction (autocommit): each
//   statement sees one consistent snapshot, and a read never waits for or aborts a writer.
//
// Every call has a deadline (PoolOptions::call_timeout): waiting for a free connection and
// retrying stop at it, and each statement is bounded by statement_timeout on the server. A
// connection that broke (the server restarted, the network dropped) is closed and replaced by
// a new one, and the call is tried again; a commit whose outcome the broken connection left
// unknown is reported, never retried.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "metadata/metadata_store.h"

// A parameter libpqxx 6.4 does not know how to pass: a string_view (copied, like every text
// parameter). Optional values (SQL NULL when empty) it passes itself.
namespace pqxx {
template <>
struct string_traits<std::string_view> {
  static constexpr const char* name() noexcept { return "std::string_view"; }
  static constexpr bool has_null() noexcept { return false; }
  static bool is_null(std::string_view) { return false; }
  [[noreturn]] static std::string_view null() { internal::throw_null_conversion(name()); }
  static std::string to_string(std::string_view value) { return std::string(value); }
};
}  // namespace pqxx

namespace berth::metadata::postgres {

using Clock = std::chrono::steady_clock;

// One SQL statement of the store: a name (unique, also naming it in error messages) and its
// text with $1, $2... parameters. Prepared once per connection, on first use.
struct Statement {
  const char* name;
  const char* text;
};

struct PoolOptions {
  std::string connection_string;  // libpq's keyword=value or URI form; may hold a password
  std::size_t max_connections = 16;
  // The deadline of every store call: waiting for a connection, retries and each statement.
  std::chrono::milliseconds call_timeout{30'000};
  // A node that stops mid-transaction (hung, partitioned) holds its locks until the server ends
  // its session: this bounds how long other nodes wait for them.
  std::chrono::milliseconds idle_in_transaction_timeout{60'000};
};

// One libpqxx connection with the statements registered on it.
class Connection {
 public:
  // database_error naming why the server could not be reached; never the connection string.
  static Result<std::unique_ptr<Connection>> open(const PoolOptions& options);

  pqxx::connection& raw() { return *connection_; }
  // Registers `statement` with the connection (libpqxx prepares it when first executed).
  void prepare(const Statement& statement);
  bool is_open() const { return connection_->is_open(); }

 private:
  explicit Connection(std::unique_ptr<pqxx::connection> connection)
      : connection_(std::move(connection)) {}

  std::unique_ptr<pqxx::connection> connection_;
  std::unordered_set<std::string_view> prepared_;
};

class ConnectionPool;

// A connection on loan from the pool; given back when destroyed, or closed when discarded.
class Lease {
 public:
  Lease(ConnectionPool* pool, std::unique_ptr<Connection> connection)
      : pool_(pool), connection_(std::move(connection)) {}
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();

  Connection& connection() { return *connection_; }
  // The connection broke: it is closed instead of going back to the pool.
  void discard() { discarded_ = true; }

 private:
  ConnectionPool* pool_;
  std::unique_ptr<Connection> connection_;
  bool discarded_ = false;
};

// At most max_connections connections, opened when needed and reused; thread-safe.
class ConnectionPool {
 public:
  explicit ConnectionPool(PoolOptions options);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  const PoolOptions& options() const { return options_; }

  // A connection: an idle one, a new one while fewer than max_connections are open, else the
  // first one given back before `deadline` (database_error after it).
  Result<Lease> acquire(Clock::time_point deadline);
  // Hands an already open connection to the pool (the one the store migrated with).
  void adopt(std::unique_ptr<Connection> connection);

  // Connections open now (idle and leased), for tests.
  std::size_t open_connections();

 private:
  friend class Lease;
  void give_back(std::unique_ptr<Connection> connection, bool discarded);

  PoolOptions options_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  std::size_t open_ = 0;                           // idle + leased + being opened; mutex_
};

// What a store body runs its statements through: a transaction (write) or autocommit (read).
class Transaction {
 public:
  // `current` names the statement running, for the error message should it fail.
  Transaction(pqxx::transaction_base& work, Connection& connection, const char*& current)
      : work_(work), connection_(connection), current_(current) {}

  template <class... Args>
  pqxx::result exec(const Statement& statement, Args&&... args) {
    current_ = statement.name;
    connection_.prepare(statement);
    return work_.exec_prepared(statement.name, std::forward<Args>(args)...);
  }

 private:
  pqxx::transaction_base& work_;
  Connection& connection_;
  const char*& current_;
};

// What one attempt of a call came to.
struct Attempt {
  enum class Kind { done, retry };
  Kind kind = Kind::done;
  Result<void> result;
};

// Turns what libpqxx threw into the attempt's outcome: retry for serialization failures,
// deadlocks and broken connections (which `lease` then discards), else the MetadataError.
Attempt attempt_failed(const std::exception& error, const char* statement, Lease& lease,
                       bool committing);

// The pause before attempt `attempt` (1-based) of a call retried after a conflict: randomised,
// growing, never past `deadline`.
std::chrono::milliseconds retry_pause(int attempt);

class Database {
 public:
  // Opens the pool's first connection and brings the schema up to date (postgres_schema.h).
  static Result<std::unique_ptr<Database>> open(PoolOptions options);

  // See the top of this file. `body` is `Result<void>(Transaction&)`.
  template <class Body>
  Result<void> write(Body&& body) {
    return run(body, true);
  }
  template <class Body>
  Result<void> read(Body&& body) {
    return run(body, false);
  }

  ConnectionPool& pool() { return pool_; }

 private:
  static constexpr int kMaxAttempts = 50;

  explicit Database(PoolOptions options) : pool_(std::move(options)) {}

  template <class Body>
  Attempt attempt(Body& body, Lease& lease, bool writing) {
    const char* statement = "starting the transaction";
    bool committing = false;
    try {
      if (writing) {
        pqxx::transaction<pqxx::serializable> work(lease.connection().raw());
        Transaction transaction(work, lease.connection(), statement);
        Result<void> result = body(transaction);
        if (!result) {
          work.abort();
          return {Attempt::Kind::done, std::move(result)};
        }
        statement = "commit";
        committing = true;
        work.commit();
        return {Attempt::Kind::done, {}};
      }
      pqxx::nontransaction work(lease.connection().raw());
      Transaction transaction(work, lease.connection(), statement);
      return {Attempt::Kind::done, body(transaction)};
    } catch (const std::exception& error) {
      return attempt_failed(error, statement, lease, committing);
    }
  }

  template <class Body>
  Result<void> run(Body& body, bool writing) {
    const Clock::time_point deadline = Clock::now() + pool_.options().call_timeout;
    Attempt last;
    for (int number = 1; number <= kMaxAttempts; ++number) {
      auto lease = pool_.acquire(deadline);
      if (!lease) return lease.error();
      last = attempt(body, *lease, writing);
      if (last.kind == Attempt::Kind::done) return std::move(last.result);
      const auto pause = retry_pause(number);
      if (Clock::now() + pause >= deadline) break;
      std::this_thread::sleep_for(pause);
    }
    return MetadataError{
        Errc::database_error,
        "metadata database: gave up after conflicting with concurrent writers: " +
            (last.result ? std::string("no attempt ran") : last.result.error().message)};
  }

  ConnectionPool pool_;
};

// --- helpers the store's parts share ---

// `text` with ASCII letters lower-cased, as lower() under the "C" collation and SQLite's NOCASE
// fold them: the key of the names unique ignoring case.
std::string fold_case(std::string_view text);

// A bytea parameter.
pqxx::binarystring bytes(std::string_view data);
// A bytea column read back, byte for byte.
std::string bytes_of(const pqxx::field& field);
// A text[] parameter ($n::text[]) holding `items`.
std::string text_array(const std::vector<std::string>& items);

}  // namespace berth::metadata::postgres
