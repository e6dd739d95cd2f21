// The simulated workspace speaking today's Pipelines API (legacy_request_api
// false), shape by shape as databricks-sdk-py `service/pipelines.py` defines
// it: StartUpdateResponse, UpdateInfo, GetPipelineResponse.parameters, the
// missing requests endpoint, and DLT's retry after a gap in which the
// pipeline is not idle. The retired guide's shapes (the default for now) are
// checked by lifecycle_test and api_test.
#include <string>
#include <vector>

#include "adapters/databricks/simulator/simulator.h"
#include "adapters/databricks/simulator/test_client.h"
#include "gtest/gtest.h"

namespace polysync::databricks::sim {
namespace {

using nlohmann::json;
using testing::TestClient;

class CurrentApiTest : public ::testing::Test {
 protected:
  void StartSim(absl::Duration retry_delay = absl::Seconds(30),
                const std::string& gap_state = "RECOVERING") {
    SimulatorOptions options;
    options.clock = clock_;
    options.seed_default_pipelines = false;
    options.workspace.lifecycle = lifecycle_;
    options.workspace.legacy_request_api = false;
    options.workspace.retry_delay = retry_delay;
    options.workspace.retry_gap_state = gap_state;
    auto sim = Simulator::Start(std::move(options));
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
    client_ =
        std::make_unique<TestClient>(sim_->base_url(), sim_->access_token());
  }

  std::string Create(Behavior behavior, json spec = json::object()) {
    spec["name"] = "p" + std::to_string(++created_);
    auto id = sim_->CreatePipeline(spec, behavior);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  testing::HttpResult StartUpdate(const std::string& id, const json& body) {
    return client_->Post("/api/2.0/pipelines/" + id + "/updates", body.dump());
  }
  json Pipeline(const std::string& id) {
    return client_->Get("/api/2.0/pipelines/" + id).json();
  }
  json Update(const std::string& id, const std::string& update_id) {
    auto r = client_->Get("/api/2.0/pipelines/" + id + "/updates/" + update_id);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["update"];
  }
  void Advance(absl::Duration d) { ASSERT_TRUE(sim_->AdvanceClock(d).ok()); }

  // From a start to the end of RUNNING.
  absl::Duration ToEnd() const {
    const LifecycleOptions& l = lifecycle_;
    return l.queued + l.created + l.waiting_for_resources + l.initializing +
           l.setting_up_tables + l.running;
  }

  LifecycleOptions lifecycle_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<TestClient> client_;
  int created_ = 0;
};

// StartUpdateResponse has `update_id` only; UpdateInfo no `request_id`; mode
// is UpdateMode (DEFAULT, CONTINUOUS); ListUpdates leaves out config and mode.
TEST_F(CurrentApiTest, StartAndUpdateShapesFollowTheSdk) {
  StartSim();
  const std::string id = Create(Behavior::kSucceed);
  auto r = StartUpdate(id, json::object());
  ASSERT_EQ(r.status, 200) << r.body;
  json started = r.json();
  EXPECT_EQ(started.size(), 1u) << started.dump();
  const std::string update_id = started["update_id"];
  json u = Update(id, update_id);
  EXPECT_FALSE(u.contains("request_id")) << u.dump();
  EXPECT_EQ(u["mode"], "DEFAULT");
  EXPECT_EQ(u["cause"], "API_CALL");
  EXPECT_TRUE(u.contains("config"));
  json listed = client_->Get("/api/2.0/pipelines/" + id + "/updates").json();
  ASSERT_EQ(listed["updates"].size(), 1u);
  EXPECT_FALSE(listed["updates"][0].contains("config"));
  EXPECT_FALSE(listed["updates"][0].contains("mode"));
  EXPECT_FALSE(listed["updates"][0].contains("request_id"));

  const std::string continuous =
      Create(Behavior::kSucceed, {{"continuous", true}});
  r = StartUpdate(continuous, json::object());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Update(continuous, r.json()["update_id"])["mode"], "CONTINUOUS");

  // Events keep origin.request_id (the SDK's Origin has it).
  json events = client_->Get("/api/2.0/pipelines/" + id + "/events").json();
  ASSERT_FALSE(events["events"].empty());
  EXPECT_TRUE(events["events"][0]["origin"].contains("request_id"));
}

TEST_F(CurrentApiTest, AFailureNotRetriedIsFatal) {
  StartSim();
  const std::string id = Create(Behavior::kFail);
  ASSERT_EQ(StartUpdate(id, json::object()).status, 200);
  Advance(ToEnd() + absl::Minutes(5));
  json errors = client_
                    ->Get("/api/2.0/pipelines/" + id + "/events?filter=" +
                          testing::UrlEncode("level='ERROR'"))
                    .json()["events"];
  ASSERT_EQ(errors.size(), 2u);
  for (const json& e : errors) EXPECT_EQ(e["error"]["fatal"], true);
  EXPECT_EQ(Pipeline(id)["state"], "IDLE");
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);
}

TEST_F(CurrentApiTest, TheRequestsEndpointIsNotFound) {
  StartSim();
  const std::string id = Create(Behavior::kSucceed);
  auto r = client_->Get("/api/2.0/pipelines/" + id +
                        "/requests/0123abcd-0000-0000-0000-000000000000");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json()["error_code"], "ENDPOINT_NOT_FOUND") << r.body;
}

