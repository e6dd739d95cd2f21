#include "adapters/databricks/wire/decoders.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace polysync::databricks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::Pair;

std::string ReadTestData(const std::string& name) {
  std::ifstream in("adapters/databricks/wire/testdata/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Matches a failed StatusOr with code INTERNAL whose message contains `text`.
MATCHER_P(FailsWith, text, "") {
  if (arg.ok()) {
    *result_listener << "decoded fine";
    return false;
  }
  *result_listener << "status: " << arg.status();
  return arg.status().code() == absl::StatusCode::kInternal &&
         std::string(arg.status().message()).find(text) != std::string::npos;
}

TEST(DecodePipelineTest, SeedExample) {
  auto pipeline = DecodePipeline(ReadTestData("seed_get_pipeline.json"));
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  EXPECT_EQ(pipeline->pipeline_id, "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5");
  EXPECT_EQ(pipeline->name, "Wikipedia pipeline (SQL)");
  EXPECT_EQ(pipeline->state, "IDLE");
  EXPECT_EQ(pipeline->cluster_id, "1234-567891-abcde123");
  EXPECT_EQ(pipeline->creator_user_name, "username");
  EXPECT_EQ(pipeline->run_as_user_name, "username");
  EXPECT_EQ(pipeline->cause, "");
  EXPECT_EQ(pipeline->health, "");
  ASSERT_EQ(pipeline->latest_updates.size(), 3u);
  EXPECT_EQ(pipeline->latest_updates[0].update_id,
            "8a0b6d02-fbd0-11eb-9a03-0242ac130003");
  EXPECT_EQ(pipeline->latest_updates[0].state, "COMPLETED");
  EXPECT_EQ(pipeline->latest_updates[0].creation_time,
            "2021-08-13T00:37:30.279Z");
  EXPECT_EQ(pipeline->latest_updates[1].state, "CANCELED");
  EXPECT_EQ(pipeline->latest_updates[2].state, "FAILED");
  ASSERT_TRUE(pipeline->spec.has_value());
  EXPECT_EQ(pipeline->spec->id, "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5");
  EXPECT_EQ(pipeline->spec->target, "wikipedia_quickstart_data");
  EXPECT_THAT(pipeline->spec->continuous, Optional(false));
  EXPECT_EQ(pipeline->spec->development, std::nullopt);
  EXPECT_EQ(pipeline->spec->photon, std::nullopt);
  EXPECT_TRUE(pipeline->spec->configuration.empty());
}

TEST(DecodeListPipelinesPageTest, SeedExample) {
  auto page = DecodeListPipelinesPage(ReadTestData("seed_list_pipelines.json"));
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->statuses.size(), 2u);
  EXPECT_EQ(page->statuses[0].pipeline_id,
            "e0f01758-fc61-11eb-9a03-0242ac130003");
  EXPECT_EQ(page->statuses[0].name, "DLT quickstart (Python)");
  EXPECT_EQ(page->statuses[0].state, "IDLE");
  EXPECT_EQ(page->statuses[0].creator_user_name, "username");
  ASSERT_EQ(page->statuses[0].latest_updates.size(), 1u);
  EXPECT_EQ(page->statuses[0].latest_updates[0].update_id,
            "ee9ae73e-fc61-11eb-9a03-0242ac130003");
  EXPECT_EQ(page->statuses[0].latest_updates[0].creation_time,
            "2021-08-13T00:34:21.871Z");
  EXPECT_EQ(page->statuses[1].name, "My DLT quickstart example");
  EXPECT_TRUE(page->statuses[1].latest_updates.empty());
  EXPECT_EQ(page->next_page_token, "eyJ...==");
  EXPECT_EQ(page->prev_page_token, "eyJ..x9");
}

TEST(DecodeUpdateTest, SeedExample) {
  auto update = DecodeUpdate(ReadTestData("seed_get_update.json"));
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->pipeline_id, "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5");
  EXPECT_EQ(update->update_id, "9a84f906-fc51-11eb-9a03-0242ac130003");
  EXPECT_EQ(update->cause, "API_CALL");
  EXPECT_EQ(update->state, "COMPLETED");
  EXPECT_THAT(update->creation_time, Optional(int64_t{1628815050279}));
  EXPECT_THAT(update->full_refresh, Optional(true));
  EXPECT_EQ(update->validate_only, std::nullopt);
  EXPECT_EQ(update->request_id, "a83d9f7c-d798-4fd5-aa39-301b6e6f4429");
  EXPECT_EQ(update->mode, "");
  ASSERT_TRUE(update->config.has_value());
  EXPECT_THAT(update->config->continuous, Optional(false));
  EXPECT_THAT(update->config->development, Optional(false));
  EXPECT_THAT(update->config->configuration,
              ElementsAre(Pair("pipelines.numStreamRetryAttempts", "5")));
  EXPECT_EQ(update->config->target, "wikipedia_quickstart_data");
}

