#pragma once
// How values are written into, and read back from, the columns every metadata backend's
// schema shares: digests as text, the kinds of references and identities as words, lists as
// one text column (purge filters one per line, webhook actions separated by spaces, a
// manifest's tags one per line as an aggregate returns them). Nothing here knows a database.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "metadata/access_store.h"
#include "metadata/metadata_store.h"
#include "metadata/task_store.h"
#include "metadata/upstream_store.h"
#include "oci/digest.h"

namespace berth::metadata {

// A digest column read back; database_error when what is stored does not parse.
Result<oci::Digest> stored_digest(std::string_view text);

// 'blob' or 'manifest', as the references' kind column holds it.
const char* reference_kind_name(ReferenceKind kind);

// 'user', 'servicePrincipal' or 'federated', as the identities' kind column holds it.
const char* identity_kind_name(IdentityKind kind);
// An identity kind read back; database_error for a word that names none.
Result<IdentityKind> stored_identity_kind(std::string_view text);

// Lines joined by '\n' (callers make sure no line holds one), and split again.
std::string joined_lines(const std::vector<std::string>& lines);
std::vector<std::string> split_lines(std::string_view text);

// Webhook actions are stored space-separated: they are single words from a fixed list.
std::string join_actions(const std::vector<std::string>& actions);
std::vector<std::string> split_actions(std::string_view joined);

// A manifest's tags as an aggregate joins them with '\n' (which no tag name contains), in
// byte order.
std::vector<std::string> split_tag_names(std::string_view joined);

// 'queued', 'running', 'succeeded' or 'failed', as import_jobs.status holds it.
const char* import_status_name(ImportStatus status);
// An import status read back; database_error for a word that names none.
Result<ImportStatus> stored_import_status(std::string_view text);

// 'queued', 'running', 'succeeded', 'failed', 'canceled' or 'timeout', as task_runs.status
// holds it.
const char* run_status_name(RunStatus status);
// A run status read back; database_error for a word that names none.
Result<RunStatus> stored_run_status(std::string_view text);

// A live run log is stored as it comes, in chunks of at most this many bytes: a bigger append is
// stored as several, so that no row grows with the caller's buffer.
inline constexpr std::size_t kRunLogChunkBytes = 64 * 1024;

// Reading `max_bytes` of a live log from `offset`: appends to `out` what of `chunk`, stored at
// `chunk_offset`, falls in that range (the chunks come in order). False once `out` is full.
bool take_from_chunk(std::uint64_t offset, std::size_t max_bytes, std::uint64_t chunk_offset,
                     std::string_view chunk, std::string& out);

// A count kept in a signed 64-bit column: beyond its range it stays at the largest it holds.
inline std::int64_t stored_count(std::uint64_t count) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(count, std::numeric_limits<std::int64_t>::max()));
}

}  // namespace berth::metadata
