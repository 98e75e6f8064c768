#include "storage/azure/connection_string.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <optional>
#include <string>

#include "common/temp_dir.h"

namespace berth::storage::azure {
namespace {

// A made-up key (base64 of "not a real key, 32 bytes long!!!").
constexpr const char* kKey = "bm90IGEgcmVhbCBrZXksIDMyIGJ5dGVzIGxvbmchISE=";

std::string with_key(std::string_view before, std::string_view after = "") {
  std::string text(before);
  text += "AccountKey=";
  text += kKey;
  text += after;
  return text;
}

// The error message of parsing `text`, which must fail with invalid_argument.
std::string rejection(std::string_view text) {
  auto parsed = parse_connection_string(text);
  EXPECT_FALSE(parsed) << text;
  if (parsed) return {};
  EXPECT_EQ(parsed.error().code, Errc::invalid_argument);
  EXPECT_EQ(parsed.error().message.find(kKey), std::string::npos) << "the key leaked";
  return parsed.error().message;
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    set(value);
  }
  ~ScopedEnv() { set(old_); }

 private:
  void set(const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name_, value->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ConnectionString, AccountAndSuffixMakeTheEndpoint) {
  auto parsed =
      parse_connection_string(with_key("DefaultEndpointsProtocol=https;AccountName=berthstore;",
                                       ";EndpointSuffix=core.windows.net"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->account_name, "berthstore");
  EXPECT_EQ(parsed->account_key, "not a real key, 32 bytes long!!!");
  EXPECT_EQ(parsed->blob_endpoint, "https://berthstore.blob.core.windows.net");
}

TEST(ConnectionString, DefaultsToHttpsAndThePublicCloud) {
  auto parsed = parse_connection_string(with_key("AccountName=berthstore;"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->blob_endpoint, "https://berthstore.blob.core.windows.net");

  auto sovereign =
      parse_connection_string(with_key("DefaultEndpointsProtocol=http;AccountName=berthstore;",
                                       ";EndpointSuffix=core.chinacloudapi.cn"));
  ASSERT_TRUE(sovereign) << sovereign.error().message;
  EXPECT_EQ(sovereign->blob_endpoint, "http://berthstore.blob.core.chinacloudapi.cn");
}

TEST(ConnectionString, BlobEndpointWinsAndLosesItsTrailingSlash) {
  auto parsed = parse_connection_string(
      with_key("DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;",
               ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;QueueEndpoint=http://"
               "127.0.0.1:10001/devstoreaccount1;"));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");
}

TEST(ConnectionString, KeysAreCaseInsensitiveAndSpacesAroundPartsIgnored) {
  auto parsed =
      parse_connection_string(" accountname = berthstore ; ACCOUNTKEY=" + std::string(kKey) +
                              " ;;defaultendpointsprotocol=HTTP; ");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->account_name, "berthstore");
  EXPECT_EQ(parsed->blob_endpoint, "http://berthstore.blob.core.windows.net");
}

TEST(ConnectionString, DevelopmentStorageIsAzuritesBuiltInAccount) {
  auto parsed = parse_connection_string("UseDevelopmentStorage=true");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->account_name, "devstoreaccount1");
  EXPECT_EQ(parsed->account_key.size(), 64u);
  EXPECT_EQ(parsed->blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1");

  EXPECT_NE(rejection("UseDevelopmentStorage=false").find("must be true"), std::string::npos);
  EXPECT_NE(rejection("UseDevelopmentStorage=true;AccountName=x").find("takes no other keys"),
            std::string::npos);
}

TEST(ConnectionString, MissingOrMalformedPartsAreNamed) {
  EXPECT_NE(rejection("").find("empty"), std::string::npos);
  EXPECT_NE(rejection(" ; ;").find("empty"), std::string::npos);
  EXPECT_NE(rejection(with_key("")).find("AccountName is missing"), std::string::npos);
  EXPECT_NE(rejection("AccountName=berthstore").find("AccountKey is missing"), std::string::npos);
  EXPECT_NE(rejection(with_key("AccountName=Berth_Store;")).find("AccountName must be"),
            std::string::npos);
  EXPECT_NE(rejection(with_key("AccountName=berthstore;DefaultEndpointsProtocol=ftp;"))
                .find("DefaultEndpointsProtocol must be http or https"),
            std::string::npos);
  EXPECT_NE(
      rejection(with_key("AccountName=berthstore;", ";EndpointSuffix=a/b")).find("EndpointSuffix"),
      std::string::npos);
  EXPECT_NE(
      rejection(with_key("AccountName=berthstore;", ";Colour=blue")).find("unknown key Colour"),
      std::string::npos);
  EXPECT_NE(rejection(with_key("AccountName=a1b;AccountName=berthstore;")).find("given twice"),
            std::string::npos);
}

TEST(ConnectionString, AMalformedKeyIsRejectedWithoutEchoingIt) {
  for (std::string key : {"not base64!", "abc", "ab=c", "YWJj=YWJj", "YW Jj"}) {
    std::string text = "AccountName=berthstore;AccountKey=" + key;
    std::string message = rejection(text);
    EXPECT_NE(message.find("AccountKey is not valid base64"), std::string::npos) << key;
    EXPECT_EQ(message.find(key), std::string::npos) << message;
  }
  // A part without '=' may be a pasted key: the message does not repeat it.
  std::string message = rejection(std::string("AccountName=berthstore;") + "c2VjcmV0c2VjcmV0");
  EXPECT_NE(message.find("not of the form key=value"), std::string::npos);
  EXPECT_EQ(message.find("c2VjcmV0c2VjcmV0"), std::string::npos);
}

TEST(ConnectionString, EndpointsThatWouldLeakOrAreNotHttpAreRefused) {
  auto refused = [](std::string_view endpoint) {
    return rejection(with_key("AccountName=berthstore;", ";BlobEndpoint=" + std::string(endpoint)));
  };
  std::string sas = refused("https://berthstore.blob.core.windows.net/?sv=2021&sig=c2VjcmV0");
  EXPECT_NE(sas.find("shared access signatures are not supported"), std::string::npos);
  EXPECT_EQ(sas.find("c2VjcmV0"), std::string::npos) << sas;
  EXPECT_NE(refused("https://user:pw@example.test").find("user information"), std::string::npos);
  EXPECT_NE(refused("ftp://example.test").find("http or https"), std::string::npos);
  EXPECT_NE(refused("not a url").find("not a URL"), std::string::npos);
  EXPECT_NE(rejection("SharedAccessSignature=sv=2021&sig=abc;BlobEndpoint=https://x.test")
                .find("SharedAccessSignature is not supported"),
            std::string::npos);
}

TEST(ConnectionString, DescribeRedactsTheKey) {
  auto parsed = parse_connection_string(with_key("AccountName=berthstore;"));
  ASSERT_TRUE(parsed);
  const std::string described = parsed->describe();
  EXPECT_EQ(described,
            "AccountName=berthstore;AccountKey=(redacted);BlobEndpoint=https://"
            "berthstore.blob.core.windows.net");
  EXPECT_EQ(described.find(kKey), std::string::npos);
  EXPECT_EQ(described.find(parsed->account_key), std::string::npos);
}

TEST(ConnectionString, LoadsFromTheEnvironmentFirstThenTheFile) {
  TempDir dir;
  const auto file = dir.path() / "connection-string";
  std::ofstream(file) << "\n  " << with_key("AccountName=fromfile;") << "  \n";

  {
    ScopedEnv env(kConnectionStringVariable, with_key("AccountName=fromenv;"));
    auto loaded = load_connection_string(file);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->account_name, "fromenv");
  }
  {
    ScopedEnv env(kConnectionStringVariable, std::nullopt);
    auto loaded = load_connection_string(file);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->account_name, "fromfile");

    auto absent = load_connection_string(dir.path() / "absent");
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().code, Errc::io_error);
    EXPECT_NE(absent.error().message.find("absent"), std::string::npos);

    auto nothing = load_connection_string({});
    ASSERT_FALSE(nothing);
    EXPECT_EQ(nothing.error().code, Errc::invalid_argument);
    EXPECT_NE(nothing.error().message.find(kConnectionStringVariable), std::string::npos);
  }
  {
    ScopedEnv empty(kConnectionStringVariable, "");  // set but empty: the file counts
    auto loaded = load_connection_string(file);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->account_name, "fromfile");
  }
}

}  // namespace
}  // namespace berth::storage::azure