TEST(DecodeRequestStatusTest, SeedExample) {
  auto status = DecodeRequestStatus(ReadTestData("seed_request_status.json"));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->status, "TERMINATED");
  ASSERT_TRUE(status->latest_update.has_value());
  const UpdateInfo& update = *status->latest_update;
  EXPECT_EQ(update.update_id, "90da8183-89de-4715-b5a9-c243e67f0093");
  EXPECT_EQ(update.state, "COMPLETED");
  EXPECT_EQ(update.cluster_id, "1234-567891-abcde123");
  EXPECT_THAT(update.creation_time, Optional(int64_t{1664304117145}));
  EXPECT_THAT(update.full_refresh, Optional(false));
  ASSERT_TRUE(update.config.has_value());
  EXPECT_EQ(update.config->name, "Retail sales (SQL)");
  EXPECT_THAT(update.config->photon, Optional(true));
  EXPECT_THAT(update.config->development, Optional(true));
  EXPECT_EQ(update.config->edition, "advanced");
  EXPECT_EQ(update.config->channel, "CURRENT");
}

TEST(DecodeRequestStatusTest, ActiveWithoutUpdate) {
  auto status = DecodeRequestStatus(R"({"status": "ACTIVE"})");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->status, "ACTIVE");
  EXPECT_EQ(status->latest_update, std::nullopt);
}

TEST(DecodeStartUpdateResultTest, SeedExample) {
  auto result = DecodeStartUpdateResult(ReadTestData("seed_start_update.json"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->update_id, "a1b23c4d-5e6f-78gh-91i2-3j4k5lm67no8");
  EXPECT_EQ(result->request_id, "a1b23c4d-5e6f-78gh-91i2-3j4k5lm67no8");
}

TEST(DecodeStartUpdateResultTest, MissingUpdateIdIsAnError) {
  EXPECT_THAT(DecodeStartUpdateResult(R"({"request_id": "x"})"),
              FailsWith("update_id: missing"));
}

TEST(DecodeListEventsPageTest, FailedUpdateEvents) {
  auto page = DecodeListEventsPage(ReadTestData("events_failed_update.json"));
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events.size(), 2u);
  const PipelineEvent& first = page->events[0];
  EXPECT_EQ(first.id, "1c3b5a70-7f2e-11ee-b962-0242ac120002");
  EXPECT_THAT(first.sequence, Optional(int64_t{1699000000456}));
  EXPECT_EQ(first.event_type, "update_progress");
  EXPECT_EQ(first.level, "ERROR");
  EXPECT_EQ(first.message, "Update 9a84f9 is FAILED.");
  EXPECT_EQ(first.timestamp, "2021-08-13T00:40:12.345Z");
  EXPECT_EQ(first.origin.pipeline_id, "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5");
  EXPECT_EQ(first.origin.update_id, "9a84f906-fc51-11eb-9a03-0242ac130003");
  EXPECT_EQ(first.origin.request_id, "a83d9f7c-d798-4fd5-aa39-301b6e6f4429");
  EXPECT_EQ(first.origin.cluster_id, "1234-567891-abcde123");
  ASSERT_TRUE(first.error.has_value());
  EXPECT_THAT(first.error->fatal, Optional(true));
  ASSERT_EQ(first.error->exceptions.size(), 1u);
  EXPECT_EQ(first.error->exceptions[0].class_name,
            "org.apache.spark.sql.AnalysisException");
  EXPECT_EQ(first.error->exceptions[0].message,
            "Table or view not found: sales_orders_raw");
  EXPECT_EQ(first.update_progress_state, "FAILED");

  const PipelineEvent& second = page->events[1];
  EXPECT_EQ(second.event_type, "flow_progress");
  EXPECT_EQ(second.origin.flow_name, "sales_orders_cleaned");
  EXPECT_EQ(second.origin.dataset_name, "sales_orders_cleaned");
  EXPECT_EQ(second.update_progress_state, "");
  ASSERT_TRUE(second.error.has_value());
  EXPECT_THAT(second.error->fatal, Optional(false));
  EXPECT_EQ(second.error->exceptions[0].class_name, "");
  EXPECT_EQ(page->next_page_token, "eyJzdGFydF90aW1lIjoxNjk5MDAwMDAwfQ==");
  EXPECT_EQ(page->prev_page_token, "");
}

