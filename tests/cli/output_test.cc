#include "cli/output.h"

#include <gtest/gtest.h>

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

TEST(Views, RegistryListKeepsTheApiJson) {
  auto answer = json::parse(std::string(R"({"registries":[)") + kRegistry + "," + kRegistry + "]}");
  View view = registry_list_view(answer);
  EXPECT_EQ(view.table.rows.size(), 2u);
  EXPECT_EQ(view.json, answer);
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

}  // namespace
}  // namespace berth::cli
