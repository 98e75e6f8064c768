// Layout in the container (names are object names; '/' is only a character of them):
//
//   blobs/                          committed content, one block blob per digest, written once
//   ├── sha256/<hex>                the blob's bytes (name = full hex of the digest; no fan-out
//   │                               directories: an object store has none to keep small)
//   └── sha512/<hex>
//   uploads/<id>/                   one upload session; id: [A-Za-z0-9-]{1,64}
//   ├── data                        block blob of the flushed bytes: its committed block list
//   │                               is the upload; blocks staged since the last flush are not
//   │                               part of it until the next Put Block List. Leased by the
//   │                               handle that holds the upload.
//   └── state                       the upload's opaque record (the writer's hash state),
//                                   replaced whole by Put Blob
//   tmp/probe-<random>              check_writable()'s probe, deleted at once
//
// A committed blob appears by Put Blob (store) or by a server-side Copy Blob of an upload's
// data blob (commit_as), both conditional on the name being free (If-None-Match: *): the first
// writer of a digest wins and later ones keep its copy. A copy the service still reports
// pending (or failed) is not a blob yet: stat, open and list_blobs do not show it.
//
// Listing order: object names sort as the digest texts do ("blobs/sha256/<hex>" against
// "sha256:<hex>"), so a page of list_blobs is one or a few List Blobs requests.

#include "storage/azure/azure_byte_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/ids.h"

namespace berth::storage::azure {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kBlobsPrefix = "blobs/";
constexpr std::string_view kUploadsPrefix = "uploads/";
// Digest algorithms in the order of their names (the listing's order).
constexpr std::array<std::string_view, 2> kAlgorithms = {"sha256", "sha512"};
// Listings ask for at most this many names per request (the service's maximum).
constexpr std::size_t kMaxListing = 5000;
// How deep into a cursor's hex a walk that starts after it first looks (see list_blobs).
constexpr std::size_t kSeekDepth = 4;
constexpr std::string_view kHexDigits = "0123456789abcdef";

std::string blob_name(const oci::Digest& digest) {
  std::string name(kBlobsPrefix);
  name += oci::algorithm_name(digest.algorithm());
  name += '/';
  name += digest.hex();
  return name;
}

std::string upload_prefix(std::string_view id) {
  std::string name(kUploadsPrefix);
  name += id;
  name += '/';
  return name;
}

std::string data_name(std::string_view id) { return upload_prefix(id) + "data"; }
std::string record_name(std::string_view id) { return upload_prefix(id) + "state"; }

// A copy the service has not finished (or that failed) is not a blob yet.
bool complete_copy(std::string_view copy_status) {
  return copy_status.empty() || copy_status == "success";
}

StorageError to_storage(const ClientError& error) {
  Errc code = Errc::io_error;
  switch (error.code) {
    case ClientErrc::not_found:
      code = Errc::not_found;
      break;
    case ClientErrc::storage_full:
      code = Errc::storage_full;
      break;
    case ClientErrc::invalid_argument:
      code = Errc::invalid_argument;
      break;
    case ClientErrc::lease_conflict:
      code = Errc::upload_busy;
      break;
    default:
      break;
  }
  return StorageError{code, error.message, error.target};
}

StorageError invalid_id(std::string_view id) {
  std::string message = "malformed upload id (want [A-Za-z0-9-]{1,64}): ";
  message += id.substr(0, 80);
  return StorageError{Errc::invalid_argument, std::move(message)};
}

StorageError upload_gone() {
  return StorageError{Errc::not_found, "the upload is gone (committed or discarded)"};
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(length));
  return out;
}

}  // namespace

struct AzureByteStore::State {
  std::unique_ptr<BlobClient> client;
  AzureOptions options;

  std::mutex mutex;
  std::set<std::string, std::less<>> held;  // uploads with a handle through this object

  bool hold(std::string_view id) {
    std::lock_guard lock(mutex);
    return held.emplace(id).second;
  }
  void unhold(std::string_view id) {
    std::lock_guard lock(mutex);
    if (auto it = held.find(id); it != held.end()) held.erase(it);
  }
  bool is_held(std::string_view id) {
    std::lock_guard lock(mutex);
    return held.contains(id);
  }