TEST(DecodeListEventsPageTest, SequenceAsPlainIntegerOrAbsent) {
  auto page = DecodeListEventsPage(
      R"({"events": [{"id": "a", "sequence": 42}, {"id": "b"},
                     {"id": "c", "sequence": null}]})");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->events[0].sequence, Optional(int64_t{42}));
  EXPECT_EQ(page->events[1].sequence, std::nullopt);
  EXPECT_EQ(page->events[2].sequence, std::nullopt);
  EXPECT_THAT(DecodeListEventsPage(R"({"events": [{"sequence": "7"}]})"),
              FailsWith("events[0].sequence: expected object or integer"));
}

TEST(DecodeListUpdatesPageTest, UpdatesAndTokens) {
  auto page = DecodeListUpdatesPage(R"({
    "updates": [
      {"pipeline_id": "p", "update_id": "u2", "state": "RUNNING",
       "creation_time": 1700000000002, "mode": "CONTINUOUS",
       "validate_only": false, "refresh_selection": ["a", "b"],
       "full_refresh_selection": ["c"], "config": {"continuous": true}},
      {"update_id": "u1", "state": "COMPLETED"}
    ],
    "next_page_token": "n", "prev_page_token": "p"})");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->updates.size(), 2u);
  EXPECT_EQ(page->updates[0].mode, "CONTINUOUS");
  EXPECT_THAT(page->updates[0].validate_only, Optional(false));
  EXPECT_THAT(page->updates[0].refresh_selection, ElementsAre("a", "b"));
  EXPECT_THAT(page->updates[0].full_refresh_selection, ElementsAre("c"));
  ASSERT_TRUE(page->updates[0].config.has_value());
  EXPECT_THAT(page->updates[0].config->continuous, Optional(true));
  EXPECT_EQ(page->updates[1].config, std::nullopt);
  EXPECT_EQ(page->next_page_token, "n");
  EXPECT_EQ(page->prev_page_token, "p");
}

TEST(DecodeUpdateTest, EveryUpdateStateAndAnUnknownOneDecode) {
  std::vector<std::string> states(std::begin(kUpdateStates),
                                  std::end(kUpdateStates));
  states.push_back("SOME_STATE_ADDED_IN_2030");
  for (const std::string& state : states) {
    auto update = DecodeUpdate(absl::StrCat(
        R"({"update": {"update_id": "u", "state": ")", state, R"("}})"));
    ASSERT_TRUE(update.ok()) << state << ": " << update.status();
    EXPECT_EQ(update->state, state);
  }
}

