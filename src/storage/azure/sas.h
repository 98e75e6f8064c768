#pragma once
// Service shared access signatures (SAS) for one blob: a query string that lets whoever holds
// the URL do what `sp` permits on that one blob, between `st` and `se`, without any other
// credential. Signed with the account key, as Azure documents it ("Create a service SAS",
// signed version 2020-12-06 and later): HMAC-SHA256 under the key of
//
//   signedPermissions \n signedStart \n signedExpiry \n canonicalizedResource \n
//   signedIdentifier \n signedIP \n signedProtocol \n signedVersion \n signedResource \n
//   signedSnapshotTime \n signedEncryptionScope \n rscc \n rscd \n rsce \n rscl \n rsct
//
// where canonicalizedResource is "/blob/<account>/<container>/<blob name, not encoded>" for
// any endpoint (also Azurite's path-style one), and the fields berth never sets (a stored
// access policy's identifier, an IP range, a snapshot, an encryption scope, response header
// overrides) are empty lines. The token carries sv, st, se, sr=b, sp, spr and sig, each value
// percent-encoded; the service decodes them before checking the signature.
//
// Nothing here makes a request: a SAS names a blob whether or not it exists.

#include <chrono>
#include <string>
#include <string_view>

namespace berth::storage::azure {

// The signed fields of a blob SAS (sr=b).
struct BlobSas {
  std::string_view account;
  std::string_view container;
  std::string_view blob;         // the blob's name as stored, not encoded
  std::string_view permissions;  // sp, in Azure's order: "r" (read), "rw", ...
  std::string_view start;        // st, ISO 8601 UTC to the second: "2026-01-01T00:00:00Z"
  std::string_view expiry;       // se, likewise
  std::string_view protocol;     // spr: "https", or "https,http"
  std::string_view version;      // sv: a version of 2020-12-06 or later
};

// The documented string-to-sign of `sas`.
std::string sas_string_to_sign(const BlobSas& sas);

// The SAS token (a query string without the '?'): sv, st, se, sr, sp, spr and the signature
// under `key` (the decoded account key), percent-encoded.
std::string sas_token(const BlobSas& sas, std::string_view key);

// `time` as a SAS wants it: ISO 8601 UTC to the second ("2026-01-01T00:00:00Z"), the fraction
// dropped (rounded down).
std::string sas_time(std::chrono::system_clock::time_point time);

}  // namespace berth::storage::azure