  // After a conditional create of `name` found it taken: true when a complete blob stands
  // there (waiting while a copy into it is still pending); false when it was the wreck of a
  // failed copy, now removed, so that the caller may write again.
  Result<bool> settle_existing(const std::string& name) {
    const auto deadline = Clock::now() + options.client.copy_timeout;
    auto pause = std::chrono::milliseconds(50);
    for (;;) {
      auto properties = client->get_properties(name);
      if (!properties) {
        if (properties.error().code == ClientErrc::not_found) return false;  // removed meanwhile
        return to_storage(properties.error());
      }
      if (complete_copy(properties->copy_status)) return true;
      if (properties->copy_status != "pending") {
        auto removed = client->delete_blob(name, Condition{.if_match = properties->etag});
        if (!removed && removed.error().code != ClientErrc::not_found &&
            removed.error().code != ClientErrc::condition_not_met) {
          return to_storage(removed.error());
        }
        return false;
      }
      if (Clock::now() >= deadline) {
        return StorageError{Errc::io_error, "Azure Blob Storage: a copy into " + name +
                                                " is still pending after the copy timeout"};
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::milliseconds>(pause * 2, std::chrono::seconds(2));
    }
  }
};

namespace {

using State = AzureByteStore::State;

// --- readers ---

class AzureReader final : public BlobReader {
 public:
  AzureReader(std::shared_ptr<State> state, std::string name, std::uint64_t size, std::string etag,
              std::vector<std::byte> head)
      : state_(std::move(state)),
        name_(std::move(name)),
        size_(size),
        etag_(std::move(etag)),
        head_(std::move(head)) {}

  std::uint64_t size() const override { return size_; }

  Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) override {
    if (offset >= size_ || out.empty()) return std::size_t{0};
    if (offset < head_.size()) {
      const std::size_t n = std::min<std::size_t>(out.size(), head_.size() - offset);
      std::memcpy(out.data(), head_.data() + offset, n);
      return n;
    }
    out = out.first(static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset)));
    // Conditional on the content opened: a blob removed (or removed and stored again) since
    // reads as gone, never as other bytes.
    auto read = state_->client->get_range(name_, offset, out, etag_);
    if (!read) {
      if (read.error().code == ClientErrc::condition_not_met ||
          read.error().code == ClientErrc::not_found) {
        return StorageError{Errc::not_found, name_ + " was removed after it was opened"};
      }
      return to_storage(read.error());
    }
    return read->count;
  }

 private:
  std::shared_ptr<State> state_;
  std::string name_;
  std::uint64_t size_;
  std::string etag_;
  std::vector<std::byte> head_;
};

// --- upload handles ---

class AzureUpload final : public UploadBytes {
 public:
  AzureUpload(std::shared_ptr<State> state, std::string id, std::string lease_id,
              BlockList committed)
      : state_(std::move(state)),
        id_(std::move(id)),
        data_(data_name(id_)),
        record_(record_name(id_)),
        lease_id_(std::move(lease_id)),
        lease_renewed_(Clock::now()),
        committed_(std::move(committed.committed)),
        etag_(std::move(committed.etag)),
        durable_(committed.size),
        nonce_(random_hex(8)) {}

  ~AzureUpload() override {
    if (gone_) return;
    // Best effort: a lease not released expires by itself.
    (void)state_->client->release_lease(data_, lease_id_);
    state_->unhold(id_);
  }

  std::uint64_t size() const override { return durable_ + pending_size_ + buffer_.size(); }

  Result<void> append(std::span<const std::byte> data) override {
    if (gone_) return upload_gone();
    if (data.empty()) return {};
    const std::size_t block = state_->options.block_size;
    if (buffer_.size() + data.size() < block) {
      if (buffer_.capacity() < block) buffer_.reserve(block);
      buffer_.insert(buffer_.end(), data.begin(), data.end());
      return {};
    }
    if (auto kept = keep_lease(); !kept) return kept.error();
    // All or nothing: the buffer is only replaced, and staged blocks only kept, once every
    // block of this call is staged.
    const std::size_t pending_before = pending_.size();
    const std::uint64_t pending_size_before = pending_size_;
    std::size_t at = block - buffer_.size();
    auto staged = stage(buffer_, data.first(at));
    while (staged && data.size() - at >= block) {
      staged = stage({}, data.subspan(at, block));
      at += block;
    }
    if (!staged) {
      pending_.resize(pending_before);
      pending_size_ = pending_size_before;
      return staged.error();
    }
    buffer_.assign(data.begin() + static_cast<std::ptrdiff_t>(at), data.end());
    return {};
  }