TEST(DecodePipelineTest, EveryPipelineStateAndAnUnknownOneDecode) {
  std::vector<std::string> states(std::begin(kPipelineStates),
                                  std::end(kPipelineStates));
  states.push_back("HIBERNATING");
  for (const std::string& state : states) {
    auto pipeline = DecodePipeline(
        absl::StrCat(R"({"pipeline_id": "p", "health": "HEALTHY", "state": ")",
                     state, R"(", "cause": "USER_ACTION"})"));
    ASSERT_TRUE(pipeline.ok()) << state << ": " << pipeline.status();
    EXPECT_EQ(pipeline->state, state);
    EXPECT_EQ(pipeline->health, "HEALTHY");
    EXPECT_EQ(pipeline->cause, "USER_ACTION");
  }
}

TEST(DecodePipelineTest, DefaultParameters) {
  auto pipeline = DecodePipeline(
      R"({"pipeline_id": "p", "parameters": {"region": "emea", "d": ""},
          "spec": {"configuration": {"spark.x": "1"}}})");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  EXPECT_EQ(pipeline->parameters,
            (std::vector<std::pair<std::string, std::string>>{
                {"region", "emea"}, {"d", ""}}));
  EXPECT_FALSE(DecodePipeline(R"({"parameters": {"n": 1}})").ok());
  EXPECT_FALSE(DecodePipeline(R"({"parameters": ["a"]})").ok());
  EXPECT_TRUE(DecodePipeline(R"({"parameters": null})")->parameters.empty());
}

TEST(TypesTest, TerminalAndKnownStates) {
  EXPECT_TRUE(IsTerminalUpdateState("COMPLETED"));
  EXPECT_TRUE(IsTerminalUpdateState("FAILED"));
  EXPECT_TRUE(IsTerminalUpdateState("CANCELED"));
  for (std::string_view state :
       {"QUEUED", "CREATED", "WAITING_FOR_RESOURCES", "INITIALIZING",
        "RESETTING", "SETTING_UP_TABLES", "RUNNING", "STOPPING", "",
        "completed", "SOME_STATE_ADDED_IN_2030"}) {
    EXPECT_FALSE(IsTerminalUpdateState(state)) << state;
  }
  for (std::string_view state : kUpdateStates) {
    EXPECT_TRUE(IsKnownUpdateState(state)) << state;
  }
  for (std::string_view state : kPipelineStates) {
    EXPECT_TRUE(IsKnownPipelineState(state)) << state;
  }
  EXPECT_FALSE(IsKnownUpdateState("IDLE"));
  EXPECT_FALSE(IsKnownPipelineState("QUEUED"));
}

TEST(DecodersTest, MissingAndNullFieldsAreFine) {
  auto pipeline = DecodePipeline("{}");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  EXPECT_EQ(pipeline->pipeline_id, "");
  EXPECT_EQ(pipeline->spec, std::nullopt);

  pipeline = DecodePipeline(
      R"({"pipeline_id": null, "spec": null, "latest_updates": null,
          "state": "IDLE"})");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  EXPECT_EQ(pipeline->state, "IDLE");
  EXPECT_EQ(pipeline->spec, std::nullopt);

  auto update = DecodeUpdate(
      R"({"update": {"creation_time": null, "full_refresh": null,
                     "config": {"continuous": null}}})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->creation_time, std::nullopt);
  EXPECT_EQ(update->full_refresh, std::nullopt);
  ASSERT_TRUE(update->config.has_value());
  EXPECT_EQ(update->config->continuous, std::nullopt);

  EXPECT_TRUE(DecodeListPipelinesPage("{}").ok());
  EXPECT_TRUE(DecodeListEventsPage(R"({"events": []})").ok());
}

