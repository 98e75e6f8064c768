#include "cli/context_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>

namespace berth::cli {
namespace fs = std::filesystem;

// --- .dockerignore patterns ---

namespace {

// Paths and patterns are matched by code point, as docker's regular expressions do (a '?'
// matches one character, not one byte). A byte that is not valid UTF-8 stands for itself, in
// a range no code point uses.
std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = byte < 0x80           ? 1
                         : (byte >> 5) == 0x6  ? 2
                         : (byte >> 4) == 0xE  ? 3
                         : (byte >> 3) == 0x1E ? 4
                                               : 0;
    bool valid = length != 0 && i + length <= text.size();
    char32_t point = length == 1   ? byte
                     : length == 2 ? (byte & 0x1F)
                     : length == 3 ? (byte & 0x0F)
                                   : (byte & 0x07);
    for (std::size_t k = 1; valid && k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next >> 6) == 0x2;
      point = (point << 6) | (next & 0x3F);
    }
    if (!valid) {
      out += static_cast<char32_t>(0x110000 + byte);
      ++i;
      continue;
    }
    out += point;
    i += length;
  }
  return out;
}

// filepath.Clean, for '/'-separated paths.
std::string clean_path(std::string_view path) {
  bool rooted = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(start, slash - start);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out += parts[k];
  }
  if (out.empty()) out = ".";
  return out;
}

std::string_view trim(std::string_view text) {
  auto blank = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

struct Token {
  enum class Kind { literal, any_char, star, any_all, optional_dirs, char_class } kind;
  char32_t value = 0;
  std::vector<std::pair<char32_t, char32_t>> ranges;  // char_class
};

}  // namespace

// How a pattern matches, as moby's patternmatcher decides it: exactly, by prefix ("a/**"), by
// suffix (a leading "**" followed by no other special character: "**.txt" matches "a.txt"),
// or by the whole glob.
struct IgnoreRules::Pattern {
  enum class Type { exact, prefix, suffix, glob };
  std::string text;  // cleaned
  bool exception = false;
  Type type = Type::exact;
  std::vector<Token> tokens;

  bool matches(std::string_view path) const {
    switch (type) {
      case Type::exact:
        return path == text;
      case Type::prefix:
        return path.substr(0, text.size() - 2) == std::string_view(text).substr(0, text.size() - 2);
      case Type::suffix: {
        std::string_view suffix = std::string_view(text).substr(2);
        if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix) {
          return true;
        }
        return !suffix.empty() && suffix.front() == '/' && path == suffix.substr(1);
      }
      case Type::glob:
        return glob_matches(decode_utf8(path));
    }
    return false;
  }

  // Dynamic programming over (token, position): linear in each, no backtracking.
  bool glob_matches(const std::u32string& path) const {
    const std::size_t n = path.size();
    std::vector<char> next(n + 1, 0), current(n + 1, 0);
    next[n] = 1;  // no tokens left: matches the empty rest only
    for (std::size_t t = tokens.size(); t-- > 0;) {
      const Token& token = tokens[t];
      current[n] = (token.kind == Token::Kind::star || token.kind == Token::Kind::any_all ||
                    token.kind == Token::Kind::optional_dirs) &&
                   next[n];
      bool slash_ahead = false;  // optional_dirs: a '/' at or after j with a match behind it
      for (std::size_t j = n; j-- > 0;) {
        char32_t c = path[j];
        switch (token.kind) {
          case Token::Kind::literal:
            current[j] = c == token.value && next[j + 1];
            break;
          case Token::Kind::any_char:
            current[j] = c != U'/' && next[j + 1];
            break;
          case Token::Kind::char_class:
            current[j] = in_class(token, c) && next[j + 1];
            break;
          case Token::Kind::star:
            current[j] = next[j] || (c != U'/' && current[j + 1]);
            break;
          case Token::Kind::any_all:
            current[j] = next[j] || current[j + 1];
            break;
          case Token::Kind::optional_dirs:
            slash_ahead = slash_ahead || (c == U'/' && next[j + 1]);
            current[j] = next[j] || slash_ahead;
            break;
        }
      }
      std::swap(next, current);
    }
    return next[0] != 0;
  }

  static bool in_class(const Token& token, char32_t c) {
    return std::any_of(token.ranges.begin(), token.ranges.end(),
                       [c](const auto& range) { return c >= range.first && c <= range.second; });
  }
};

