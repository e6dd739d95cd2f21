#include "adapters/databricks/wire/start_update.h"

#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polysync::databricks {
namespace {

using ::testing::HasSubstr;

// A parameters map {"k": "<n bytes>"} is n + 8 bytes as JSON.
StartUpdateRequest WithParameterOfJsonSize(size_t json_bytes) {
  StartUpdateRequest request;
  request.parameters.emplace();
  request.parameters->emplace_back("k", std::string(json_bytes - 8, 'v'));
  return request;
}

TEST(ValidateStartUpdateTest, FullRefreshWithAnySelectionIsRefused) {
  for (int which = 0; which < 4; ++which) {
    StartUpdateRequest request;
    request.full_refresh = true;
    std::vector<std::string>* selections[] = {
        &request.refresh_selection, &request.full_refresh_selection,
        &request.refresh_flow_selection, &request.reset_checkpoint_selection};
    selections[which]->push_back("sales_orders_cleaned");
    absl::Status s = ValidateStartUpdate(request);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << which;
    EXPECT_THAT(s.message(), HasSubstr("full_refresh cannot be combined"));

    // Without full refresh (unset or false) the same selection is fine.
    request.full_refresh = false;
    EXPECT_TRUE(ValidateStartUpdate(request).ok()) << which;
    request.full_refresh.reset();
    EXPECT_TRUE(ValidateStartUpdate(request).ok()) << which;
  }
}

TEST(ValidateStartUpdateTest, ParametersUpToTheApiLimit) {
  EXPECT_TRUE(
      ValidateStartUpdate(WithParameterOfJsonSize(kMaxParametersJsonBytes))
          .ok());
  absl::Status over =
      ValidateStartUpdate(WithParameterOfJsonSize(kMaxParametersJsonBytes + 1));
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(over.message(), HasSubstr("10001 bytes as JSON"));
}

TEST(ValidateStartUpdateTest, TextThatIsNotUtf8IsRefused) {
  StartUpdateRequest table;
  table.refresh_selection = {"ok", "\xff"};
  EXPECT_EQ(ValidateStartUpdate(table).message(),
            "refresh_selection[1] is not valid UTF-8");
  StartUpdateRequest cause;
  cause.cause = "\xc3";
  EXPECT_EQ(ValidateStartUpdate(cause).code(),
            absl::StatusCode::kInvalidArgument);
  StartUpdateRequest id;
  id.pipeline_id = "\xe2\x82";
  EXPECT_EQ(ValidateStartUpdate(id).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateStartUpdate(StartUpdateRequest{}).ok());
}

}  // namespace
}  // namespace polysync::databricks
