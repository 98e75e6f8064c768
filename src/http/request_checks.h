#pragma once
// Checks of the request header fields that decide how a request is framed and where it is
// addressed. Misreading them lets one request pass for another (request smuggling) or puts a
// client's text into URLs the server hands out, so they are strict. Pure functions, no I/O.

#include <span>
#include <string_view>

namespace berth::http {

enum class TransferCoding {
  chunked,      // exactly one coding, "chunked": the only one the server decodes
  unsupported,  // well-formed, ends in one "chunked", but other codings come first (501)
  invalid,      // anything else: "chunked" missing, not last, repeated; an empty or bad list (400)
};

// Judges the Transfer-Encoding field lines of a request, read as one comma-separated list
// (RFC 9110 section 5.3). `lines` is never empty when the field is present.
TransferCoding check_transfer_encoding(std::span<const std::string_view> lines);

// True for a Host field value of the form host [ ":" port ] (RFC 9112 section 3.2, RFC 3986
// section 3.2.2): a registered name or IPv4 address of unreserved, percent-encoded and
// sub-delimiter characters, or a bracketed IPv6 / IPvFuture literal; a port of up to five digits
// not over 65535. The empty value (a target without authority) is valid.
bool is_valid_host(std::string_view value);

}  // namespace berth::http
