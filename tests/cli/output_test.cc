#include "cli/output.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>

#include "cli/views.h"

namespace berth::cli {
namespace {
namespace json = boost::json;

Table sample_table() {
  return {{"Name", "Size", "Note"},
          {{text_cell("alpha"), bytes_cell(1536), text_cell("x")},
           {text_cell("b"), bytes_cell(10), text_cell("tab\there")}}};
}

// Display width in code points, as the table counts it.
std::size_t longest_line(const std::string& text) {
  std::size_t longest = 0, current = 0;
  for (char c : text) {
    if (c == '\n') {
      longest = std::max(longest, current);
      current = 0;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++current;
    }
  }
  return longest;
}

TEST(Format, ParsesTheThreeNames) {
  EXPECT_EQ(parse_format("table"), Format::kTable);
  EXPECT_EQ(parse_format("json"), Format::kJson);
  EXPECT_EQ(parse_format("tsv"), Format::kTsv);
  EXPECT_FALSE(parse_format("yaml"));
  EXPECT_FALSE(parse_format("JSON"));
}

TEST(Table, AlignsColumnsUnderUpperCaseHeaderAndRule) {
  EXPECT_EQ(render_table(sample_table()),
            "NAME   SIZE     NOTE\n"
            "-----  -------  --------\n"
            "alpha  1.5 KiB  x\n"
            "b      10 B     tab here\n");
}

TEST(Table, EmptyListPrintsOnlyTheHeader) {
  Table table{{"Name", "Tier"}, {}};
  EXPECT_EQ(render_table(table), "NAME  TIER\n----  ----\n");
}

TEST(Table, CountsCodePointsNotBytes) {
  Table table{
      {"A", "B"},
      {{text_cell("\xC3\xA9t\xC3\xA9"), text_cell("1")}, {text_cell("abcd"), text_cell("2")}}};
  EXPECT_EQ(render_table(table),
            "A     B\n"
            "----  -\n"
            "\xC3\xA9t\xC3\xA9   1\n"
            "abcd  2\n");
}

TEST(Table, MissingCellsAreBlankAndTrailingSpacesTrimmed) {
  Table table{{"A", "B"}, {{text_cell("x")}}};
  EXPECT_EQ(render_table(table), "A  B\n-  -\nx\n");
}

TEST(Table, TruncatableColumnsGiveWayWidestFirstToFitTheWidth) {
  Table table{
      {"Id", "Kind", "Note"},
      {{text_cell(std::string(40, 'a')), text_cell(std::string(30, 'b')), text_cell("keep")}},
      {0, 1}};
  // 40 + 2 + 30 + 2 + 4 = 78 columns, 18 too many for 60: Id gives 10 to reach Kind's 30,
  // then both give 4.
  const std::string ellipsis = "\xE2\x80\xA6";
  EXPECT_EQ(render_table(table, 60), "ID" + std::string(26, ' ') + "KIND" + std::string(24, ' ') +
                                         "NOTE\n" + std::string(26, '-') + "  " +
                                         std::string(26, '-') + "  ----\n" + std::string(25, 'a') +
                                         ellipsis + "  " + std::string(25, 'b') + ellipsis +
                                         "  keep\n");
  // Not below the floor (kMinTruncatedWidth), and other columns never shrink.
  std::string narrow = render_table(table, 10);
  EXPECT_NE(narrow.find(std::string(19, 'a') + ellipsis + "  " + std::string(19, 'b') + ellipsis +
                        "  keep"),
            std::string::npos)
      << narrow;
  // Wide enough: nothing cut.
  EXPECT_EQ(render_table(table, 78).find(ellipsis), std::string::npos);
}

TEST(Tsv, RawValuesNoHeaderAndEscapes) {
  Table table = sample_table();
  table.rows.push_back({text_cell("back\\slash"), bytes_cell(0), text_cell("new\nline\r")});
  EXPECT_EQ(render_tsv(table),
            "alpha\t1536\tx\n"
            "b\t10\ttab\\there\n"
            "back\\\\slash\t0\tnew\\nline\\r\n");
}

TEST(Json, PrettyPrintsWithTwoSpaces) {
  json::value doc = json::parse(R"({"a":1,"b":[true,null,"x\"y"],"c":{},"d":[]})");
  EXPECT_EQ(pretty_json(doc),
            "{\n"
            "  \"a\": 1,\n"
            "  \"b\": [\n"
            "    true,\n"
            "    null,\n"
            "    \"x\\\"y\"\n"
            "  ],\n"
            "  \"c\": {},\n"
            "  \"d\": []\n"
            "}");
}