namespace {

using Pattern = IgnoreRules::Pattern;

// Compiles a cleaned pattern the way moby's Pattern.compile does; false for an unterminated
// character class.
bool compile(Pattern& pattern) {
  std::u32string text = decode_utf8(pattern.text);
  pattern.type = Pattern::Type::exact;
  for (std::size_t i = 0; i < text.size();) {
    bool at_start = i == 0;
    char32_t c = text[i++];
    if (c == U'*' && i < text.size() && text[i] == U'*') {
      ++i;
      if (i < text.size() && text[i] == U'/') ++i;
      if (i == text.size()) {
        pattern.tokens.push_back({Token::Kind::any_all});
        if (pattern.type == Pattern::Type::exact)
          pattern.type = Pattern::Type::prefix;
        else
          pattern.type = Pattern::Type::glob;
      } else {
        pattern.tokens.push_back({Token::Kind::optional_dirs});
        pattern.type = Pattern::Type::glob;
      }
      if (at_start) pattern.type = Pattern::Type::suffix;
    } else if (c == U'*') {
      pattern.tokens.push_back({Token::Kind::star});
      pattern.type = Pattern::Type::glob;
    } else if (c == U'?') {
      pattern.tokens.push_back({Token::Kind::any_char});
      pattern.type = Pattern::Type::glob;
    } else if (c == U'\\') {
      if (i < text.size()) {
        pattern.tokens.push_back({Token::Kind::literal, text[i++]});
        pattern.type = Pattern::Type::glob;
      } else {
        pattern.tokens.push_back({Token::Kind::literal, c});
      }
    } else if (c == U'[') {
      Token set{Token::Kind::char_class};
      bool closed = false;
      for (bool first = true; i < text.size(); first = false) {
        char32_t item = text[i++];
        if (item == U']' && !first) {
          closed = true;
          break;
        }
        if (item == U'\\' && i < text.size()) item = text[i++];
        char32_t last = item;
        if (i + 1 < text.size() && text[i] == U'-' && text[i + 1] != U']') {
          last = text[i + 1];
          i += 2;
          if (last == U'\\' && i < text.size()) last = text[i++];
        }
        set.ranges.emplace_back(item, last);
      }
      if (!closed) return false;
      pattern.tokens.push_back(std::move(set));
      pattern.type = Pattern::Type::glob;
    } else {
      pattern.tokens.push_back({Token::Kind::literal, c});
    }
  }
  return true;
}

}  // namespace

IgnoreRules::IgnoreRules() = default;
IgnoreRules::~IgnoreRules() = default;
IgnoreRules::IgnoreRules(IgnoreRules&&) noexcept = default;
IgnoreRules& IgnoreRules::operator=(IgnoreRules&&) noexcept = default;

Result<IgnoreRules> IgnoreRules::parse(std::string_view dockerignore) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (dockerignore.substr(0, kBom.size()) == kBom) dockerignore.remove_prefix(kBom.size());
  IgnoreRules rules;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start < dockerignore.size()) {
    std::size_t end = dockerignore.find('\n', start);
    if (end == std::string_view::npos) end = dockerignore.size();
    std::string_view line = dockerignore.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.front() == '#') continue;  // before trimming, as docker does
    line = trim(line);
    if (line.empty()) continue;
    Pattern pattern;
    pattern.exception = line.front() == '!';
    if (pattern.exception) line = trim(line.substr(1));
    if (line.empty()) {
      return usage_error(fmt::format(".dockerignore line {}: '!' needs a pattern", line_number));
    }
    pattern.text = clean_path(line);
    if (pattern.text.size() > 1 && pattern.text.front() == '/') pattern.text.erase(0, 1);
    if (!compile(pattern)) {
      return usage_error(
          fmt::format(".dockerignore line {}: '{}' has a '[' without its ']'", line_number, line));
    }
    rules.patterns_.push_back(std::move(pattern));
  }
  return rules;
}

