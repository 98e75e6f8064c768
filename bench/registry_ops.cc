#include "registry_ops.h"

#include <boost/json.hpp>

#include <cstring>
#include <unordered_set>

namespace berth::bench {
namespace {

std::string snippet(const Response& response) {
  std::string body = response.body.substr(0, 300);
  for (char& c : body) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return body;
}

std::string with_query(const std::string& target, std::string_view name, std::string_view value) {
  std::string out = target;
  out += target.find('?') == std::string::npos ? '?' : '&';
  out.append(name).append("=").append(value);
  return out;
}

std::string header_or_empty(const Response& response, std::string_view name) {
  auto value = response.header(name);
  return value ? std::string(*value) : std::string();
}

void check_blob_created(const Response& response, const std::string& repo,
                        const std::string& digest, std::string_view what) {
  expect_status(response, 201, what);
  auto location = response.header("Location");
  check(location.has_value(), std::string(what) + ": 201 without Location");
  const std::string expected = "/v2/" + repo + "/blobs/" + digest;
  check(target_of(*location) == expected,
        std::string(what) + ": Location '" + std::string(*location) + "', expected " + expected);
  check(header_or_empty(response, "Docker-Content-Digest") == digest,
        std::string(what) + ": Docker-Content-Digest '" +
            header_or_empty(response, "Docker-Content-Digest") + "', expected " + digest);
}

std::string upload_location(const Response& response, std::string_view what) {
  expect_status(response, 202, what);
  auto location = response.header("Location");
  check(location.has_value() && !location->empty(), std::string(what) + ": 202 without Location");
  return target_of(*location);
}

}  // namespace

Image make_image(std::uint64_t seed, std::size_t layer_size, std::string_view label) {
  Random random(seed);
  Image image;
  image.layer = random.bytes(layer_size);
  image.layer_digest = sha256_digest(image.layer);
  image.config = std::string(R"({"architecture":"amd64","os":"linux","config":{"Labels":{"bench":")") +
                 std::string(label) + R"("}},"rootfs":{"type":"layers","diff_ids":[")" +
                 image.layer_digest + R"("]}})";
  image.config_digest = sha256_digest(image.config);
  image.manifest = std::string(R"({"schemaVersion":2,"mediaType":")") + std::string(kManifestType) +
                   R"(","config":{"mediaType":")" + std::string(kConfigType) + R"(","digest":")" +
                   image.config_digest + R"(","size":)" + std::to_string(image.config.size()) +
                   R"(},"layers":[{"mediaType":")" + std::string(kLayerType) +
                   R"(","digest":")" + image.layer_digest + R"(","size":)" +
                   std::to_string(image.layer.size()) + "}]}";
  image.manifest_digest = sha256_digest(image.manifest);
  return image;
}

void send_checked(Connection& connection, const Request& request, Response& response,
                  std::string_view what, const BodySink& sink) {
  if (!connection.send(request, response, sink)) {
    fail(std::string(what) + " (" + request.method + " " + request.target +
         "): " + connection.error());
  }
}

void expect_status(const Response& response, int status, std::string_view what) {
  if (response.status != status) {
    fail(std::string(what) + ": status " + std::to_string(response.status) + ", expected " +
         std::to_string(status) + " " + snippet(response));
  }
}

void probe_blob_push_mode(Connection& connection, Target& target) {
  const std::string bytes = "berth bench probe " + target.name;
  const std::string digest = sha256_digest(bytes);
  const std::string repo = "bench/probe";
  Response response;
  send_checked(connection,
               {"POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digest,
                {{"Content-Type", "application/octet-stream"}}, Body::from_memory(bytes)},
               response, "probe POST ?digest=");
  if (response.status == 201) {
    check_blob_created(response, repo, digest, "probe POST ?digest=");
    target.single_post = true;
  } else {
    // The server opened a session and ignored the body: finish it the two-step way.
    std::string location = upload_location(response, "probe POST ?digest=");
    send_checked(connection,
                 {"PUT", with_query(location, "digest", digest),
                  {{"Content-Type", "application/octet-stream"}}, Body::from_memory(bytes)},
                 response, "probe PUT ?digest=");
    check_blob_created(response, repo, digest, "probe PUT ?digest=");
    target.single_post = false;
  }
  head_blob_checked(connection, "/v2/" + repo + "/blobs/" + digest, digest, bytes.size());
}