TEST(Json, PrettyOutputParsesBackToTheSameValue) {
  json::value doc = json::parse(
      R"({"registries":[{"name":"abcde","limits":{"features":["x"],"tokens":500}}],"n":-1.5})");
  EXPECT_EQ(json::parse(pretty_json(doc)), doc);
}

TEST(HumanBytes, PicksBinaryUnits) {
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1023), "1023 B");
  EXPECT_EQ(human_bytes(1024), "1.0 KiB");
  EXPECT_EQ(human_bytes(1048575), "1.0 MiB");
  EXPECT_EQ(human_bytes(107374182400ull), "100.0 GiB");
  EXPECT_EQ(human_bytes(~0ull), "16.0 EiB");
}

TEST(Render, EachFormatPrintsItsPart) {
  View view{json::parse(R"({"k":"v"})"), sample_table(), "done"};
  EXPECT_EQ(render(view, Format::kJson), "{\n  \"k\": \"v\"\n}\n");
  EXPECT_EQ(render(view, Format::kTsv), render_tsv(sample_table()));
  EXPECT_EQ(render(view, Format::kTable), render_table(sample_table()) + "done\n");
}

TEST(Render, MessageOnlyViewIsSilentForScripts) {
  View view = message_view("Deleted registry 'abcde'.");
  EXPECT_EQ(render(view, Format::kJson), "");
  EXPECT_EQ(render(view, Format::kTsv), "");
  EXPECT_EQ(render(view, Format::kTable), "Deleted registry 'abcde'.\n");
}

TEST(Render, AMessageThatReplacesTheTableLeavesTheTableToTsv) {
  View view{json::parse(R"({"k":"v"})"), sample_table(), "one\ntwo"};
  view.message_replaces_table = true;
  EXPECT_EQ(render(view, Format::kTable), "one\ntwo\n");
  EXPECT_EQ(render(view, Format::kTsv), render_tsv(sample_table()));
  EXPECT_EQ(render(view, Format::kJson), "{\n  \"k\": \"v\"\n}\n");
}

const char* kRegistry = R"({
  "name": "myregistry", "tier": "Standard", "region": "westeurope",
  "loginServer": "myregistry.registry.local", "createdTime": "2026-11-23T09:00:00Z",
  "adminUserEnabled": false, "anonymousPullEnabled": true, "publicNetworkAccess": true,
  "limits": {"includedStorageBytes": 107374182400, "webhooks": 10}})";

TEST(Views, RegistryRowInColumnOrder) {
  View view = registry_view(json::parse(kRegistry));
  EXPECT_EQ(render(view, Format::kTsv),
            "myregistry\tStandard\twesteurope\tmyregistry.registry.local\t2026-11-23T09:00:00Z\t"
            "false\ttrue\ttrue\n");
  EXPECT_EQ(view.table.headers.front(), "Name");
  EXPECT_EQ(view.json, json::parse(kRegistry));
}

TEST(Views, RegistryTableFitsTheWidthByCuttingTheLoginServer) {
  auto registry = json::parse(R"({"name":"teamregistry2026","tier":"Standard","region":"westeurope",
    "loginServer":"teamregistry2026.registry.example.com","createdTime":"2026-11-23T09:00:00Z",
    "adminUserEnabled":false,"anonymousPullEnabled":true,"publicNetworkAccess":true})");
  std::string table = render(registry_view(registry), Format::kTable);
  EXPECT_LE(longest_line(table), kTableWidth) << table;
  EXPECT_NE(table.find("teamregistry2026  Standard"), std::string::npos) << table;
}

TEST(Views, RegistryListJsonIsTheArrayOfRegistries) {
  auto answer = json::parse(std::string(R"({"registries":[)") + kRegistry + "," + kRegistry + "]}");
  View view = registry_list_view(answer);
  EXPECT_EQ(view.table.rows.size(), 2u);
  EXPECT_EQ(view.json, answer.at("registries"));
}

