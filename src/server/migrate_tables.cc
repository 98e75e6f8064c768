#include "server/migrate_tables.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

#include "oci/digest.h"

namespace berth::server {
namespace {

// Tables of the PostgreSQL schema that are not registry data: the migrations' bookkeeping and
// the migration marker.
constexpr std::string_view kSchemaVersionTable = "schema_version";
constexpr std::string_view kMarkerTable = "migrated_from";
// Tables both schemas have but the migration leaves behind, and why: upload sessions' bytes
// are not copied, so their rows would name uploads that do not exist.
constexpr std::string_view kUploadsTable = "uploads";
// The row a new PostgreSQL database starts with (postgres_schema.cc): the default registry.
constexpr std::string_view kSeededTable = "registries";

// Rows per INSERT, and the parameter text one INSERT carries at most: few round trips, bounded
// memory (a manifest's content is at most 4 MiB, twice that as hex).
constexpr std::size_t kRowsPerInsert = 500;
constexpr std::size_t kBytesPerInsert = 8 * 1024 * 1024;
constexpr std::size_t kMaxParameters = 65535;  // PostgreSQL's limit per statement

// A source busy for this long (a berthd's connections hold it the whole time) is in use.
constexpr int kSourceBusyTimeoutMs = 2000;

std::string sql_name(std::string_view identifier) {
  std::string text = "\"";
  for (char c : identifier) {
    if (c == '"') text += '"';
    text += c;
  }
  text += '"';
  return text;
}

// PostgreSQL's message without its DETAIL and CONTEXT lines: those may quote a row's values
// (sealed secrets, hashes), which have no place in a message.
std::string first_line(std::string_view message) {
  auto end = message.find('\n');
  std::string line(message.substr(0, end));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}

// ---------------------------------------------------------------------------------------------
// SQLite statements

class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, const std::string& sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
  }
  ~SqliteStatement() { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK; }
  // True with a row, false at the end; `error` set on failure.
  bool step() {
    if (rc_ != SQLITE_OK && rc_ != SQLITE_ROW) return false;
    rc_ = sqlite3_step(stmt_);
    return rc_ == SQLITE_ROW;
  }
  bool failed() const { return rc_ != SQLITE_OK && rc_ != SQLITE_ROW && rc_ != SQLITE_DONE; }
  std::string error() const { return sqlite3_errmsg(db_); }
  sqlite3_stmt* get() const { return stmt_; }

  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return data == nullptr
               ? std::string()
               : std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

MigrateError source_error(std::string_view what, std::string_view why) {
  return {MigrateErrc::copy_failed, fmt::format("source database: {}: {}", what, why)};
}

// ---------------------------------------------------------------------------------------------
// The two schemas

enum class ValueKind { integer, boolean, text, bytes, real };

std::optional<ValueKind> kind_of_postgres_type(std::string_view type) {
  if (type == "bigint" || type == "integer" || type == "smallint") return ValueKind::integer;
  if (type == "boolean") return ValueKind::boolean;
  if (type == "text" || type.starts_with("character")) return ValueKind::text;
  if (type == "bytea") return ValueKind::bytes;
  if (type == "double precision" || type == "real" || type.starts_with("numeric")) {
    return ValueKind::real;
  }
  return std::nullopt;
}

struct Column {
  std::string name;
  std::string type;  // format_type(): the cast each parameter gets
  ValueKind kind = ValueKind::text;
  char identity = '\0';  // 'a' (ALWAYS), 'd' (BY DEFAULT) or none
};

struct PostgresTable {
  std::string name;
  std::vector<Column> columns;
  bool has_user_triggers = false;
};

struct PostgresSchema {
  std::map<std::string, PostgresTable> tables;
  std::vector<std::pair<std::string, std::string>> references;  // (table, referenced table)
};

struct SqliteTable {
  std::set<std::string> columns;
  std::vector<std::string> key;  // primary key columns in key order; empty: rowid
};

bool is_bookkeeping(std::string_view table) {
  return table == kSchemaVersionTable || table == kMarkerTable;
}

PostgresSchema read_postgres_schema(pqxx::transaction_base& work) {
  PostgresSchema schema;
  const pqxx::result columns = work.exec(
      "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attidentity "
      "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
      "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
      "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY c.relname, a.attnum");
  for (const auto& row : columns) {
    const std::string table = row[0].as<std::string>();
    if (is_bookkeeping(table)) continue;
    auto& entry = schema.tables[table];
    entry.name = table;
    Column column;
    column.name = row[1].as<std::string>();
    column.type = row[2].as<std::string>();
    const std::string identity = row[3].as<std::string>();
    column.identity = identity.empty() ? '\0' : identity.front();
    entry.columns.push_back(std::move(column));
  }
  const pqxx::result references = work.exec(
      "SELECT c.relname, r.relname FROM pg_constraint k "
      "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid "
      "WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace");
  for (const auto& row : references) {
    schema.references.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
  }
  const pqxx::result triggers = work.exec(
      "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
      "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace");
  for (const auto& row : triggers) {
    auto found = schema.tables.find(row[0].as<std::string>());
    if (found != schema.tables.end()) found->second.has_user_triggers = true;
  }
  return schema;
}

MigrateResult<std::map<std::string, SqliteTable>> read_sqlite_schema(sqlite3* db) {
  std::map<std::string, SqliteTable> tables;
  SqliteStatement names(db,
                        "SELECT name FROM sqlite_schema WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
  if (!names.prepared()) return source_error("reading the schema", names.error());
  while (names.step()) tables[names.text(0)];
  if (names.failed()) return source_error("reading the schema", names.error());
  for (auto& [name, table] : tables) {
    SqliteStatement info(db, "SELECT name, pk FROM pragma_table_info(" + std::string("'") + name +
                                 "') ORDER BY pk, cid");
    if (!info.prepared()) return source_error("reading the columns of " + name, info.error());
    while (info.step()) {
      table.columns.insert(info.text(0));
      if (info.integer(1) > 0) table.key.push_back(info.text(0));
    }
    if (info.failed()) return source_error("reading the columns of " + name, info.error());
  }
  return tables;
}

// One table's copy: the PostgreSQL columns (in their order), read from SQLite by name.
struct TablePlan {
  const PostgresTable* table = nullptr;
  std::vector<std::string> order_by;  // SQLite's key columns; empty: rowid
  bool copied = true;                 // false: the table is left behind (uploads)
};

// Tables in an order where every table comes after those it references; deterministic (by
// name among tables that are ready together).
MigrateResult<std::vector<std::string>> foreign_key_order(const PostgresSchema& schema) {
  std::map<std::string, std::set<std::string>> needs;
  for (const auto& [name, table] : schema.tables) needs[name];
  for (const auto& [table, referenced] : schema.references) {
    if (table != referenced && needs.contains(table) && needs.contains(referenced)) {
      needs[table].insert(referenced);
    }
  }
  std::vector<std::string> order;
  while (!needs.empty()) {
    auto ready = std::find_if(needs.begin(), needs.end(),
                              [](const auto& entry) { return entry.second.empty(); });
    if (ready == needs.end()) {
      std::vector<std::string> left;
      for (const auto& entry : needs) left.push_back(entry.first);
      return MigrateError{MigrateErrc::schema_mismatch,
                          fmt::format("the PostgreSQL tables' foreign keys form a cycle among: {}",
                                      fmt::join(left, ", "))};
    }
    const std::string name = ready->first;
    needs.erase(ready);
    for (auto& entry : needs) entry.second.erase(name);
    order.push_back(name);
  }
  return order;
}

// The copy plan, or schema_mismatch naming every table and column that is not in both.
MigrateResult<std::vector<TablePlan>> plan_copy(const PostgresSchema& postgres,
                                                const std::map<std::string, SqliteTable>& sqlite) {
  std::vector<std::string> problems;
  for (const auto& [name, table] : sqlite) {
    if (!postgres.tables.contains(name)) problems.push_back("table " + name + " only in SQLite");
  }
  for (const auto& [name, table] : postgres.tables) {
    auto source = sqlite.find(name);
    if (source == sqlite.end()) {
      problems.push_back("table " + name + " only in PostgreSQL");
      continue;
    }
    std::set<std::string> seen;
    for (const auto& column : table.columns) {
      seen.insert(column.name);
      if (!source->second.columns.contains(column.name)) {
        problems.push_back(fmt::format("column {}.{} only in PostgreSQL", name, column.name));
      }
      if (!kind_of_postgres_type(column.type)) {
        problems.push_back(fmt::format("column {}.{} has a type migrate cannot fill ({})", name,
                                       column.name, column.type));
      }
    }
    for (const auto& column : source->second.columns) {
      if (!seen.contains(column)) {
        problems.push_back(fmt::format("column {}.{} only in SQLite", name, column));
      }
    }
  }
  if (!problems.empty()) {
    return MigrateError{
        MigrateErrc::schema_mismatch,
        fmt::format("the SQLite and PostgreSQL schemas differ: {}", fmt::join(problems, "; "))};
  }
  auto order = foreign_key_order(postgres);
  if (!order) return order.error();
  std::vector<TablePlan> plans;
  for (const auto& name : *order) {
    TablePlan plan;
    plan.table = &postgres.tables.at(name);
    plan.order_by = sqlite.at(name).key;
    plan.copied = name != kUploadsTable;
    plans.push_back(std::move(plan));
  }
  return plans;
}

PostgresTable with_kinds(PostgresTable table) {
  for (auto& column : table.columns) column.kind = *kind_of_postgres_type(column.type);
  return table;
}

// ---------------------------------------------------------------------------------------------
// Reading the source's rows

std::string select_sql(const TablePlan& plan) {
  std::vector<std::string> columns;
  for (const auto& column : plan.table->columns) columns.push_back(sql_name(column.name));
  std::vector<std::string> keys;
  for (const auto& key : plan.order_by) keys.push_back(sql_name(key));
  if (keys.empty()) keys.push_back("rowid");
  return fmt::format("SELECT {} FROM {} ORDER BY {}", fmt::join(columns, ", "),
                     sql_name(plan.table->name), fmt::join(keys, ", "));
}

MigrateResult<std::uint64_t> count_rows(sqlite3* db, const std::string& table) {
  SqliteStatement count(db, "SELECT count(*) FROM " + sql_name(table));
  if (!count.prepared() || !count.step()) return source_error("counting " + table, count.error());
  return static_cast<std::uint64_t>(count.integer(0));
}

// Calls visit(stmt) for every row of the table, in key order; visit returns a MigrateResult.
template <class Visit>
MigrateResult<void> for_each_row(sqlite3* db, const TablePlan& plan, Visit&& visit) {
  SqliteStatement rows(db, select_sql(plan));
  if (!rows.prepared()) return source_error("reading " + plan.table->name, rows.error());
  while (rows.step()) {
    if (auto visited = visit(rows.get()); !visited) return visited;
  }
  if (rows.failed()) return source_error("reading " + plan.table->name, rows.error());
  return {};
}

// The canonical form of the rows, hashed: for each value its storage class and its bytes, with
// lengths, so that no two different tables of rows hash alike.
class RowHasher {
 public:
  explicit RowHasher(const PostgresTable& table) {
    for (const auto& column : table.columns) {
      add_word(column.name.size());
      hasher_.update(column.name);
    }
  }
  void add_row(sqlite3_stmt* row, std::size_t columns) {
    for (std::size_t i = 0; i < columns; ++i) {
      const int index = static_cast<int>(i);
      const int type = sqlite3_column_type(row, index);
      const char tag = static_cast<char>('0' + type);
      hasher_.update(std::string_view(&tag, 1));
      if (type == SQLITE_INTEGER) {
        add_word(static_cast<std::uint64_t>(sqlite3_column_int64(row, index)));
      } else if (type == SQLITE_FLOAT) {
        add_word(std::bit_cast<std::uint64_t>(sqlite3_column_double(row, index)));
      } else if (type != SQLITE_NULL) {
        const auto* data = static_cast<const char*>(sqlite3_column_blob(row, index));
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(row, index));
        add_word(size);
        if (size > 0) hasher_.update(std::string_view(data, size));
      }
    }
  }
  std::string digest() const { return hasher_.digest().str(); }

 private:
  void add_word(std::uint64_t value) {
    std::array<char, 8> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
    }
    hasher_.update(std::string_view(bytes.data(), bytes.size()));
  }
  oci::Hasher hasher_;
};

