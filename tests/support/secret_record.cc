#include "support/secret_record.h"

#include <boost/json.hpp>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace berth::testing {
namespace {

std::mutex record_mutex;

std::string decode_base64(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    auto index = kAlphabet.find(c);
    if (index == std::string_view::npos) return {};
    buffer = (buffer << 6) | static_cast<unsigned>(index);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

bool names_a_secret(std::string_view key) {
  for (std::string_view name : {"value", "secret", "password", "token", "access_token",
                                "refresh_token", "accessToken"}) {
    if (key == name) return true;
  }
  return false;
}

void walk(const boost::json::value& value) {
  if (value.is_object()) {
    for (const auto& [key, member] : value.as_object()) {
      if (member.is_string() && names_a_secret(key)) record_secret(member.as_string());
      walk(member);
    }
  } else if (value.is_array()) {
    for (const auto& item : value.as_array()) walk(item);
  }
}

}  // namespace

std::string test_artifacts_dir() {
  const char* dir = std::getenv("BERTH_TEST_ARTIFACTS");
  return dir == nullptr ? std::string() : std::string(dir);
}

void record_secret(std::string_view secret) {
  if (secret.size() < 12) return;
  std::string dir = test_artifacts_dir();
  if (dir.empty()) return;
  std::lock_guard lock(record_mutex);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir) / "secrets", ec);
  std::ofstream out(std::filesystem::path(dir) / "secrets" / (std::to_string(::getpid()) + ".txt"),
                    std::ios::app);
  out << secret << '\n';
}

void record_secrets_of_authorization(std::string_view header_value) {
  if (header_value.starts_with("Bearer ")) {
    record_secret(header_value.substr(7));
  } else if (header_value.starts_with("Basic ")) {
    std::string pair = decode_base64(header_value.substr(6));
    auto colon = pair.find(':');
    if (colon != std::string::npos) record_secret(std::string_view(pair).substr(colon + 1));
  }
}

void record_secrets_of_json(std::string_view body) {
  if (test_artifacts_dir().empty() || body.empty() || (body[0] != '{' && body[0] != '[')) return;
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (!ec) walk(value);
}

}  // namespace berth::testing