TEST(Views, MissingAndMistypedFieldsShowBlank) {
  View view = registry_view(json::parse(R"({"name":"abcde","tier":7,"adminUserEnabled":"yes"})"));
  EXPECT_EQ(render(view, Format::kTsv), "abcde\t7\t\t\t\t\t\t\n");
  EXPECT_TRUE(registry_list_view(json::parse("[]")).table.rows.empty());
  EXPECT_TRUE(registry_list_view(json::parse(R"({"registries":{}})")).table.rows.empty());
}

TEST(Views, UsageRowsSizeThenCountsThenRepositories) {
  auto usage = json::parse(R"({"registry":"myregistry",
    "storage":{"usedBytes":12345,"includedBytes":107374182400},
    "repositories":[{"name":"team/app","usedBytes":12000}],
    "counts":[{"name":"Webhooks","current":0,"limit":10},{"name":"Tokens","current":2,"limit":500}]})");
  View view = usage_view(usage);
  EXPECT_EQ(render(view, Format::kTsv),
            "Size\t12345\t107374182400\tBytes\n"
            "Webhooks\t0\t10\tCount\n"
            "Tokens\t2\t500\tCount\n"
            "repository:team/app\t12000\t\tBytes\n");
  EXPECT_NE(render(view, Format::kTable).find("12.1 KiB  100.0 GiB"), std::string::npos);
}

TEST(Views, HealthListsChecksAndSaysTheVerdict) {
  auto health = json::parse(
      R"({"healthy":false,"checks":[{"name":"storage","healthy":false,"message":"disk full"}]})");
  View view = health_view(health);
  EXPECT_EQ(render(view, Format::kTsv), "storage\tfalse\tdisk full\n");
  EXPECT_NE(render(view, Format::kTable).find("NOT healthy"), std::string::npos);
}

TEST(Views, RepositoryTagAndManifestColumns) {
  EXPECT_EQ(render(repository_view(json::parse(
                       R"({"name":"team/app","createdTime":"c","lastUpdateTime":"u",
                           "manifestCount":3,"tagCount":2,"usedBytes":2048})")),
                   Format::kTsv),
            "team/app\t3\t2\t2048\tc\tu\n");
  EXPECT_EQ(render(tag_list_view(json::parse(
                       R"({"tags":[{"name":"v1","digest":"sha256:ab","createdTime":"c",
                           "lastUpdateTime":"u"}]})")),
                   Format::kTsv),
            "v1\tsha256:ab\tc\tu\n");
  EXPECT_EQ(render(manifest_list_view(json::parse(
                       R"({"manifests":[{"digest":"sha256:ab","mediaType":"m","artifactType":null,
                           "size":10,"createdTime":"c","tags":["v1","latest"]}]})")),
                   Format::kTsv),
            "sha256:ab\tm\t\t10\tc\tv1,latest\n");
}

TEST(Views, ManifestTableFitsTheWidthWithWholeValuesInJsonAndTsv) {
  const std::string digest = "sha256:" + std::string(64, 'e');
  const std::string item =
      R"({"digest":")" + digest +
      R"(","mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
      "artifactType":"application/vnd.cncf.helm.config.v1+json","size":123456789,
      "createdTime":"2026-11-23T09:00:00Z","tags":["latest","v1.2.3","v1.2","v1","stable"]})";
  auto answer = json::parse(R"({"manifests":[)" + item + "]}");
  View view = manifest_list_view(answer);
  std::string table = render(view, Format::kTable);
  EXPECT_LE(longest_line(table), kTableWidth) << table;
  EXPECT_NE(table.find("sha256:eeeeeeeeeeee"), std::string::npos) << table;
  EXPECT_NE(table.find("2026-11-23T09:00:00Z"), std::string::npos) << table;
  EXPECT_NE(table.find("117.7 MiB"), std::string::npos) << table;
  EXPECT_NE(render(view, Format::kTsv).find(digest + "\tapplication/vnd.docker.distribution"),
            std::string::npos);
  EXPECT_EQ(view.json, answer.at("manifests"));
  // A single manifest fits the same way.
  std::string one = render(manifest_view(json::parse(item)), Format::kTable);
  EXPECT_LE(longest_line(one), kTableWidth) << one;
}

}  // namespace
}  // namespace berth::cli
