#pragma once

// Checked OCI distribution operations used by the workloads. Every function verifies the
// answer (status, Location, Docker-Content-Digest, Range, bodies) and throws CheckFailed on a
// wrong one, so a fast wrong server fails the run.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "bench_util.h"
#include "client_auth.h"
#include "http_client.h"

namespace berth::bench {

inline constexpr std::string_view kManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kConfigType = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kLayerType = "application/vnd.oci.image.layer.v1.tar+gzip";

struct Target {
  std::string name;
  std::string host;
  std::uint16_t port = 0;
  pid_t pid = 0;
  // Credentials (null: none). This session is the load generator acting as one client: every
  // connection of every workload shares it and its tokens.
  std::unique_ptr<ClientAuth> auth;
  // Only for the "-auth" workloads (the reference with htpasswd); the others skip it.
  bool auth_workloads_only = false;
  // berth's administrator token, for its management API (empty: none). The workloads that
  // need that API (push-many-webhooks) run on the targets that have one.
  std::string admin_token;
  // True when POST ?digest= with a body completes an upload in one request (201); otherwise
  // blobs are pushed as POST (202) then PUT ?digest= with the body.
  bool single_post = false;
  std::mutex mutex;
  std::set<std::string> manifest_repos;  // repositories this run pushed a manifest to

  void remember_repo(const std::string& repo) {
    std::lock_guard lock(mutex);
    manifest_repos.insert(repo);
  }
};

struct Image {
  std::string config;
  std::string layer;
  std::string manifest;
  std::string config_digest;
  std::string layer_digest;
  std::string manifest_digest;
};

// A small OCI image: a config naming `label`, one random layer of `layer_size` bytes.
Image make_image(std::uint64_t seed, std::size_t layer_size, std::string_view label);

void send_checked(Connection& connection, const Request& request, Response& response,
                  std::string_view what, const BodySink& sink = nullptr);
void expect_status(const Response& response, int status, std::string_view what);

// Decides Target::single_post by pushing one tiny blob.
void probe_blob_push_mode(Connection& connection, Target& target);

// Monolithic push of one blob (one request or POST + PUT, per Target::single_post).
void push_blob(Connection& connection, const Target& target, const std::string& repo,
               const std::string& digest, const Body& body);

// POST, PATCH chunks of `chunk` bytes with Content-Range, then PUT ?digest=.
void push_blob_chunked(Connection& connection, const std::string& repo, const std::string& digest,
                       int fd, std::uint64_t size, std::uint64_t chunk);

// Cross-repository mount; falls back to uploading `bytes` if the server declines (202).
// Returns true when the mount was honoured.
bool mount_blob(Connection& connection, const std::string& repo, const std::string& from,
                const std::string& digest, std::string_view bytes);

void put_manifest(Connection& connection, const std::string& repo, const std::string& reference,
                  const Image& image);
void push_image(Connection& connection, Target& target, const std::string& repo,
                const std::string& tag, const Image& image);

// GET of a manifest; checks the body, type and digest.
void get_manifest_checked(Connection& connection, const std::string& target_path,
                          const Image& image);
// HEAD of a blob; checks length and digest.
void head_blob_checked(Connection& connection, const std::string& target_path,
                       const std::string& digest, std::uint64_t size);

// GET of a blob (or a byte range of it when range_size > 0), comparing every received byte
// with `expected` (the whole blob). Returns the number of body bytes.
std::uint64_t get_blob_checked(Connection& connection, const std::string& repo,
                               const std::string& digest, const char* expected,
                               std::uint64_t blob_size, std::uint64_t range_offset = 0,
                               std::uint64_t range_size = 0);

// Lists every entry of a paginated list ("tags" of tags/list or "repositories" of _catalog),
// following Link rel="next". Checks for duplicates. `pages` gets the number of requests.
std::vector<std::string> list_all(Connection& connection, const std::string& first_target,
                                  const char* key, int& pages);

}  // namespace berth::bench
