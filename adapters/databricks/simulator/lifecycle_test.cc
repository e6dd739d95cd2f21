// Update lifecycles under a manual clock, over HTTP: states, events, failure,
// the automatic retry, stop, the one-active-update rule, continuous
// pipelines, updates and events paging.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "adapters/databricks/simulator/simulator.h"
#include "adapters/databricks/simulator/test_client.h"
#include "gtest/gtest.h"

namespace polysync::databricks::sim {
namespace {

using nlohmann::json;
using testing::TestClient;
using testing::UrlEncode;

class LifecycleTest : public ::testing::Test {
 protected:
  void Start(SimulatorOptions options = {}) {
    options.clock = clock_;
    options.seed_default_pipelines = false;
    options.workspace.lifecycle = lifecycle_;
    auto sim = Simulator::Start(std::move(options));
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
    client_ =
        std::make_unique<TestClient>(sim_->base_url(), sim_->access_token());
  }

  std::string Create(Behavior behavior = Behavior::kSucceed,
                     bool continuous = false) {
    auto id = sim_->CreatePipeline({{"name", "p" + std::to_string(++created_)},
                                    {"continuous", continuous}},
                                   behavior);
    EXPECT_TRUE(id.ok());
    return *id;
  }

  json StartUpdate(const std::string& id, const std::string& body = "{}",
                   int want_status = 200) {
    auto r = client_->Post("/api/2.0/pipelines/" + id + "/updates", body);
    EXPECT_EQ(r.status, want_status) << r.body;
    return r.json();
  }

  json GetUpdate(const std::string& id, const std::string& update_id) {
    auto r = client_->Get("/api/2.0/pipelines/" + id + "/updates/" + update_id);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["update"];
  }

  json Events(const std::string& id, const std::string& query = "") {
    auto r = client_->Get("/api/2.0/pipelines/" + id + "/events" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    json body = r.json();
    return body.contains("events") ? body["events"] : json::array();
  }

  // The update_progress states of `update_id`, oldest first.
  std::vector<std::string> ProgressStates(const std::string& id,
                                          const std::string& update_id) {
    std::vector<std::string> states;
    json events =
        Events(id, "?max_results=1000&order_by=" + UrlEncode("timestamp asc"));
    for (const auto& e : events) {
      if (e["event_type"] == "update_progress" &&
          e["origin"]["update_id"] == update_id) {
        states.push_back(e["details"]["update_progress"]["state"]);
      }
    }
    return states;
  }

  void Advance(absl::Duration d) { ASSERT_TRUE(sim_->AdvanceClock(d).ok()); }

  LifecycleOptions lifecycle_;  // defaults: 1+1+5+3(+2)+3+10 s
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<TestClient> client_;
  int created_ = 0;
};

// The legacy API's shapes: request_id, mode TRIGGERED, the requests
// endpoint (today's are in current_api_test).
TEST_F(LifecycleTest, MovesThroughEveryStateWithAnEventForEach) {
  SimulatorOptions legacy;
  legacy.workspace.legacy_request_api = true;
  Start(legacy);
  std::string id = Create();
  json started = StartUpdate(id);
  std::string update_id = started["update_id"];
  std::string request_id = started["request_id"];
  ASSERT_FALSE(update_id.empty());
  ASSERT_FALSE(request_id.empty());
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);

  json u = GetUpdate(id, update_id);
  EXPECT_EQ(u["state"], "QUEUED");
  EXPECT_EQ(u["cause"], "API_CALL");
  EXPECT_EQ(u["request_id"], request_id);
  EXPECT_EQ(u["mode"], "TRIGGERED");
  EXPECT_EQ(u["creation_time"], absl::ToUnixMillis(clock_->Now()));
  EXPECT_EQ(u["config"]["id"], id);

  json p = client_->Get("/api/2.0/pipelines/" + id).json();
  EXPECT_EQ(p["state"], "RUNNING");
  EXPECT_EQ(p["latest_updates"][0]["update_id"], update_id);
  EXPECT_EQ(p["latest_updates"][0]["creation_time"],
            FormatRfc3339Millis(clock_->Now()));

