// The PostgreSQL backend's connection pool and the error handling of its calls
// (postgres_connection.h).

#include "metadata/postgres/postgres_connection.h"

#include <algorithm>
#include <random>
#include <thread>

#include "metadata/postgres/postgres_schema.h"

namespace berth::metadata::postgres {
namespace {

// SQLSTATEs the store tells apart (https://www.postgresql.org/docs/current/errcodes-appendix.html).
constexpr std::string_view kSerializationFailure = "40001";
constexpr std::string_view kDeadlockDetected = "40P01";
constexpr std::string_view kUniqueViolation = "23505";
constexpr std::string_view kForeignKeyViolation = "23503";
constexpr std::string_view kQueryCanceled = "57014";  // statement_timeout
constexpr std::string_view kDiskFull = "53100";
constexpr std::string_view kCharacterNotInRepertoire = "22021";  // NUL or invalid UTF-8
constexpr std::string_view kUntranslatableCharacter = "22P05";
constexpr std::string_view kAdminShutdownClass = "57P";  // the server is going away

MetadataError error_about(Errc code, std::string_view what, std::string_view detail) {
  std::string message = "metadata database: ";
  message += what;
  message += ": ";
  message += detail;
  // libpq's messages end with a line break.
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return {code, std::move(message)};
}

// Runs one-off statements on a new connection (session settings); throws like libpqxx.
void configure_session(pqxx::connection& connection, const PoolOptions& options) {
  pqxx::nontransaction work(connection);
  work.exec(std::string("SET statement_timeout = ") + std::to_string(options.call_timeout.count()));
  work.exec("SET idle_in_transaction_session_timeout = " +
            std::to_string(options.idle_in_transaction_timeout.count()));
  // Text sent and read back is UTF-8 whatever the server's default for clients.
  work.exec("SET client_encoding = 'UTF8'");
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::open(const PoolOptions& options) {
  try {
    auto connection = std::make_unique<pqxx::connection>(options.connection_string);
    configure_session(*connection, options);
    return std::unique_ptr<Connection>(new Connection(std::move(connection)));
  } catch (const std::exception& e) {
    return error_about(Errc::database_error, "cannot connect to PostgreSQL", e.what());
  }
}

void Connection::prepare(const Statement& statement) {
  if (prepared_.insert(statement.name).second) {
    connection_->prepare(statement.name, statement.text);
  }
}

Lease::~Lease() {
  if (connection_) pool_->give_back(std::move(connection_), discarded_);
}

ConnectionPool::ConnectionPool(PoolOptions options) : options_(std::move(options)) {
  options_.max_connections = std::max<std::size_t>(options_.max_connections, 1);
  idle_.reserve(options_.max_connections);
}

Result<Lease> ConnectionPool::acquire(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
    if (open_ < options_.max_connections) break;
    if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.max_connections) {
      return MetadataError{Errc::database_error, std::string("metadata database: all ") +
                                                     std::to_string(options_.max_connections) +
                                                     " connections stayed busy for " +
                                                     std::to_string(options_.call_timeout.count()) +
                                                     " ms"};
    }
  }
  // Opened outside the lock: connecting takes a round trip or more, and must not hold up the
  // calls that only need an idle connection.
  ++open_;
  lock.unlock();
  auto opened = Connection::open(options_);
  if (!opened) {
    lock.lock();
    --open_;
    returned_.notify_one();
    return opened.error();
  }
  return Lease(this, std::move(*opened));
}

void ConnectionPool::adopt(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mutex_);
  ++open_;
  idle_.push_back(std::move(connection));
  returned_.notify_one();
}

std::size_t ConnectionPool::open_connections() {
  std::lock_guard lock(mutex_);
  return open_;
}

void ConnectionPool::give_back(std::unique_ptr<Connection> connection, bool discarded) {
  const bool keep = !discarded && connection->is_open();
  std::unique_lock lock(mutex_);
  if (keep) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  returned_.notify_one();
  lock.unlock();
  connection.reset();  // a broken one is closed outside the lock
}