  Result<void> flush() override {
    if (gone_) return upload_gone();
    if (auto kept = keep_lease(); !kept) return kept.error();
    if (!buffer_.empty()) {
      if (auto staged = stage(buffer_, {}); !staged) return staged.error();
      buffer_.clear();
    }
    if (pending_.empty()) return {};
    std::vector<BlockListEntry> list;
    list.reserve(committed_.size() + pending_.size());
    for (const Block& block : committed_) list.push_back({block.id, true});
    for (const Block& block : pending_) list.push_back({block.id, false});
    auto etag = state_->client->put_block_list(data_, list,
                                               Condition{.if_match = etag_, .lease_id = lease_id_});
    if (!etag) {
      auto confirmed = confirm_list(etag.error());
      if (!confirmed) return confirmed.error();
      etag = std::move(*confirmed);
    }
    committed_.insert(committed_.end(), pending_.begin(), pending_.end());
    durable_ += pending_size_;
    pending_.clear();
    pending_size_ = 0;
    etag_ = std::move(*etag);
    return {};
  }

  Result<void> revert() override {
    if (gone_) return upload_gone();
    // The staged blocks stay uncommitted; the service drops them at the next Put Block List
    // (or after a week).
    pending_.clear();
    pending_size_ = 0;
    buffer_.clear();
    return {};
  }

  Result<void> discard() override {
    if (gone_) return upload_gone();
    if (auto removed = remove_upload(); !removed) return removed.error();
    return {};
  }