  const std::vector<std::pair<absl::Duration, std::string>> steps = {
      {lifecycle_.queued, "CREATED"},
      {lifecycle_.created, "WAITING_FOR_RESOURCES"},
      {lifecycle_.waiting_for_resources, "INITIALIZING"},
      {lifecycle_.initializing, "SETTING_UP_TABLES"},
      {lifecycle_.setting_up_tables, "RUNNING"},
      {lifecycle_.running, "COMPLETED"}};
  for (const auto& [d, state] : steps) {
    Advance(d - absl::Milliseconds(1));
    EXPECT_NE(GetUpdate(id, update_id)["state"], state);
    Advance(absl::Milliseconds(1));
    EXPECT_EQ(GetUpdate(id, update_id)["state"], state);
  }
  EXPECT_EQ(ProgressStates(id, update_id),
            (std::vector<std::string>{
                "QUEUED", "CREATED", "WAITING_FOR_RESOURCES", "INITIALIZING",
                "SETTING_UP_TABLES", "RUNNING", "COMPLETED"}));
  p = client_->Get("/api/2.0/pipelines/" + id).json();
  EXPECT_EQ(p["state"], "IDLE");
  EXPECT_EQ(p["latest_updates"][0]["state"], "COMPLETED");

  auto req =
      client_->Get("/api/2.0/pipelines/" + id + "/requests/" + request_id);
  ASSERT_EQ(req.status, 200);
  EXPECT_EQ(req.json()["status"], "TERMINATED");
  EXPECT_EQ(req.json()["latest_update"]["update_id"], update_id);
  EXPECT_EQ(client_->Get("/api/2.0/pipelines/" + id + "/requests/nope").status,
            404);

