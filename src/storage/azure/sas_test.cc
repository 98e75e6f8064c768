// Service SAS signing against vectors: the string-to-sign spelled out field by field from
// Azure's documentation, and signatures computed apart from this code for the same fields
// under Azurite's published account key (by Azurite's own SAS implementation, the one that
// checks every SAS it is sent, and by `openssl dgst -sha256 -mac HMAC`). Azurite accepting the
// URLs the driver makes is checked in storage_azure_test.

#include "storage/azure/sas.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <string>

#include "storage/azure/blob_client.h"
#include "storage/azure/connection_string.h"

namespace berth::storage::azure {
namespace {

std::string development_key() {
  return parse_connection_string("UseDevelopmentStorage=true")->account_key;
}

constexpr std::string_view kBlob =
    "blobs/sha256/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

BlobSas read_sas(std::string_view protocol) {
  return BlobSas{.account = "devstoreaccount1",
                 .container = "berth",
                 .blob = kBlob,
                 .permissions = "r",
                 .start = "2026-01-01T00:00:00Z",
                 .expiry = "2026-01-01T00:15:00Z",
                 .protocol = protocol,
                 .version = "2021-08-06"};
}

TEST(Sas, StringToSignFollowsTheDocumentedOrder) {
  std::string expected = "r\n";                 // signedPermissions
  expected += "2026-01-01T00:00:00Z\n";         // signedStart
  expected += "2026-01-01T00:15:00Z\n";         // signedExpiry
  expected += "/blob/devstoreaccount1/berth/";  // canonicalizedResource
  expected += kBlob;
  expected += "\n";
  expected += "\n";            // signedIdentifier
  expected += "\n";            // signedIP
  expected += "https,http\n";  // signedProtocol
  expected += "2021-08-06\n";  // signedVersion
  expected += "b\n";           // signedResource
  expected += "\n";            // signedSnapshotTime
  expected += "\n";            // signedEncryptionScope
  expected += "\n\n\n\n";      // rscc, rscd, rsce, rscl; rsct (empty) ends the text
  EXPECT_EQ(sas_string_to_sign(read_sas("https,http")), expected);
}

TEST(Sas, TokenCarriesTheFieldsAndTheSignatureEncoded) {
  EXPECT_EQ(sas_token(read_sas("https,http"), development_key()),
            "sv=2021-08-06&st=2026-01-01T00%3A00%3A00Z&se=2026-01-01T00%3A15%3A00Z&sr=b&sp=r"
            "&spr=https%2Chttp&sig=oG7nONA94KQxko%2BtGYJVIK3VBJHVyWOtSG1zV0lw800%3D");
}

TEST(Sas, ProtocolIsSigned) {
  // The same fields limited to https sign differently, so a URL cannot be widened to http.
  EXPECT_EQ(sas_token(read_sas("https"), development_key()),
            "sv=2021-08-06&st=2026-01-01T00%3A00%3A00Z&se=2026-01-01T00%3A15%3A00Z&sr=b&sp=r"
            "&spr=https&sig=VMRrSvagpHxcbA24jPFX0lFvtbLA82unnDcgaWxiC18%3D");
}

TEST(Sas, EverySignedFieldChangesTheSignature) {
  const std::string key = development_key();
  const std::string base = sas_token(read_sas("https"), key);
  const auto signature_of = [](const std::string& token) {
    return token.substr(token.find("&sig="));
  };
  BlobSas other_blob = read_sas("https");
  other_blob.blob = "blobs/sha256/00";
  BlobSas other_container = read_sas("https");
  other_container.container = "other";
  BlobSas other_permissions = read_sas("https");
  other_permissions.permissions = "rw";
  BlobSas later_expiry = read_sas("https");
  later_expiry.expiry = "2026-01-01T00:15:01Z";
  BlobSas earlier_start = read_sas("https");
  earlier_start.start = "2025-12-31T23:59:59Z";
  for (const BlobSas& changed :
       {other_blob, other_container, other_permissions, later_expiry, earlier_start}) {
    EXPECT_NE(signature_of(sas_token(changed, key)), signature_of(base));
  }
  // Another key signs differently too.
  EXPECT_NE(signature_of(sas_token(read_sas("https"), "another key")), signature_of(base));
}

TEST(Sas, TokenNeverContainsTheKey) {
  const std::string key = development_key();
  const std::string token = sas_token(read_sas("https"), key);
  EXPECT_EQ(token.find(key), std::string::npos);
  EXPECT_EQ(token.find("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"),
            std::string::npos);
}

TEST(Sas, TimesAreIso8601UtcRoundedDownToTheSecond) {
  using namespace std::chrono;
  const sys_seconds new_year = sys_days{year{2026} / January / 1};
  EXPECT_EQ(sas_time(new_year), "2026-01-01T00:00:00Z");
  EXPECT_EQ(sas_time(new_year + hours{13} + minutes{5} + seconds{9} + milliseconds{999}),
            "2026-01-01T13:05:09Z");
  EXPECT_EQ(sas_time(new_year - milliseconds{1}), "2025-12-31T23:59:59Z");
}

// The client's read URLs: the blob's URL at the endpoint (path-style for Azurite, host-style
// for Azure) with a read-only token; no request is made, so no server is needed.
std::chrono::system_clock::time_point at(std::string_view text) {
  std::tm utc{};
  ::strptime(std::string(text).c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::chrono::system_clock::from_time_t(::timegm(&utc));
}

TEST(Sas, ClientReadUrlOfAnHttpEndpointAllowsHttp) {
  ConnectionString account{.account_name = "devstoreaccount1",
                           .account_key = development_key(),
                           .blob_endpoint = "http://127.0.0.1:10000/devstoreaccount1"};
  auto client = BlobClient::make(account, "berth");
  ASSERT_TRUE(client);
  std::string expected = "http://127.0.0.1:10000/devstoreaccount1/berth/";
  expected += kBlob;
  expected += "?sv=2021-08-06&st=2026-01-01T00%3A00%3A00Z&se=2026-01-01T00%3A15%3A00Z&sr=b&sp=r";
  expected += "&spr=https%2Chttp&sig=oG7nONA94KQxko%2BtGYJVIK3VBJHVyWOtSG1zV0lw800%3D";
  EXPECT_EQ(
      (*client)->signed_read_url(kBlob, at("2026-01-01T00:00:00Z"), at("2026-01-01T00:15:00Z")),
      expected);
}

TEST(Sas, ClientReadUrlOfAnHttpsEndpointIsHttpsOnly) {
  ConnectionString account{.account_name = "devstoreaccount1",
                           .account_key = development_key(),
                           .blob_endpoint = "https://devstoreaccount1.blob.core.windows.net"};
  auto client = BlobClient::make(account, "berth");
  ASSERT_TRUE(client);
  std::string expected = "https://devstoreaccount1.blob.core.windows.net/berth/";
  expected += kBlob;
  expected += "?sv=2021-08-06&st=2026-01-01T00%3A00%3A00Z&se=2026-01-01T00%3A15%3A00Z&sr=b&sp=r";
  expected += "&spr=https&sig=VMRrSvagpHxcbA24jPFX0lFvtbLA82unnDcgaWxiC18%3D";
  EXPECT_EQ(
      (*client)->signed_read_url(kBlob, at("2026-01-01T00:00:00Z") + std::chrono::milliseconds(900),
                                 at("2026-01-01T00:15:00Z")),
      expected);
}

}  // namespace
}  // namespace berth::storage::azure
