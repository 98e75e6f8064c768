#include "oci/unique_key_json.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/value_stack.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/system_error.hpp>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace berth::oci {
namespace {

namespace json = boost::json;

// The keys of the objects still open on the way down the document, so each object's keys can
// be compared when it closes. Keys are stored back to back in one buffer and an object's keys
// are dropped when it closes, so memory stays below the size of the input plus a few words a
// key.
class OpenObjectKeys {
 public:
  void add_key_part(std::string_view part) { bytes_.append(part); }

  void end_key(std::string_view last_part) {
    bytes_.append(last_part);
    keys_.push_back({key_start_, bytes_.size() - key_start_});
    key_start_ = bytes_.size();
  }

  void begin_object() { object_starts_.push_back(keys_.size()); }

  // Closes the innermost object; returns one of its keys that it has more than once.
  std::optional<std::string> end_object() {
    auto begin = keys_.begin() + std::ptrdiff_t(object_starts_.back());
    object_starts_.pop_back();
    // The object's keys are the newest in the buffer: the keys of objects nested in it were
    // dropped when those closed.
    std::size_t start = begin == keys_.end() ? key_start_ : begin->offset;
    std::sort(begin, keys_.end(),
              [this](const Key& a, const Key& b) { return text(a) < text(b); });
    auto repeated = std::adjacent_find(
        begin, keys_.end(), [this](const Key& a, const Key& b) { return text(a) == text(b); });
    std::optional<std::string> duplicate;
    if (repeated != keys_.end()) duplicate = std::string(text(*repeated));
    keys_.erase(begin, keys_.end());
    bytes_.resize(start);
    key_start_ = start;
    return duplicate;
  }

 private:
  struct Key {
    std::size_t offset;
    std::size_t size;
  };

  std::string_view text(const Key& key) const {
    return std::string_view(bytes_).substr(key.offset, key.size);
  }

  std::string bytes_;
  std::size_t key_start_ = 0;
  std::vector<Key> keys_;
  std::vector<std::size_t> object_starts_;
};

// The handler boost::json::parser uses (build values on a value_stack), plus the key check.
// basic_parser hands keys over already unescaped, in one or more parts.
class UniqueKeyHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  explicit UniqueKeyHandler(json::storage_ptr scratch) : stack_(std::move(scratch)) {}

  json::value_stack& stack() { return stack_; }
  const std::optional<std::string>& duplicate_key() const { return duplicate_key_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }

  bool on_object_begin(json::error_code&) {
    keys_.begin_object();
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code& ec) {
    duplicate_key_ = keys_.end_object();
    if (duplicate_key_) {
      ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
      return false;
    }
    stack_.push_object(n);
    return true;
  }

  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    stack_.push_array(n);
    return true;
  }

  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    keys_.add_key_part(s);
    stack_.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    keys_.end_key(s);
    stack_.push_key(s);
    return true;
  }

  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    stack_.push_string(s);
    return true;
  }

  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack_.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack_.push_null();
    return true;
  }

  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  json::value_stack stack_;
  OpenObjectKeys keys_;
  std::optional<std::string> duplicate_key_;
};

}  // namespace

void throw_exception_from_error(const JsonParseError& error, const boost::source_location&) {
  throw boost::system::system_error(error.code);
}

Result<json::value, JsonParseError> parse_json_with_unique_keys(std::string_view text,
                                                                const json::parse_options& options,
                                                                json::storage_ptr values,
                                                                json::storage_ptr scratch) {
  json::basic_parser<UniqueKeyHandler> parser(options, std::move(scratch));
  parser.handler().stack().reset(std::move(values));
  json::error_code ec;
  std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && consumed < text.size()) ec = json::error::extra_data;
  if (ec) return JsonParseError{ec, consumed, parser.handler().duplicate_key()};
  return parser.handler().stack().release();
}

}  // namespace berth::oci
