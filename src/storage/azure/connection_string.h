#pragma once
// Azure Storage connection strings: where the Blob service of an account is and the key that
// signs requests to it (SharedKey). The format is Azure's own, `key=value` pairs separated by
// `;`, keys case-insensitive:
//
//   DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=<base64>;EndpointSuffix=core.windows.net
//   DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=<base64>;
//       BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;
//   UseDevelopmentStorage=true            (Azurite's built-in account on 127.0.0.1:10000)
//
// BlobEndpoint wins over DefaultEndpointsProtocol + EndpointSuffix. Endpoints of the other
// services (QueueEndpoint, TableEndpoint, FileEndpoint) are allowed and ignored. Shared access
// signatures are not supported: berth signs with the account key.
//
// The account key is a secret: it is never logged and never part of an error message. Use
// describe() for logs.

#include <filesystem>
#include <string>
#include <string_view>

#include "storage/byte_store.h"

namespace berth::storage::azure {

// The environment variable that holds the connection string.
inline constexpr const char* kConnectionStringVariable = "BERTH_AZURE_STORAGE_CONNECTION_STRING";

struct ConnectionString {
  std::string account_name;
  // The decoded account key (binary), the HMAC-SHA256 key of SharedKey signatures.
  std::string account_key;
  // The Blob service endpoint without a trailing slash: "https://acct.blob.core.windows.net",
  // or with the account as the first path segment (Azurite's path-style
  // "http://127.0.0.1:10000/devstoreaccount1").
  std::string blob_endpoint;

  // For logs and error messages: account and endpoint, the key redacted.
  std::string describe() const;
};

// Parses an Azure connection string. invalid_argument naming the offending key (never its
// value when it may be the secret) when a required key is missing, a value is malformed, a
// key is unknown or given twice, or it asks for something berth does not support.
Result<ConnectionString> parse_connection_string(std::string_view text);

// The connection string from BERTH_AZURE_STORAGE_CONNECTION_STRING when it is set and not
// empty, else from `file` (its content, surrounding whitespace trimmed), parsed.
// invalid_argument when neither is given; io_error naming the file when it cannot be read.
Result<ConnectionString> load_connection_string(const std::filesystem::path& file);

}  // namespace berth::storage::azure
