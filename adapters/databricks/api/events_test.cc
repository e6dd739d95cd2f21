// FailureMessages: oldest first, each event's message before its
// exceptions', other updates' events skipped, identical texts once.
#include "adapters/databricks/api/events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polysync::databricks::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kUpdate[] = "9a84f906-1e5c-4b2c-9a2b-1a2bcd3e4f50";
constexpr char kOther[] = "0b1c2d3e-1e5c-4b2c-9a2b-1a2bcd3e4f50";

PipelineEvent Error(std::string message, std::vector<std::string> exceptions,
                    std::string update_id = kUpdate) {
  PipelineEvent e;
  e.level = "ERROR";
  e.message = std::move(message);
  e.origin.update_id = std::move(update_id);
  EventError error;
  for (auto& m : exceptions) error.exceptions.push_back({"x.Exception", m});
  e.error = std::move(error);
  return e;
}

PipelineEvent Info(std::string message) {
  PipelineEvent e;
  e.level = "INFO";
  e.message = std::move(message);
  e.origin.update_id = kUpdate;
  return e;
}

TEST(FailureMessagesTest, OldestFirstMessageThenExceptionsEachOnce) {
  // Newest first, as the API answers by default.
  std::vector<PipelineEvent> events = {
      Error("Update 9a84f9 is FAILED.", {"table not found"}),
      Info("Update 9a84f9 is RUNNING."),
      Error("Flow 'b' has FAILED.", {"table not found", "caused by: io"}),
  };
  EXPECT_THAT(FailureMessages(events, kUpdate, EventOrder::kNewestFirst),
              ElementsAre("Flow 'b' has FAILED.", "table not found",
                          "caused by: io", "Update 9a84f9 is FAILED."));
  std::vector<PipelineEvent> oldest_first(events.rbegin(), events.rend());
  EXPECT_EQ(FailureMessages(oldest_first, kUpdate, EventOrder::kOldestFirst),
            FailureMessages(events, kUpdate, EventOrder::kNewestFirst));
}

TEST(FailureMessagesTest, IdenticalEventMessagesAppearOnce) {
  std::vector<PipelineEvent> events = {
      Error("Update 9a84f9 is FAILED.", {}),
      Error("Update 9a84f9 is FAILED.", {"Update 9a84f9 is FAILED."}),
  };
  EXPECT_THAT(FailureMessages(events, kUpdate, EventOrder::kNewestFirst),
              ElementsAre("Update 9a84f9 is FAILED."));
}

TEST(FailureMessagesTest, OtherUpdatesAndEmptyTextsAreLeftOut) {
  PipelineEvent no_origin = Error("cluster lost", {""});
  no_origin.origin.update_id.clear();
  PipelineEvent no_error = Error("", {});
  no_error.error.reset();
  std::vector<PipelineEvent> events = {
      Error("someone else's", {"their exception"}, kOther), no_origin, no_error,
      Info("not an error")};
  EXPECT_THAT(FailureMessages(events, kUpdate, EventOrder::kOldestFirst),
              ElementsAre("cluster lost"));
  EXPECT_THAT(FailureMessages(events, "", EventOrder::kOldestFirst),
              ElementsAre("someone else's", "their exception", "cluster lost"));
  EXPECT_THAT(FailureMessages({}, kUpdate, EventOrder::kOldestFirst),
              IsEmpty());
}

TEST(IsTerminalUpdateProgressTest, OnlyTerminalUpdateProgress) {
  PipelineEvent e;
  e.event_type = "update_progress";
  for (const char* state : {"COMPLETED", "FAILED", "CANCELED"}) {
    e.update_progress_state = state;
    EXPECT_TRUE(IsTerminalUpdateProgress(e)) << state;
  }
  for (const char* state : {"RUNNING", "STOPPING", ""}) {
    e.update_progress_state = state;
    EXPECT_FALSE(IsTerminalUpdateProgress(e)) << state;
  }
  e.event_type = "flow_progress";
  e.update_progress_state = "COMPLETED";
  EXPECT_FALSE(IsTerminalUpdateProgress(e));
}

}  // namespace
}  // namespace polysync::databricks::api