  // Events carry the origin and an RFC 3339 timestamp; newest first.
  json events = Events(id);
  ASSERT_GE(events.size(), 8u);
  EXPECT_EQ(events[0]["details"]["update_progress"]["state"], "COMPLETED");
  EXPECT_EQ(events[0]["level"], "INFO");
  EXPECT_EQ(events[0]["origin"]["update_id"], update_id);
  EXPECT_EQ(events[0]["origin"]["request_id"], request_id);
  EXPECT_EQ(events[0]["timestamp"], FormatRfc3339Millis(clock_->Now()));
}

TEST_F(LifecycleTest, LongAdvanceTimestampsEachStateWhenItHappened) {
  Start();
  std::string id = Create();
  std::string update_id = StartUpdate(id)["update_id"];
  absl::Time start = clock_->Now();
  Advance(absl::Hours(1));
  EXPECT_EQ(GetUpdate(id, update_id)["state"], "COMPLETED");
  json events =
      Events(id, "?filter=" + UrlEncode("update_id='" + update_id + "'") +
                     "&order_by=" + UrlEncode("timestamp asc"));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["timestamp"],
            FormatRfc3339Millis(
                start + lifecycle_.queued + lifecycle_.created +
                lifecycle_.waiting_for_resources + lifecycle_.initializing +
                lifecycle_.setting_up_tables + lifecycle_.running));
}

TEST_F(LifecycleTest, FullRefreshResetsAndRefusesASelection) {
  Start();
  std::string id = Create();
  json err = StartUpdate(
      id, R"({"full_refresh": true, "refresh_selection": ["orders"]})", 400);
  EXPECT_EQ(err["error_code"], "INVALID_PARAMETER_VALUE");
  EXPECT_EQ(sim_->UpdatesCreated(id), 0);

  std::string update_id =
      StartUpdate(id, R"({"full_refresh": true})")["update_id"];
  EXPECT_EQ(GetUpdate(id, update_id)["full_refresh"], true);
  Advance(absl::Minutes(5));
  auto states = ProgressStates(id, update_id);
  EXPECT_NE(std::find(states.begin(), states.end(), "RESETTING"), states.end());
  EXPECT_EQ(states.back(), "COMPLETED");

  // A selective refresh: no RESETTING; the selection is echoed.
  std::string selective = StartUpdate(
      id,
      R"({"refresh_selection": ["a", "b"], "cause": "JOB_TASK"})")["update_id"];
  json u = GetUpdate(id, selective);
  EXPECT_EQ(u["refresh_selection"], json::array({"a", "b"}));
  EXPECT_EQ(u["cause"], "JOB_TASK");
  Advance(absl::Minutes(5));
  states = ProgressStates(id, selective);
  EXPECT_EQ(std::find(states.begin(), states.end(), "RESETTING"), states.end());

  EXPECT_EQ(StartUpdate(id, R"({"cause": "BOGUS"})", 400)["error_code"],
            "INVALID_PARAMETER_VALUE");
  EXPECT_EQ(StartUpdate(id, R"({"full_refresh": 3})", 400)["error_code"],
            "INVALID_PARAMETER_VALUE");
}

TEST_F(LifecycleTest, ValidateOnlySkipsRunning) {
  Start();
  std::string id = Create();
  std::string update_id =
      StartUpdate(id, R"({"validate_only": true})")["update_id"];
  EXPECT_EQ(GetUpdate(id, update_id)["validate_only"], true);
  Advance(absl::Minutes(5));
  auto states = ProgressStates(id, update_id);
  EXPECT_EQ(std::find(states.begin(), states.end(), "RUNNING"), states.end());
  EXPECT_EQ(states.back(), "COMPLETED");
}

TEST_F(LifecycleTest, BehaviourFromTheSpecOverRest) {
  Start();
  auto created = client_->Post(
      "/api/2.0/pipelines",
      R"({"name": "rest-fail", "configuration": {"sim.behavior": "fail"}})");
  ASSERT_EQ(created.status, 200) << created.body;
  std::string id = created.json()["pipeline_id"];
  std::string first = StartUpdate(id)["update_id"];
  Advance(absl::Minutes(5));
  EXPECT_EQ(GetUpdate(id, first)["state"], "FAILED");
  // Editing the spec switches it to fail-once.
  ASSERT_EQ(client_
                ->Put("/api/2.0/pipelines/" + id,
                      R"({"name": "rest-fail",
                          "configuration": {"sim.behavior": "fail_once"}})")
                .status,
            200);
  StartUpdate(id);
  Advance(absl::Minutes(5));
  EXPECT_EQ(sim_->UpdatesCreated(id), 3);  // the second one was retried
  ASSERT_TRUE(sim_->SetBehavior(id, Behavior::kSucceed).ok());
  std::string last = StartUpdate(id)["update_id"];
  Advance(absl::Minutes(5));
  EXPECT_EQ(GetUpdate(id, last)["state"], "COMPLETED");
}

TEST_F(LifecycleTest, FailingPipelineFailsWithErrorEvents) {
  Start();
  std::string id = Create(Behavior::kFail);
  std::string update_id = StartUpdate(id)["update_id"];
  Advance(absl::Minutes(5));
  EXPECT_EQ(GetUpdate(id, update_id)["state"], "FAILED");
  json p = client_->Get("/api/2.0/pipelines/" + id).json();
  EXPECT_EQ(p["state"], "IDLE");
  EXPECT_EQ(p["health"], "UNHEALTHY");
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);  // no retry

  // What the Databricks CLI reads to explain a failure.
  json errors = Events(
      id, "?filter=" +
              UrlEncode("level='ERROR' AND update_id='" + update_id + "'"));
  ASSERT_EQ(errors.size(), 2u);
  for (const auto& e : errors) {
    EXPECT_EQ(e["level"], "ERROR");
    EXPECT_EQ(e["origin"]["update_id"], update_id);
    EXPECT_FALSE(e["message"].get<std::string>().empty());
    ASSERT_FALSE(e["error"]["exceptions"].empty());
    EXPECT_FALSE(
        e["error"]["exceptions"][0]["class_name"].get<std::string>().empty());
    EXPECT_NE(e["error"]["exceptions"][0]["message"].get<std::string>().find(
                  "TABLE_OR_VIEW_NOT_FOUND"),
              std::string::npos);
  }
  EXPECT_EQ(errors[0]["details"]["update_progress"]["state"], "FAILED");
  json warn_or_error =
      Events(id, "?filter=" + UrlEncode("level in ('WARN', 'ERROR')"));
  EXPECT_EQ(warn_or_error.size(), 2u);
}

