#include "client/challenge.h"

#include <cctype>

namespace berth::client {
namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A cursor over the header value.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool done() const { return at_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[at_]; }
  std::size_t position() const { return at_; }
  void rewind(std::size_t position) { at_ = position; }
  void advance() { ++at_; }

  void skip_spaces() {
    while (!done() && is_space(peek())) ++at_;
  }
  // Spaces and the empty list elements "#rule" allows (", ,").
  void skip_separators() {
    while (!done() && (is_space(peek()) || peek() == ',')) ++at_;
  }
  std::string_view token() {
    std::size_t start = at_;
    while (!done() && is_token_char(peek())) ++at_;
    return text_.substr(start, at_ - start);
  }
  // After the opening quote; nullopt when the string does not end or holds a control character.
  std::optional<std::string> quoted_rest() {
    std::string value;
    while (!done()) {
      char c = text_[at_++];
      if (c == '"') return value;
      if (c == '\\') {
        if (done()) return std::nullopt;
        c = text_[at_++];
      }
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return std::nullopt;
      value += c;
    }
    return std::nullopt;
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

// A token68 ("abc==") after a scheme: token characters, '/', then '=' padding.
void skip_token68(Scanner& scanner) {
  while (!scanner.done() && (is_token_char(scanner.peek()) || scanner.peek() == '/')) {
    scanner.advance();
  }
  while (scanner.peek() == '=') scanner.advance();
}

// The parameters after a scheme, up to the next challenge or the end. False when malformed.
bool parse_params(Scanner& scanner, Challenge& challenge) {
  bool first = true;
  while (true) {
    scanner.skip_separators();
    if (scanner.done()) return true;
    std::size_t start = scanner.position();
    std::string_view name = scanner.token();
    if (name.empty()) return false;
    scanner.skip_spaces();
    if (scanner.peek() != '=') {
      // A token not followed by '=' starts the next challenge.
      scanner.rewind(start);
      return true;
    }
    scanner.advance();
    if (first && (scanner.peek() == '=' || scanner.peek() == ',' || scanner.done())) {
      // "scheme abc=" or "scheme abc==": a token68, not a parameter.
      scanner.rewind(start);
      skip_token68(scanner);
      return true;
    }
    first = false;
    scanner.skip_spaces();
    std::string value;
    if (scanner.peek() == '"') {
      scanner.advance();
      auto quoted = scanner.quoted_rest();
      if (!quoted) return false;
      value = std::move(*quoted);
    } else {
      std::string_view bare = scanner.token();
      if (bare.empty()) return false;
      value = std::string(bare);
    }
    challenge.params.insert_or_assign(lower(name), std::move(value));
    scanner.skip_spaces();
    if (!scanner.done() && scanner.peek() != ',') return false;
  }
}

}  // namespace

std::string Challenge::param(std::string_view name) const {
  auto found = params.find(std::string(name));
  return found == params.end() ? std::string() : found->second;
}

std::optional<std::vector<Challenge>> parse_challenges(std::string_view header) {
  std::vector<Challenge> challenges;
  Scanner scanner(header);
  while (true) {
    scanner.skip_separators();
    if (scanner.done()) return challenges;
    std::string_view scheme = scanner.token();
    if (scheme.empty()) return std::nullopt;
    Challenge challenge;
    challenge.scheme = lower(scheme);
    if (!scanner.done() && !is_space(scanner.peek()) && scanner.peek() != ',') return std::nullopt;
    if (!parse_params(scanner, challenge)) return std::nullopt;
    challenges.push_back(std::move(challenge));
  }
}

std::optional<std::vector<Challenge>> parse_challenges(const std::vector<std::string>& headers) {
  std::vector<Challenge> all;
  for (const auto& header : headers) {
    auto parsed = parse_challenges(header);
    if (!parsed) return std::nullopt;
    for (auto& challenge : *parsed) all.push_back(std::move(challenge));
  }
  return all;
}

}  // namespace berth::client
