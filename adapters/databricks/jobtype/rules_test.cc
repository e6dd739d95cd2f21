#include "adapters/databricks/jobtype/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"

namespace polysync::databricks::jobtype {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

Pipeline SamplePipeline() {
  Pipeline p;
  p.pipeline_id = "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5";
  p.name = "Wikipedia pipeline (SQL)";
  p.state = "IDLE";
  PipelineSpec spec;
  spec.continuous = false;
  spec.photon = true;
  spec.configuration = {{"spark.sql.shuffle.partitions", "200"},
                        {"pipelines.numStreamRetryAttempts", "5"},
                        {"custom.owner", "data-eng"},
                        {"spark.databricks.delta.x", "y"}};
  p.spec = spec;
  return p;
}

std::vector<std::string> Names(const v1::ImportedJob& job) {
  std::vector<std::string> names;
  for (const auto& p : job.parameters()) names.push_back(p.name());
  return names;
}

TEST(ImportedJobTest, ParametersFollowTheJobTypeRules) {
  v1::ImportedJob job =
      ImportedJobFromPipeline(SamplePipeline(), "prod", "https://adb-1.net/",
                              DefaultConfigurationPrefixes());
  EXPECT_EQ(job.name(), "Wikipedia pipeline (SQL)");
  EXPECT_EQ(job.job_type(), "Databricks Pipeline");
  EXPECT_EQ(job.external_id(), "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5");
  EXPECT_EQ(job.link(),
            "https://adb-1.net/#joblist/pipelines/"
            "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5");
  EXPECT_EQ(job.pipeline_state(), "IDLE");
  EXPECT_EQ(job.workspace(), "prod");
  // development is absent from the spec, so it is not a parameter;
  // pipelines.* is not an imported prefix; configuration keys are sorted.
  EXPECT_EQ(Names(job), (std::vector<std::string>{
                            "continuous", "photon", "custom.owner",
                            "spark.databricks.delta.x",
                            "spark.sql.shuffle.partitions", "full_refresh"}));
  const auto& continuous = job.parameters(0);
  EXPECT_EQ(continuous.data_type(), v1::DATA_TYPE_BOOL);
  EXPECT_EQ(continuous.value(), "false");
  EXPECT_EQ(continuous.direction(), v1::DIRECTION_INPUT);
  EXPECT_FALSE(continuous.forwarded());
  EXPECT_EQ(continuous.source(), v1::PARAMETER_SOURCE_PIPELINE_SPEC);
  EXPECT_EQ(continuous.source_path(), "spec.continuous");
  const auto& shuffle = job.parameters(4);
  EXPECT_EQ(shuffle.data_type(), v1::DATA_TYPE_STRING);
  EXPECT_EQ(shuffle.value(), "200");
  EXPECT_EQ(shuffle.source_path(),
            "spec.configuration.spark.sql.shuffle.partitions");
  const auto& full_refresh = job.parameters(5);
  EXPECT_EQ(full_refresh.data_type(), v1::DATA_TYPE_BOOL);
  EXPECT_EQ(full_refresh.value(), "false");
  EXPECT_TRUE(full_refresh.forwarded());
  EXPECT_EQ(full_refresh.source(), v1::PARAMETER_SOURCE_JOB_TYPE);
  EXPECT_THAT(job.notes(), IsEmpty());
}

// The pipeline's default update parameters are STRING INPUT job parameters
// `parameters.<key>`, forwarded, after the configuration keys and before
// full_refresh, sorted by key.
TEST(ImportedJobTest, DefaultUpdateParametersAreForwarded) {
  Pipeline pipeline = SamplePipeline();
  pipeline.parameters = {{"start_date", "2026-01-01"}, {"region", "emea"}};
  pipeline.spec->configuration.emplace_back("parameters.region", "shadow");
  v1::ImportedJob job =
      ImportedJobFromPipeline(pipeline, "p", "h", {"spark.", "parameters."});
  EXPECT_EQ(Names(job), (std::vector<std::string>{
                            "continuous", "photon", "spark.databricks.delta.x",
                            "spark.sql.shuffle.partitions", "parameters.region",
                            "parameters.start_date", "full_refresh"}));
  const v1::Parameter& region = job.parameters(4);
  EXPECT_EQ(region.value(), "emea");
  EXPECT_EQ(region.data_type(), v1::DATA_TYPE_STRING);
  EXPECT_EQ(region.direction(), v1::DIRECTION_INPUT);
  EXPECT_TRUE(region.forwarded());
  EXPECT_EQ(region.source(), v1::PARAMETER_SOURCE_PIPELINE_PARAMETERS);
  EXPECT_EQ(region.source_path(), "parameters.region");

  // Without a spec the parameters are still there.
  pipeline.spec.reset();
  job = ImportedJobFromPipeline(pipeline, "p", "h", {});
  EXPECT_EQ(Names(job),
            (std::vector<std::string>{
                "parameters.region", "parameters.start_date", "full_refresh"}));
}

TEST(ImportedJobTest, PrefixesAreConfigurable) {
  v1::ImportedJob job =
      ImportedJobFromPipeline(SamplePipeline(), "p", "h", {"pipelines."});
  EXPECT_EQ(Names(job),
            (std::vector<std::string>{"continuous", "photon",
                                      "pipelines.numStreamRetryAttempts",
                                      "full_refresh"}));
}

TEST(ImportedJobTest, ContinuousPipelinesCarryANote) {
  Pipeline p = SamplePipeline();
  p.spec->continuous = true;
  v1::ImportedJob job = ImportedJobFromPipeline(p, "p", "h", {});
  ASSERT_EQ(job.notes_size(), 1);
  EXPECT_THAT(job.notes(0), HasSubstr("never complete on their own"));
}

TEST(ImportedJobTest, PipelineWithoutSpecStillHasFullRefresh) {
  Pipeline p;
  p.pipeline_id = "x";
  v1::ImportedJob job = ImportedJobFromPipeline(p, "p", "h", {});
  EXPECT_EQ(Names(job), (std::vector<std::string>{"full_refresh"}));
}

v1::StartUpdateRequest WithFullRefresh(
    const std::string& value, v1::DataType type = v1::DATA_TYPE_BOOL,
    v1::Direction dir = v1::DIRECTION_INPUT) {
  v1::StartUpdateRequest r;
  v1::Parameter* p = r.add_parameters();
  p->set_name("full_refresh");
  p->set_data_type(type);
  p->set_direction(dir);
  p->set_value(value);
  v1::Parameter* other = r.add_parameters();
  other->set_name("spark.sql.shuffle.partitions");
  other->set_data_type(v1::DATA_TYPE_STRING);
  other->set_value("12");
  return r;
}

TEST(PlanStartTest, FullRefreshIsReadCaseInsensitively) {
  auto plan = PlanStart(WithFullRefresh("TRUE"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->full_refresh, true);
  plan = PlanStart(WithFullRefresh("False"));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->full_refresh, false);
  plan = PlanStart(
      WithFullRefresh("true", v1::DATA_TYPE_BOOL, v1::DIRECTION_INPUT_OUTPUT));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->full_refresh, true);
}