TEST(DecodersTest, UnknownFieldsAreIgnored) {
  auto update = DecodeUpdate(R"({
    "future": {"deep": [1, 2.5, -3e10, true, false, null, "s", {"x": []}]},
    "update": {"new_field": 123456789012345678901234567890,
               "state": "RUNNING", "another": [[[]]]},
    "trailer": "\u00e9\ud83d\ude00"})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->state, "RUNNING");
}

TEST(DecodersTest, EscapedKeysAndValuesAreUnescaped) {
  auto pipeline =
      DecodePipeline(R"({"st\u0061te": "IDLE", "name": "a\"b\\c\n\u00e9"})");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  EXPECT_EQ(pipeline->state, "IDLE");
  EXPECT_EQ(pipeline->name, "a\"b\\c\n\xc3\xa9");
}

TEST(DecodersTest, DuplicateFieldsKeepTheLastValue) {
  auto pipeline = DecodePipeline(
      R"({"state": "IDLE", "state": "RUNNING",
          "latest_updates": [{"update_id": "a"}],
          "latest_updates": [{"update_id": "b"}]})");
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  EXPECT_EQ(pipeline->state, "RUNNING");
  ASSERT_EQ(pipeline->latest_updates.size(), 1u);
  EXPECT_EQ(pipeline->latest_updates[0].update_id, "b");
}

TEST(DecodersTest, WrongTypesNameTheField) {
  EXPECT_THAT(DecodeUpdate(R"({"update": {"creation_time": "1628815050279"}})"),
              FailsWith("update.creation_time: expected integer"));
  EXPECT_THAT(DecodeUpdate(R"({"update": {"creation_time": 1.5}})"),
              FailsWith("update.creation_time: expected integer"));
  EXPECT_THAT(
      DecodeUpdate(R"({"update": {"creation_time": 99999999999999999999}})"),
      FailsWith("update.creation_time: expected integer"));
  EXPECT_THAT(DecodeUpdate(R"({"update": {"full_refresh": "true"}})"),
              FailsWith("update.full_refresh: expected boolean"));
  EXPECT_THAT(DecodeUpdate(R"({"update": {"refresh_selection": "a"}})"),
              FailsWith("update.refresh_selection: expected array"));
  EXPECT_THAT(DecodeUpdate(R"({"update": {"refresh_selection": ["a", 1]}})"),
              FailsWith("update.refresh_selection[1]: expected string"));
  EXPECT_THAT(DecodeUpdate(R"({"update": []})"),
              FailsWith("update: expected object"));
  EXPECT_THAT(
      DecodeUpdate(R"({"update": {"config": {"configuration": {"k": 5}}}})"),
      FailsWith("update.config.configuration.k: expected string"));
  EXPECT_THAT(
      DecodeListPipelinesPage(R"({"statuses": [{}, {"latest_updates":
                                   [{"state": 3}]}]})"),
      FailsWith("statuses[1].latest_updates[0].state: expected string"));
  EXPECT_THAT(DecodePipeline(R"({"spec": {"photon": 1}})"),
              FailsWith("spec.photon: expected boolean"));
  EXPECT_THAT(DecodePipeline(R"({"pipeline_id": {"a": 1}})"),
              FailsWith("pipeline_id: expected string"));
  EXPECT_THAT(
      DecodeListEventsPage(
          R"({"events": [{"error": {"exceptions": [{"message": []}]}}]})"),
      FailsWith("events[0].error.exceptions[0].message: "
                "expected string"));
  EXPECT_THAT(DecodeListEventsPage(
                  R"({"events": [{"details": {"update_progress": 1}}]})"),
              FailsWith("events[0].details.update_progress: expected object"));
  EXPECT_THAT(DecodeRequestStatus(R"({"status": 1})"),
              FailsWith("status: expected string"));
}

TEST(DecodeUpdateTest, MissingOrNullWrapperIsAnError) {
  EXPECT_THAT(DecodeUpdate("{}"), FailsWith("update: missing"));
  EXPECT_THAT(DecodeUpdate(R"({"update": null})"),
              FailsWith("update: missing"));
  auto empty = DecodeUpdate(R"({"update": {}})");
  EXPECT_TRUE(empty.ok()) << empty.status();
}