// The source's fingerprint from the tables' digests: independent of the copy's order.
std::string combine(const std::map<std::string, std::string>& table_digests) {
  oci::Hasher hasher;
  for (const auto& [table, digest] : table_digests) {
    hasher.update(table);
    hasher.update(std::string_view("\n", 1));
    hasher.update(digest);
    hasher.update(std::string_view("\n", 1));
  }
  return hasher.digest().str();
}

// ---------------------------------------------------------------------------------------------
// Converting values

std::string hex_bytea(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text = "\\x";
  text.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    text += kDigits[c >> 4];
    text += kDigits[c & 0x0f];
  }
  return text;
}

std::string_view raw_text(sqlite3_stmt* row, int index) {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(row, index));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(row, index));
  return data == nullptr ? std::string_view() : std::string_view(data, size);
}

std::string_view raw_bytes(sqlite3_stmt* row, int index) {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(row, index));
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(row, index));
  return data == nullptr ? std::string_view() : std::string_view(data, size);
}

const char* storage_class_name(int type) {
  switch (type) {
    case SQLITE_INTEGER:
      return "an integer";
    case SQLITE_FLOAT:
      return "a real number";
    case SQLITE_TEXT:
      return "text";
    case SQLITE_BLOB:
      return "a blob";
    default:
      return "NULL";
  }
}

