#include "support/oci_pusher.h"

#include <boost/json.hpp>
#include <curl/curl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "support/secret_record.h"

namespace berth::testing {
namespace {

namespace json = boost::json;

constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::size_t collect_location(char* data, std::size_t size, std::size_t count, void* user) {
  std::string_view line(data, size * count);
  constexpr std::string_view kLocation = "location:";
  if (line.size() > kLocation.size()) {
    std::string name(line.substr(0, kLocation.size()));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == kLocation) {
      std::string_view value = line.substr(kLocation.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) {
        value.remove_suffix(1);
      }
      *static_cast<std::string*>(user) = std::string(value);
    }
  }
  return size * count;
}

json::object descriptor(std::string_view media_type, std::string_view digest, std::size_t size) {
  json::object object;
  object["mediaType"] = media_type;
  object["digest"] = digest;
  object["size"] = size;
  return object;
}

}  // namespace

std::string basic_authorization(std::string_view user, std::string_view password) {
  std::string pair(user);
  pair += ':';
  pair += password;
  std::string out(4 * ((pair.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(pair.data()),
                          static_cast<int>(pair.size()));
  out.resize(static_cast<std::size_t>(n));
  return "Basic " + out;
}

std::string pseudo_random_bytes(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  std::uint64_t state = 0x9e3779b97f4a7c15ULL ^ seed;
  for (auto& byte : bytes) {
    // xorshift64*
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    byte = static_cast<char>((state * 0x2545f4914f6cdd1dULL) >> 56);
  }
  return bytes;
}

std::string sha256_digest(std::string_view bytes) {
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), hash, &length, EVP_sha256(), nullptr);
  std::string text = "sha256:";
  for (unsigned int i = 0; i < length; ++i) text += fmt::format("{:02x}", hash[i]);
  return text;
}

OciPusher::Answer OciPusher::send(std::string_view method, const std::string& url,
                                  std::string_view body, const std::vector<std::string>& headers) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  Answer answer;
  curl_slist* list = nullptr;
  for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
  std::string authorization;
  if (target_.authorization) {
    record_secrets_of_authorization(*target_.authorization);
    authorization = "Authorization: " + *target_.authorization;
    list = curl_slist_append(list, authorization.c_str());
  }
  list = curl_slist_append(list, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(list, curl_slist_free_all);
  std::string method_text(method);
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(handle, CURLOPT_PROXY, "");
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT, 60L);
  if (target_.ca_file) curl_easy_setopt(handle, CURLOPT_CAINFO, target_.ca_file->c_str());
  if (method == "POST" || method == "PUT") {
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, collect_location);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &answer.location);
  CURLcode rc = curl_easy_perform(handle);
  if (rc != CURLE_OK) {
    ADD_FAILURE() << method << " " << url << ": " << curl_easy_strerror(rc);
    return answer;
  }
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

std::string OciPusher::push_blob(std::string_view repository, std::string_view bytes) {
  std::string digest = sha256_digest(bytes);
  auto started = send("POST", fmt::format("{}/v2/{}/blobs/uploads/", target_.base_url, repository),
                      {}, {"Content-Length: 0"});
  if (started.status != 202 || started.location.empty()) {
    ADD_FAILURE() << "starting an upload to " << repository << ": HTTP " << started.status << " "
                  << started.body;
    return {};
  }
  std::string url = started.location.starts_with("http")
                        ? started.location
                        : target_.base_url + started.location;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "digest=" + digest;
  auto finished = send("PUT", url, bytes, {"Content-Type: application/octet-stream"});
  if (finished.status != 201) {
    ADD_FAILURE() << "uploading " << digest << " to " << repository << ": HTTP "
                  << finished.status << " " << finished.body;
    return {};
  }
  return digest;
}

std::string OciPusher::push_manifest(std::string_view repository, std::string_view reference,
                                     std::string_view media_type, std::string_view bytes) {
  auto answer = send("PUT",
                     fmt::format("{}/v2/{}/manifests/{}", target_.base_url, repository, reference),
                     bytes, {fmt::format("Content-Type: {}", media_type)});
  if (answer.status != 201) {
    ADD_FAILURE() << "pushing manifest " << repository << ":" << reference << ": HTTP "
                  << answer.status << " " << answer.body;
    return {};
  }
  return sha256_digest(bytes);
}

