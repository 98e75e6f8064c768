// SharedKey signing against vectors worked out by hand from Azure's documented string-to-sign;
// the expected signatures were computed apart from this code (HMAC-SHA256 of the text below
// under Azurite's published account key). Azurite, which verifies every signature, checks the
// rest in storage_azure_test.

#include "storage/azure/shared_key.h"

#include <gtest/gtest.h>

#include <regex>

#include "storage/azure/connection_string.h"

namespace berth::storage::azure {
namespace {

std::string development_key() {
  return parse_connection_string("UseDevelopmentStorage=true")->account_key;
}

TEST(SharedKey, PutBlockStringToSignFollowsTheDocumentedOrder) {
  HeaderList query{{"comp", "block"}, {"blockid", "YmxvY2sx"}};
  HeaderList headers{{"Content-Length", "11"},
                     {"x-ms-version", "2021-08-06"},
                     {"If-Match", "\"0x8D0\""},
                     {"X-MS-Date", "Fri, 26 Jun 2015 23:39:12 GMT"},
                     {"x-ms-meta-note", "  two \t  words "},
                     {"User-Agent", "berth"}};
  RequestToSign request{.method = "PUT",
                        .encoded_path = "/devstoreaccount1/berth/uploads/abc/data",
                        .query = &query,
                        .headers = &headers};
  const std::string expected =
      "PUT\n"
      "\n"           // Content-Encoding
      "\n"           // Content-Language
      "11\n"         // Content-Length
      "\n"           // Content-MD5
      "\n"           // Content-Type
      "\n"           // Date (x-ms-date is sent instead)
      "\n"           // If-Modified-Since
      "\"0x8D0\"\n"  // If-Match
      "\n"           // If-None-Match
      "\n"           // If-Unmodified-Since
      "\n"           // Range
      "x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\n"
      "x-ms-meta-note:two words\n"
      "x-ms-version:2021-08-06\n"
      "/devstoreaccount1/devstoreaccount1/berth/uploads/abc/data\n"
      "blockid:YmxvY2sx\n"
      "comp:block";
  EXPECT_EQ(string_to_sign(request, "devstoreaccount1"), expected);
  EXPECT_EQ(shared_key_authorization(request, "devstoreaccount1", development_key()),
            "SharedKey devstoreaccount1:E8LrnAqvgB3vEgmSZsdnV1AjBX0xmF4fPAg4riFpj2o=");
}

TEST(SharedKey, ListingSortsParametersAndJoinsRepeatedOnes) {
  HeaderList query{{"restype", "container"}, {"comp", "list"},        {"prefix", "blobs/"},
                   {"maxresults", "10"},     {"include", "metadata"}, {"include", "copy"}};
  HeaderList headers{{"Content-Length", "0"},  // a zero length signs as empty
                     {"x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"},
                     {"x-ms-version", "2021-08-06"}};
  RequestToSign request{.method = "GET",
                        .encoded_path = "/devstoreaccount1/berth",
                        .query = &query,
                        .headers = &headers};
  const std::string expected =
      "GET\n\n\n\n\n\n\n\n\n\n\n\n"
      "x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\n"
      "x-ms-version:2021-08-06\n"
      "/devstoreaccount1/devstoreaccount1/berth\n"
      "comp:list\n"
      "include:copy,metadata\n"
      "maxresults:10\n"
      "prefix:blobs/\n"
      "restype:container";
  EXPECT_EQ(string_to_sign(request, "devstoreaccount1"), expected);
  EXPECT_EQ(shared_key_authorization(request, "devstoreaccount1", development_key()),
            "SharedKey devstoreaccount1:4NeFu0seii+XJ8/xFRHkSw7BAG+TUtuAgZaTECfEIGM=");
}

TEST(SharedKey, AnotherKeyOrAnotherByteChangesTheSignature) {
  HeaderList headers{{"x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"}};
  RequestToSign request{.method = "DELETE", .encoded_path = "/c/b", .headers = &headers};
  const std::string signature = shared_key_authorization(request, "acct", "key one");
  EXPECT_NE(signature, shared_key_authorization(request, "acct", "key two"));
  RequestToSign other = request;
  other.encoded_path = "/c/B";
  EXPECT_NE(signature, shared_key_authorization(other, "acct", "key one"));
}

TEST(SharedKey, HttpDateIsRfc1123InGmt) {
  const std::string date = http_date_now();
  EXPECT_TRUE(std::regex_match(
      date,
      std::regex(
          R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT)")))
      << date;
}

}  // namespace
}  // namespace berth::storage::azure