// One source value as the text parameter of its PostgreSQL column (nullopt: NULL). The
// message names the table, the column and the kind of value, never the value itself.
MigrateResult<std::optional<std::string>> convert(sqlite3_stmt* row, int index,
                                                  const PostgresTable& table,
                                                  const Column& column) {
  const int type = sqlite3_column_type(row, index);
  if (type == SQLITE_NULL) return std::optional<std::string>();
  auto refuse = [&](std::string_view why) {
    return MigrateError{
        MigrateErrc::copy_failed,
        fmt::format("table {}, column {} ({}): {}", table.name, column.name, column.type, why)};
  };
  switch (column.kind) {
    case ValueKind::integer:
      if (type != SQLITE_INTEGER) {
        return refuse(fmt::format("the source holds {}", storage_class_name(type)));
      }
      return std::optional<std::string>(std::to_string(sqlite3_column_int64(row, index)));
    case ValueKind::boolean: {
      if (type != SQLITE_INTEGER) {
        return refuse(fmt::format("the source holds {}", storage_class_name(type)));
      }
      const auto value = sqlite3_column_int64(row, index);
      if (value != 0 && value != 1) {
        return refuse(fmt::format("the source holds {}, not 0 or 1", value));
      }
      return std::optional<std::string>(value == 1 ? "true" : "false");
    }
    case ValueKind::real:
      if (type != SQLITE_FLOAT && type != SQLITE_INTEGER) {
        return refuse(fmt::format("the source holds {}", storage_class_name(type)));
      }
      if (type == SQLITE_INTEGER) {
        return std::optional<std::string>(std::to_string(sqlite3_column_int64(row, index)));
      }
      return std::optional<std::string>(fmt::format("{}", sqlite3_column_double(row, index)));
    case ValueKind::text: {
      if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
        // sqlite3_column_text renders numbers as SQLite itself would.
        return std::optional<std::string>(std::string(raw_text(row, index)));
      }
      std::string_view bytes = raw_bytes(row, index);
      if (bytes.find('\0') != std::string_view::npos) {
        return refuse("the source holds a NUL byte, which PostgreSQL text cannot hold");
      }
      return std::optional<std::string>(std::string(bytes));
    }
    case ValueKind::bytes:
      if (type != SQLITE_TEXT && type != SQLITE_BLOB) {
        return refuse(fmt::format("the source holds {}", storage_class_name(type)));
      }
      return std::optional<std::string>(hex_bytea(raw_bytes(row, index)));
  }
  return refuse("unknown column type");
}

