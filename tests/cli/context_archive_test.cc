#include "cli/context_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_env.h"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;
using testing::slurp;

// 2026-12-03 17:50:00 UTC.
constexpr time_t kMtime = 1796320200;

IgnoreRules rules(std::string_view text) {
  auto parsed = IgnoreRules::parse(text);
  EXPECT_TRUE(parsed) << text << ": " << (parsed ? "" : parsed.error().message);
  return parsed ? std::move(*parsed) : IgnoreRules();
}

TEST(DockerIgnore, CommentsTrimmingAndCleaning) {
  IgnoreRules r = rules("# *.md is a comment\n  *.log  \r\n\n/abs.txt\n./dot/./x//\n #kept\n");
  EXPECT_TRUE(r.excluded("a.log"));
  EXPECT_FALSE(r.excluded("dir/a.log"));  // '*' does not cross '/'
  EXPECT_FALSE(r.excluded("README.md"));
  EXPECT_TRUE(r.excluded("abs.txt"));
  EXPECT_TRUE(r.excluded("dot/x"));
  EXPECT_TRUE(r.excluded("dot/x/below"));  // a matching directory excludes what is below it
  EXPECT_TRUE(r.excluded("#kept"));        // '#' only starts a comment at the line's start
}

TEST(DockerIgnore, WildcardsClassesAndEscapes) {
  IgnoreRules r = rules("file?.txt\n[a-c]*.md\nlit\\*.txt\n[]x].c\n");
  EXPECT_TRUE(r.excluded("file1.txt"));
  EXPECT_FALSE(r.excluded("file12.txt"));
  EXPECT_FALSE(r.excluded("file/.txt"));
  EXPECT_TRUE(r.excluded("file\xC3\xA9.txt"));  // '?' is one character, not one byte
  EXPECT_TRUE(r.excluded("beta.md"));
  EXPECT_FALSE(r.excluded("delta.md"));
  EXPECT_TRUE(r.excluded("lit*.txt"));
  EXPECT_FALSE(r.excluded("litX.txt"));
  EXPECT_TRUE(r.excluded("].c"));
  EXPECT_TRUE(r.excluded("x.c"));
  // As in docker, '^' in a set is a character, not a negation.
  IgnoreRules caret = rules("[^a].txt\n");
  EXPECT_TRUE(caret.excluded("a.txt"));
  EXPECT_TRUE(caret.excluded("^.txt"));
  EXPECT_FALSE(caret.excluded("b.txt"));
}

TEST(DockerIgnore, DoubleStar) {
  IgnoreRules r = rules("**/node_modules\nbuild/**\na/**/z\n**.tmp\n");
  EXPECT_TRUE(r.excluded("node_modules"));
  EXPECT_TRUE(r.excluded("web/app/node_modules/x.js"));
  EXPECT_TRUE(r.excluded("build/out/bin"));
  EXPECT_FALSE(r.excluded("build"));  // "build/**" is what is below build
  EXPECT_TRUE(r.excluded("a/z"));
  EXPECT_TRUE(r.excluded("a/b/c/z"));
  EXPECT_FALSE(r.excluded("a/bz"));
  // A leading "**" followed by no special character is a suffix match in docker.
  EXPECT_TRUE(r.excluded("x.tmp"));
  EXPECT_TRUE(r.excluded("d/e.tmp"));
  EXPECT_TRUE(rules("**\n").excluded("anything/at/all"));
}

