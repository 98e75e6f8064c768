#include "events/audit_file.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "metadata/sqlite_metadata_store.h"

namespace berth::events {
namespace {

namespace json = boost::json;

class AuditFileTest : public ::testing::Test {
 protected:
  AuditFileTest()
      : store_(std::move(*metadata::SqliteMetadataStore::open(dir_.path() / "metadata.db"))) {}

  void append(std::string action, std::string tag) {
    metadata::EventRecord event;
    event.action = std::move(action);
    event.repository = "app";
    event.tag = std::move(tag);
    event.origin.identity = "adminuser:default";
    event.origin.client_address = "127.0.0.1";
    ASSERT_TRUE(store_->append_events(std::span(&event, 1)));
  }

  std::vector<json::object> lines() {
    std::vector<json::object> parsed;
    std::ifstream in(file_);
    std::string line;
    while (std::getline(in, line)) parsed.push_back(json::parse(line).as_object());
    return parsed;
  }

  static std::string name_of(metadata::RegistryId id) { return id == 1 ? "default" : "?"; }

  TempDir dir_;
  std::unique_ptr<metadata::SqliteMetadataStore> store_;
  std::filesystem::path file_ = dir_.path() / "audit.jsonl";
};

TEST_F(AuditFileTest, AFirstStartBeginsAtTheNewestEventThenFollowsTheLog) {
  append("push", "before");
  {
    AuditFile audit(*store_, file_, name_of);
    append("push", "v1");
    append("pull", "v1");
    audit.catch_up();
    auto written = lines();
    ASSERT_EQ(written.size(), 2u);
    EXPECT_EQ(written[0].at("action"), "push");
    EXPECT_EQ(written[0].at("tag"), "v1");
    EXPECT_EQ(written[0].at("registry"), "default");
    EXPECT_EQ(written[0].at("identity"), "adminuser:default");
    EXPECT_EQ(written[0].at("clientAddress"), "127.0.0.1");
    EXPECT_EQ(written[1].at("action"), "pull");
  }
  // A restart carries on where the file ends: nothing twice, nothing missed.
  append("untag", "v1");
  AuditFile again(*store_, file_, name_of);
  again.catch_up();
  auto written = lines();
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[2].at("action"), "untag");
}

TEST_F(AuditFileTest, AnUnwritableFileStopsTheStart) {
  EXPECT_THROW(AuditFile(*store_, dir_.path() / "no-such-dir" / "audit.jsonl", name_of),
               std::runtime_error);
}

}  // namespace
}  // namespace berth::events