TEST(PlanStartTest, DefaultsToFalseWithoutTheParameter) {
  auto plan = PlanStart(v1::StartUpdateRequest());
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->full_refresh, false);
}

TEST(PlanStartTest, OutputFullRefreshIsNeverSent) {
  auto plan = PlanStart(
      WithFullRefresh("true", v1::DATA_TYPE_BOOL, v1::DIRECTION_OUTPUT));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->full_refresh, false);
}

TEST(PlanStartTest, BadFullRefreshIsInvalidArgument) {
  for (const auto& r : {WithFullRefresh("yes"), WithFullRefresh(""),
                        WithFullRefresh("true", v1::DATA_TYPE_STRING)}) {
    EXPECT_EQ(PlanStart(r).status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(PlanStart(WithFullRefresh("yes")).status().message(),
              HasSubstr("\"true\" or \"false\""));
}

// Exactly true or false, in any case: surrounding or embedded whitespace,
// control characters and other spellings are refused, never read as true.
TEST(PlanStartTest, FullRefreshWithWhitespaceIsRefused) {
  const std::vector<std::string> values = {"true ",
                                           " TRUE",
                                           "\ttrue\n",
                                           "true\v",
                                           "tr ue",
                                           std::string("true\0", 5),
                                           "\xef\xbb\xbftrue",
                                           "1",
                                           "on",
                                           "t"};
  for (const std::string& v : values) {
    auto plan = PlanStart(WithFullRefresh(v));
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument)
        << "value: " << absl::CEscape(v);
  }
}

TEST(PlanStartTest, FullRefreshWithoutADirectionIsRefused) {
  auto plan = PlanStart(
      WithFullRefresh("true", v1::DATA_TYPE_BOOL, v1::DIRECTION_UNSPECIFIED));
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plan.status().message(), HasSubstr("DIRECTION_INPUT"));
  plan = PlanStart(
      WithFullRefresh("false", v1::DATA_TYPE_BOOL, v1::DIRECTION_UNSPECIFIED));
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
}

