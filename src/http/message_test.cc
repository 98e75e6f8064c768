#include "http/message.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <cstring>

namespace berth::http {
namespace {

TEST(Headers, LookupIgnoresCase) {
  Headers headers;
  headers.add("Content-Type", "text/plain");
  headers.add("X-Multi", "1");
  headers.add("x-multi", "2");
  EXPECT_EQ(headers.get("content-type"), "text/plain");
  EXPECT_EQ(headers.get("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(headers.get("X-MULTI"), "1");
  EXPECT_FALSE(headers.get("Content-Length"));
  headers.set("X-MULTI", "3");
  EXPECT_EQ(headers.get("x-multi"), "3");
  EXPECT_EQ(headers.all().size(), 2u);
  EXPECT_EQ(headers.all().back().first, "X-MULTI");
}

TEST(Request, QueryAndParams) {
  Request request;
  request.query = {{"n", "10"}, {"last", ""}, {"n", "20"}};
  request.params["name"] = "library/ubuntu";
  request.headers.add("Host", "example");
  EXPECT_EQ(request.query_param("n"), "10");
  EXPECT_EQ(request.query_param("last"), "");
  EXPECT_FALSE(request.query_param("N"));
  EXPECT_EQ(request.param("name"), "library/ubuntu");
  EXPECT_EQ(request.param("other"), "");
  EXPECT_EQ(request.header("host"), "example");
}

// Hands out a fixed string in small pieces, optionally failing at the end.
class StringReader : public BodyReader {
 public:
  StringReader(std::string data, std::optional<std::uint64_t> length, bool fail = false)
      : data_(std::move(data)), length_(length), fail_(fail) {}
  boost::asio::awaitable<Result<std::size_t, HttpError>> read_some(
      std::span<std::byte> buffer) override {
    if (offset_ == data_.size()) {
      if (fail_) co_return HttpError{Errc::closed, "reset"};
      co_return 0;
    }
    std::size_t n = std::min({buffer.size(), data_.size() - offset_, std::size_t{7}});
    std::memcpy(buffer.data(), data_.data() + offset_, n);
    offset_ += n;
    co_return n;
  }
  std::optional<std::uint64_t> content_length() const override { return length_; }

 private:
  std::string data_;
  std::optional<std::uint64_t> length_;
  bool fail_;
  std::size_t offset_ = 0;
};

Result<std::string, HttpError> run_read_body(BodyReader& reader, std::size_t limit) {
  boost::asio::io_context ioc;
  auto future = boost::asio::co_spawn(ioc, read_body(reader, limit), boost::asio::use_future);
  ioc.run();
  return future.get();
}

TEST(ReadBody, ReadsEverything) {
  std::string data(1000, 'x');
  data[999] = 'y';
  StringReader reader(data, data.size());
  auto body = run_read_body(reader, 1000);
  ASSERT_TRUE(body);
  EXPECT_EQ(*body, data);
}

TEST(ReadBody, ChunkedWithinLimit) {
  StringReader reader("hello world", std::nullopt);
  auto body = run_read_body(reader, 11);
  ASSERT_TRUE(body);
  EXPECT_EQ(*body, "hello world");
}

TEST(ReadBody, ContentLengthOverLimit) {
  StringReader reader("hello world", 11);
  auto body = run_read_body(reader, 10);
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().code, Errc::too_large);
}

TEST(ReadBody, ChunkedOverLimit) {
  StringReader reader(std::string(100, 'z'), std::nullopt);
  auto body = run_read_body(reader, 99);
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().code, Errc::too_large);
}

TEST(ReadBody, EmptyBodyWithZeroLimit) {
  StringReader reader("", 0);
  auto body = run_read_body(reader, 0);
  ASSERT_TRUE(body);
  EXPECT_EQ(*body, "");
}

TEST(ReadBody, PropagatesReaderErrors) {
  StringReader reader("partial", 100, /*fail=*/true);
  auto body = run_read_body(reader, 1000);
  ASSERT_FALSE(body);
  EXPECT_EQ(body.error().code, Errc::closed);
}

}  // namespace
}  // namespace berth::http
