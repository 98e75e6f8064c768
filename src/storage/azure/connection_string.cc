#include "storage/azure/connection_string.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

namespace berth::storage::azure {
namespace {

// Azurite's built-in account (UseDevelopmentStorage=true). The key is published by Microsoft
// for the emulator and works nowhere else.
constexpr std::string_view kDevelopmentAccount = "devstoreaccount1";
constexpr std::string_view kDevelopmentKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr std::string_view kDevelopmentBlobEndpoint = "http://127.0.0.1:10000/devstoreaccount1";
constexpr std::string_view kDefaultEndpointSuffix = "core.windows.net";

StorageError invalid(std::string message) {
  std::string text = "Azure connection string: ";
  text += message;
  return StorageError{Errc::invalid_argument, std::move(text)};
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// Strict base64 (RFC 4648 alphabet, padded): nullopt for anything else. EVP_DecodeBlock alone
// accepts whitespace and counts padding as zero bytes.
std::optional<std::string> decode_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '=') {
      if (i + 2 < text.size()) return std::nullopt;  // '=' only in the last two places
      ++padding;
    } else if (padding > 0 || !(std::isalnum(c) || c == '+' || c == '/')) {
      return std::nullopt;
    }
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(length) - padding);
  return out;
}

bool valid_account_name(std::string_view name) {
  return name.size() >= 3 && name.size() <= 24 &&
         std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::islower(c) || std::isdigit(c); });
}

bool valid_suffix(std::string_view suffix) {
  return !suffix.empty() && std::all_of(suffix.begin(), suffix.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-';
  });
}

// An http(s) URL with a host and nothing after the path. The endpoint is printed in logs, so
// a query (where a shared access signature would be) or user info is refused outright.
Result<std::string> check_endpoint(std::string_view text) {
  auto url = boost::urls::parse_uri(text);
  if (!url) return invalid("BlobEndpoint is not a URL");
  if (url->scheme() != "http" && url->scheme() != "https") {
    return invalid("BlobEndpoint must be an http or https URL");
  }
  if (url->encoded_host().empty()) return invalid("BlobEndpoint has no host");
  if (url->has_userinfo() || url->has_query() || url->has_fragment()) {
    return invalid(
        "BlobEndpoint must not carry user information, a query or a fragment (shared access "
        "signatures are not supported; berth signs with the account key)");
  }
  std::string endpoint(text);
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

// Splits `text` into its pairs, lower-cased keys. Values may contain '=' (base64 padding).
Result<std::map<std::string, std::string>> split_pairs(std::string_view text) {
  static const std::string_view kKnown[] = {"defaultendpointsprotocol",
                                            "accountname",
                                            "accountkey",
                                            "blobendpoint",
                                            "endpointsuffix",
                                            "queueendpoint",
                                            "tableendpoint",
                                            "fileendpoint",
                                            "usedevelopmentstorage",
                                            "sharedaccesssignature",
                                            "developmentstorageproxyuri"};
  std::map<std::string, std::string> pairs;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find(';'), text.size());
    std::string_view segment = trim(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
    if (segment.empty()) continue;  // a trailing or doubled ';'
    const std::size_t equals = segment.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      // Without a key there is nothing safe to name: the segment may be a key's value.
      return invalid("a part is not of the form key=value");
    }
    std::string key = lower(trim(segment.substr(0, equals)));
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      return invalid("unknown key " + std::string(trim(segment.substr(0, equals))));
    }
    if (pairs.contains(key)) {
      return invalid("key " + std::string(trim(segment.substr(0, equals))) + " is given twice");
    }
    pairs.emplace(std::move(key), std::string(trim(segment.substr(equals + 1))));
  }
  return pairs;
}

Result<ConnectionString> development_storage(const std::map<std::string, std::string>& pairs) {
  if (lower(pairs.at("usedevelopmentstorage")) != "true") {
    return invalid("UseDevelopmentStorage must be true when given");
  }
  if (pairs.size() != 1) {
    return invalid("UseDevelopmentStorage=true takes no other keys");
  }
  ConnectionString result;
  result.account_name = kDevelopmentAccount;
  result.account_key = *decode_base64(kDevelopmentKey);
  result.blob_endpoint = kDevelopmentBlobEndpoint;
  return result;
}

}  // namespace

std::string ConnectionString::describe() const {
  std::string text = "AccountName=";
  text += account_name;
  text += ";AccountKey=(redacted);BlobEndpoint=";
  text += blob_endpoint;
  return text;
}

Result<ConnectionString> parse_connection_string(std::string_view text) {
  auto split = split_pairs(text);
  if (!split) return split.error();
  const auto& pairs = *split;
  auto get = [&pairs](const char* key) -> std::optional<std::string> {
    auto it = pairs.find(key);
    if (it == pairs.end()) return std::nullopt;
    return it->second;
  };

  if (pairs.empty()) return invalid("it is empty");
  if (pairs.contains("usedevelopmentstorage")) return development_storage(pairs);
  if (pairs.contains("sharedaccesssignature")) {
    return invalid("SharedAccessSignature is not supported; give AccountKey instead");
  }
  if (pairs.contains("developmentstorageproxyuri")) {
    return invalid("DevelopmentStorageProxyUri is not supported");
  }

  ConnectionString result;
  auto name = get("accountname");
  if (!name || name->empty()) return invalid("AccountName is missing");
  if (!valid_account_name(*name)) {
    return invalid("AccountName must be 3 to 24 lower-case letters and digits");
  }
  result.account_name = *name;

  auto key = get("accountkey");
  if (!key || key->empty()) return invalid("AccountKey is missing");
  auto decoded = decode_base64(*key);
  if (!decoded) return invalid("AccountKey is not valid base64");
  result.account_key = std::move(*decoded);

  std::string protocol = lower(get("defaultendpointsprotocol").value_or("https"));
  if (protocol != "https" && protocol != "http") {
    return invalid("DefaultEndpointsProtocol must be http or https");
  }
  if (auto endpoint = get("blobendpoint")) {
    auto checked = check_endpoint(*endpoint);
    if (!checked) return checked.error();
    result.blob_endpoint = std::move(*checked);
  } else {
    std::string suffix = get("endpointsuffix").value_or(std::string(kDefaultEndpointSuffix));
    if (!valid_suffix(suffix)) return invalid("EndpointSuffix is not a domain name");
    result.blob_endpoint = protocol;
    result.blob_endpoint += "://";
    result.blob_endpoint += result.account_name;
    result.blob_endpoint += ".blob.";
    result.blob_endpoint += suffix;
  }
  return result;
}

Result<ConnectionString> load_connection_string(const std::filesystem::path& file) {
  if (const char* text = std::getenv(kConnectionStringVariable); text != nullptr && *text != '\0') {
    return parse_connection_string(text);
  }
  if (file.empty()) {
    std::string message = "no Azure connection string: set ";
    message += kConnectionStringVariable;
    message += " or name a file that holds one";
    return StorageError{Errc::invalid_argument, std::move(message)};
  }
  std::ifstream in(file);
  std::stringstream content;
  if (in.is_open()) content << in.rdbuf();
  if (!in.is_open() || in.bad()) {
    std::string message = "cannot read the Azure connection string file ";
    message += file.string();
    return StorageError{Errc::io_error, std::move(message)};
  }
  return parse_connection_string(trim(content.str()));
}

}  // namespace berth::storage::azure