// Follows the retry through the legacy requests endpoint (today's API:
// current_api_test).
TEST_F(LifecycleTest, FailOnceIsRetriedByDltUnderTheSameRequest) {
  SimulatorOptions legacy;
  legacy.workspace.legacy_request_api = true;
  Start(legacy);
  std::string id = Create(Behavior::kFailOnceThenRetry);
  json started = StartUpdate(id);
  std::string first = started["update_id"];
  std::string request_id = started["request_id"];
  std::string req_path = "/api/2.0/pipelines/" + id + "/requests/" + request_id;

  // Up to just before the failure: one update, request ACTIVE.
  absl::Duration to_fail = lifecycle_.queued + lifecycle_.created +
                           lifecycle_.waiting_for_resources +
                           lifecycle_.initializing +
                           lifecycle_.setting_up_tables + lifecycle_.running;
  Advance(to_fail);
  EXPECT_EQ(GetUpdate(id, first)["state"], "FAILED");
  EXPECT_EQ(sim_->UpdatesCreated(id), 2);
  json req = client_->Get(req_path).json();
  EXPECT_EQ(req["status"], "ACTIVE");
  std::string retry = req["latest_update"]["update_id"];
  EXPECT_NE(retry, first);
  json r = GetUpdate(id, retry);
  EXPECT_EQ(r["cause"], "RETRY_ON_FAILURE");
  EXPECT_EQ(r["request_id"], request_id);
  EXPECT_EQ(r["state"], "QUEUED");
  json p = client_->Get("/api/2.0/pipelines/" + id).json();
  EXPECT_EQ(p["state"], "RUNNING");
  EXPECT_EQ(p["latest_updates"][0]["update_id"], retry);
  EXPECT_EQ(p["latest_updates"][1]["update_id"], first);
  EXPECT_EQ(p["latest_updates"][1]["state"], "FAILED");

  Advance(to_fail);
  req = client_->Get(req_path).json();
  EXPECT_EQ(req["status"], "TERMINATED");
  EXPECT_EQ(req["latest_update"]["update_id"], retry);
  EXPECT_EQ(req["latest_update"]["state"], "COMPLETED");
  EXPECT_EQ(sim_->UpdatesCreated(id), 2);
  EXPECT_EQ(sim_->UpdatesCreated(), 2);
}

TEST_F(LifecycleTest, StopCancelsTheActiveUpdate) {
  Start();
  std::string id = Create();
  // Stop with nothing active is a no-op.
  auto noop = client_->Post("/api/2.0/pipelines/" + id + "/stop");
  EXPECT_EQ(noop.status, 200);
  EXPECT_EQ(noop.body, "{}");

  std::string update_id = StartUpdate(id)["update_id"];
  Advance(absl::Seconds(8));
  EXPECT_EQ(GetUpdate(id, update_id)["state"], "INITIALIZING");
  ASSERT_EQ(client_->Post("/api/2.0/pipelines/" + id + "/stop").status, 200);
  EXPECT_EQ(GetUpdate(id, update_id)["state"], "STOPPING");
  // The pipeline's state follows (PipelineState STOPPING, then IDLE).
  EXPECT_EQ(client_->Get("/api/2.0/pipelines/" + id).json()["state"],
            "STOPPING");
  Advance(lifecycle_.stopping);
  EXPECT_EQ(GetUpdate(id, update_id)["state"], "CANCELED");
  auto states = ProgressStates(id, update_id);
  ASSERT_GE(states.size(), 2u);
  EXPECT_EQ(states[states.size() - 2], "STOPPING");
  EXPECT_EQ(states.back(), "CANCELED");
  EXPECT_EQ(client_->Get("/api/2.0/pipelines/" + id).json()["state"], "IDLE");
}