// A rejected value is never echoed: what the caller sent could be anything,
// a secret included, and the answer must not depend on it.
TEST(PlanStartTest, RejectedValueIsNotEchoed) {
  auto a = PlanStart(WithFullRefresh("dapi0123456789abcdef"));
  auto b = PlanStart(WithFullRefresh("something-else-12345"));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), Not(HasSubstr("dapi")));
  EXPECT_EQ(a.status().message(), b.status().message());
}

TEST(PlanStartTest, SelectionWithFullRefreshIsRefused) {
  v1::StartUpdateRequest r = WithFullRefresh("true");
  r.add_refresh_selection("sales_orders_cleaned");
  auto plan = PlanStart(r);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plan.status().message(), HasSubstr("refresh_selection"));

  v1::StartUpdateRequest ok = WithFullRefresh("false");
  ok.add_refresh_selection("a");
  ok.add_full_refresh_selection("b");
  ok.set_validate_only(true);
  auto good = PlanStart(ok);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->refresh_selection, std::vector<std::string>{"a"});
  EXPECT_EQ(good->full_refresh_selection, std::vector<std::string>{"b"});
  EXPECT_EQ(good->validate_only, true);
}

TEST(PlanStartTest, LimitsAreEnforced) {
  v1::StartUpdateRequest many;
  for (int i = 0; i < 1001; ++i) many.add_parameters()->set_name("p");
  EXPECT_EQ(PlanStart(many).status().code(),
            absl::StatusCode::kInvalidArgument);

  v1::StartUpdateRequest long_name;
  long_name.add_parameters()->set_name(std::string(257, 'n'));
  EXPECT_EQ(PlanStart(long_name).status().code(),
            absl::StatusCode::kInvalidArgument);

  v1::StartUpdateRequest big_value;
  auto* p = big_value.add_parameters();
  p->set_name("x");
  p->set_value(std::string(64 * 1024 + 1, 'v'));
  EXPECT_EQ(PlanStart(big_value).status().code(),
            absl::StatusCode::kInvalidArgument);

  v1::StartUpdateRequest tables;
  for (int i = 0; i < 1001; ++i) tables.add_refresh_selection("t");
  EXPECT_EQ(PlanStart(tables).status().code(),
            absl::StatusCode::kInvalidArgument);

  v1::StartUpdateRequest crlf;
  crlf.add_full_refresh_selection("a\r\nb");
  EXPECT_EQ(PlanStart(crlf).status().code(),
            absl::StatusCode::kInvalidArgument);

  v1::StartUpdateRequest key;
  key.set_idempotency_key(std::string(257, 'k'));
  EXPECT_EQ(PlanStart(key).status().code(), absl::StatusCode::kInvalidArgument);
}

v1::Parameter UpdateParameter(const std::string& name, const std::string& value,
                              v1::Direction dir = v1::DIRECTION_INPUT) {
  v1::Parameter p;
  p.set_name(name);
  p.set_data_type(v1::DATA_TYPE_STRING);
  p.set_direction(dir);
  p.set_value(value);
  return p;
}

TEST(PlanStartTest, UpdateParametersAreSentAsAMap) {
  v1::StartUpdateRequest r = WithFullRefresh("false");
  *r.add_parameters() = UpdateParameter("parameters.region", "apac");
  *r.add_parameters() = UpdateParameter("parameters.start_date", "2026-02-01",
                                        v1::DIRECTION_INPUT_OUTPUT);
  *r.add_parameters() =
      UpdateParameter("parameters.out", "x", v1::DIRECTION_OUTPUT);
  auto plan = PlanStart(r);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->parameters.has_value());
  EXPECT_EQ(*plan->parameters,
            (std::vector<std::pair<std::string, std::string>>{
                {"region", "apac"}, {"start_date", "2026-02-01"}}));
  // None given: no map (the pipeline's defaults apply).
  plan = PlanStart(WithFullRefresh("false"));
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->parameters.has_value());
}

