#include "storage/azure/xml_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::storage::azure {
namespace {

// The shape of a List Blobs answer (with the byte order mark Azure puts first).
constexpr std::string_view kListing =
    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<EnumerationResults ServiceEndpoint=\"http://127.0.0.1:10000/devstoreaccount1\" "
    "ContainerName=\"berth\"><Prefix>blobs/</Prefix><MaxResults>2</MaxResults><Blobs>"
    "<Blob><Name>blobs/sha256/ab&amp;cd</Name><Properties>"
    "<Last-Modified>Fri, 26 Jun 2015 23:39:12 GMT</Last-Modified>"
    "<Content-Length>11</Content-Length></Properties></Blob>"
    "<Blob><Name>blobs/sha256/ef</Name><Properties><Content-Length>0</Content-Length>"
    "</Properties></Blob></Blobs><NextMarker>blobs/sha256/ef</NextMarker></EnumerationResults>";

using Seen = std::vector<std::pair<std::string, std::string>>;

Seen parse_in_pieces(std::string_view document, std::size_t piece) {
  Seen seen;
  XmlReader reader([&](std::string_view path, std::string_view text) {
    if (path.ends_with("/Name") || path.ends_with("Content-Length") ||
        path.ends_with("NextMarker")) {
      seen.emplace_back(path, text);
    }
  });
  for (std::size_t at = 0; at < document.size(); at += piece) {
    EXPECT_TRUE(reader.feed(document.substr(at, piece))) << reader.error();
  }
  EXPECT_TRUE(reader.finish()) << reader.error();
  return seen;
}

TEST(XmlReader, ReportsEachValueWithItsPathWhateverThePieces) {
  const Seen expected{
      {"EnumerationResults/Blobs/Blob/Name", "blobs/sha256/ab&cd"},
      {"EnumerationResults/Blobs/Blob/Properties/Content-Length", "11"},
      {"EnumerationResults/Blobs/Blob/Name", "blobs/sha256/ef"},
      {"EnumerationResults/Blobs/Blob/Properties/Content-Length", "0"},
      {"EnumerationResults/NextMarker", "blobs/sha256/ef"},
  };
  EXPECT_EQ(parse_in_pieces(kListing, kListing.size()), expected);
  EXPECT_EQ(parse_in_pieces(kListing, 1), expected);
  EXPECT_EQ(parse_in_pieces(kListing, 7), expected);
}

TEST(XmlReader, MalformedOrTruncatedDocumentsFail) {
  XmlReader broken([](std::string_view, std::string_view) {});
  EXPECT_FALSE(broken.feed("<a><b></a>"));
  EXPECT_FALSE(broken.error().empty());

  XmlReader truncated([](std::string_view, std::string_view) {});
  EXPECT_TRUE(truncated.feed("<BlockList><CommittedBlocks>"));
  EXPECT_FALSE(truncated.finish());
}

TEST(XmlReader, RefusesDocumentTypesAndEntities) {
  int elements = 0;
  XmlReader reader([&](std::string_view, std::string_view) { ++elements; });
  const std::string_view laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>";
  EXPECT_FALSE(reader.feed(laughs) && reader.finish());
  EXPECT_NE(reader.error().find("document type"), std::string::npos) << reader.error();
  EXPECT_EQ(elements, 0);
}

TEST(XmlReader, RefusesAnOverlongValue) {
  XmlReader reader([](std::string_view, std::string_view) {});
  std::string document = "<Name>" + std::string(70 * 1024, 'x') + "</Name>";
  EXPECT_FALSE(reader.feed(document) && reader.finish());
  EXPECT_NE(reader.error().find("longer than 64 KiB"), std::string::npos) << reader.error();
}

}  // namespace
}  // namespace berth::storage::azure