TEST(DockerIgnore, ExceptionsAndTheLastMatchWins) {
  IgnoreRules r = rules("*.md\n!README*.md\nREADME-secret.md\ndocs\n!docs/keep\n");
  EXPECT_TRUE(r.excluded("CHANGES.md"));
  EXPECT_FALSE(r.excluded("README.md"));
  EXPECT_TRUE(r.excluded("README-secret.md"));
  EXPECT_TRUE(r.excluded("docs"));
  EXPECT_TRUE(r.excluded("docs/other"));
  EXPECT_FALSE(r.excluded("docs/keep"));
  EXPECT_FALSE(r.excluded("docs/keep/inner"));
  EXPECT_TRUE(r.may_include_below("docs"));
  EXPECT_FALSE(r.may_include_below("other"));
  EXPECT_TRUE(rules("x\n!**/keep\n").may_include_below("x"));
  EXPECT_FALSE(rules("x\n").may_include_below("x"));

  IgnoreRules all = rules("*\n");
  all.always_include("Dockerfile");
  EXPECT_FALSE(all.excluded("Dockerfile"));
  EXPECT_TRUE(all.excluded("other"));
  // always_include takes the name literally.
  all.always_include("odd[name");
  EXPECT_FALSE(all.excluded("odd[name"));
}

TEST(DockerIgnore, RefusesBrokenPatternsWithTheLine) {
  auto lone = IgnoreRules::parse("ok\n!\n");
  ASSERT_FALSE(lone);
  EXPECT_EQ(lone.error().code, ExitCode::kUsage);
  EXPECT_EQ(lone.error().message, ".dockerignore line 2: '!' needs a pattern");
  auto bracket = IgnoreRules::parse("a\nb\nfile[ab.txt\n");
  ASSERT_FALSE(bracket);
  EXPECT_EQ(bracket.error().message,
            ".dockerignore line 3: 'file[ab.txt' has a '[' without its ']'");
}

// --- packing ---

struct Entry {
  std::string name;
  unsigned type = 0;
  unsigned perm = 0;
  std::int64_t uid = -1;
  std::int64_t gid = -1;
  std::int64_t mtime = 0;
  std::string uname;
  std::string symlink;
  std::string content;
};

std::vector<Entry> read_back(const std::string& bytes) {
  std::vector<Entry> entries;
  archive* a = archive_read_new();
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* header = nullptr;
  while (archive_read_next_header(a, &header) == ARCHIVE_OK) {
    Entry e;
    e.name = archive_entry_pathname(header);
    e.type = archive_entry_filetype(header);
    e.perm = archive_entry_perm(header);
    e.uid = archive_entry_uid(header);
    e.gid = archive_entry_gid(header);
    e.mtime = archive_entry_mtime(header);
    const char* uname = archive_entry_uname(header);
    e.uname = uname != nullptr ? uname : "";
    if (const char* target = archive_entry_symlink(header)) e.symlink = target;
    char buffer[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buffer, sizeof buffer)) > 0) {
      e.content.append(buffer, static_cast<std::size_t>(n));
    }
    entries.push_back(std::move(e));
  }
  EXPECT_EQ(archive_read_free(a), ARCHIVE_OK);
  return entries;
}

std::vector<std::string> names(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  for (const Entry& e : entries) out.push_back(e.name);
  return out;
}

