#include "cli/output.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>

namespace berth::cli {
namespace json = boost::json;

namespace {

// Code points, not bytes: UTF-8 continuation bytes do not advance the column.
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Table cells are one line each.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out;
}

// The first `width` code points of `text`, the last one replaced by "…" when it is cut.
std::string truncated(const std::string& text, std::size_t width) {
  if (display_width(text) <= width) return text;
  if (width == 0) return {};
  std::size_t keep = width - 1;
  std::size_t end = 0;
  for (std::size_t points = 0; end < text.size(); ++end) {
    bool starts_point = (static_cast<unsigned char>(text[end]) & 0xC0) != 0x80;
    if (starts_point && points++ == keep) break;
  }
  return text.substr(0, end) + "…";
}

// Narrows the widest truncatable column, one code point at a time, until the row fits.
void fit_widths(std::vector<std::size_t>& width, const std::vector<std::size_t>& floor,
                const std::vector<std::size_t>& truncatable, std::size_t max_width) {
  std::size_t total = 0;
  for (std::size_t w : width) total += w;
  total += width.empty() ? 0 : 2 * (width.size() - 1);
  while (total > max_width) {
    std::size_t* widest = nullptr;
    for (std::size_t c : truncatable) {
      if (c < width.size() && width[c] > floor[c] && (!widest || width[c] > *widest)) {
        widest = &width[c];
      }
    }
    if (widest == nullptr) return;
    --*widest;
    --total;
  }
}

const std::string& human_text(const Cell& cell) {
  return cell.human.empty() ? cell.raw : cell.human;
}

void pretty(const json::value& value, std::string& out, int indent) {
  auto newline = [&](int level) {
    out += '\n';
    out.append(static_cast<std::size_t>(level) * 2, ' ');
  };
  switch (value.kind()) {
    case json::kind::object: {
      const auto& object = value.get_object();
      if (object.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& member : object) {
        if (!first) out += ',';
        first = false;
        newline(indent + 1);
        out += json::serialize(json::string(member.key()));
        out += ": ";
        pretty(member.value(), out, indent + 1);
      }
      newline(indent);
      out += '}';
      return;
    }
    case json::kind::array: {
      const auto& array = value.get_array();
      if (array.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const auto& element : array) {
        if (!first) out += ',';
        first = false;
        newline(indent + 1);
        pretty(element, out, indent + 1);
      }
      newline(indent);
      out += ']';
      return;
    }
    default:
      out += json::serialize(value);
  }
}

}  // namespace

std::optional<Format> parse_format(std::string_view name) {
  if (name == "table") return Format::kTable;
  if (name == "json") return Format::kJson;
  if (name == "tsv") return Format::kTsv;
  return std::nullopt;
}

Cell text_cell(std::string text) { return {std::move(text), {}}; }

Cell bytes_cell(std::uint64_t bytes) { return {std::to_string(bytes), human_bytes(bytes)}; }

Cell bool_cell(bool value) { return {value ? "true" : "false", {}}; }

Cell int_cell(std::int64_t value) { return {std::to_string(value), {}}; }

std::string human_bytes(std::uint64_t bytes) {
  static constexpr std::array<const char*, 6> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  // Move up while the rounded value would print as 1024.0 or more.
  while (value >= 1023.95 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string pretty_json(const json::value& value) {
  std::string out;
  pretty(value, out, 0);
  return out;
}

std::string render_table(const Table& table, std::size_t max_width) {
  const std::size_t columns = table.headers.size();
  std::vector<std::string> header(columns);
  std::vector<std::size_t> width(columns, 0);
  for (std::size_t c = 0; c < columns; ++c) {
    header[c] = upper(table.headers[c]);
    width[c] = display_width(header[c]);
  }
  std::vector<std::vector<std::string>> cells;
  cells.reserve(table.rows.size());
  for (const auto& row : table.rows) {
    auto& line = cells.emplace_back(columns);
    for (std::size_t c = 0; c < columns && c < row.size(); ++c) {
      line[c] = one_line(human_text(row[c]));
      width[c] = std::max(width[c], display_width(line[c]));
    }
  }
  std::vector<std::size_t> floor(columns);
  for (std::size_t c = 0; c < columns; ++c) {
    floor[c] = std::max(display_width(header[c]), kMinTruncatedWidth);
  }
  fit_widths(width, floor, table.truncatable, max_width);
  for (auto& line : cells) {
    for (std::size_t c = 0; c < columns; ++c) line[c] = truncated(line[c], width[c]);
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& line) {
    std::string text;
    for (std::size_t c = 0; c < columns; ++c) {
      text += line[c];
      if (c + 1 < columns) text.append(width[c] - display_width(line[c]) + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text;
    out += '\n';
  };
  emit(header);
  std::vector<std::string> rule(columns);
  for (std::size_t c = 0; c < columns; ++c) rule[c] = std::string(width[c], '-');
  emit(rule);
  for (const auto& line : cells) emit(line);
  return out;
}

std::string render_tsv(const Table& table) {
  std::string out;
  for (const auto& row : table.rows) {
    for (std::size_t c = 0; c < table.headers.size(); ++c) {
      if (c > 0) out += '\t';
      if (c >= row.size()) continue;
      for (char ch : row[c].raw) {
        switch (ch) {
          case '\t':
            out += "\\t";
            break;
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\\':
            out += "\\\\";
            break;
          default:
            out += ch;
        }
      }
    }
    out += '\n';
  }
  return out;
}

std::string render(const View& view, Format format) {
  switch (format) {
    case Format::kJson:
      return view.json.is_null() ? std::string() : pretty_json(view.json) + "\n";
    case Format::kTsv:
      return view.table.headers.empty() ? std::string() : render_tsv(view.table);
    case Format::kTable: {
      const bool table = !view.table.headers.empty() && !view.message_replaces_table;
      std::string out = table ? render_table(view.table) : std::string();
      if (!view.message.empty()) out += view.message + "\n";
      return out;
    }
  }
  return {};
}

}  // namespace berth::cli
