#include "metadata/stored_values.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::metadata {

Result<oci::Digest> stored_digest(std::string_view text) {
  auto digest = oci::Digest::parse(text);
  if (!digest) {
    return MetadataError{Errc::database_error,
                         "metadata database: stored digest is malformed: " + std::string(text)};
  }
  return std::move(*digest);
}

const char* reference_kind_name(ReferenceKind kind) {
  return kind == ReferenceKind::manifest ? "manifest" : "blob";
}

const char* identity_kind_name(IdentityKind kind) {
  switch (kind) {
    case IdentityKind::user:
      return "user";
    case IdentityKind::service_principal:
      return "servicePrincipal";
    case IdentityKind::federated:
      return "federated";
  }
  return "user";
}

Result<IdentityKind> stored_identity_kind(std::string_view text) {
  for (IdentityKind kind :
       {IdentityKind::user, IdentityKind::service_principal, IdentityKind::federated}) {
    if (text == identity_kind_name(kind)) return kind;
  }
  return MetadataError{Errc::database_error,
                       "metadata database: stored identity kind is unknown: " + std::string(text)};
}

std::string joined_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) {
    if (!text.empty()) text += '\n';
    text += line;
  }
  return text;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    auto end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::string join_actions(const std::vector<std::string>& actions) {
  std::string joined;
  for (const auto& action : actions) {
    if (!joined.empty()) joined += ' ';
    joined += action;
  }
  return joined;
}

std::vector<std::string> split_actions(std::string_view joined) {
  std::vector<std::string> actions;
  while (!joined.empty()) {
    auto space = joined.find(' ');
    actions.emplace_back(joined.substr(0, space));
    if (space == std::string_view::npos) break;
    joined.remove_prefix(space + 1);
  }
  return actions;
}

std::vector<std::string> split_tag_names(std::string_view joined) {
  std::vector<std::string> tags = split_lines(joined);
  std::sort(tags.begin(), tags.end());
  return tags;
}

const char* import_status_name(ImportStatus status) {
  switch (status) {
    case ImportStatus::queued:
      return "queued";
    case ImportStatus::running:
      return "running";
    case ImportStatus::succeeded:
      return "succeeded";
    case ImportStatus::failed:
      return "failed";
  }
  return "queued";
}

Result<ImportStatus> stored_import_status(std::string_view text) {
  for (ImportStatus status : {ImportStatus::queued, ImportStatus::running,
                              ImportStatus::succeeded, ImportStatus::failed}) {
    if (text == import_status_name(status)) return status;
  }
  return MetadataError{Errc::database_error,
                       "metadata database: stored import status is unknown: " + std::string(text)};
}

const char* run_status_name(RunStatus status) {
  switch (status) {
    case RunStatus::queued:
      return "queued";
    case RunStatus::running:
      return "running";
    case RunStatus::succeeded:
      return "succeeded";
    case RunStatus::failed:
      return "failed";
    case RunStatus::canceled:
      return "canceled";
    case RunStatus::timeout:
      return "timeout";
  }
  return "queued";
}

Result<RunStatus> stored_run_status(std::string_view text) {
  for (RunStatus status : {RunStatus::queued, RunStatus::running, RunStatus::succeeded,
                           RunStatus::failed, RunStatus::canceled, RunStatus::timeout}) {
    if (text == run_status_name(status)) return status;
  }
  return MetadataError{Errc::database_error,
                       "metadata database: stored run status is unknown: " + std::string(text)};
}

bool take_from_chunk(std::uint64_t offset, std::size_t max_bytes, std::uint64_t chunk_offset,
                     std::string_view chunk, std::string& out) {
  const std::uint64_t wanted = offset + out.size();  // where the next byte to read is
  const std::uint64_t chunk_end = chunk_offset + chunk.size();
  if (chunk_end > wanted && chunk_offset <= wanted) {
    const auto skip = static_cast<std::size_t>(wanted - chunk_offset);
    const std::size_t take = std::min(chunk.size() - skip, max_bytes - out.size());
    out.append(chunk.substr(skip, take));
  }
  return out.size() < max_bytes;
}

}  // namespace berth::metadata
