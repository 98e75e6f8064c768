#include "http/request_checks.h"

#include <arpa/inet.h>

#include <string>

namespace berth::http {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// RFC 9110 section 5.6.2.
bool is_tchar(char c) {
  return is_alpha(c) || is_digit(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) !=
                                           std::string_view::npos;
}

// RFC 3986 section 2.
bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool is_sub_delim(char c) { return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A transfer-coding: a token, optionally followed by ";" parameters. The parameters are not
// read further: a coding with parameters is never the bare "chunked" the server accepts.
bool is_coding(std::string_view element) {
  std::size_t i = 0;
  while (i < element.size() && is_tchar(element[i])) ++i;
  if (i == 0) return false;
  std::string_view rest = trim_ows(element.substr(i));
  return rest.empty() || rest.front() == ';';
}

bool is_reg_name(std::string_view name) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '%') {
      if (i + 2 >= name.size() || !is_hex(name[i + 1]) || !is_hex(name[i + 2])) return false;
      i += 2;
    } else if (!is_unreserved(c) && !is_sub_delim(c)) {
      return false;
    }
  }
  return true;
}

// "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool is_ip_future(std::string_view literal) {
  if (literal.size() < 4 || (literal[0] != 'v' && literal[0] != 'V')) return false;
  std::size_t dot = literal.find('.');
  if (dot == std::string_view::npos || dot < 2 || dot + 1 == literal.size()) return false;
  for (std::size_t i = 1; i < dot; ++i) {
    if (!is_hex(literal[i])) return false;
  }
  for (std::size_t i = dot + 1; i < literal.size(); ++i) {
    char c = literal[i];
    if (!is_unreserved(c) && !is_sub_delim(c) && c != ':') return false;
  }
  return true;
}

bool is_ip_literal(std::string_view literal) {
  if (is_ip_future(literal)) return true;
  // An IPv6 address is at most 45 characters (with an embedded IPv4 address).
  if (literal.empty() || literal.size() > 45) return false;
  // Checked before inet_pton, which would stop reading at an embedded NUL.
  for (char c : literal) {
    if (!is_hex(c) && c != ':' && c != '.') return false;
  }
  std::string text(literal);
  unsigned char address[16];
  return ::inet_pton(AF_INET6, text.c_str(), address) == 1;
}

bool is_port(std::string_view port) {
  if (port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (!is_digit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

}  // namespace

TransferCoding check_transfer_encoding(std::span<const std::string_view> lines) {
  std::size_t codings = 0;
  std::size_t chunked_at = 0;
  std::size_t chunked_count = 0;
  for (std::string_view line : lines) {
    // Split on every comma, so that an empty element (",", "a,,b", a blank line) is seen.
    for (;;) {
      std::size_t comma = line.find(',');
      std::string_view element = trim_ows(line.substr(0, comma));
      if (!is_coding(element)) return TransferCoding::invalid;
      ++codings;
      if (iequals(element, "chunked")) {
        ++chunked_count;
        chunked_at = codings;
      }
      if (comma == std::string_view::npos) break;
      line.remove_prefix(comma + 1);
    }
  }
  if (chunked_count != 1 || chunked_at != codings) return TransferCoding::invalid;
  return codings == 1 ? TransferCoding::chunked : TransferCoding::unsupported;
}

bool is_valid_host(std::string_view value) {
  if (value.empty()) return true;
  std::string_view host = value;
  std::string_view rest;
  if (value.front() == '[') {
    std::size_t close = value.find(']');
    if (close == std::string_view::npos) return false;
    if (!is_ip_literal(value.substr(1, close - 1))) return false;
    host = value.substr(0, close + 1);
    rest = value.substr(close + 1);
  } else {
    std::size_t colon = value.find(':');
    if (colon != std::string_view::npos) {
      host = value.substr(0, colon);
      rest = value.substr(colon);
    }
    if (host.empty() || !is_reg_name(host)) return false;
  }
  if (rest.empty()) return true;
  return rest.front() == ':' && is_port(rest.substr(1));
}

}  // namespace berth::http