TEST(DecodersTest, DocumentMustBeAnObject) {
  EXPECT_THAT(DecodePipeline(std::string_view()),
              FailsWith("$: empty document"));
  for (std::string_view body :
       {"", "   ", "[]", "[{}]", "\"x\"", "42", "null", "true"}) {
    EXPECT_THAT(DecodePipeline(body), FailsWith("$: ")) << body;
  }
}

TEST(DecodersTest, TrailingContentIsAnError) {
  EXPECT_TRUE(DecodePipeline("{}\n\t  ").ok());
  for (std::string_view body :
       {"{} x", "{}{}", R"({"state": "IDLE"}})", "{} ,", "{} 1", "{} null",
        R"({"state": "IDLE"} {"state": "RUNNING"})"}) {
    EXPECT_THAT(DecodePipeline(body), FailsWith("$: ")) << body;
  }
}

TEST(DecodersTest, MalformedJsonIsAnError) {
  for (std::string_view body : {
           R"({"x": tru, "state": "IDLE"})",
           R"({"x": nul})",
           R"({"x": [1,], "state": "IDLE"})",
           R"({"x": [1 2]})",
           R"({"x": {"a" 1}})",
           R"({"x": "\u12"})",
           R"({"x": "\q"})",
           R"({"x": 01})",
           R"({"x": -})",
           R"({"state": "IDLE",})",
           R"({"state" "IDLE"})",
           R"({state: "IDLE"})",
           "{\"state\": \"a\x01b\"}",
           "{\"state\": \"\xff\xfe\"}",
           R"({"a": "\ud800"})",
       }) {
    EXPECT_THAT(DecodePipeline(body), FailsWith("")) << body;
  }
  const std::string with_nul("{\"state\": \"IDLE\"}\0", 18);
  EXPECT_THAT(DecodePipeline(with_nul), FailsWith("$: "));
  const std::string nul_inside("{\"state\": \"I\0LE\"}", 18);
  EXPECT_THAT(DecodePipeline(nul_inside), FailsWith(": malformed JSON"));
}

// Every proper prefix of a valid document that cuts before its closing brace
// is rejected, and nothing crashes along the way.
TEST(DecodersTest, EveryTruncationIsAnError) {
  for (const char* name :
       {"seed_get_pipeline.json", "seed_list_pipelines.json",
        "seed_get_update.json", "seed_request_status.json",
        "seed_start_update.json", "events_failed_update.json"}) {
    const std::string body = ReadTestData(name);
    const size_t last_brace = body.rfind('}');
    ASSERT_NE(last_brace, std::string::npos);
    for (size_t n = 0; n <= last_brace; ++n) {
      const std::string_view prefix(body.data(), n);
      EXPECT_FALSE(DecodePipeline(prefix).ok()) << name << " cut at " << n;
      EXPECT_FALSE(DecodeListEventsPage(prefix).ok())
          << name << " cut at " << n;
      EXPECT_FALSE(DecodeRequestStatus(prefix).ok()) << name << " cut at " << n;
    }
  }
}

TEST(DecodersTest, DeepNestingIsRefusedWithoutCrashing) {
  const std::string deep = absl::StrCat(R"({"x": )", std::string(100000, '['),
                                        std::string(100000, ']'), "}");
  EXPECT_FALSE(DecodePipeline(deep).ok());
  std::string nested = "1";
  for (int i = 0; i < 2000; ++i) nested = absl::StrCat(R"({"a":)", nested, "}");
  EXPECT_FALSE(DecodePipeline(absl::StrCat(R"({"x": )", nested, "}")).ok());
  // Moderate nesting in an ignored field is fine.
  const std::string moderate = absl::StrCat(R"({"x": )", std::string(30, '['),
                                            std::string(30, ']'), "}");
  EXPECT_TRUE(DecodePipeline(moderate).ok());
}