// GetPipelineResponse.parameters are the defaults; a start's `parameters`
// override them key by key and UpdateInfo.parameters records the result;
// refresh_flow_selection is recorded, reset_checkpoint_selection accepted.
TEST_F(CurrentApiTest, ParametersAndFlowSelections) {
  StartSim();
  const std::string id = Create(
      Behavior::kSucceed,
      {{"parameters", {{"region", "emea"}, {"start_date", "2026-01-01"}}}});
  json p = Pipeline(id);
  EXPECT_EQ(p["parameters"],
            json({{"region", "emea"}, {"start_date", "2026-01-01"}}));
  EXPECT_FALSE(p["spec"].contains("parameters"));

  auto r = StartUpdate(id, {{"parameters", {{"region", "apac"}}},
                            {"refresh_flow_selection", {"orders_raw"}},
                            {"reset_checkpoint_selection", {"orders_raw"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  json u = Update(id, r.json()["update_id"]);
  EXPECT_EQ(u["parameters"],
            json({{"region", "apac"}, {"start_date", "2026-01-01"}}));
  EXPECT_EQ(u["refresh_flow_selection"], json({"orders_raw"}));
  Advance(ToEnd());

  // Without `parameters` the defaults apply.
  r = StartUpdate(id, json::object());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Update(id, r.json()["update_id"])["parameters"], p["parameters"]);
  Advance(ToEnd());

  // Not a map of strings, or over 10,000 characters of JSON: 400.
  for (const json& bad :
       {json({{"parameters", {{"n", 1}}}}), json({{"parameters", "a=b"}}),
        json({{"parameters", {{"k", std::string(10000, 'v')}}}}),
        json({{"refresh_flow_selection", "orders_raw"}}),
        json({{"reset_checkpoint_selection", {1}}}),
        json({{"full_refresh", true},
              {"refresh_flow_selection", {"orders_raw"}}})}) {
    r = StartUpdate(id, bad);
    EXPECT_EQ(r.status, 400) << bad.dump();
    EXPECT_EQ(r.json()["error_code"], "INVALID_PARAMETER_VALUE") << r.body;
  }
  EXPECT_EQ(sim_->UpdatesCreated(id), 2);
}

// A failed update of a fail_once pipeline: for retry_delay no update is
// active, the pipeline shows the gap state and refuses a start (as while an
// update is active), a stop is a no-op; then the retry appears with cause
// RETRY_ON_FAILURE and the start's parameters, and completes.
class RetryGapTest : public CurrentApiTest,
                     public ::testing::WithParamInterface<std::string> {};

TEST_P(RetryGapTest, RetryAfterAGapInWhichThePipelineIsNotIdle) {
  StartSim(absl::Seconds(30), GetParam());
  const std::string id =
      Create(Behavior::kFailOnceThenRetry, {{"parameters", {{"k", "v"}}}});
  auto r = StartUpdate(id, {{"parameters", {{"k", "given"}}}});
  ASSERT_EQ(r.status, 200);
  const std::string first = r.json()["update_id"];
  Advance(ToEnd());
  EXPECT_EQ(Update(id, first)["state"], "FAILED");
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);
  // The failure DLT retries is not fatal.
  json errors = client_
                    ->Get("/api/2.0/pipelines/" + id + "/events?filter=" +
                          testing::UrlEncode("level='ERROR'"))
                    .json()["events"];
  ASSERT_EQ(errors.size(), 2u);
  for (const json& e : errors) EXPECT_EQ(e["error"]["fatal"], false);
  json p = Pipeline(id);
  EXPECT_EQ(p["state"], GetParam());
  EXPECT_EQ(p["latest_updates"].size(), 1u);
  r = StartUpdate(id, json::object());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.json()["error_code"], "RESOURCE_CONFLICT");
  EXPECT_EQ(client_->Post("/api/2.0/pipelines/" + id + "/stop", "{}").status,
            200);

  Advance(absl::Seconds(29));
  EXPECT_EQ(Pipeline(id)["latest_updates"].size(), 1u);
  Advance(absl::Seconds(1));
  p = Pipeline(id);
  ASSERT_EQ(p["latest_updates"].size(), 2u);
  EXPECT_EQ(p["state"], "RUNNING");
  const std::string retry = p["latest_updates"][0]["update_id"];
  json u = Update(id, retry);
  EXPECT_EQ(u["cause"], "RETRY_ON_FAILURE");
  EXPECT_EQ(u["parameters"], json({{"k", "given"}}));
  // It was created when the gap ended, not when it was looked at.
  EXPECT_EQ(u["creation_time"].get<int64_t>(),
            Update(id, first)["creation_time"].get<int64_t>() +
                absl::ToInt64Milliseconds(ToEnd() + absl::Seconds(30)));

  Advance(ToEnd());
  EXPECT_EQ(Update(id, retry)["state"], "COMPLETED");
  EXPECT_EQ(Pipeline(id)["state"], "IDLE");
  EXPECT_EQ(sim_->UpdatesCreated(id), 2);
}

INSTANTIATE_TEST_SUITE_P(GapStates, RetryGapTest,
                         ::testing::Values("RECOVERING", "STARTING",
                                           "RUNNING"));

// A start processed while its answer is lost (503), and its update seen by
// reads only after `hidden_for`: a client that re-reads at once finds
// nothing, yet a second start is refused, and one update exists.
TEST_F(CurrentApiTest, AStartCanBeProcessedButSeenOnlyLater) {
  StartSim();
  const std::string id = Create(Behavior::kSucceed);
  FaultRule rule;
  rule.endpoint = "updates.start";
  rule.kind = FaultKind::kResponseLost503;
  rule.hidden_for = absl::Seconds(5);
  sim_->InjectFault(rule);
  auto r = StartUpdate(id, json::object());
  EXPECT_EQ(r.status, 503);
  json p = Pipeline(id);
  EXPECT_EQ(p["state"], "IDLE");
  EXPECT_FALSE(p.contains("latest_updates")) << p.dump();
  EXPECT_FALSE(client_->Get("/api/2.0/pipelines/" + id + "/updates")
                   .json()
                   .contains("updates"));
  r = StartUpdate(id, json::object());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);

  Advance(absl::Seconds(5));
  p = Pipeline(id);
  ASSERT_EQ(p["latest_updates"].size(), 1u) << p.dump();
  EXPECT_EQ(p["state"], "RUNNING");
  const std::string update_id = p["latest_updates"][0]["update_id"];
  EXPECT_EQ(Update(id, update_id)["cause"], "API_CALL");
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);
}

