#include "storage/azure/sas.h"

#include <ctime>

#include "storage/azure/shared_key.h"

namespace berth::storage::azure {
namespace {

constexpr std::string_view kBlobResource = "b";

void append_line(std::string& out, std::string_view field) {
  out += field;
  out += '\n';
}

void append_parameter(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += '&';
  out += name;
  out += '=';
  out += percent_encode(value, false);
}

}  // namespace

std::string sas_string_to_sign(const BlobSas& sas) {
  std::string resource = "/blob/";
  resource += sas.account;
  resource += '/';
  resource += sas.container;
  resource += '/';
  resource += sas.blob;

  std::string out;
  append_line(out, sas.permissions);
  append_line(out, sas.start);
  append_line(out, sas.expiry);
  append_line(out, resource);
  append_line(out, {});  // signedIdentifier: no stored access policy
  append_line(out, {});  // signedIP: any address
  append_line(out, sas.protocol);
  append_line(out, sas.version);
  append_line(out, kBlobResource);
  append_line(out, {});  // signedSnapshotTime
  append_line(out, {});  // signedEncryptionScope
  // The five response header overrides (rscc, rscd, rsce, rscl, rsct), all empty: four more
  // line ends, the last field (empty) ends the text without one.
  for (int i = 0; i < 4; ++i) append_line(out, {});
  return out;
}

std::string sas_token(const BlobSas& sas, std::string_view key) {
  std::string out;
  append_parameter(out, "sv", sas.version);
  append_parameter(out, "st", sas.start);
  append_parameter(out, "se", sas.expiry);
  append_parameter(out, "sr", kBlobResource);
  append_parameter(out, "sp", sas.permissions);
  append_parameter(out, "spr", sas.protocol);
  append_parameter(out, "sig", sign(key, sas_string_to_sign(sas)));
  return out;
}

std::string sas_time(std::chrono::system_clock::time_point time) {
  const std::time_t seconds =
      std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(time));
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t length = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(text, length);
}

}  // namespace berth::storage::azure