Attempt attempt_failed(const std::exception& error, const char* statement, Lease& lease,
                       bool committing) {
  auto retry = [&](std::string_view why) {
    return Attempt{Attempt::Kind::retry, error_about(Errc::database_error, statement, why)};
  };
  auto done = [&](Errc code) {
    return Attempt{Attempt::Kind::done, error_about(code, statement, error.what())};
  };
  auto in_doubt = [&] {
    // The connection broke while committing: the write may or may not have happened, so it is
    // neither retried nor reported as undone.
    return Attempt{Attempt::Kind::done,
                   error_about(Errc::database_error, "commit",
                               std::string("the connection broke while committing; the change "
                                           "may or may not be stored: ") +
                                   error.what())};
  };
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
    lease.discard();
    return in_doubt();
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) {
    lease.discard();
    return committing ? in_doubt() : retry(error.what());
  }
  // libpqxx reports these two apart from its sql_error hierarchy.
  if (dynamic_cast<const pqxx::serialization_failure*>(&error) != nullptr ||
      dynamic_cast<const pqxx::deadlock_detected*>(&error) != nullptr) {
    return retry(error.what());
  }
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error);
  if (sql == nullptr) {
    if (!lease.connection().is_open()) lease.discard();
    return done(Errc::database_error);
  }
  const std::string_view state = sql->sqlstate();
  if (state == kSerializationFailure || state == kDeadlockDetected) return retry(error.what());
  if (state.substr(0, 3) == kAdminShutdownClass) {
    lease.discard();
    return committing ? in_doubt() : retry(error.what());
  }
  if (state == kUniqueViolation) return done(Errc::conflict);
  if (state == kForeignKeyViolation) return done(Errc::not_found);
  if (state == kDiskFull) return done(Errc::storage_full);
  if (state == kCharacterNotInRepertoire || state == kUntranslatableCharacter) {
    return done(Errc::invalid_argument);
  }
  if (state == kQueryCanceled) {
    return Attempt{Attempt::Kind::done,
                   error_about(Errc::database_error, statement,
                               "took longer than the call's timeout (statement_timeout)")};
  }
  return done(Errc::database_error);
}

std::chrono::milliseconds retry_pause(int attempt) {
  thread_local std::minstd_rand random(std::random_device{}());
  // 1, 2, 4 ... 64 ms at most, times a random factor in [0.5, 1.5).
  const int base = 1 << std::min(attempt - 1, 6);
  std::uniform_int_distribution<int> spread(base / 2, base + base / 2);
  return std::chrono::milliseconds(std::max(1, spread(random)));
}

Result<std::unique_ptr<Database>> Database::open(PoolOptions options) {
  if (options.connection_string.empty()) {
    return MetadataError{Errc::invalid_argument, "no PostgreSQL connection string"};
  }
  std::unique_ptr<Database> database(new Database(std::move(options)));
  auto first = Connection::open(database->pool_.options());
  if (!first) return first.error();
  if (auto migrated = migrate((*first)->raw()); !migrated) return migrated.error();
  database->pool_.adopt(std::move(*first));
  return database;
}

std::string fold_case(std::string_view text) {
  std::string folded(text);
  for (char& c : folded) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return folded;
}

pqxx::binarystring bytes(std::string_view data) {
  return pqxx::binarystring(data.empty() ? "" : data.data(), data.size());
}

std::string bytes_of(const pqxx::field& field) {
  if (field.is_null()) return {};
  return pqxx::binarystring(field).str();
}

std::string text_array(const std::vector<std::string>& items) {
  std::string text = "{";
  for (const std::string& item : items) {
    if (text.size() > 1) text += ',';
    text += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += '"';
  }
  text += '}';
  return text;
}

}  // namespace berth::metadata::postgres