// ---------------------------------------------------------------------------------------------
// Writing the destination's rows

// Rows of one table, sent as multi-row INSERTs with every value a text parameter cast to its
// column's type.
class BatchInsert {
 public:
  BatchInsert(pqxx::transaction_base& work, const PostgresTable& table)
      : work_(work),
        table_(table),
        rows_per_insert_(
            std::clamp<std::size_t>(kMaxParameters / table.columns.size(), 1, kRowsPerInsert)) {}

  void add(std::vector<std::optional<std::string>>& row) {
    for (auto& value : row) {
      bytes_ += value ? value->size() : 0;
      values_.push_back(std::move(value));
    }
    if (++rows_ == rows_per_insert_ || bytes_ >= kBytesPerInsert) flush();
  }

  void flush() {
    if (rows_ == 0) return;
    work_.exec_params(statement(rows_), pqxx::prepare::make_dynamic_params(values_));
    inserted_ += rows_;
    values_.clear();
    rows_ = bytes_ = 0;
  }

  std::uint64_t inserted() const { return inserted_; }

 private:
  const std::string& statement(std::size_t rows) {
    auto& cached = statements_[rows];
    if (!cached.empty()) return cached;
    std::vector<std::string> names;
    bool generated_always = false;
    for (const auto& column : table_.columns) {
      names.push_back(sql_name(column.name));
      generated_always = generated_always || column.identity == 'a';
    }
    cached =
        fmt::format("INSERT INTO {} ({}){} VALUES ", sql_name(table_.name), fmt::join(names, ", "),
                    // Ids are copied as they are, also into GENERATED ALWAYS columns.
                    generated_always ? " OVERRIDING SYSTEM VALUE" : "");
    std::size_t parameter = 0;
    for (std::size_t row = 0; row < rows; ++row) {
      cached += row == 0 ? "(" : ", (";
      for (std::size_t i = 0; i < table_.columns.size(); ++i) {
        if (i > 0) cached += ", ";
        cached += fmt::format("${}::{}", ++parameter, table_.columns[i].type);
      }
      cached += ')';
    }
    return cached;
  }