PushedImage OciPusher::push_image(std::string_view repository, std::string_view tag,
                                  const std::vector<std::string>& layers,
                                  std::string_view architecture) {
  PushedImage image;
  json::object config;
  config["architecture"] = architecture;
  config["os"] = "linux";
  json::object rootfs;
  rootfs["type"] = "layers";
  json::array diff_ids;
  json::array layer_descriptors;
  for (const auto& layer : layers) {
    image.layer_digests.push_back(push_blob(repository, layer));
    image.layers.push_back(layer);
    diff_ids.push_back(json::value(image.layer_digests.back()));
    layer_descriptors.push_back(descriptor(kOciLayer, image.layer_digests.back(), layer.size()));
  }
  rootfs["diff_ids"] = std::move(diff_ids);
  config["rootfs"] = std::move(rootfs);
  std::string config_bytes = json::serialize(config);
  image.config_digest = push_blob(repository, config_bytes);

  json::object manifest;
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = kOciManifest;
  manifest["config"] = descriptor(kOciConfig, image.config_digest, config_bytes.size());
  manifest["layers"] = std::move(layer_descriptors);
  image.manifest = json::serialize(manifest);
  image.media_type = kOciManifest;
  image.digest = sha256_digest(image.manifest);
  push_manifest(repository, tag.empty() ? std::string_view(image.digest) : tag, kOciManifest,
                image.manifest);
  return image;
}

PushedImage OciPusher::push_index(std::string_view repository, std::string_view tag,
                                  const std::vector<PushedImage>& images,
                                  const std::vector<std::string>& architectures) {
  json::array manifests;
  for (std::size_t i = 0; i < images.size(); ++i) {
    json::object entry = descriptor(images[i].media_type, images[i].digest,
                                    images[i].manifest.size());
    json::object platform;
    platform["architecture"] = architectures.at(i);
    platform["os"] = "linux";
    entry["platform"] = std::move(platform);
    manifests.push_back(std::move(entry));
  }
  json::object index;
  index["schemaVersion"] = 2;
  index["mediaType"] = kOciIndex;
  index["manifests"] = std::move(manifests);
  PushedImage pushed;
  pushed.manifest = json::serialize(index);
  pushed.media_type = kOciIndex;
  pushed.digest = sha256_digest(pushed.manifest);
  push_manifest(repository, tag.empty() ? std::string_view(pushed.digest) : tag, kOciIndex,
                pushed.manifest);
  return pushed;
}

PushedImage OciPusher::push_referrer(std::string_view repository, const PushedImage& subject,
                                     std::string_view artifact_type, std::string_view payload,
                                     bool update_tag_schema) {
  constexpr std::string_view kEmptyConfig = "{}";
  std::string config_digest = push_blob(repository, kEmptyConfig);
  std::string layer_digest = push_blob(repository, payload);
  json::object manifest;
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = kOciManifest;
  manifest["artifactType"] = artifact_type;
  manifest["config"] = descriptor(kOciEmpty, config_digest, kEmptyConfig.size());
  json::array layers;
  layers.push_back(descriptor("application/octet-stream", layer_digest, payload.size()));
  manifest["layers"] = std::move(layers);
  manifest["subject"] = descriptor(subject.media_type, subject.digest, subject.manifest.size());
  PushedImage referrer;
  referrer.manifest = json::serialize(manifest);
  referrer.media_type = kOciManifest;
  referrer.digest = sha256_digest(referrer.manifest);
  referrer.config_digest = config_digest;
  referrer.layer_digests = {layer_digest};
  referrer.layers = {std::string(payload)};
  push_manifest(repository, referrer.digest, kOciManifest, referrer.manifest);
  if (!update_tag_schema) return referrer;

  json::object entry = descriptor(kOciManifest, referrer.digest, referrer.manifest.size());
  entry["artifactType"] = artifact_type;
  referrer_descriptors_.emplace_back(subject.digest, json::serialize(entry));
  json::array manifests;
  for (const auto& [subject_digest, text] : referrer_descriptors_) {
    if (subject_digest == subject.digest) manifests.push_back(json::parse(text));
  }
  json::object index;
  index["schemaVersion"] = 2;
  index["mediaType"] = kOciIndex;
  index["manifests"] = std::move(manifests);
  std::string tag = "sha256-" + subject.digest.substr(std::string_view("sha256:").size());
  push_manifest(repository, tag, kOciIndex, json::serialize(index));
  return referrer;
}

}  // namespace berth::testing