  Result<std::size_t> read(std::uint64_t offset, std::span<std::byte> out) override {
    if (gone_) return upload_gone();
    if (out.empty() || offset >= durable_) return std::size_t{0};
    out =
        out.first(static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), durable_ - offset)));
    auto read = state_->client->get_range(data_, offset, out);
    if (!read) return to_storage(read.error());
    return read->count;
  }

  Result<void> save_state(std::span<const std::byte> record) override {
    if (gone_) return upload_gone();
    if (record.size() > kMaxUploadStateBytes) {
      return StorageError{
          Errc::invalid_argument,
          "an upload's record is at most " + std::to_string(kMaxUploadStateBytes) + " bytes"};
    }
    if (auto kept = keep_lease(); !kept) return kept.error();
    if (record.empty()) {
      auto removed = state_->client->delete_blob(record_);
      if (!removed && removed.error().code != ClientErrc::not_found) {
        return to_storage(removed.error());
      }
      return {};
    }
    auto put = state_->client->put_blob(record_, record);
    if (!put) return to_storage(put.error());
    return {};
  }

  Result<std::vector<std::byte>> load_state() override {
    if (gone_) return upload_gone();
    std::vector<std::byte> record(kMaxUploadStateBytes + 1);
    auto read = state_->client->get_range(record_, 0, record);
    if (!read) {
      if (read.error().code == ClientErrc::not_found) return std::vector<std::byte>{};
      return to_storage(read.error());
    }
    if (read->count > kMaxUploadStateBytes) return std::vector<std::byte>{};  // damaged
    record.resize(read->count);
    return record;
  }

  Result<BlobInfo> commit_as(const oci::Digest& digest) override {
    if (gone_) return upload_gone();
    if (auto flushed = flush(); !flushed) return flushed.error();
    const std::string destination = blob_name(digest);
    for (int attempt = 0;; ++attempt) {
      auto copied =
          state_->client->copy_blob(data_, destination, Condition{.if_none_match_any = true});
      if (copied) break;
      const ClientErrc code = copied.error().code;
      if (code != ClientErrc::already_exists && code != ClientErrc::condition_not_met) {
        return to_storage(copied.error());
      }
      auto settled = state_->settle_existing(destination);
      if (!settled) return settled.error();
      if (*settled || attempt > 0) break;  // a complete copy stands: it is kept
    }
    if (auto removed = remove_upload(); !removed) return removed.error();
    return BlobInfo{digest, durable_};
  }

 private:
  // Renews the lease when a third of it has passed, so that it never lapses while in use.
  Result<void> keep_lease() {
    const auto third = std::chrono::seconds(state_->options.lease_seconds) / 3;
    if (Clock::now() - lease_renewed_ < third) return {};
    auto renewed = state_->client->renew_lease(data_, lease_id_);
    if (!renewed) {
      if (renewed.error().code == ClientErrc::lease_conflict) {
        return StorageError{Errc::upload_busy,
                            "upload " + id_ + ": its lease lapsed and another writer holds it now"};
      }
      return to_storage(renewed.error());
    }
    lease_renewed_ = Clock::now();
    return {};
  }

  // Stages `head` + `tail` as the next block; it counts once Put Block succeeded.
  Result<void> stage(std::span<const std::byte> head, std::span<const std::byte> tail) {
    // Ids of one blob must have one length: a per-handle random part keeps them apart from
    // blocks other handles staged and never committed.
    char counter[16];
    std::snprintf(counter, sizeof(counter), "%08llx", static_cast<unsigned long long>(next_block_));
    std::string id = base64(nonce_ + "-" + counter);
    auto put = state_->client->put_block(data_, id, head, tail, Condition{.lease_id = lease_id_});
    if (!put) return to_storage(put.error());
    ++next_block_;
    pending_.push_back(Block{std::move(id), head.size() + tail.size()});
    pending_size_ += head.size() + tail.size();
    return {};
  }

  // Put Block List failed with `error`. When its condition failed, an earlier attempt of the
  // same request may have been applied and its answer lost: the list committed now is then ours.
  Result<std::string> confirm_list(const ClientError& error) {
    if (error.code != ClientErrc::condition_not_met) return to_storage(error);
    auto current = state_->client->get_block_list(data_);
    if (!current) return to_storage(current.error());
    const std::size_t expected = committed_.size() + pending_.size();
    bool ours = current->committed.size() == expected;
    for (std::size_t i = 0; ours && i < expected; ++i) {
      const Block& block = i < committed_.size() ? committed_[i] : pending_[i - committed_.size()];
      ours = current->committed[i].id == block.id;
    }
    if (!ours) {
      return StorageError{Errc::upload_busy,
                          "upload " + id_ + " was changed by another writer: " + error.message};
    }
    return current->etag;
  }

  // Deletes the data blob (under our lease) and the record; afterwards the handle is gone.
  Result<void> remove_upload() {
    if (auto kept = keep_lease(); !kept) return kept.error();
    auto removed = state_->client->delete_blob(data_, Condition{.lease_id = lease_id_});
    if (!removed && removed.error().code != ClientErrc::not_found) {
      return to_storage(removed.error());
    }
    // A record left behind is harmless: create_upload() of the same id removes it first.
    (void)state_->client->delete_blob(record_);
    gone_ = true;
    buffer_ = {};
    pending_.clear();
    state_->unhold(id_);
    return {};
  }

  std::shared_ptr<State> state_;
  std::string id_;
  std::string data_;
  std::string record_;
  std::string lease_id_;
  Clock::time_point lease_renewed_;
  std::vector<Block> committed_;
  std::string etag_;
  std::uint64_t durable_ = 0;
  std::vector<Block> pending_;  // staged since the last flush, in order
  std::uint64_t pending_size_ = 0;
  std::vector<std::byte> buffer_;  // appended, not yet staged (less than one block)
  std::string nonce_;
  std::uint64_t next_block_ = 0;
  bool gone_ = false;
};

// Releases an in-process hold unless dismissed (the handle took it over).
class HoldGuard {
 public:
  HoldGuard(State& state, std::string_view id) : state_(&state), id_(id) {}
  ~HoldGuard() {
    if (state_ != nullptr) state_->unhold(id_);
  }
  void dismiss() { state_ = nullptr; }

 private:
  State* state_;
  std::string id_;
};

// --- list_blobs: a walk that starts after any string ---
//
// The Blob service lists names in order from a prefix, and continues only from a marker of its
// own making: it has no "start after this name". A walk that starts after a digest text (a
// cursor of an earlier page, perhaps from another node, or any string) therefore narrows by
// prefix. For an algorithm's hex part H it looks first under H's first kSeekDepth characters,
// whose subtree is small however many blobs there are (digests are uniform), keeping the names
// after H; then under ever shorter prefixes of H, skipping the subtree already seen. A prefix
// whose subtree is larger than one listing is not skimmed but walked child by child (the hex
// digits after H's next one), so nothing is read twice and no page is read only to be skipped.
// A page thus costs a few listing requests however deep the walk is.
class BlobWalk {
 public:
  BlobWalk(BlobClient& client, std::size_t page, std::size_t limit, std::vector<StoredBlob>& out)
      : client_(client),
        page_(std::clamp<std::size_t>(page, 1, kMaxListing)),
        limit_(limit),
        out_(out) {}

