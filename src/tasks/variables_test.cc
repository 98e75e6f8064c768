#include "tasks/variables.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::tasks {
namespace {

// 2026-12-03 17:50:00 UTC.
constexpr std::int64_t kRunStart = 1796320200;

RunVariables run_variables() {
  RunVariables v;
  v.id = "cb12";
  v.registry = "127.0.0.1:5000";
  v.registry_name = "myregistry";
  v.date = kRunStart;
  v.commit = "0123abcd";
  v.branch = "main";
  v.task_name = "nightly";
  v.values = {{"tag", "v2"}, {"multi", "a\nb"}};
  return v;
}

std::string rendered(std::string_view text, const RunVariables& v = run_variables()) {
  auto out = render_task_text(text, v);
  EXPECT_TRUE(out) << text << ": " << (out ? "" : out.error().to_string());
  return out ? out->text : std::string();
}

ParseError error_of(std::string_view text, const RunVariables& v = run_variables()) {
  auto out = render_task_text(text, v);
  EXPECT_FALSE(out) << text;
  return out ? ParseError{} : out.error();
}

TEST(RunDate, HostedServiceFormat) {
  EXPECT_EQ(format_run_date(kRunStart), "20261203-175000z");
  EXPECT_EQ(format_run_date(0), "19700101-000000z");
}

TEST(Variables, SubstitutesRunValuesAndSecrets) {
  EXPECT_EQ(rendered("{{.Run.ID}} {{ .Run.Registry }} {{.Run.RegistryName}} {{.Run.Date}} "
                     "{{.Run.Commit}} {{.Run.Branch}} {{.Run.TaskName}} {{.Run.OS}} "
                     "{{.Run.Architecture}} {{.Values.tag}}"),
            "cb12 127.0.0.1:5000 myregistry 20261203-175000z 0123abcd main nightly linux amd64 v2");
  EXPECT_EQ(rendered("{{\"{{\"}}.Run.ID}}"), "{{.Run.ID}}");

  RunVariables with_secrets = run_variables();
  with_secrets.secrets = std::map<std::string, std::string, std::less<>>{{"token", "s3cret"}};
  auto out = render_task_text("a: x\nb: {{.Secrets.token}}\n", with_secrets);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->text, "a: x\nb: s3cret\n");
  ASSERT_EQ(out->secret_uses.size(), 1u);
  EXPECT_EQ(out->secret_uses[0].id, "token");
  EXPECT_EQ(out->secret_uses[0].line, 2u);
  EXPECT_EQ(out->secret_uses[0].column, 4u);
  // Before the secrets are resolved they render empty.
  EXPECT_EQ(rendered("b: '{{.Secrets.token}}'"), "b: ''");
  EXPECT_EQ(error_of("{{.Secrets.other}}", with_secrets).reason, "the secret 'other' has no value");
}

TEST(Variables, AliasesAreWholeNamesAndDollarDollarEscapes) {
  EXPECT_EQ(rendered("$Registry/app:$ID"), "127.0.0.1:5000/app:cb12");
  EXPECT_EQ(rendered("$RegistryName $IDX $ID_2 $Registry.x ${ID} $HOME $"),
            "$RegistryName $IDX $ID_2 127.0.0.1:5000.x ${ID} $HOME $");
  EXPECT_EQ(rendered("$$ID $$$ID $$$$"), "$ID $cb12 $$");
  // A substituted value is not scanned again.
  RunVariables v = run_variables();
  v.values["self"] = "$ID {{.Run.ID}}";
  EXPECT_EQ(rendered("{{.Values.self}}", v), "$ID {{.Run.ID}}");
}

TEST(Variables, ErrorsCarryLineAndColumn) {
  ParseError unknown = error_of("steps:\n  - cmd: x {{.Run.Nope}}\n");
  EXPECT_EQ(unknown.line, 2u);
  EXPECT_EQ(unknown.column, 12u);
  EXPECT_NE(unknown.reason.find("unknown variable {{.Run.Nope}}"), std::string::npos);
  EXPECT_EQ(unknown.to_string().substr(0, 19), "line 2, column 12: ");
  EXPECT_EQ(error_of("a\n{{.Values.missing}}").reason,
            "no value was given for {{.Values.missing}}");
  EXPECT_NE(error_of("{{.Other.X}}").reason.find("unknown variable"), std::string::npos);
  EXPECT_NE(error_of("{{.Run}}").reason.find("unknown variable"), std::string::npos);
  EXPECT_NE(error_of("{{.Run.ID | quote}}").reason.find("unsupported template action"),
            std::string::npos);
  EXPECT_NE(error_of("{{- .Run.ID}}").reason.find("unsupported template action"),
            std::string::npos);
  EXPECT_NE(error_of("{{if .Run.ID}}x{{end}}").reason.find("unsupported template action"),
            std::string::npos);
  ParseError open = error_of("ok\nx: {{.Run.ID\n}}");
  EXPECT_EQ(open.line, 2u);
  EXPECT_EQ(open.column, 4u);
  EXPECT_NE(open.reason.find("unterminated {{"), std::string::npos);
  EXPECT_NE(error_of("a: {{").reason.find("unterminated {{"), std::string::npos);
  // "}}" inside a string literal does not end the action.
  EXPECT_NE(error_of("{{\"}}").reason.find("unsupported template action"), std::string::npos);
  EXPECT_EQ(rendered("{{\"}}\"}}"), "}}");
}

TEST(Variables, MapsRenderedPositionsBackToTheText) {
  auto out = render_task_text("a: {{.Values.multi}} z\nb: $ID\nc: 1\n", run_variables());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->text, "a: a\nb z\nb: cb12\nc: 1\n");
  // Rendered line 1 ("b z") is still line 1 as written; its columns are unknown.
  EXPECT_EQ(out->source_position(0, 1), (std::pair<std::size_t, std::size_t>{1, 2}));
  EXPECT_EQ(out->source_position(0, 3), (std::pair<std::size_t, std::size_t>{1, 0}));
  EXPECT_EQ(out->source_position(1, 2), (std::pair<std::size_t, std::size_t>{1, 0}));
  // Before the first substitution of a line the column is exact; after it, unknown.
  EXPECT_EQ(out->source_position(2, 1), (std::pair<std::size_t, std::size_t>{2, 2}));
  EXPECT_EQ(out->source_position(2, 5), (std::pair<std::size_t, std::size_t>{2, 0}));
  EXPECT_EQ(out->source_position(3, 3), (std::pair<std::size_t, std::size_t>{3, 4}));
}

}  // namespace
}  // namespace berth::tasks