  pqxx::transaction_base& work_;
  const PostgresTable& table_;
  std::size_t rows_per_insert_;
  std::vector<std::optional<std::string>> values_;
  std::size_t rows_ = 0;
  std::size_t bytes_ = 0;
  std::uint64_t inserted_ = 0;
  std::map<std::size_t, std::string> statements_;
};

std::int64_t count_destination_rows(pqxx::transaction_base& work, std::string_view table,
                                    std::int64_t at_most) {
  return work
      .exec1(fmt::format("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {}) AS found",
                         sql_name(table), at_most))[0]
      .as<std::int64_t>();
}

DestinationState inspect(pqxx::transaction_base& work, const PostgresSchema& schema) {
  DestinationState state;
  const std::string marker_exists =
      fmt::format("SELECT to_regclass('{}') IS NOT NULL", kMarkerTable);
  if (work.exec1(marker_exists)[0].as<bool>()) {
    const pqxx::result marker =
        work.exec(fmt::format("SELECT source_fingerprint, source, migrated_at FROM {} "
                              "ORDER BY migrated_at DESC LIMIT 1",
                              sql_name(kMarkerTable)));
    if (!marker.empty()) {
      state.kind = DestinationState::Kind::migrated;
      state.fingerprint = marker[0][0].as<std::string>();
      state.migrated_from = marker[0][1].as<std::string>();
      state.migrated_at = marker[0][2].as<std::int64_t>();
      return state;
    }
  }
  constexpr std::int64_t kCountUpTo = 1000;
  std::vector<std::string> held;
  for (const auto& [name, table] : schema.tables) {
    const std::int64_t rows = count_destination_rows(work, name, kCountUpTo + 1);
    if (rows == 0) continue;
    if (name == kSeededTable && rows == 1) {
      const bool seed_only =
          work.exec1(fmt::format("SELECT count(*) FROM {} WHERE id = 1 AND name = 'default'",
                                 sql_name(name)))[0]
              .as<std::int64_t>() == 1;
      if (seed_only) continue;
    }
    held.push_back(rows > kCountUpTo
                       ? fmt::format("{} (over {} rows)", name, kCountUpTo)
                       : fmt::format("{} ({} row{})", name, rows, rows == 1 ? "" : "s"));
  }
  if (!held.empty()) {
    state.kind = DestinationState::Kind::foreign;
    state.detail = fmt::format("{}", fmt::join(held, ", "));
  }
  return state;
}