// With idle_lag_after_stop the pipeline is STOPPING for a while after the
// stopped update is CANCELED, and refuses a start until it is IDLE.
TEST_F(LifecycleTest, PipelineIsIdleOnlyAfterTheLagThatFollowsAStop) {
  SimulatorOptions options;
  options.workspace.idle_lag_after_stop = absl::Seconds(20);
  Start(options);
  std::string id = Create();
  std::string update_id = StartUpdate(id)["update_id"];
  ASSERT_EQ(client_->Post("/api/2.0/pipelines/" + id + "/stop").status, 200);
  Advance(lifecycle_.stopping);
  EXPECT_EQ(GetUpdate(id, update_id)["state"], "CANCELED");
  const std::string path = "/api/2.0/pipelines/" + id;
  EXPECT_EQ(client_->Get(path).json()["state"], "STOPPING");
  json refused = StartUpdate(id, "{}", 409);
  EXPECT_EQ(refused["error_code"], "RESOURCE_CONFLICT");
  Advance(absl::Seconds(20));
  EXPECT_EQ(client_->Get(path).json()["state"], "IDLE");
  StartUpdate(id);
  EXPECT_EQ(sim_->UpdatesCreated(id), 2);
}

TEST_F(LifecycleTest, OneActiveUpdatePerPipelineWith409ByDefault) {
  Start();
  std::string id = Create();
  std::string update_id = StartUpdate(id)["update_id"];
  json conflict = StartUpdate(id, "{}", 409);
  EXPECT_EQ(conflict["error_code"], "RESOURCE_CONFLICT");
  EXPECT_NE(conflict["message"].get<std::string>().find(update_id),
            std::string::npos);
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);
  Advance(absl::Minutes(5));
  StartUpdate(id);  // allowed again once terminal
  EXPECT_EQ(sim_->UpdatesCreated(id), 2);
}

TEST_F(LifecycleTest, RacingStartsCreateExactlyOneUpdate) {
  Start();
  std::string id = Create();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, conflict{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      TestClient c(sim_->base_url(), sim_->access_token());
      for (int i = 0; i < 5; ++i) {
        long status = c.Post("/api/2.0/pipelines/" + id + "/updates").status;
        if (status == 200) ++ok;
        if (status == 409) ++conflict;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflict.load(), 39);
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);
  EXPECT_EQ(sim_->RequestCount("updates.start"), 40);
}

TEST_F(LifecycleTest, WorkspaceLimitOfConcurrentUpdates) {
  SimulatorOptions options;
  options.workspace.max_active_updates = 2;
  Start(options);
  std::string a = Create(), b = Create(), c = Create();
  StartUpdate(a);
  StartUpdate(b);
  json refused = StartUpdate(c, "{}", 429);
  EXPECT_EQ(refused["error_code"], "RESOURCE_EXHAUSTED");
  EXPECT_EQ(sim_->UpdatesCreated(), 2);
  Advance(absl::Minutes(5));
  StartUpdate(c);
  EXPECT_EQ(sim_->UpdatesCreated(), 3);
}

TEST_F(LifecycleTest, ConflictAnswerIsConfigurable) {
  SimulatorOptions options;
  options.workspace.conflict_status = 400;
  options.workspace.conflict_error_code = "INVALID_STATE";
  Start(options);
  std::string id = Create();
  StartUpdate(id);
  EXPECT_EQ(StartUpdate(id, "{}", 400)["error_code"], "INVALID_STATE");
}

TEST_F(LifecycleTest, ContinuousPipelineRunsUntilStopped) {
  Start();
  std::string id = Create(Behavior::kSucceed, /*continuous=*/true);
  std::string update_id = StartUpdate(id)["update_id"];
  EXPECT_EQ(GetUpdate(id, update_id)["mode"], "CONTINUOUS");
  Advance(absl::Hours(48));
  EXPECT_EQ(GetUpdate(id, update_id)["state"], "RUNNING");
  EXPECT_EQ(client_->Get("/api/2.0/pipelines/" + id).json()["state"],
            "RUNNING");
  client_->Post("/api/2.0/pipelines/" + id + "/stop");
  Advance(absl::Minutes(1));
  EXPECT_EQ(GetUpdate(id, update_id)["state"], "CANCELED");
}