void push_blob(Connection& connection, const Target& target, const std::string& repo,
               const std::string& digest, const Body& body) {
  Response response;
  const Headers octets = {{"Content-Type", "application/octet-stream"}};
  if (target.single_post) {
    send_checked(connection, {"POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digest, octets, body},
                 response, "blob POST ?digest=");
    check_blob_created(response, repo, digest, "blob POST ?digest=");
    return;
  }
  send_checked(connection, {"POST", "/v2/" + repo + "/blobs/uploads/", {}, Body::none()}, response,
               "blob POST");
  std::string location = upload_location(response, "blob POST");
  send_checked(connection, {"PUT", with_query(location, "digest", digest), octets, body}, response,
               "blob PUT ?digest=");
  check_blob_created(response, repo, digest, "blob PUT ?digest=");
}

void push_blob_chunked(Connection& connection, const std::string& repo, const std::string& digest,
                       int fd, std::uint64_t size, std::uint64_t chunk) {
  Response response;
  send_checked(connection, {"POST", "/v2/" + repo + "/blobs/uploads/", {}, Body::none()}, response,
               "chunked POST");
  std::string location = upload_location(response, "chunked POST");
  for (std::uint64_t offset = 0; offset < size; offset += chunk) {
    const std::uint64_t length = std::min(chunk, size - offset);
    const std::string range =
        std::to_string(offset) + "-" + std::to_string(offset + length - 1);
    send_checked(connection,
                 {"PATCH", location,
                  {{"Content-Type", "application/octet-stream"}, {"Content-Range", range}},
                  Body::from_file(fd, static_cast<off_t>(offset), length)},
                 response, "chunked PATCH");
    location = upload_location(response, "chunked PATCH " + range);
    const std::string expected_range = "0-" + std::to_string(offset + length - 1);
    check(header_or_empty(response, "Range") == expected_range,
          "chunked PATCH " + range + ": Range '" + header_or_empty(response, "Range") +
              "', expected " + expected_range);
  }
  send_checked(connection, {"PUT", with_query(location, "digest", digest), {}, Body::none()},
               response, "chunked PUT ?digest=");
  check_blob_created(response, repo, digest, "chunked PUT ?digest=");
}

bool mount_blob(Connection& connection, const std::string& repo, const std::string& from,
                const std::string& digest, std::string_view bytes) {
  Response response;
  send_checked(connection,
               {"POST", "/v2/" + repo + "/blobs/uploads/?mount=" + digest + "&from=" + from, {},
                Body::none()},
               response, "mount POST");
  if (response.status == 201) {
    check_blob_created(response, repo, digest, "mount POST");
    return true;
  }
  std::string location = upload_location(response, "mount POST");
  send_checked(connection,
               {"PUT", with_query(location, "digest", digest),
                {{"Content-Type", "application/octet-stream"}}, Body::from_memory(bytes)},
               response, "mount fallback PUT");
  check_blob_created(response, repo, digest, "mount fallback PUT");
  return false;
}

void put_manifest(Connection& connection, const std::string& repo, const std::string& reference,
                  const Image& image) {
  Response response;
  send_checked(connection,
               {"PUT", "/v2/" + repo + "/manifests/" + reference,
                {{"Content-Type", std::string(kManifestType)}}, Body::from_memory(image.manifest)},
               response, "manifest PUT");
  expect_status(response, 201, "manifest PUT " + repo + ":" + reference);
  check(header_or_empty(response, "Docker-Content-Digest") == image.manifest_digest,
        "manifest PUT: Docker-Content-Digest '" +
            header_or_empty(response, "Docker-Content-Digest") + "', expected " +
            image.manifest_digest);
  check(response.header("Location").has_value(), "manifest PUT: 201 without Location");
}

void push_image(Connection& connection, Target& target, const std::string& repo,
                const std::string& tag, const Image& image) {
  push_blob(connection, target, repo, image.config_digest, Body::from_memory(image.config));
  push_blob(connection, target, repo, image.layer_digest, Body::from_memory(image.layer));
  put_manifest(connection, repo, tag, image);
}

void get_manifest_checked(Connection& connection, const std::string& target_path,
                          const Image& image) {
  Response response;
  send_checked(connection, {"GET", target_path, {{"Accept", std::string(kManifestType)}}, Body::none()},
               response, "manifest GET");
  expect_status(response, 200, "manifest GET " + target_path);
  check(response.body == image.manifest, "manifest GET " + target_path + ": body differs");
  check(header_or_empty(response, "Docker-Content-Digest") == image.manifest_digest,
        "manifest GET: wrong Docker-Content-Digest");
  check(header_or_empty(response, "Content-Type") == kManifestType,
        "manifest GET: Content-Type '" + header_or_empty(response, "Content-Type") + "'");
}

void head_blob_checked(Connection& connection, const std::string& target_path,
                       const std::string& digest, std::uint64_t size) {
  Response response;
  send_checked(connection, {"HEAD", target_path, {}, Body::none()}, response, "blob HEAD");
  expect_status(response, 200, "blob HEAD " + target_path);
  check(header_or_empty(response, "Content-Length") == std::to_string(size),
        "blob HEAD: Content-Length '" + header_or_empty(response, "Content-Length") +
            "', expected " + std::to_string(size));
  check(header_or_empty(response, "Docker-Content-Digest") == digest,
        "blob HEAD: wrong Docker-Content-Digest");
}

std::uint64_t get_blob_checked(Connection& connection, const std::string& repo,
                               const std::string& digest, const char* expected,
                               std::uint64_t blob_size, std::uint64_t range_offset,
                               std::uint64_t range_size) {
  Request request{"GET", "/v2/" + repo + "/blobs/" + digest, {}, Body::none()};
  const bool ranged = range_size > 0;
  const std::uint64_t first = ranged ? range_offset : 0;
  const std::uint64_t length = ranged ? range_size : blob_size;
  if (ranged) {
    request.headers.emplace_back(
        "Range", "bytes=" + std::to_string(first) + "-" + std::to_string(first + length - 1));
  }
  std::uint64_t position = 0;
  bool mismatch = false;
  BodySink sink = [&](const char* data, std::size_t size) {
    if (position + size > length || std::memcmp(data, expected + first + position, size) != 0) {
      mismatch = true;
      return false;
    }
    position += size;
    return true;
  };
  Response response;
  if (!connection.send(request, response, sink)) {
    fail("blob GET " + request.target + ": " +
         (mismatch ? "body bytes differ from the blob at offset " + std::to_string(first + position)
                   : connection.error()));
  }
  expect_status(response, ranged ? 206 : 200, "blob GET" + std::string(ranged ? " (Range)" : ""));
  check(position == length, "blob GET: " + std::to_string(position) + " body bytes, expected " +
                                std::to_string(length));
  if (ranged) {
    const std::string expected_range = "bytes " + std::to_string(first) + "-" +
                                       std::to_string(first + length - 1) + "/" +
                                       std::to_string(blob_size);
    check(header_or_empty(response, "Content-Range") == expected_range,
          "blob GET (Range): Content-Range '" + header_or_empty(response, "Content-Range") +
              "', expected " + expected_range);
  } else if (auto header = response.header("Docker-Content-Digest")) {
    check(*header == digest, "blob GET: wrong Docker-Content-Digest");
  }
  return position;
}

std::vector<std::string> list_all(Connection& connection, const std::string& first_target,
                                  const char* key, int& pages) {
  std::vector<std::string> names;
  std::unordered_set<std::string> seen;
  std::string next = first_target;
  pages = 0;
  for (; !next.empty(); ++pages) {
    check(pages < 100'000, "listing: too many pages");
    Response response;
    send_checked(connection, {"GET", next, {}, Body::none()}, response, "list GET");
    expect_status(response, 200, "list GET " + next);
    boost::system::error_code ec;
    auto parsed = boost::json::parse(response.body, ec);
    check(!ec && parsed.is_object(), "list GET " + next + ": body is not a JSON object");
    const auto* entries = parsed.as_object().if_contains(key);
    if (entries && entries->is_array()) {
      for (const auto& entry : entries->as_array()) {
        check(entry.is_string(), "list GET: non-string entry");
        std::string name(entry.as_string());
        check(seen.insert(name).second, "list GET: duplicate entry '" + name + "'");
        names.push_back(std::move(name));
      }
    } else {
      check(!entries || entries->is_null(), std::string("list GET: '") + key + "' is not an array");
    }
    next.clear();
    if (auto link = response.header("Link")) {
      auto open = link->find('<');
      auto close = link->find('>');
      check(open != std::string_view::npos && close != std::string_view::npos && open < close &&
                link->find("rel=\"next\"") != std::string_view::npos,
            "list GET: malformed Link '" + std::string(*link) + "'");
      next = target_of(link->substr(open + 1, close - open - 1));
    }
  }
  return names;
}

}  // namespace berth::bench