  bool full() const { return out_.size() >= limit_; }

  // The blobs of `algorithm` after hex `after` (nullopt: all of them), until full.
  Result<void> collect(std::string_view algorithm, const std::optional<std::string>& after) {
    root_ = std::string(kBlobsPrefix);
    root_ += algorithm;
    root_ += '/';
    algorithm_ = algorithm;
    if (!after) return walk("", std::nullopt);
    const std::string& h = *after;
    const std::size_t deepest = std::min(h.size(), kSeekDepth);
    for (std::size_t level = deepest;; --level) {
      auto visited = visit_level(h, level, deepest);
      if (!visited) return visited;
      if (full() || level == 0) return {};
    }
  }

 private:
  // Names under h[0, level) after h, leaving out the subtree h[0, level + 1) when a deeper
  // level already covered it.
  Result<void> visit_level(const std::string& h, std::size_t level, std::size_t deepest) {
    const std::string prefix = h.substr(0, level);
    std::optional<std::string> covered;
    if (level < deepest) covered = h.substr(0, level + 1);
    auto page = client_.list_blobs(root_ + prefix, "", page_);
    if (!page) return to_storage(page.error());
    if (page->next_marker.empty()) {
      for (const ListedBlob& blob : page->blobs) {
        const std::string_view hex = std::string_view(blob.name).substr(root_.size());
        if (hex <= h || (covered && hex.starts_with(*covered))) continue;
        add(blob);
        if (full()) return {};
      }
      return {};
    }
    // Too many to skim: each child after h's next character, walked in full (the child equal
    // to it only when no deeper level covered it, and then only after h).
    for (char digit : kHexDigits) {
      if (level < h.size()) {
        if (digit < h[level] || (digit == h[level] && covered)) continue;
      }
      std::optional<std::string> after;
      if (level < h.size() && digit == h[level]) after = h;
      auto walked = walk(prefix + digit, after);
      if (!walked || full()) return walked;
    }
    return {};
  }

  // Every name under root + prefix (after `after`, when given), page by page, until full.
  Result<void> walk(const std::string& prefix, const std::optional<std::string>& after) {
    std::string marker;
    do {
      const std::size_t want = after ? page_ : std::min(page_, limit_ - out_.size());
      auto page = client_.list_blobs(root_ + prefix, marker, std::max<std::size_t>(want, 1));
      if (!page) return to_storage(page.error());
      for (const ListedBlob& blob : page->blobs) {
        if (after && std::string_view(blob.name).substr(root_.size()) <= *after) continue;
        add(blob);
        if (full()) return {};
      }
      marker = std::move(page->next_marker);
    } while (!marker.empty());
    return {};
  }

  void add(const ListedBlob& blob) {
    if (!complete_copy(blob.copy_status)) return;
    std::string text(algorithm_);
    text += ':';
    text += std::string_view(blob.name).substr(root_.size());
    auto digest = oci::Digest::parse(text);
    if (!digest) return;  // not a name this driver writes
    out_.push_back(StoredBlob{std::move(*digest), blob.size, blob.last_modified});
  }

  BlobClient& client_;
  std::size_t page_;
  std::size_t limit_;
  std::vector<StoredBlob>& out_;
  std::string root_;
  std::string_view algorithm_;
};

}  // namespace

// --- the store ---

AzureByteStore::AzureByteStore(std::shared_ptr<State> state) : state_(std::move(state)) {}
AzureByteStore::~AzureByteStore() = default;

Result<std::unique_ptr<AzureByteStore>> AzureByteStore::open(ConnectionString account,
                                                             std::string container,
                                                             AzureOptions options) {
  options.lease_seconds = std::clamp(options.lease_seconds, 15, 60);
  options.block_size = std::max<std::size_t>(options.block_size, 1);
  auto client = BlobClient::make(std::move(account), std::move(container), options.client);
  if (!client) return to_storage(client.error());
  if (auto created = (*client)->create_container(); !created) {
    return to_storage(created.error());
  }
  auto state = std::make_shared<State>();
  state->client = std::move(*client);
  state->options = options;
  return std::unique_ptr<AzureByteStore>(new AzureByteStore(std::move(state)));
}