TEST_F(LifecycleTest, ListsUpdatesNewestFirstWithPaging) {
  Start();
  std::string id = Create();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(StartUpdate(id)["update_id"]);
    Advance(absl::Minutes(1));
  }
  std::vector<std::string> listed;
  std::string token;
  for (int page = 0; page < 5; ++page) {
    std::string path = "/api/2.0/pipelines/" + id + "/updates?max_results=2";
    if (!token.empty()) path += "&page_token=" + UrlEncode(token);
    auto r = client_->Get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    json body = r.json();
    for (const auto& u : body["updates"]) listed.push_back(u["update_id"]);
    token = body.value("next_page_token", "");
    if (token.empty()) break;
  }
  EXPECT_EQ(listed, std::vector<std::string>(ids.rbegin(), ids.rend()));
  auto until = client_->Get("/api/2.0/pipelines/" + id +
                            "/updates?until_update_id=" + ids[3]);
  EXPECT_EQ(until.json()["updates"].size(), 2u);  // ids[4], ids[3]
  // latest_updates keeps 5, newest first.
  json latest =
      client_->Get("/api/2.0/pipelines/" + id).json()["latest_updates"];
  ASSERT_EQ(latest.size(), 5u);
  EXPECT_EQ(latest[0]["update_id"], ids[4]);
}

