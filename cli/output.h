#pragma once
// Output formats: table (aligned, for people), json (the API's JSON, pretty), tsv (for cut/awk).
//
// A command produces a View: the JSON the API answered plus a table of typed cells. Each cell
// keeps a raw text (tsv) and a human text (table), so "1.2 MiB" in the table is "1258291" in tsv.

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::cli {

enum class Format { kTable, kJson, kTsv };

std::optional<Format> parse_format(std::string_view name);

struct Cell {
  std::string raw;
  std::string human;  // empty: same as raw
};

Cell text_cell(std::string text);
Cell bytes_cell(std::uint64_t bytes);
Cell bool_cell(bool value);
Cell int_cell(std::int64_t value);

struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<Cell>> rows;
  // Columns the table format may cut (ending in "…") to fit its width; json and tsv always
  // carry the whole values.
  std::vector<std::size_t> truncatable;
};

// The width the table format fits when its truncatable columns allow.
inline constexpr std::size_t kTableWidth = 120;

struct View {
  boost::json::value json;  // null: nothing to print in json format (e.g. after a DELETE)
  Table table;              // no headers: nothing to print in table and tsv formats
  std::string message;      // table format only, after the table (confirmations)
  // The table format prints the message alone, while tsv still prints the table: for answers
  // people read as lines (a purge's "repository:tag (digest)", one a line).
  bool message_replaces_table = false;
  // What went wrong without stopping the command (the items a purge could not delete): after
  // the output, in every format, each goes to standard error as "berth: <failure>" and the
  // exit status is 1.
  std::vector<std::string> failures;
};

// The whole output, ending in a newline unless empty.
std::string render(const View& view, Format format);

// Two-space indented JSON; strings escaped as boost::json::serialize does.
std::string pretty_json(const boost::json::value& value);

// Aligned columns under an upper-case header and a rule; widths count code points. While the
// table is wider than `max_width`, the widest truncatable column loses a column, down to its
// header's width or kMinTruncatedWidth, whichever is more.
std::string render_table(const Table& table, std::size_t max_width = kTableWidth);
inline constexpr std::size_t kMinTruncatedWidth = 20;

// One line per row, fields separated by tabs; no header. Tab, newline, carriage return and
// backslash inside a field are written \t, \n, \r and \\.
std::string render_tsv(const Table& table);

// "0 B", "999 B", "1.0 KiB", "12.3 MiB", ...
std::string human_bytes(std::uint64_t bytes);

}  // namespace berth::cli
