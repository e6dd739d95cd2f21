#include "adapters/databricks/wire/ids.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace polysync::databricks {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(IdsTest, SeedIdsWithLettersBeyondHexAreAccepted) {
  for (const char* id : {"a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5",
                         "a1b23c4d-5e6f-78gh-91i2-3j4k5lm67no8",
                         "9a84f906-fc51-11eb-9a03-0242ac130003",
                         "A83D9F7C-D798-4FD5-AA39-301B6E6F4429"}) {
    EXPECT_TRUE(ValidatePipelineId(id).ok()) << id;
    EXPECT_TRUE(ValidateUpdateId(id).ok()) << id;
    EXPECT_TRUE(ValidateRequestId(id).ok()) << id;
  }
}

TEST(IdsTest, HostileValuesAreInvalidArgument) {
  const std::string good = "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5";
  const std::string hostile[] = {
      "",
      "../clusters",
      "%2e%2e",
      "..%2F..%2Fclusters",
      good + "\r\n",
      "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4f\r\n",
      std::string("a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4f\0g", 36),
      std::string(10240, 'a'),
      good + "/",
      "/" + good.substr(1),
      "a12cd3e4_0ab1_1abc_1a2b_1a2bcd3e4fg5",
      "a12cd3e40ab1-1abc-1a2b-1a2bcd3e4fg5-",
      "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4f\xc3\xa9",  // é: 37 bytes
      "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4\xc3\xa9",   // 36 bytes, not ASCII
      "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4f ",
      "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4f'",
      " a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5",
      "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5?x=1",
      "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5#",
  };
  for (const std::string& id : hostile) {
    absl::Status status = ValidatePipelineId(id);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << id;
    EXPECT_THAT(std::string(status.message()), HasSubstr("pipeline_id"));
    // The message shows at most a short escaped prefix: printable ASCII.
    EXPECT_LT(status.message().size(), 160u) << status;
    for (char c : status.message()) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << status;
    }
    EXPECT_FALSE(ValidateUpdateId(id).ok()) << id;
    EXPECT_FALSE(ValidateRequestId(id).ok()) << id;
  }
}

TEST(IdsTest, MessagesNameTheFieldButNotTheValue) {
  absl::Status status = ValidateUpdateId("../clusters\r\n");
  EXPECT_EQ(status.message(),
            "update_id must be 8-4-4-4-12 letters and digits; the value given "
            "(13 bytes) is not");
  EXPECT_EQ(ValidateRequestId("").message(), "request_id is empty");
  status = ValidatePipelineId(std::string(10240, 'a'));
  EXPECT_THAT(std::string(status.message()), HasSubstr("(10240 bytes)"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("aaaa")));
  // Two rejected values of one length get the same answer, whatever they are.
  EXPECT_EQ(ValidatePipelineId("dapi0123456789abcdef").message(),
            ValidatePipelineId("not-a-secret-at-all!").message());
  EXPECT_EQ(ParseRunId("dapi0123456789abcdef").status().message(),
            ParseRunId("not-a-secret-at-all!").status().message());
}

TEST(RunIdTest, ParsesAndFormats) {
  const std::string run_id =
      "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5:9a84f906-fc51-11eb-9a03-"
      "0242ac130003";
  absl::StatusOr<RunId> parsed = ParseRunId(run_id);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->pipeline_id, "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5");
  EXPECT_EQ(parsed->update_id, "9a84f906-fc51-11eb-9a03-0242ac130003");
  EXPECT_EQ(FormatRunId(parsed->pipeline_id, parsed->update_id), run_id);
}

TEST(RunIdTest, RejectsBadRunIds) {
  const std::string p = "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5";
  const std::string u = "9a84f906-fc51-11eb-9a03-0242ac130003";
  for (const std::string& bad :
       {std::string(), std::string(":"), p, p + ":", ":" + u, p + "::" + u,
        p + ":" + u + ":", p + ":" + u + "\n", p + ":../clusters", "../x:" + u,
        p + "/" + u, std::string(10240, ':')}) {
    absl::StatusOr<RunId> parsed = ParseRunId(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("run_id"));
    EXPECT_LT(parsed.status().message().size(), 200u);
  }
  EXPECT_THAT(std::string(ParseRunId(p + ":x").status().message()),
              HasSubstr("update_id"));
  EXPECT_THAT(std::string(ParseRunId("x:" + u).status().message()),
              HasSubstr("pipeline_id"));
  EXPECT_THAT(std::string(ParseRunId(p + ":x").status().message()),
              Not(HasSubstr("pipeline_id")));
}

}  // namespace
}  // namespace polysync::databricks