MigrateResult<std::map<std::string, std::int64_t>> sqlite_sequences(sqlite3* db) {
  std::map<std::string, std::int64_t> sequences;
  SqliteStatement exists(db,
                         "SELECT 1 FROM sqlite_schema WHERE type = 'table' "
                         "AND name = 'sqlite_sequence'");
  if (!exists.prepared()) return source_error("reading sqlite_sequence", exists.error());
  if (!exists.step()) return sequences;
  SqliteStatement rows(db, "SELECT name, seq FROM sqlite_sequence");
  if (!rows.prepared()) return source_error("reading sqlite_sequence", rows.error());
  while (rows.step()) sequences[rows.text(0)] = rows.integer(1);
  if (rows.failed()) return source_error("reading sqlite_sequence", rows.error());
  return sequences;
}

// Every identity column continues after the highest id the source ever handed out: the
// highest copied, or SQLite's AUTOINCREMENT record when rows with higher ids were deleted.
void continue_sequences(pqxx::transaction_base& work, const std::vector<TablePlan>& plans,
                        const std::map<std::string, std::int64_t>& sqlite_sequence) {
  for (const auto& plan : plans) {
    for (const auto& column : plan.table->columns) {
      if (column.identity == '\0') continue;
      std::int64_t highest =
          work.exec1(fmt::format("SELECT COALESCE(max({}), 0) FROM {}", sql_name(column.name),
                                 sql_name(plan.table->name)))[0]
              .as<std::int64_t>();
      if (auto recorded = sqlite_sequence.find(plan.table->name);
          recorded != sqlite_sequence.end()) {
        highest = std::max(highest, recorded->second);
      }
      if (highest > 0) {
        work.exec_params("SELECT setval(pg_get_serial_sequence($1, $2), $3, true)",
                         sql_name(plan.table->name), column.name, highest);
      } else {
        work.exec_params("SELECT setval(pg_get_serial_sequence($1, $2), 1, false)",
                         sql_name(plan.table->name), column.name);
      }
    }
  }
}

void set_user_triggers(pqxx::transaction_base& work, const PostgresSchema& schema, bool enabled) {
  for (const auto& [name, table] : schema.tables) {
    if (!table.has_user_triggers) continue;
    work.exec(fmt::format("ALTER TABLE {} {} TRIGGER USER", sql_name(name),
                          enabled ? "ENABLE" : "DISABLE"));
  }
}

void record_marker(pqxx::transaction_base& work, const MetadataCopyStats& stats,
                   const std::string& source_name) {
  work.exec(fmt::format(
      "CREATE TABLE IF NOT EXISTS {} ("
      "source_fingerprint text PRIMARY KEY, source text NOT NULL, tables bigint NOT NULL, "
      "rows bigint NOT NULL, migrated_at bigint NOT NULL)",
      sql_name(kMarkerTable)));
  work.exec_params(fmt::format("INSERT INTO {} VALUES ($1, $2, $3, $4, "
                               "floor(extract(epoch FROM now()))::bigint)",
                               sql_name(kMarkerTable)),
                   stats.fingerprint, source_name, stats.tables, stats.rows);
}

// The schemas read and compared, and the plan; `work` is any transaction on the destination.
struct Plan {
  PostgresSchema schema;
  std::vector<TablePlan> tables;
};

MigrateResult<std::unique_ptr<Plan>> make_plan(SqliteSource& source, pqxx::transaction_base& work) {
  auto plan = std::make_unique<Plan>();
  plan->schema = read_postgres_schema(work);
  auto sqlite = read_sqlite_schema(source.db());
  if (!sqlite) return sqlite.error();
  auto tables = plan_copy(plan->schema, *sqlite);
  if (!tables) return tables.error();
  for (auto& [name, table] : plan->schema.tables) table = with_kinds(std::move(table));
  plan->tables = std::move(*tables);
  return plan;
}