void IgnoreRules::always_include(std::string_view path) {
  Pattern pattern;
  pattern.text = clean_path(path);
  pattern.exception = true;
  pattern.type = Pattern::Type::exact;  // the name as it is, whatever characters it has
  patterns_.push_back(std::move(pattern));
}

bool IgnoreRules::excluded(std::string_view path) const {
  bool excluded = false;
  for (const Pattern& pattern : patterns_) {
    // An exclusion cannot change an excluded path, nor an exception an included one.
    if (pattern.exception != excluded) continue;
    bool match = pattern.matches(path);
    for (std::size_t slash = path.find('/'); !match && slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
      match = pattern.matches(path.substr(0, slash));
    }
    if (match) excluded = !pattern.exception;
  }
  return excluded;
}

bool IgnoreRules::may_include_below(std::string_view path) const {
  std::string below = fmt::format("{}/", path);
  for (const Pattern& pattern : patterns_) {
    if (!pattern.exception) continue;
    if (pattern.type == Pattern::Type::exact) {
      // docker's rule: "!dir/file" keeps "dir" walked.
      if (fmt::format("{}/", pattern.text).compare(0, below.size(), below) == 0) return true;
      continue;
    }
    // A glob can match below `path` only if its part before the first special character and
    // `path/` agree as far as both go ("!**/x" may match anywhere).
    std::string_view text = pattern.text;
    std::string_view literal = text.substr(0, text.find_first_of("*?[\\"));
    std::size_t common = std::min(literal.size(), below.size());
    if (literal.substr(0, common) == std::string_view(below).substr(0, common)) return true;
  }
  return false;
}

// --- packing ---