std::string AzureByteStore::describe() const { return state_->client->describe(); }

Result<BlobInfo> AzureByteStore::stat(const oci::Digest& digest) {
  auto properties = state_->client->get_properties(blob_name(digest));
  if (!properties) return to_storage(properties.error());
  if (!complete_copy(properties->copy_status)) {
    return StorageError{Errc::not_found, "blob " + digest.str() + " is still being copied"};
  }
  return BlobInfo{digest, properties->size};
}

Result<std::unique_ptr<BlobReader>> AzureByteStore::open(const oci::Digest& digest) {
  const std::string name = blob_name(digest);
  std::vector<std::byte> head(std::max<std::size_t>(state_->options.prefetch, 1));
  auto read = state_->client->get_range(name, 0, head);
  if (!read) return to_storage(read.error());
  if (!complete_copy(read->copy_status)) {
    return StorageError{Errc::not_found, "blob " + digest.str() + " is still being copied"};
  }
  head.resize(read->count);
  const std::uint64_t size = read->count == 0 ? 0 : read->blob_size;
  return std::unique_ptr<BlobReader>(
      new AzureReader(state_, name, size, std::move(read->etag), std::move(head)));
}

Result<void> AzureByteStore::remove(const oci::Digest& digest) {
  auto removed = state_->client->delete_blob(blob_name(digest));
  if (!removed) return to_storage(removed.error());
  return {};
}

Result<BlobListing> AzureByteStore::list_blobs(std::string_view after, std::size_t limit) {
  BlobListing listing;
  if (limit == 0) return listing;
  BlobWalk walk(*state_->client, state_->options.listing_page, limit, listing.blobs);
  for (std::string_view algorithm : kAlgorithms) {
    std::string first(algorithm);  // every digest text of the algorithm starts with this
    first += ':';
    std::optional<std::string> hex_after;
    if (after.starts_with(first)) {
      hex_after = std::string(after.substr(first.size()));
    } else if (after > std::string_view(first)) {
      continue;  // `after` sorts after every digest of this algorithm
    }
    if (auto collected = walk.collect(algorithm, hex_after); !collected) return collected.error();
    if (walk.full()) break;
  }
  if (listing.blobs.size() == limit) listing.next = listing.blobs.back().digest.str();
  return listing;
}

Result<BlobInfo> AzureByteStore::store(const oci::Digest& digest,
                                       std::span<const std::byte> bytes) {
  const std::string name = blob_name(digest);
  for (int attempt = 0;; ++attempt) {
    auto put = state_->client->put_blob(name, bytes, Condition{.if_none_match_any = true});
    if (put) break;
    const ClientErrc code = put.error().code;
    if (code != ClientErrc::already_exists && code != ClientErrc::condition_not_met) {
      return to_storage(put.error());
    }
    auto settled = state_->settle_existing(name);
    if (!settled) return settled.error();
    if (*settled || attempt > 0) break;  // the existing copy is kept
  }
  return BlobInfo{digest, bytes.size()};
}

Result<std::optional<std::string>> AzureByteStore::direct_read_url(
    const oci::Digest& digest, std::chrono::seconds lifetime) {
  if (auto valid = check_direct_read_lifetime(lifetime); !valid) return valid.error();
  const auto now = std::chrono::system_clock::now();
  return std::optional<std::string>(
      state_->client->signed_read_url(blob_name(digest), now - kDirectReadSkew, now + lifetime));
}