// Copies one table's rows, hashing them on the way; returns the table's digest.
MigrateResult<std::string> copy_table(SqliteSource& source, pqxx::transaction_base& work,
                                      const TablePlan& plan, Progress& progress,
                                      std::uint64_t& rows) {
  const PostgresTable& table = *plan.table;
  RowHasher hasher(table);
  BatchInsert insert(work, table);
  std::vector<std::optional<std::string>> values;
  auto copied = for_each_row(source.db(), plan, [&](sqlite3_stmt* row) -> MigrateResult<void> {
    // Hashed first: reading a number as text converts SQLite's value in place.
    hasher.add_row(row, table.columns.size());
    values.clear();
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      auto value = convert(row, static_cast<int>(i), table, table.columns[i]);
      if (!value) return value.error();
      values.push_back(std::move(*value));
    }
    insert.add(values);
    progress.items_done();
    return {};
  });
  if (!copied) return copied.error();
  insert.flush();
  const auto landed =
      count_destination_rows(work, table.name, std::numeric_limits<std::int64_t>::max());
  if (static_cast<std::uint64_t>(landed) != insert.inserted()) {
    return MigrateError{
        MigrateErrc::copy_failed,
        fmt::format("table {}: {} rows sent but {} stored", table.name, insert.inserted(), landed)};
  }
  rows += insert.inserted();
  return hasher.digest();
}

MigrateError postgres_error(std::string_view step, const std::exception& error) {
  std::string message = fmt::format("PostgreSQL: {}: {}", step, first_line(error.what()));
  if (std::string_view(error.what()).find("must be owner") != std::string_view::npos) {
    message += " (run migrate as the role that owns berth's tables: the one berthd uses)";
  }
  return {MigrateErrc::copy_failed, std::move(message)};
}

MigrateResult<MetadataCopyStats> copy_in(SqliteSource& source, pqxx::transaction_base& work,
                                         const std::string& source_name, Progress& progress,
                                         std::string& step) {
  step = "reading the schemas";
  auto plan = make_plan(source, work);
  if (!plan) return plan.error();

  step = "locking the tables";
  std::vector<std::string> names;
  for (const auto& [name, table] : (*plan)->schema.tables) names.push_back(sql_name(name));
  // Writers of other sessions (a berthd started too early) wait until the copy is done, and
  // the checks below stay true until the commit.
  work.exec(fmt::format("LOCK TABLE {} IN EXCLUSIVE MODE", fmt::join(names, ", ")));
  step = "checking that the destination is empty";
  const DestinationState state = inspect(work, (*plan)->schema);
  if (state.kind != DestinationState::Kind::fresh) {
    return MigrateError{MigrateErrc::destination_not_empty,
                        "the destination database is no longer empty: something wrote to it "
                        "while the blobs were copied"};
  }

  step = "preparing the tables";
  work.exec(fmt::format("DELETE FROM {}", sql_name(kSeededTable)));
  set_user_triggers(work, (*plan)->schema, false);
  auto sequences = sqlite_sequences(source.db());
  if (!sequences) return sequences.error();

  MetadataCopyStats stats;
  std::uint64_t total = 0;
  for (const auto& table : (*plan)->tables) {
    auto rows = count_rows(source.db(), table.table->name);
    if (!rows) return rows.error();
    if (table.copied) {
      total += *rows;
    } else {
      stats.upload_sessions_left += *rows;
    }
  }
  progress.begin("copying metadata", 0, total);
  std::map<std::string, std::string> digests;
  for (const auto& table : (*plan)->tables) {
    if (!table.copied) continue;
    step = "copying table " + table.table->name;
    auto digest = copy_table(source, work, table, progress, stats.rows);
    if (!digest) {
      progress.end();
      return digest.error();
    }
    digests[table.table->name] = std::move(*digest);
    ++stats.tables;
  }
  progress.end();

  step = "continuing the id sequences";
  continue_sequences(work, (*plan)->tables, *sequences);
  step = "enabling the triggers";
  set_user_triggers(work, (*plan)->schema, true);
  stats.fingerprint = combine(digests);
  step = "recording the migration";
  record_marker(work, stats, source_name);
  return stats;
}

}  // namespace