// One long advance crosses the failure, the gap and the retry's whole run.
TEST_F(CurrentApiTest, OneLongAdvanceRunsTheRetryToTheEnd) {
  StartSim(absl::Seconds(30));
  const std::string id = Create(Behavior::kFailOnceThenRetry);
  auto r = StartUpdate(id, json::object());
  ASSERT_EQ(r.status, 200);
  Advance(ToEnd() + absl::Seconds(30) + ToEnd());
  json p = Pipeline(id);
  ASSERT_EQ(p["latest_updates"].size(), 2u);
  EXPECT_EQ(p["latest_updates"][0]["state"], "COMPLETED");
  EXPECT_EQ(p["latest_updates"][1]["state"], "FAILED");
  EXPECT_EQ(p["state"], "IDLE");
}

// The retired guide's shapes stay available for workspaces that serve them,
// and there the pending retry keeps its request ACTIVE.
TEST_F(CurrentApiTest, LegacyModeKeepsRequestIdsAcrossTheGap) {
  SimulatorOptions options;
  options.clock = clock_;
  options.seed_default_pipelines = false;
  options.workspace.lifecycle = lifecycle_;
  options.workspace.legacy_request_api = true;
  options.workspace.retry_delay = absl::Seconds(30);
  auto sim = Simulator::Start(std::move(options));
  ASSERT_TRUE(sim.ok());
  sim_ = std::move(*sim);
  client_ =
      std::make_unique<TestClient>(sim_->base_url(), sim_->access_token());
  const std::string id = Create(Behavior::kFailOnceThenRetry);
  json started = StartUpdate(id, json::object()).json();
  ASSERT_TRUE(started.contains("request_id")) << started.dump();
  const std::string req = "/api/2.0/pipelines/" + id + "/requests/" +
                          started["request_id"].get<std::string>();
  Advance(ToEnd());
  json status = client_->Get(req).json();
  EXPECT_EQ(status["status"], "ACTIVE") << status.dump();
  EXPECT_EQ(status["latest_update"]["state"], "FAILED");
  Advance(absl::Seconds(30) + ToEnd());
  status = client_->Get(req).json();
  EXPECT_EQ(status["status"], "TERMINATED");
  EXPECT_EQ(status["latest_update"]["state"], "COMPLETED");
  EXPECT_EQ(status["latest_update"]["cause"], "RETRY_ON_FAILURE");
}

}  // namespace
}  // namespace polysync::databricks::sim