Result<std::unique_ptr<UploadBytes>> AzureByteStore::create_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  if (!state_->hold(id)) {
    return StorageError{Errc::upload_busy, "upload " + std::string(id) + " is held by a handle"};
  }
  HoldGuard hold(*state_, id);
  const std::string data = data_name(id);
  // The creator's mark: a retried create that finds the blob knows whether it made it.
  const std::string creator = random_hex(16);
  auto created = state_->client->put_blob(data, {}, Condition{.if_none_match_any = true},
                                          {{"creator", creator}});
  if (!created) {
    if (created.error().code != ClientErrc::already_exists &&
        created.error().code != ClientErrc::condition_not_met) {
      return to_storage(created.error());
    }
    auto existing = state_->client->get_properties(data, {"creator"});
    const bool ours =
        existing && !existing->metadata.empty() && existing->metadata.front().second == creator;
    if (!ours) {
      return StorageError{Errc::invalid_argument, "upload " + std::string(id) + " already exists"};
    }
  }
  const std::string lease_id = random_uuid();
  if (auto leased = state_->client->acquire_lease(data, lease_id, state_->options.lease_seconds);
      !leased) {
    return to_storage(leased.error());
  }
  // A record left by an earlier upload of this id is not this one's.
  if (auto removed = state_->client->delete_blob(record_name(id));
      !removed && removed.error().code != ClientErrc::not_found) {
    (void)state_->client->release_lease(data, lease_id);
    return to_storage(removed.error());
  }
  auto list = state_->client->get_block_list(data);
  if (!list) {
    (void)state_->client->release_lease(data, lease_id);
    return to_storage(list.error());
  }
  hold.dismiss();
  return std::unique_ptr<UploadBytes>(
      new AzureUpload(state_, std::string(id), lease_id, std::move(*list)));
}

Result<std::unique_ptr<UploadBytes>> AzureByteStore::open_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  if (!state_->hold(id)) {
    return StorageError{Errc::upload_busy, "upload " + std::string(id) + " is held by a handle"};
  }
  HoldGuard hold(*state_, id);
  const std::string data = data_name(id);
  const std::string lease_id = random_uuid();
  if (auto leased = state_->client->acquire_lease(data, lease_id, state_->options.lease_seconds);
      !leased) {
    StorageError error = to_storage(leased.error());
    if (error.code == Errc::upload_busy) {
      error.message = "upload " + std::string(id) + " is held by another node or process";
    }
    return error;
  }
  auto list = state_->client->get_block_list(data);
  if (!list) {
    (void)state_->client->release_lease(data, lease_id);
    return to_storage(list.error());
  }
  hold.dismiss();
  return std::unique_ptr<UploadBytes>(
      new AzureUpload(state_, std::string(id), lease_id, std::move(*list)));
}

Result<std::uint64_t> AzureByteStore::upload_size(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  auto properties = state_->client->get_properties(data_name(id));
  if (!properties) return to_storage(properties.error());
  return properties->size;
}

Result<void> AzureByteStore::delete_upload(std::string_view id) {
  if (!is_valid_upload_id(id)) return invalid_id(id);
  if (state_->is_held(id)) {
    return StorageError{Errc::upload_busy, "upload " + std::string(id) + " is held by a handle"};
  }
  // Without our lease: refused while another node's handle holds the upload.
  auto removed = state_->client->delete_blob(data_name(id));
  if (!removed) {
    StorageError error = to_storage(removed.error());
    if (error.code == Errc::upload_busy) {
      error.message = "upload " + std::string(id) + " is held by another node or process";
    }
    return error;
  }
  if (auto record = state_->client->delete_blob(record_name(id));
      !record && record.error().code != ClientErrc::not_found) {
    return to_storage(record.error());
  }
  return {};
}

Result<std::vector<std::string>> AzureByteStore::list_uploads() {
  std::vector<std::string> ids;
  std::string marker;
  do {
    auto page = state_->client->list_blobs(kUploadsPrefix, marker, kMaxListing);
    if (!page) return to_storage(page.error());
    for (const ListedBlob& blob : page->blobs) {
      std::string_view name = std::string_view(blob.name).substr(kUploadsPrefix.size());
      if (!name.ends_with("/data")) continue;
      name.remove_suffix(5);
      if (is_valid_upload_id(name)) ids.emplace_back(name);
    }
    marker = std::move(page->next_marker);
  } while (!marker.empty());
  return ids;
}

Result<void> AzureByteStore::check_writable() {
  const std::string probe = "tmp/probe-" + random_hex(8);
  static constexpr std::string_view kProbe = "berth write probe";
  auto put = state_->client->put_blob(probe, std::as_bytes(std::span(kProbe)));
  if (!put) return to_storage(put.error());
  auto removed = state_->client->delete_blob(probe);
  if (!removed && removed.error().code != ClientErrc::not_found) {
    return to_storage(removed.error());
  }
  return {};
}

}  // namespace berth::storage::azure