MigrateResult<std::unique_ptr<SqliteSource>> SqliteSource::open(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  const int opened =
      sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<SqliteSource> source(new SqliteSource(db, file));
  if (opened != SQLITE_OK) {
    return MigrateError{MigrateErrc::source_unusable,
                        fmt::format("cannot open {}: {}", file.string(),
                                    db == nullptr ? "out of memory" : sqlite3_errmsg(db))};
  }
  sqlite3_busy_timeout(db, kSourceBusyTimeoutMs);
  // Exclusive locking mode keeps the lock from the first write transaction until the connection
  // closes; in WAL mode taking it fails while any other connection has the database open.
  sqlite3_exec(db, "PRAGMA locking_mode = EXCLUSIVE", nullptr, nullptr, nullptr);
  const int locked = sqlite3_exec(db, "BEGIN EXCLUSIVE; COMMIT", nullptr, nullptr, nullptr);
  if ((locked & 0xff) == SQLITE_BUSY || (locked & 0xff) == SQLITE_LOCKED) {
    return MigrateError{MigrateErrc::source_in_use,
                        fmt::format("{} is in use by another process: stop the berthd that "
                                    "serves this data directory, then run migrate again",
                                    file.string())};
  }
  if (locked != SQLITE_OK) {
    return MigrateError{MigrateErrc::source_unusable,
                        fmt::format("cannot lock {}: {}", file.string(), sqlite3_errmsg(db))};
  }
  return source;
}

SqliteSource::~SqliteSource() { sqlite3_close_v2(db_); }

MigrateResult<std::optional<std::string>> SqliteSource::query_text(const std::string& sql) {
  SqliteStatement query(db_, sql);
  if (!query.prepared()) return source_error("reading", query.error());
  if (query.step()) return std::optional<std::string>(query.text(0));
  if (query.failed()) return source_error("reading", query.error());
  return std::optional<std::string>();
}

MigrateResult<std::string> source_fingerprint(SqliteSource& source, pqxx::connection& destination) {
  try {
    pqxx::read_transaction work(destination);
    auto plan = make_plan(source, work);
    if (!plan) return plan.error();
    std::map<std::string, std::string> digests;
    for (const auto& table : (*plan)->tables) {
      if (!table.copied) continue;
      RowHasher hasher(*table.table);
      auto hashed = for_each_row(source.db(), table, [&](sqlite3_stmt* row) {
        hasher.add_row(row, table.table->columns.size());
        return MigrateResult<void>();
      });
      if (!hashed) return hashed.error();
      digests[table.table->name] = hasher.digest();
    }
    return combine(digests);
  } catch (const std::exception& e) {
    return postgres_error("reading the schema", e);
  }
}

MigrateResult<void> check_schemas(SqliteSource& source, pqxx::connection& destination) {
  try {
    pqxx::read_transaction work(destination);
    auto plan = make_plan(source, work);
    if (!plan) return plan.error();
    return {};
  } catch (const std::exception& e) {
    return postgres_error("reading the schema", e);
  }
}

MigrateResult<DestinationState> inspect_destination(pqxx::connection& destination) {
  try {
    pqxx::read_transaction work(destination);
    return inspect(work, read_postgres_schema(work));
  } catch (const std::exception& e) {
    return postgres_error("looking at the destination", e);
  }
}

MigrateResult<MetadataCopyStats> copy_metadata(SqliteSource& source, pqxx::connection& destination,
                                               const std::string& source_name, Progress& progress) {
  std::string step = "starting the transaction";
  try {
    pqxx::work work(destination, "berth migrate");
    auto stats = copy_in(source, work, source_name, progress, step);
    if (!stats) return stats.error();  // the transaction is rolled back when `work` goes
    step = "committing";
    work.commit();
    return stats;
  } catch (const std::exception& e) {
    return postgres_error(step, e);
  }
}

}  // namespace berth::server