TEST(DecodersTest, ErrorPathsEscapeHostileKeys) {
  auto result = DecodePipeline("{\"x\\r\\n\\u0000\": tru}");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("x\\r\\n\\x00: "));
}

TEST(DecodersTest, ThousandItemPageIsFast) {
  std::string body = R"({"events": [)";
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) body += ",";
    absl::StrAppend(
        &body, R"({"id": "e)", i, R"(", "sequence": {"control_plane_seq_no": )",
        i,
        R"(}, "origin": {"pipeline_id": "p", "update_id": "u", "batch_id": 1},)",
        R"( "timestamp": "2021-08-13T00:40:12.345Z", "level": "INFO",)",
        R"( "event_type": "flow_progress", "message": "Flow has completed.",)",
        R"( "details": {"flow_progress": {"metrics": {"num_output_rows": 5}}}})");
  }
  body += R"(], "next_page_token": "t"})";
  const auto start = std::chrono::steady_clock::now();
  auto page = DecodeListEventsPage(body);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events.size(), 1000u);
  EXPECT_EQ(page->events[999].id, "e999");
  EXPECT_THAT(page->events[999].sequence, Optional(int64_t{999}));
  // Generous: a few milliseconds normally, much more under sanitizers.
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(DecodeDatabricksErrorTest, StringOrIntegerErrorCode) {
  auto error = DecodeDatabricksError(
      R"({"error_code": "RESOURCE_DOES_NOT_EXIST",
          "message": "Pipeline a12 does not exist", "details": [{"@type": "x"}]})");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->error_code, "RESOURCE_DOES_NOT_EXIST");
  EXPECT_EQ(error->message, "Pipeline a12 does not exist");

  error = DecodeDatabricksError(R"({"error_code": 404, "message": "nope"})");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->error_code, "404");

  error = DecodeDatabricksError(R"({"message": "only a message"})");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->error_code, "");

  EXPECT_THAT(DecodeDatabricksError(R"({"error_code": true})"),
              FailsWith("error_code: expected string"));
  EXPECT_THAT(DecodeDatabricksError(R"({"error_code": 1.5})"),
              FailsWith("error_code: expected string or integer"));
  EXPECT_FALSE(DecodeDatabricksError("<html>502 Bad Gateway</html>").ok());
}