TEST_F(LifecycleTest, EventsPagingAndFilterRules) {
  Start();
  std::string id = Create();
  StartUpdate(id);
  Advance(absl::Minutes(5));
  json all = Events(id, "?max_results=1000");
  // create_update, 7 update_progress, 2 flows RUNNING, 2 flows COMPLETED
  // (one of them a WARN about dropped records).
  ASSERT_EQ(all.size(), 12u);
  json warn = Events(id, "?filter=" + UrlEncode("level='WARN'"));
  ASSERT_EQ(warn.size(), 1u);
  EXPECT_EQ(warn[0]["event_type"], "flow_progress");
  EXPECT_EQ(warn[0]["origin"]["flow_name"], "orders_cleaned");
  EXPECT_EQ(
      warn[0]["details"]["flow_progress"]["data_quality"]["dropped_records"],
      3);

  // Page through two at a time: every event once, newest first.
  std::vector<std::string> paged;
  std::string token;
  for (int i = 0; i < 10; ++i) {
    std::string path = "/api/2.0/pipelines/" + id + "/events?max_results=3";
    if (!token.empty()) path += "&page_token=" + UrlEncode(token);
    auto r = client_->Get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    json body = r.json();
    for (const auto& e : body["events"]) paged.push_back(e["id"]);
    token = body.value("next_page_token", "");
    if (token.empty()) break;
  }
  ASSERT_EQ(paged.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(paged[i], all[i]["id"]);

  std::string base = "/api/2.0/pipelines/" + id + "/events";
  auto too_many = client_->Get(base + "?max_results=1001");
  EXPECT_EQ(too_many.status, 400);
  EXPECT_EQ(too_many.json()["error_code"], "INVALID_PARAMETER_VALUE");
  EXPECT_EQ(client_->Get(base + "?max_results=1000").status, 200);
  auto event_type = client_->Get(
      base + "?filter=" + UrlEncode("event_type='update_progress'"));
  EXPECT_EQ(event_type.status, 400);
  EXPECT_EQ(event_type.json()["error_code"], "INVALID_PARAMETER_VALUE");
  auto first = client_->Get(base + "?max_results=1").json();
  std::string t = first["next_page_token"];
  EXPECT_EQ(client_
                ->Get(base + "?page_token=" + UrlEncode(t) +
                      "&filter=" + UrlEncode("level='INFO'"))
                .status,
            400);
  EXPECT_EQ(client_
                ->Get(base + "?page_token=" + UrlEncode(t) +
                      "&order_by=" + UrlEncode("timestamp asc"))
                .status,
            400);
  EXPECT_EQ(
      client_->Get(base + "?filter=" + UrlEncode("level='INFO' OR id='x'"))
          .status,
      400);
  json by_id =
      Events(id, "?filter=" +
                     UrlEncode("id='" + all[3]["id"].get<std::string>() + "'"));
  ASSERT_EQ(by_id.size(), 1u);
  const std::string cutoff = all[6]["timestamp"];
  size_t later = 0;
  for (const auto& e : all) later += e["timestamp"].get<std::string>() > cutoff;
  ASSERT_GT(later, 0u);
  json since = Events(id, "?max_results=1000&filter=" +
                              UrlEncode("timestamp > '" + cutoff + "'"));
  EXPECT_EQ(since.size(), later);
}

TEST_F(LifecycleTest, BusyPipelineWritesFlowEventsWhileRunningOrStopping) {
  SimulatorOptions options;
  options.workspace.busy_events_per_second = 10;
  lifecycle_.stopping = absl::Seconds(4);
  Start(options);
  std::string id = Create(Behavior::kSucceed, /*continuous=*/true);
  std::string update_id = StartUpdate(id)["update_id"];
  Advance(absl::Seconds(13));  // RUNNING from 13 s on
  const std::string events = "?max_results=1000";
  auto busy = [&] {
    int n = 0;
    for (const auto& e : Events(id, events)) {
      n += e["event_type"] == "flow_progress" &&
           e["details"]["flow_progress"]["status"] == "RUNNING" &&
           e["origin"]["update_id"] == update_id &&
           e["origin"]["flow_name"] == "orders_raw" && e["level"] == "INFO";
    }
    return n;
  };
  // The flow's own RUNNING event when the update began running.
  EXPECT_EQ(busy(), 1);
  Advance(absl::Seconds(20));
  EXPECT_EQ(busy(), 1 + 200);
  ASSERT_EQ(client_->Post("/api/2.0/pipelines/" + id + "/stop", "{}").status,
            200);
  Advance(absl::Seconds(2));
  EXPECT_EQ(busy(), 1 + 220);  // flows report while stopping
  Advance(absl::Minutes(1));   // CANCELED 4 s after the stop: no more
  EXPECT_EQ(busy(), 1 + 240);
  // Newest first, the flow events bury when STOPPING began.
  json newest = Events(id, "?max_results=10");
  EXPECT_EQ(newest[0]["details"]["update_progress"]["state"], "CANCELED");
  for (size_t i = 1; i < newest.size(); ++i) {
    EXPECT_EQ(newest[i]["event_type"], "flow_progress") << i;
  }
}

TEST_F(LifecycleTest, EventsScanLimitGivesShortPagesWithAToken) {
  SimulatorOptions options;
  options.workspace.events_scan_limit = 5;
  Start(options);
  std::string id = Create();
  StartUpdate(id);
  Advance(absl::Minutes(5));
  ASSERT_EQ(Events(id, "?max_results=1000").size(), 5u);  // of 12
  // A filter only the oldest event matches: two empty pages (5 events
  // examined each), then the last 2 events with the match and no token.
  json oldest = Events(id, "?order_by=" + UrlEncode("timestamp asc"))[0]["id"];
  const std::string filter =
      UrlEncode("level='INFO' AND id='" + oldest.get<std::string>() + "'");
  std::string base = "/api/2.0/pipelines/" + id + "/events?max_results=1000";
  std::string path = base + "&filter=" + filter;
  std::vector<size_t> sizes;
  for (int i = 0; i < 10; ++i) {
    auto r = client_->Get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    json body = r.json();
    sizes.push_back(body.contains("events") ? body["events"].size() : 0);
    std::string token = body.value("next_page_token", "");
    if (token.empty()) break;
    path = base + "&page_token=" + UrlEncode(token);
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{0, 0, 1}));
}

}  // namespace
}  // namespace polysync::databricks::sim