TEST(PlanStartTest, BadUpdateParametersAreRefusedWithoutEchoingThem) {
  auto refused = [](std::vector<v1::Parameter> params) {
    v1::StartUpdateRequest r;
    for (auto& p : params) *r.add_parameters() = std::move(p);
    return PlanStart(r).status();
  };
  v1::Parameter bool_typed = UpdateParameter("parameters.flag", "true");
  bool_typed.set_data_type(v1::DATA_TYPE_BOOL);
  const std::vector<std::vector<v1::Parameter>> cases = {
      {UpdateParameter("parameters.", "v")},
      {UpdateParameter("parameters.a\tb", "v")},
      {UpdateParameter("parameters.k", "1"),
       UpdateParameter("parameters.k", "2")},
      {UpdateParameter("parameters.k", "v", v1::DIRECTION_UNSPECIFIED)},
      {bool_typed},
      {UpdateParameter("parameters.big", std::string(10000, 'v'))},
  };
  for (const auto& c : cases) {
    absl::Status s = refused(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c[0].name();
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("vvvv")));
    EXPECT_THAT(std::string(s.message()), Not(HasSubstr("a\tb")));
  }
  // Just under the limit is fine: {"big":"vvv..."} is 10,000 bytes.
  EXPECT_TRUE(
      refused({UpdateParameter("parameters.big", std::string(10000 - 10, 'v'))})
          .ok());
}

TEST(PlanStartTest, FlowSelectionsFollowTheSelectionRules) {
  v1::StartUpdateRequest r;
  r.add_refresh_flow_selection("orders_raw");
  r.add_reset_checkpoint_selection("orders_raw");
  auto plan = PlanStart(r);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->refresh_flow_selection,
            std::vector<std::string>{"orders_raw"});
  EXPECT_EQ(plan->reset_checkpoint_selection,
            std::vector<std::string>{"orders_raw"});
  for (int which = 0; which < 2; ++which) {
    v1::StartUpdateRequest full = WithFullRefresh("true");
    (which == 0 ? full.add_refresh_flow_selection()
                : full.add_reset_checkpoint_selection())
        ->assign("orders_raw");
    EXPECT_EQ(PlanStart(full).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  v1::StartUpdateRequest many;
  for (int i = 0; i < 1001; ++i) many.add_reset_checkpoint_selection("f");
  EXPECT_EQ(PlanStart(many).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::StartUpdateRequest control;
  control.add_refresh_flow_selection("a\nb");
  EXPECT_EQ(PlanStart(control).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StatusForStateTest, FollowsTheSeedTable) {
  EXPECT_EQ(StatusForState("RUNNING"), v1::RUN_STATUS_RUNNING);
  EXPECT_EQ(StatusForState("STOPPING"), v1::RUN_STATUS_RUNNING);
  EXPECT_EQ(StatusForState("COMPLETED"), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(StatusForState("FAILED"), v1::RUN_STATUS_FAILED);
  EXPECT_EQ(StatusForState("CANCELED"), v1::RUN_STATUS_CANCELLED);
  for (const char* s :
       {"QUEUED", "CREATED", "WAITING_FOR_RESOURCES", "INITIALIZING",
        "RESETTING", "SETTING_UP_TABLES", "", "SOME_FUTURE_STATE", "running"}) {
    EXPECT_EQ(StatusForState(s), v1::RUN_STATUS_UNKNOWN) << s;
  }
  EXPECT_TRUE(IsTerminalStatus(v1::RUN_STATUS_CANCELLED));
  EXPECT_FALSE(IsTerminalStatus(v1::RUN_STATUS_RUNNING));
  EXPECT_FALSE(IsTerminalStatus(v1::RUN_STATUS_UNKNOWN));
}

TEST(HintForTest, LongWaitForResourcesAndLongContinuousStop) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  HintOptions options;
  EXPECT_EQ(HintFor("WAITING_FOR_RESOURCES", false, t0, t0 + absl::Minutes(9),
                    options),
            "");
  EXPECT_THAT(HintFor("WAITING_FOR_RESOURCES", false, t0,
                      t0 + absl::Minutes(11), options),
              HasSubstr("required Databricks resource"));
  EXPECT_THAT(HintFor("STOPPING", true, t0, t0 + absl::Minutes(6), options),
              HasSubstr("normal for a continuous pipeline"));
  EXPECT_EQ(HintFor("STOPPING", false, t0, t0 + absl::Minutes(6), options), "");
  options.waiting_for_resources = absl::Minutes(1);
  EXPECT_NE(HintFor("WAITING_FOR_RESOURCES", false, t0, t0 + absl::Minutes(2),
                    options),
            "");
}

}  // namespace
}  // namespace polysync::databricks::jobtype