const Entry* find(const std::vector<Entry>& entries, std::string_view name) {
  for (const Entry& e : entries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

void write_file(const fs::path& path, std::string_view content, unsigned mode = 0644) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// Sets the modification time of everything below `root` (links themselves, not their targets).
void set_mtimes(const fs::path& root) {
  timespec times[2] = {{kMtime, 0}, {kMtime, 0}};
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    ASSERT_EQ(::utimensat(AT_FDCWD, entry.path().c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  }
}

class PackContext : public ::testing::Test {
 protected:
  void SetUp() override {
    context_ = scratch_.path() / "context";
    write_file(context_ / ".dockerignore",
               "# build outputs\n*.log\n!keep.log\nbuild/\n**/node_modules\nsecret?.txt\n"
               "docs/**\n!docs/README.md\nDockerfile\n");
    write_file(context_ / "Dockerfile", "FROM busybox\nCOPY . /app\n");
    write_file(context_ / "app.sh", "#!/bin/sh\necho hi\n", 0755);
    write_file(context_ / "debug.log", "noise");
    write_file(context_ / "keep.log", "kept");
    write_file(context_ / "build/out.bin", "binary");
    write_file(context_ / "src/main.c", "int main() { return 0; }\n", 0600);
    write_file(context_ / "src/node_modules/x.js", "x");
    write_file(context_ / "src/lib/node_modules/y.js", "y");
    write_file(context_ / "secret1.txt", "s");
    write_file(context_ / "secret12.txt", "not a secret");
    write_file(context_ / "docs/README.md", "# docs\n");
    write_file(context_ / "docs/other.md", "other");
    fs::create_directories(context_ / "empty");
    fs::create_symlink("src/main.c", context_ / "link");
    fs::create_symlink("/etc/passwd", context_ / "outside");
    ASSERT_EQ(::mkfifo((context_ / "fifo").c_str(), 0600), 0);
    set_mtimes(context_);
  }

  std::string pack(const PackOptions& options = {}) {
    fs::path out = scratch_.path() / "context.tar.gz";
    auto summary = pack_context(context_, out, options);
    EXPECT_TRUE(summary) << (summary ? "" : summary.error().message);
    if (summary) summary_ = *summary;
    return slurp(out);
  }

  ScratchDir scratch_;
  fs::path context_;
  PackSummary summary_;
};

TEST_F(PackContext, SendsWhatDockerignoreLeavesInSortedWithModesAndLinks) {
  std::string bytes = pack();
  auto entries = read_back(bytes);
  EXPECT_EQ(names(entries),
            (std::vector<std::string>{".dockerignore", "Dockerfile", "app.sh", "docs/",
                                      "docs/README.md", "empty/", "keep.log", "link", "outside",
                                      "secret12.txt", "src/", "src/lib/", "src/main.c"}));
  for (const Entry& e : entries) {
    EXPECT_EQ(e.uid, 0) << e.name;
    EXPECT_EQ(e.gid, 0) << e.name;
    EXPECT_EQ(e.uname, "") << e.name;
    EXPECT_EQ(e.mtime, kMtime) << e.name;
  }
  const Entry* script = find(entries, "app.sh");
  ASSERT_NE(script, nullptr);
  EXPECT_EQ(script->type, static_cast<unsigned>(AE_IFREG));
  EXPECT_EQ(script->perm, 0755u);
  EXPECT_EQ(script->content, "#!/bin/sh\necho hi\n");
  EXPECT_EQ(find(entries, "src/main.c")->perm, 0600u);
  // The Dockerfile is sent although a pattern excludes it.
  EXPECT_EQ(find(entries, "Dockerfile")->content, "FROM busybox\nCOPY . /app\n");
  EXPECT_EQ(find(entries, "docs/")->type, static_cast<unsigned>(AE_IFDIR));
  const Entry* link = find(entries, "link");
  EXPECT_EQ(link->type, static_cast<unsigned>(AE_IFLNK));
  EXPECT_EQ(link->symlink, "src/main.c");
  EXPECT_EQ(link->content, "");
  // A link out of the context stays a link: its target is not read.
  EXPECT_EQ(find(entries, "outside")->symlink, "/etc/passwd");
  EXPECT_EQ(find(entries, "outside")->content, "");

  EXPECT_EQ(summary_.files, 7u);
  EXPECT_EQ(summary_.directories, 4u);
  EXPECT_EQ(summary_.symlinks, 2u);
  std::uint64_t bytes_sent = 0;
  for (const Entry& e : entries) bytes_sent += e.content.size();
  EXPECT_EQ(summary_.file_bytes, bytes_sent);
  EXPECT_EQ(summary_.archive_bytes, bytes.size());
  ASSERT_EQ(summary_.notes.size(), 1u);
  EXPECT_EQ(summary_.notes[0], "fifo was not sent: sockets, FIFOs and devices cannot be");
}

TEST_F(PackContext, TheSameTreeGivesTheSameBytes) {
  std::string first = pack();
  std::string second = pack();
  EXPECT_EQ(first, second);
  // A gzip stream with no time in its header (bytes 4-7) and nothing after its end.
  ASSERT_GT(first.size(), 18u);
  EXPECT_EQ(first.substr(4, 4), std::string(4, '\0'));
}

TEST_F(PackContext, ExceptionsReachIntoExcludedDirectories) {
  write_file(context_ / ".dockerignore", "vendor\ndocker\n!vendor/keep/a.txt\n");
  write_file(context_ / "vendor/keep/a.txt", "a");
  write_file(context_ / "vendor/keep/b.txt", "b");
  write_file(context_ / "vendor/other.txt", "o");
  write_file(context_ / "docker/Dockerfile", "FROM scratch\n");
  write_file(context_ / "docker/notes", "n");
  auto entries = read_back(pack(PackOptions{"./docker//Dockerfile"}));
  auto sent = names(entries);
  for (std::string_view name : {"vendor/", "vendor/keep/", "vendor/keep/a.txt", "docker/",
                                "docker/Dockerfile", "Dockerfile", "build/", "build/out.bin"}) {
    EXPECT_NE(std::find(sent.begin(), sent.end(), name), sent.end()) << name;
  }
  for (std::string_view name : {"vendor/keep/b.txt", "vendor/other.txt", "docker/notes"}) {
    EXPECT_EQ(std::find(sent.begin(), sent.end(), name), sent.end()) << name;
  }
  // Parents come before what is in them.
  auto position = [&](std::string_view name) { return std::find(sent.begin(), sent.end(), name); };
  EXPECT_LT(position("vendor/"), position("vendor/keep/"));
  EXPECT_LT(position("vendor/keep/"), position("vendor/keep/a.txt"));
}

TEST_F(PackContext, AnArchiveInsideTheContextLeavesItselfOut) {
  fs::path inside = context_ / "self.tar.gz";
  auto summary = pack_context(context_, inside);
  ASSERT_TRUE(summary) << summary.error().message;
  auto sent = names(read_back(slurp(inside)));
  EXPECT_EQ(std::find(sent.begin(), sent.end(), "self.tar.gz"), sent.end());
  EXPECT_NE(std::find(sent.begin(), sent.end(), "app.sh"), sent.end());
}

TEST_F(PackContext, RefusesWhatIsNotAContext) {
  fs::path out = scratch_.path() / "never.tar.gz";
  auto file = pack_context(context_ / "app.sh", out);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, ExitCode::kUsage);
  EXPECT_NE(file.error().message.find("is not a directory"), std::string::npos);
  auto missing = pack_context(scratch_.path() / "missing", out);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ExitCode::kUsage);
  EXPECT_FALSE(fs::exists(out));  // nothing created for a refused context

  auto escaping = pack_context(context_, out, PackOptions{"../Dockerfile"});
  ASSERT_FALSE(escaping);
  EXPECT_EQ(escaping.error().code, ExitCode::kUsage);
  EXPECT_EQ(escaping.error().message,
            "the Dockerfile '../Dockerfile' must be a path inside the context");
  EXPECT_FALSE(fs::exists(out));  // removed again

  write_file(context_ / ".dockerignore", "a\n[b\n");
  auto bad_rules = pack_context(context_, out);
  ASSERT_FALSE(bad_rules);
  EXPECT_EQ(bad_rules.error().code, ExitCode::kUsage);
  EXPECT_EQ(bad_rules.error().message, ".dockerignore line 2: '[b' has a '[' without its ']'");
}

TEST_F(PackContext, WritesToADescriptorLeftOpen) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  // A small tree, so that the archive fits in the pipe's buffer.
  fs::path small = scratch_.path() / "small";
  write_file(small / "Dockerfile", "FROM busybox\n");
  auto summary = pack_context(small, fds[1]);
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_EQ(::fcntl(fds[1], F_GETFD), 0);  // still open
  ::close(fds[1]);
  std::string bytes;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0)
    bytes.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  EXPECT_EQ(bytes.size(), summary->archive_bytes);
  auto entries = read_back(bytes);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].name, "Dockerfile");
  EXPECT_EQ(entries[0].content, "FROM busybox\n");
}

}  // namespace
}  // namespace berth::cli