namespace {

std::string errno_text(int error) { return std::strerror(error); }

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  UniqueFd(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// Where the archive goes: the caller's descriptor, with the bytes counted.
struct Sink {
  int fd;
  std::uint64_t written = 0;
};

la_ssize_t write_to_sink(archive* a, void* client, const void* buffer, size_t length) {
  auto* sink = static_cast<Sink*>(client);
  const char* data = static_cast<const char*>(buffer);
  std::size_t left = length;
  while (left > 0) {
    ssize_t n = ::write(sink->fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      archive_set_error(a, errno, "%s", std::strerror(errno));
      return -1;
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  sink->written += length;
  return static_cast<la_ssize_t>(length);
}

// Names in a directory, sorted bytewise ("." and ".." left out).
Result<std::vector<std::string>> sorted_names(int dir_fd, const std::string& shown) {
  int copy = ::dup(dir_fd);
  if (copy < 0) return failure(fmt::format("cannot read {}: {}", shown, errno_text(errno)));
  DIR* dir = ::fdopendir(copy);
  if (dir == nullptr) {
    int error = errno;
    ::close(copy);
    return failure(fmt::format("cannot read {}: {}", shown, errno_text(error)));
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, ::closedir);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  if (errno != 0) return failure(fmt::format("cannot read {}: {}", shown, errno_text(errno)));
  std::sort(names.begin(), names.end());
  return names;
}

class Packer {
 public:
  Packer(archive* a, IgnoreRules rules, struct stat output)
      : archive_(a), rules_(std::move(rules)), output_(output) {}

  Result<void> walk(int dir_fd, const std::string& relative) {
    auto names = sorted_names(dir_fd, relative.empty() ? std::string(".") : relative);
    if (!names) return names.error();
    for (const std::string& name : *names) {
      std::string path = relative.empty() ? name : fmt::format("{}/{}", relative, name);
      struct stat st {};
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return failure(fmt::format("cannot read {}: {}", path, errno_text(errno)));
      }
      if (st.st_dev == output_.st_dev && st.st_ino == output_.st_ino) continue;  // the archive
      bool excluded = rules_.excluded(path);
      Result<void> done;
      if (S_ISDIR(st.st_mode)) {
        if (excluded && !rules_.may_include_below(path)) continue;
        done = directory(dir_fd, name, path, st, excluded);
      } else if (excluded) {
        continue;
      } else if (S_ISREG(st.st_mode)) {
        done = regular_file(dir_fd, name, path, st);
      } else if (S_ISLNK(st.st_mode)) {
        done = symlink(dir_fd, name, path, st);
      } else {
        summary_.notes.push_back(
            fmt::format("{} was not sent: sockets, FIFOs and devices cannot be", path));
      }
      if (!done) return done;
    }
    return {};
  }

  PackSummary& summary() { return summary_; }

 private:
  struct PendingDirectory {
    std::string path;
    struct stat st;
    bool written;
  };

  Result<void> directory(int dir_fd, const std::string& name, const std::string& path,
                         const struct stat& st, bool excluded) {
    UniqueFd child(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (child.get() < 0) return failure(fmt::format("cannot read {}: {}", path, errno_text(errno)));
    // An excluded directory walked for its exceptions is written only if something below it is.
    pending_.push_back({path, st, false});
    if (!excluded) {
      if (auto flushed = flush_pending(); !flushed) return flushed;
    }
    auto walked = walk(child.get(), path);
    pending_.pop_back();
    return walked;
  }

  Result<void> flush_pending() {
    for (PendingDirectory& pending : pending_) {
      if (pending.written) continue;
      pending.written = true;
      auto entry = new_entry(fmt::format("{}/", pending.path), pending.st, AE_IFDIR);
      if (auto written = write_header(entry.get(), pending.path); !written) return written;
      ++summary_.directories;
    }
    return {};
  }

  Result<void> regular_file(int dir_fd, const std::string& name, const std::string& path,
                            const struct stat& st) {
    UniqueFd file(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (file.get() < 0) return failure(fmt::format("cannot read {}: {}", path, errno_text(errno)));
    struct stat opened {};
    if (::fstat(file.get(), &opened) != 0 || opened.st_ino != st.st_ino ||
        opened.st_size != st.st_size || !S_ISREG(opened.st_mode)) {
      return failure(fmt::format("{} changed while the context was packed", path));
    }
    if (auto flushed = flush_pending(); !flushed) return flushed;
    auto entry = new_entry(path, st, AE_IFREG);
    archive_entry_set_size(entry.get(), st.st_size);
    if (auto written = write_header(entry.get(), path); !written) return written;
    auto left = static_cast<std::uint64_t>(st.st_size);
    std::array<char, 64 * 1024> buffer{};
    while (left > 0) {
      ssize_t n = ::read(file.get(), buffer.data(), std::min<std::uint64_t>(left, buffer.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return failure(fmt::format("cannot read {}: {}", path, errno_text(errno)));
      if (n == 0) return failure(fmt::format("{} changed while the context was packed", path));
      if (archive_write_data(archive_, buffer.data(), static_cast<std::size_t>(n)) != n) {
        return failure(fmt::format("cannot write the archive: {}", error_text()));
      }
      left -= static_cast<std::uint64_t>(n);
    }
    ++summary_.files;
    summary_.file_bytes += static_cast<std::uint64_t>(st.st_size);
    return {};
  }

  Result<void> symlink(int dir_fd, const std::string& name, const std::string& path,
                       const struct stat& st) {
    std::string target(PATH_MAX + 1, '\0');
    ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
    if (n < 0) return failure(fmt::format("cannot read the link {}: {}", path, errno_text(errno)));
    if (static_cast<std::size_t>(n) == target.size()) {
      return failure(fmt::format("the target of the link {} is too long", path));
    }
    target.resize(static_cast<std::size_t>(n));
    if (auto flushed = flush_pending(); !flushed) return flushed;
    auto entry = new_entry(path, st, AE_IFLNK);
    archive_entry_set_symlink(entry.get(), target.c_str());
    archive_entry_set_perm(entry.get(), 0777);
    if (auto written = write_header(entry.get(), path); !written) return written;
    ++summary_.symlinks;
    return {};
  }

  static std::unique_ptr<archive_entry, EntryDeleter> new_entry(const std::string& name,
                                                                const struct stat& st,
                                                                unsigned type) {
    std::unique_ptr<archive_entry, EntryDeleter> entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), type);
    archive_entry_set_perm(entry.get(), st.st_mode & 07777);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    archive_entry_set_mtime(entry.get(), st.st_mtim.tv_sec, 0);
    return entry;
  }

  Result<void> write_header(archive_entry* entry, const std::string& path) {
    if (archive_write_header(archive_, entry) != ARCHIVE_OK) {
      return failure(fmt::format("cannot add {} to the archive: {}", path, error_text()));
    }
    return {};
  }

  std::string error_text() const {
    const char* text = archive_error_string(archive_);
    return text != nullptr ? text : "unknown error";
  }

  archive* archive_;
  IgnoreRules rules_;
  struct stat output_;
  std::vector<PendingDirectory> pending_;
  PackSummary summary_;
};

// The context's .dockerignore, or no rules when there is none.
Result<IgnoreRules> read_ignore_rules(const fs::path& context) {
  fs::path file = context / ".dockerignore";
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(file, ec))) return IgnoreRules();
    return failure(fmt::format("cannot read {}", file.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return IgnoreRules::parse(text.str());
}

// The Dockerfile's path relative to the context, cleaned; a usage error when it leaves it.
Result<std::string> dockerfile_in_context(std::string_view dockerfile) {
  fs::path path = fs::path(dockerfile).lexically_normal();
  if (dockerfile.empty() || path.is_absolute() || path.empty() || *path.begin() == "..") {
    return usage_error(
        fmt::format("the Dockerfile '{}' must be a path inside the context", dockerfile));
  }
  return path.generic_string();
}

Result<UniqueFd> open_context(const fs::path& context) {
  struct stat st {};
  if (::stat(context.c_str(), &st) != 0) {
    return usage_error(
        fmt::format("the context {} cannot be read: {}", context.string(), errno_text(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return usage_error(fmt::format("the context {} is not a directory", context.string()));
  }
  UniqueFd fd(::open(context.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return failure(fmt::format("cannot read {}: {}", context.string(), errno_text(errno)));
  }
  return fd;
}

}  // namespace

Result<PackSummary> pack_context(const fs::path& context, int fd, const PackOptions& options) {
  auto root = open_context(context);
  if (!root) return root.error();
  auto dockerfile = dockerfile_in_context(options.dockerfile);
  if (!dockerfile) return dockerfile.error();
  auto rules = read_ignore_rules(context);
  if (!rules) return rules.error();
  rules->always_include(*dockerfile);
  rules->always_include(".dockerignore");

  struct stat output {};
  if (::fstat(fd, &output) != 0) {
    return failure(fmt::format("cannot write the archive: {}", errno_text(errno)));
  }
  std::unique_ptr<archive, ArchiveDeleter> a(archive_write_new());
  Sink sink{fd};
  // No padding after the gzip stream (readers that look for a next member would stumble on
  // it), and no time in its header: the same tree gives the same bytes.
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK ||
      archive_write_set_options(a.get(), "gzip:!timestamp") != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open(a.get(), &sink, nullptr, write_to_sink, nullptr) != ARCHIVE_OK) {
    return failure(fmt::format("cannot start the archive: {}", archive_error_string(a.get())));
  }
  Packer packer(a.get(), std::move(*rules), output);
  if (auto walked = packer.walk(root->get(), ""); !walked) return walked.error();
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return failure(fmt::format("cannot finish the archive: {}", archive_error_string(a.get())));
  }
  packer.summary().archive_bytes = sink.written;
  return std::move(packer.summary());
}

Result<PackSummary> pack_context(const fs::path& context, const fs::path& archive_path,
                                 const PackOptions& options) {
  if (auto root = open_context(context); !root) return root.error();
  UniqueFd out(::open(archive_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (out.get() < 0) {
    return failure(fmt::format("cannot create {}: {}", archive_path.string(), errno_text(errno)));
  }
  auto packed = pack_context(context, out.get(), options);
  if (packed && ::fsync(out.get()) != 0) {
    packed = failure(fmt::format("cannot write {}: {}", archive_path.string(), errno_text(errno)));
  }
  if (!packed) {
    std::error_code ignored;
    fs::remove(archive_path, ignored);
  }
  return packed;
}

}  // namespace berth::cli
