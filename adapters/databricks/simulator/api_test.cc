// The REST API over HTTP: auth, pipelines CRUD, pagination and filters.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "adapters/databricks/simulator/simulator.h"
#include "adapters/databricks/simulator/test_client.h"
#include "gtest/gtest.h"

namespace polysync::databricks::sim {
namespace {

using nlohmann::json;
using testing::TestClient;
using testing::UrlEncode;

class ApiTest : public ::testing::Test {
 protected:
  void Start(SimulatorOptions options) {
    options.clock = clock_;
    auto sim = Simulator::Start(std::move(options));
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
    client_ =
        std::make_unique<TestClient>(sim_->base_url(), sim_->access_token());
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<TestClient> client_;
};

// 8-4-4-4-12 lowercase hex.
bool LooksLikeId(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = id[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

TEST_F(ApiTest, RejectsRequestsWithoutAValidBearerToken) {
  Start({});
  auto no_token = client_->Request("GET", "/api/2.0/pipelines", "", {}, false);
  ASSERT_TRUE(no_token.ok()) << no_token.error;
  EXPECT_EQ(no_token.status, 401);
  EXPECT_EQ(no_token.json()["error_code"], "UNAUTHENTICATED");
  // However the path is spelled.
  for (const char* path : {"/ap%69/2.0/pipelines", "//api/2.0/pipelines",
                           "/%61pi/2.0/pipelines/x"}) {
    auto encoded = client_->Request("GET", path, "", {}, false);
    ASSERT_TRUE(encoded.ok()) << encoded.error;
    EXPECT_EQ(encoded.status, 401) << path;
  }

  client_->set_token("dapi-wrong");
  auto wrong = client_->Get("/api/2.0/pipelines");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(wrong.json()["message"].is_string());

  client_->set_token(sim_->access_token());
  EXPECT_EQ(client_->Get("/api/2.0/pipelines").status, 200);
}

TEST_F(ApiTest, SeedsADozenRealisticPipelines) {
  Start({});
  ASSERT_EQ(sim_->seeded_pipelines().size(), 12u);
  auto r = client_->Get("/api/2.0/pipelines?max_results=100");
  ASSERT_EQ(r.status, 200) << r.body;
  json body = r.json();
  ASSERT_EQ(body["statuses"].size(), 12u);
  EXPECT_FALSE(body.contains("next_page_token"));
  std::set<std::string> names;
  for (const auto& s : body["statuses"]) {
    EXPECT_TRUE(LooksLikeId(s["pipeline_id"])) << s["pipeline_id"];
    EXPECT_EQ(s["state"], "IDLE");
    EXPECT_FALSE(s.contains("spec"));  // the list carries no spec
    names.insert(s["name"].get<std::string>());
  }
  EXPECT_TRUE(names.count("Müller's \"Kunden\" – Übersicht"));
  EXPECT_TRUE(names.count("売上 集計 パイプライン"));

  int continuous = 0, failing = 0, retried = 0;
  for (const auto& p : sim_->seeded_pipelines()) {
    continuous += p.continuous;
    failing += p.behavior == Behavior::kFail;
    retried += p.behavior == Behavior::kFailOnceThenRetry;
    auto got = client_->Get("/api/2.0/pipelines/" + p.id);
    ASSERT_EQ(got.status, 200);
    json spec = got.json()["spec"];
    EXPECT_EQ(spec["id"], p.id);
    EXPECT_EQ(spec["name"], p.name);
    EXPECT_TRUE(spec["clusters"].is_array());
    EXPECT_TRUE(spec["libraries"].is_array());
    // History: two finished updates (three when the first was retried).
    json latest = got.json()["latest_updates"];
    if (p.continuous) {
      EXPECT_TRUE(latest.is_null());
      continue;
    }
    ASSERT_EQ(latest.size(),
              p.behavior == Behavior::kFailOnceThenRetry ? 4u : 2u);
    EXPECT_EQ(latest[0]["state"],
              p.behavior == Behavior::kFail ? "FAILED" : "COMPLETED");
    EXPECT_LT(latest[1]["creation_time"].get<std::string>(),
              latest[0]["creation_time"].get<std::string>());
  }
  EXPECT_EQ(sim_->UpdatesCreated(), 0);  // history is not counted
  EXPECT_EQ(continuous, 1);
  EXPECT_EQ(failing, 2);
  EXPECT_EQ(retried, 1);
}

TEST_F(ApiTest, CreatesGetsEditsAndDeletesAPipeline) {
  SimulatorOptions options;
  options.seed_default_pipelines = false;
  Start(options);
  json spec = {{"name", "Orders (SQL)"},
               {"continuous", false},
               {"configuration", {{"custom.x", "1"}}},
               {"libraries", {{{"notebook", {{"path", "/Repos/o/orders"}}}}}}};
  auto created = client_->Post("/api/2.0/pipelines", spec.dump());
  ASSERT_EQ(created.status, 200) << created.body;
  std::string id = created.json()["pipeline_id"];
  ASSERT_TRUE(LooksLikeId(id)) << id;

  auto got = client_->Get("/api/2.0/pipelines/" + id);
  ASSERT_EQ(got.status, 200);
  json p = got.json();
  EXPECT_EQ(p["pipeline_id"], id);
  EXPECT_EQ(p["name"], "Orders (SQL)");
  EXPECT_EQ(p["state"], "IDLE");
  EXPECT_EQ(p["spec"]["id"], id);
  EXPECT_EQ(p["spec"]["configuration"]["custom.x"], "1");
  EXPECT_TRUE(p["creator_user_name"].is_string());

  // A duplicate name is refused; an id in the body too.
  EXPECT_EQ(client_->Post("/api/2.0/pipelines", spec.dump()).status, 409);
  EXPECT_EQ(client_->Post("/api/2.0/pipelines", R"({"id":"x"})").status, 400);
  EXPECT_EQ(
      client_->Post("/api/2.0/pipelines", "{not json").json()["error_code"],
      "MALFORMED_REQUEST");

  EXPECT_EQ(p["last_modified"], absl::ToUnixMillis(clock_->Now()));
  const int64_t created_at = p["last_modified"];
  clock_->Advance(absl::Minutes(3));
  spec["name"] = "Orders v2";
  spec["pipeline_id"] = id;  // as the SDKs send it
  spec["expected_last_modified"] = created_at;
  spec["target"] = "orders_gold";
  auto edited = client_->Put("/api/2.0/pipelines/" + id, spec.dump());
  ASSERT_EQ(edited.status, 200) << edited.body;
  p = client_->Get("/api/2.0/pipelines/" + id).json();
  EXPECT_EQ(p["name"], "Orders v2");
  EXPECT_EQ(p["spec"]["target"], "orders_gold");
  EXPECT_EQ(p["last_modified"], absl::ToUnixMillis(clock_->Now()));
  EXPECT_FALSE(p["spec"].contains("pipeline_id"));
  // An edit based on stale settings is refused.
  json stale = spec;
  stale["expected_last_modified"] = created_at;
  auto aborted = client_->Put("/api/2.0/pipelines/" + id, stale.dump());
  EXPECT_EQ(aborted.status, 409);
  EXPECT_EQ(aborted.json()["error_code"], "ABORTED");
  EXPECT_EQ(
      client_->Put("/api/2.0/pipelines/" + id, R"({"id":"other"})").status,
      400);

  ASSERT_EQ(client_->Delete("/api/2.0/pipelines/" + id).status, 200);
  auto gone = client_->Get("/api/2.0/pipelines/" + id);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.json()["error_code"], "RESOURCE_DOES_NOT_EXIST");
  EXPECT_EQ(client_->Delete("/api/2.0/pipelines/" + id).status, 404);
}

TEST_F(ApiTest, UnknownPathsAndPipelinesAre404) {
  Start({});
  auto path = client_->Get("/api/2.0/pipelinez");
  EXPECT_EQ(path.status, 404);
  EXPECT_EQ(path.json()["error_code"], "ENDPOINT_NOT_FOUND");
  auto method = client_->Request("PATCH", "/api/2.0/pipelines");
  EXPECT_EQ(method.json()["error_code"], "ENDPOINT_NOT_FOUND");
  for (const char* suffix : {"", "/updates", "/events", "/stop"}) {
    std::string p = std::string("/api/2.0/pipelines/no-such-id") + suffix;
    auto r =
        std::string(suffix) == "/stop" ? client_->Post(p) : client_->Get(p);
    EXPECT_EQ(r.status, 404) << p;
    EXPECT_EQ(r.json()["error_code"], "RESOURCE_DOES_NOT_EXIST") << p;
  }
}

TEST_F(ApiTest, PaginatesOverAThousandPipelines) {
  SimulatorOptions options;
  options.seed_default_pipelines = false;
  options.generated_pipelines = 1000;
  Start(options);
  EXPECT_EQ(sim_->PipelineCount(), 1000u);

  // Default page size 25.
  auto first = client_->Get("/api/2.0/pipelines");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.json()["statuses"].size(), 25u);

  std::set<std::string> seen;
  std::string last, token;
  int pages = 0;
  do {
    std::string path = "/api/2.0/pipelines?max_results=100";
    if (!token.empty()) path += "&page_token=" + UrlEncode(token);
    auto r = client_->Get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    json body = r.json();
    for (const auto& s : body["statuses"]) {
      std::string id = s["pipeline_id"];
      EXPECT_LT(last, id);  // id asc
      last = id;
      seen.insert(id);
    }
    token = body.value("next_page_token", "");
    ++pages;
  } while (!token.empty() && pages < 20);
  EXPECT_EQ(pages, 10);
  EXPECT_EQ(seen.size(), 1000u);

  // By name, descending.
  auto by_name = client_->Get("/api/2.0/pipelines?max_results=3&order_by=" +
                              UrlEncode("name desc"));
  ASSERT_EQ(by_name.status, 200);
  EXPECT_EQ(by_name.json()["statuses"][0]["name"],
            "Generated pipeline 000999 (events)");

  auto too_many = client_->Get("/api/2.0/pipelines?max_results=101");
  EXPECT_EQ(too_many.status, 400);
  EXPECT_EQ(too_many.json()["error_code"], "INVALID_PARAMETER_VALUE");
  EXPECT_EQ(client_->Get("/api/2.0/pipelines?page_token=garbage").status, 400);
  EXPECT_EQ(client_->Get("/api/2.0/pipelines?order_by=state").status, 400);
}

// Every order pages through every pipeline exactly once, in order (the
// cursor is never repeated, descending included).
TEST_F(ApiTest, PagingInEveryOrderVisitsEachPipelineOnce) {
  SimulatorOptions options;
  options.seed_default_pipelines = false;
  options.generated_pipelines = 250;
  Start(options);
  for (const std::string order :
       {"id asc", "id desc", "name asc", "name desc"}) {
    const bool by_name = order.rfind("name", 0) == 0;
    const bool desc = order.find("desc") != std::string::npos;
    std::vector<std::string> keys;
    std::set<std::string> ids;
    std::string token;
    for (int pages = 0; pages < 10; ++pages) {
      std::string path =
          "/api/2.0/pipelines?max_results=100&order_by=" + UrlEncode(order);
      if (!token.empty()) path += "&page_token=" + UrlEncode(token);
      auto r = client_->Get(path);
      ASSERT_EQ(r.status, 200) << r.body;
      json body = r.json();
      for (const auto& s : body["statuses"]) {
        keys.push_back(s[by_name ? "name" : "pipeline_id"]);
        ids.insert(s["pipeline_id"]);
      }
      token = body.value("next_page_token", "");
      if (token.empty()) break;
    }
    EXPECT_EQ(keys.size(), 250u) << order;
    EXPECT_EQ(ids.size(), 250u) << order;
    std::vector<std::string> sorted = keys;
    std::sort(sorted.begin(), sorted.end());
    if (desc) std::reverse(sorted.begin(), sorted.end());
    EXPECT_EQ(keys, sorted) << order;
  }
}

TEST_F(ApiTest, FiltersPipelinesByNameLike) {
  SimulatorOptions options;
  options.generated_pipelines = 30;
  Start(options);
  auto r = client_->Get("/api/2.0/pipelines?filter=" +
                        UrlEncode("name LIKE '%Kunden%'"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json()["statuses"].size(), 1u);
  EXPECT_EQ(r.json()["statuses"][0]["name"], "Müller's \"Kunden\" – Übersicht");

  // Paging keeps the filter.
  std::set<std::string> names;
  std::string token;
  std::string path = "/api/2.0/pipelines?max_results=4&filter=" +
                     UrlEncode("name LIKE '%(orders)%'");
  for (int i = 0; i < 10; ++i) {
    auto page = client_->Get(token.empty() ? path
                                           : "/api/2.0/pipelines?page_token=" +
                                                 UrlEncode(token));
    ASSERT_EQ(page.status, 200) << page.body;
    json body = page.json();
    for (const auto& s : body["statuses"]) names.insert(s["name"]);
    token = body.value("next_page_token", "");
    if (token.empty()) break;
  }
  EXPECT_EQ(names.size(), 6u);  // generated 0, 5, 10, ..., 25
  for (const auto& n : names) EXPECT_NE(n.find("(orders)"), std::string::npos);

  auto none = client_->Get("/api/2.0/pipelines?filter=" +
                           UrlEncode("name LIKE '%no such thing%'"));
  ASSERT_EQ(none.status, 200);
  EXPECT_FALSE(none.json().contains("statuses"));  // empty lists are omitted

  auto compound =
      client_->Get("/api/2.0/pipelines?filter=" +
                   UrlEncode("name LIKE '%a%' AND name LIKE '%b%'"));
  EXPECT_EQ(compound.status, 400);
  EXPECT_EQ(compound.json()["error_code"], "INVALID_PARAMETER_VALUE");

  auto notebook =
      client_->Get("/api/2.0/pipelines?filter=" +
                   UrlEncode("notebook='/Repos/retail/dlt/retail_sales'"));
  ASSERT_EQ(notebook.status, 200);
  ASSERT_EQ(notebook.json()["statuses"].size(), 1u);
  EXPECT_EQ(notebook.json()["statuses"][0]["name"], "Retail sales (SQL)");
}

TEST_F(ApiTest, KeepsOneConnectionAliveForManyRequests) {
  Start({});
  const std::string id = sim_->seeded_pipelines()[0].id;
  long connections = 0;
  for (int i = 0; i < 300; ++i) {
    auto r = client_->Get("/api/2.0/pipelines/" + id);
    ASSERT_EQ(r.status, 200);
    connections += r.new_connection ? 1 : 0;
  }
  EXPECT_EQ(connections, 1);
  EXPECT_EQ(sim_->RequestCount("pipelines.get"), 300);
}

TEST_F(ApiTest, ShutdownClosesTheListenerAndConnections) {
  Start({});
  ASSERT_EQ(client_->Get("/api/2.0/pipelines").status, 200);
  sim_->Shutdown();
  auto kept = client_->Get("/api/2.0/pipelines");
  EXPECT_FALSE(kept.ok());
  TestClient fresh(sim_->base_url(), sim_->access_token());
  EXPECT_FALSE(fresh.Get("/api/2.0/pipelines").ok());
  sim_->Shutdown();  // idempotent
}

TEST(SimulatorTest, AdvanceClockNeedsAManualClock) {
  SimulatorOptions options;
  options.seed_default_pipelines = false;
  auto sim = Simulator::Start(options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  EXPECT_EQ((*sim)->AdvanceClock(absl::Seconds(1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE((*sim)->CreatePipeline(json::array()).ok());
  EXPECT_FALSE((*sim)->CreatePipeline({{"id", "x"}}).ok());
  EXPECT_EQ((*sim)->SetBehavior("nope", Behavior::kFail).code(),
            absl::StatusCode::kNotFound);
}

TEST(SimulatorTest, PortInUseIsUnavailable) {
  auto first = Simulator::Start({});
  ASSERT_TRUE(first.ok());
  SimulatorOptions options;
  options.port = (*first)->port();
  auto second = Simulator::Start(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ApiTest, GeneratesTwelveThousandPipelines) {
  SimulatorOptions options;
  options.seed_default_pipelines = false;
  Start(options);
  auto ids = sim_->GeneratePipelines(12000);
  EXPECT_EQ(ids.size(), 12000u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 12000u);
  auto r = client_->Get("/api/2.0/pipelines/" + ids.back());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["name"], "Generated pipeline 011999 (events)");
}

}  // namespace
}  // namespace polysync::databricks::sim