TEST(DecodeTokenResponseTest, EntraAndOidc) {
  auto token = DecodeTokenResponse(ReadTestData("token_entra.json"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->access_token,
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra.signature");
  EXPECT_EQ(token->token_type, "Bearer");
  EXPECT_THAT(token->expires_in, Optional(int64_t{3599}));
  EXPECT_EQ(token->expires_on, std::nullopt);

  token = DecodeTokenResponse(
      R"({"access_token": "dapi-oidc", "token_type": "Bearer",
          "expires_in": 3600, "scope": "all-apis"})");
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_THAT(token->expires_in, Optional(int64_t{3600}));
}

TEST(DecodeTokenResponseTest, ImdsSendsNumbersAsStrings) {
  auto token = DecodeTokenResponse(ReadTestData("token_imds.json"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_THAT(token->expires_in, Optional(int64_t{3599}));
  EXPECT_THAT(token->expires_on, Optional(int64_t{1506484173}));
  EXPECT_EQ(token->token_type, "Bearer");
}

TEST(DecodeTokenResponseTest, BadTokensAreErrorsThatNeverShowTheToken) {
  EXPECT_THAT(DecodeTokenResponse(R"({"token_type": "Bearer"})"),
              FailsWith("access_token: missing"));
  EXPECT_THAT(DecodeTokenResponse(R"({"access_token": ""})"),
              FailsWith("access_token: missing"));
  for (const char* expires : {R"("")", R"("-1")", R"("12a")", R"(" 5")",
                              R"("99999999999999999999")", "true", "1.5"}) {
    auto token = DecodeTokenResponse(absl::StrCat(
        R"({"access_token": "SECRET-TOKEN", "expires_in": )", expires, "}"));
    ASSERT_FALSE(token.ok()) << expires;
    EXPECT_EQ(token.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(token.status().message()),
                HasSubstr("expires_in: expected integer"));
    EXPECT_THAT(std::string(token.status().message()),
                ::testing::Not(HasSubstr("SECRET")));
  }
  auto token = DecodeTokenResponse(R"({"access_token": "SECRET-TOKEN",)");
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(std::string(token.status().message()),
              ::testing::Not(HasSubstr("SECRET")));
}

TEST(DecodeOAuthErrorTest, EntraError) {
  auto error = DecodeOAuthError(
      R"({"error": "invalid_client", "error_description": "AADSTS7000215",
          "error_codes": [7000215], "timestamp": "2026-11-22 00:00:00Z"})");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_EQ(error->error, "invalid_client");
  EXPECT_EQ(error->error_description, "AADSTS7000215");
  EXPECT_THAT(DecodeOAuthError(R"({"error": 1})"),
              FailsWith("error: expected string"));
}

TEST(DecodersTest, LongPathsAreShortened) {
  std::string body = "1";
  for (int i = 0; i < 60; ++i) {
    body =
        absl::StrCat(R"({"key_number_)", i, R"(_is_rather_long": )", body, "}");
  }
  // Make the innermost value malformed.
  body.replace(body.find(": 1}"), 4, ": -}");
  auto result = DecodePipeline(body);
  ASSERT_FALSE(result.ok());
  EXPECT_LT(result.status().message().size(), 320u) << result.status();
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("key_number_0_is_rather_long: "));
}

// Random mutations of every fixture, through every decoder: no crash (the
// sanitizers watch), and every failure is INTERNAL. A cheap stand-in for the
// fuzz target until it lands.
TEST(DecodersTest, RandomMutationsNeverCrash) {
  static constexpr char kInteresting[] = "{}[]\",:\\ 0123456789.-+eEtrufalsn";
  std::mt19937 random(20261122);
  auto pick = [&](size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(random);
  };
  int decoded = 0;
  for (const char* name :
       {"seed_get_pipeline.json", "seed_list_pipelines.json",
        "seed_get_update.json", "seed_request_status.json",
        "seed_start_update.json", "events_failed_update.json",
        "token_imds.json", "token_entra.json"}) {
    const std::string original = ReadTestData(name);
    for (int iteration = 0; iteration < 1500; ++iteration) {
      std::string body = original;
      const int edits = 1 + static_cast<int>(pick(4));
      for (int e = 0; e < edits && !body.empty(); ++e) {
        const size_t at = pick(body.size());
        switch (pick(5)) {
          case 0:
            body[at] = kInteresting[pick(sizeof(kInteresting) - 1)];
            break;
          case 1:
            body[at] = static_cast<char>(pick(256));
            break;
          case 2:
            body.erase(at, 1 + pick(8));
            break;
          case 3:
            body.insert(at, body.substr(pick(body.size()), 1 + pick(16)));
            break;
          case 4:
            body.resize(at);
            break;
        }
      }
      const absl::Status statuses[] = {
          DecodePipeline(body).status(),
          DecodeListPipelinesPage(body).status(),
          DecodeUpdate(body).status(),
          DecodeListUpdatesPage(body).status(),
          DecodeStartUpdateResult(body).status(),
          DecodeRequestStatus(body).status(),
          DecodeListEventsPage(body).status(),
          DecodeDatabricksError(body).status(),
          DecodeTokenResponse(body).status(),
          DecodeOAuthError(body).status(),
      };
      for (const absl::Status& status : statuses) {
        if (status.ok()) {
          ++decoded;
        } else {
          ASSERT_EQ(status.code(), absl::StatusCode::kInternal) << status;
          ASSERT_LT(status.message().size(), 400u) << status;
        }
      }
    }
  }
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace polysync::databricks
