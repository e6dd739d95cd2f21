#include "client/cli/output.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/time/time.h"

namespace polysync::client::cli {

namespace v1 = ::polysync::databricks::v1;
namespace {

TEST(OutputTest, ColumnsAreAsWideAsTheirWidestCellPlusTwo) {
  EXPECT_EQ(FormatTable({{"NAME", "HOST", "AUTH"},
                         {"test", "https://adb-1.azuredatabricks.net", "pat"},
                         {"a-longer-name", "h", "oauth_m2m"}}),
            "NAME           HOST                               AUTH\n"
            "test           https://adb-1.azuredatabricks.net  pat\n"
            "a-longer-name  h                                  oauth_m2m\n");
}

TEST(OutputTest, TrailingBlanksAndShortRowsAreNotPadded) {
  // An empty last cell leaves no trailing spaces; a short row only pads the
  // columns it has.
  EXPECT_EQ(FormatTable({{"NAME", "DEFAULT"}, {"prod", ""}, {"dev", "*"}}),
            "NAME  DEFAULT\nprod\ndev   *\n");
  EXPECT_EQ(FormatTable({{"a", "b", "c"}, {"long"}}), "a     b  c\nlong\n");
  EXPECT_EQ(FormatTable({}), "");
}

TEST(OutputTest, WideCharactersTakeTwoColumns) {
  EXPECT_EQ(DisplayWidth("orders"), 6u);
  EXPECT_EQ(DisplayWidth("café"), 4u);  // é is one column (2 bytes)
  EXPECT_EQ(DisplayWidth("売上"), 4u);  // two wide characters
  EXPECT_EQ(DisplayWidth("\xF0\x9F\x93\x88"), 2u);  // an emoji
  // A wide name lines up with an ASCII one of the same width.
  EXPECT_EQ(FormatTable({{"売上", "x"}, {"abcd", "y"}}), "売上  x\nabcd  y\n");
}

TEST(OutputTest, OneLineJoinsLinesAndTrims) {
  EXPECT_EQ(OneLine("  first\nsecond\r\nthird \n"), "first second third");
}

TEST(OutputTest, StatusAndTimes) {
  EXPECT_EQ(StatusName(v1::RUN_STATUS_CANCELLED), "CANCELLED");
  EXPECT_EQ(StatusName(static_cast<v1::RunStatus>(99)), "UNSPECIFIED");
  google::protobuf::Timestamp t;
  EXPECT_EQ(Time(t), "-");
  t.set_seconds(1767225600);
  EXPECT_EQ(Time(t), "2026-01-01T00:00:00Z");
  EXPECT_EQ(Elapsed(absl::Seconds(65)), "01:05");
  EXPECT_EQ(Elapsed(absl::Seconds(3723)), "1:02:03");
  EXPECT_EQ(Elapsed(absl::Seconds(-3)), "00:00");
}

TEST(OutputTest, StatusRowsShowHintsRetriesAndFailures) {
  v1::UpdateStatus s;
  s.set_run_id("p:u");
  s.set_status(v1::RUN_STATUS_FAILED);
  s.set_terminal(true);
  s.set_hint("check\nthe table");
  s.add_failure_messages("boom");
  s.mutable_retry()->set_attempts(2);
  const Rows rows = StatusRows(s);
  ASSERT_GE(rows.size(), 9u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"run id", "p:u"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"status", "FAILED"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"dlt state", "-"}));
  EXPECT_EQ(rows[rows.size() - 3],
            (std::vector<std::string>{"retry", "attempts 2"}));
  EXPECT_EQ(rows[rows.size() - 2],
            (std::vector<std::string>{"hint", "check the table"}));
  EXPECT_EQ(rows.back(), (std::vector<std::string>{"failure", "boom"}));
  s.mutable_retry()->set_retrying(true);
  s.set_dlt_state("RUNNING");
  EXPECT_EQ(WatchLine(s),
            "FAILED  RUNNING  (DLT is retrying)  hint: check the table");
}

}  // namespace
}  // namespace polysync::client::cli
