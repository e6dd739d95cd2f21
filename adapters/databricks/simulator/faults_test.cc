// Every fault kind, seen from a real libcurl client, and the admin API.

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "adapters/databricks/simulator/simulator.h"
#include "adapters/databricks/simulator/test_client.h"
#include "gtest/gtest.h"

namespace polysync::databricks::sim {
namespace {

using nlohmann::json;
using testing::ClientOptions;
using testing::HttpResult;
using testing::TestClient;

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimulatorOptions options;
    options.clock = std::make_shared<ManualClock>();
    options.seed_default_pipelines = false;
    auto sim = Simulator::Start(std::move(options));
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
    client_ = NewClient();
    auto id = sim_->CreatePipeline({{"name", "faulty"}});
    ASSERT_TRUE(id.ok());
    id_ = *id;
    path_ = "/api/2.0/pipelines/" + id_;
  }

  std::unique_ptr<TestClient> NewClient(ClientOptions options = {}) {
    return std::make_unique<TestClient>(sim_->base_url(), sim_->access_token(),
                                        options);
  }

  static FaultRule Rule(const std::string& endpoint, FaultKind kind,
                        int count = 1) {
    FaultRule r;
    r.endpoint = endpoint;
    r.kind = kind;
    r.count = count;
    return r;
  }

  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<TestClient> client_;
  std::string id_;
  std::string path_;
};

TEST_F(FaultsTest, TooManyRequestsWithRetryAfterForTheNextN) {
  FaultRule r = Rule("pipelines.get", FaultKind::kHttpError, 2);
  r.status = 429;
  r.retry_after_seconds = 3;
  sim_->InjectFault(r);
  for (int i = 0; i < 2; ++i) {
    HttpResult got = client_->Get(path_);
    EXPECT_EQ(got.status, 429);
    EXPECT_EQ(got.headers["retry-after"], "3");
    EXPECT_EQ(got.json()["error_code"], "REQUEST_LIMIT_EXCEEDED");
  }
  EXPECT_EQ(client_->Get(path_).status, 200);
  // Other endpoints were never affected; every request was counted.
  EXPECT_EQ(client_->Get("/api/2.0/pipelines").status, 200);
  EXPECT_EQ(sim_->RequestCount("pipelines.get"), 3);
  EXPECT_EQ(sim_->RequestCount("pipelines.list"), 1);
  EXPECT_EQ(sim_->RequestCount("*"), 4);
  sim_->ResetRequestCounts();
  EXPECT_EQ(sim_->RequestCount("*"), 0);
}

TEST_F(FaultsTest, ErrorCodeAndMessageCanBeReplaced) {
  auto rule = FaultRuleFromJson(json::parse(
      R"({"endpoint": "pipelines.get", "kind": "http_error", "status": 429,
          "error_code": "TOO_MANY_REQUESTS",
          "message": "RPC token bucket limit has been exceeded"})"));
  ASSERT_TRUE(rule.ok()) << rule.status();
  sim_->InjectFault(*rule);
  json body = client_->Get(path_).json();
  EXPECT_EQ(body["error_code"], "TOO_MANY_REQUESTS");
  EXPECT_EQ(body["message"], "RPC token bucket limit has been exceeded");
}

TEST_F(FaultsTest, ServerErrorsAfterSkippingSome) {
  FaultRule r = Rule("*", FaultKind::kHttpError, 3);
  r.skip = 1;
  r.status = 503;
  r.retry_after_seconds = 1;
  sim_->InjectFault(r);
  EXPECT_EQ(client_->Get(path_).status, 200);  // skipped
  HttpResult unavailable = client_->Get(path_);
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.json()["error_code"], "TEMPORARILY_UNAVAILABLE");
  EXPECT_EQ(unavailable.headers["retry-after"], "1");
  sim_->ClearFaults();
  for (int status : {500, 502}) {
    FaultRule e = Rule("pipelines.get", FaultKind::kHttpError);
    e.status = status;
    sim_->InjectFault(e);
    HttpResult got = client_->Get(path_);
    EXPECT_EQ(got.status, status);
    EXPECT_TRUE(got.json()["error_code"].is_string());
    EXPECT_FALSE(got.headers.count("retry-after"));
  }
  EXPECT_EQ(client_->Get(path_).status, 200);
}

TEST_F(FaultsTest, ConnectionResetIsARealReset) {
  sim_->InjectFault(Rule("pipelines.get", FaultKind::kReset));
  HttpResult got = client_->Get(path_);
  EXPECT_FALSE(got.ok());
  EXPECT_EQ(got.failure, http::TransportFailure::kConnectionLost) << got.error;
  EXPECT_EQ(client_->Get(path_).status, 200);  // a new connection works
}

TEST_F(FaultsTest, StallOutlivesTheClientDeadlineThenDrops) {
  FaultRule r = Rule("pipelines.get", FaultKind::kStall, 2);
  r.stall = absl::Milliseconds(300);
  sim_->InjectFault(r);
  ClientOptions fast;
  fast.timeout_ms = 100;
  auto impatient = NewClient(fast);
  auto t0 = std::chrono::steady_clock::now();
  HttpResult timed_out = impatient->Get(path_);
  EXPECT_EQ(timed_out.failure, http::TransportFailure::kTimeout)
      << timed_out.error;
  // A patient client sees the connection dropped after the stall.
  HttpResult dropped = client_->Get(path_);
  EXPECT_EQ(dropped.failure, http::TransportFailure::kConnectionLost)
      << dropped.error;
  EXPECT_GE(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(300));
  EXPECT_EQ(client_->Get(path_).status, 200);
}

TEST_F(FaultsTest, MalformedAndTruncatedJson) {
  sim_->InjectFault(Rule("pipelines.get", FaultKind::kMalformedJson));
  HttpResult malformed = client_->Get(path_);
  EXPECT_EQ(malformed.status, 200);
  EXPECT_EQ(malformed.headers["content-type"], "application/json");
  EXPECT_TRUE(malformed.json().is_discarded());

  sim_->InjectFault(Rule("pipelines.get", FaultKind::kTruncatedJson));
  HttpResult truncated = client_->Get(path_);
  // Content-Length promised more than was sent before the close.
  EXPECT_EQ(truncated.failure, http::TransportFailure::kConnectionLost)
      << truncated.error;
  EXPECT_EQ(client_->Get(path_).status, 200);
}

TEST_F(FaultsTest, SlowBodyDripsTheRealAnswer) {
  FaultRule r = Rule("pipelines.get", FaultKind::kSlowBody);
  r.latency = absl::Milliseconds(20);
  r.drip_bytes = 64;
  sim_->InjectFault(r);
  auto t0 = std::chrono::steady_clock::now();
  HttpResult slow = client_->Get(path_);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(slow.ok()) << slow.error;
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(slow.json()["pipeline_id"], id_);
  // ceil(size / 64) ticks of 20 ms.
  const auto ticks = static_cast<int>((slow.body.size() + 63) / 64);
  EXPECT_GE(elapsed, std::chrono::milliseconds(20 * ticks));
  EXPECT_EQ(client_->Get(path_).status, 200);  // the connection is reusable

  // A transfer that stalls after the headers: the client's deadline fires
  // although the status line arrived.
  r.latency = absl::Seconds(5);
  sim_->InjectFault(r);
  ClientOptions fast;
  fast.timeout_ms = 200;
  HttpResult stuck = NewClient(fast)->Get(path_);
  EXPECT_EQ(stuck.failure, http::TransportFailure::kTimeout);
}

TEST_F(FaultsTest, HtmlErrorPageFromAProxy) {
  FaultRule r = Rule("pipelines.list", FaultKind::kHtmlError);
  r.status = 502;
  sim_->InjectFault(r);
  HttpResult got = client_->Get("/api/2.0/pipelines");
  EXPECT_EQ(got.status, 502);
  EXPECT_EQ(got.headers["content-type"], "text/html");
  EXPECT_NE(got.body.find("<h1>502 Bad Gateway</h1>"), std::string::npos);
}

TEST_F(FaultsTest, OversizedBodyIsStreamed) {
  FaultRule r = Rule("events.list", FaultKind::kOversized);
  r.oversized_bytes = 40ull << 20;
  sim_->InjectFault(r);
  HttpResult got = client_->Get(path_ + "/events");
  ASSERT_TRUE(got.ok()) << got.error;
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body.size(), 40ull << 20);
  EXPECT_EQ(got.body.rfind("{\"pipeline_id\":", 0), 0u);
  EXPECT_EQ(got.body.substr(got.body.size() - 2), "\"}");
  EXPECT_EQ(client_->Get(path_ + "/events").status, 200);  // kept alive
}

TEST_F(FaultsTest, StartUpdateProcessedButTheResponseLost) {
  for (FaultKind kind :
       {FaultKind::kResponseLost503, FaultKind::kResponseLostReset}) {
    SCOPED_TRACE(std::string(FaultKindName(kind)));
    sim_->ClearFaults();
    const int64_t before = sim_->UpdatesCreated(id_);
    sim_->InjectFault(Rule("updates.start", kind));
    // A fresh connection: on a reused one libcurl silently resends a
    // request whose connection dies before any response byte, and the
    // resent start would meet the update the first one created (409).
    HttpResult lost = NewClient()->Post(path_ + "/updates");
    if (kind == FaultKind::kResponseLost503) {
      EXPECT_EQ(lost.status, 503);
      EXPECT_EQ(lost.json()["error_code"], "TEMPORARILY_UNAVAILABLE");
    } else {
      EXPECT_FALSE(lost.ok());
    }
    // ...but the update exists: the pipeline runs, and a blind retry
    // collides with it.
    EXPECT_EQ(sim_->UpdatesCreated(id_), before + 1);
    json p = client_->Get(path_).json();
    EXPECT_EQ(p["state"], "RUNNING");
    EXPECT_EQ(p["latest_updates"][0]["state"], "QUEUED");
    EXPECT_EQ(client_->Post(path_ + "/updates").status, 409);
    ASSERT_EQ(client_->Post(path_ + "/stop").status, 200);
    ASSERT_TRUE(sim_->AdvanceClock(absl::Minutes(1)).ok());
  }
}

TEST_F(FaultsTest, ResetAfterProcessingIsReportedNotResent) {
  // libcurl resends a request whose reused kept-alive connection died before
  // any response byte; for a POST that was processed, that would be a second
  // start. The transport gives non-idempotent requests a fresh connection,
  // so the reset is reported once and nothing is sent twice.
  ASSERT_EQ(client_->Get(path_).status, 200);  // a connection to reuse
  sim_->InjectFault(Rule("updates.start", FaultKind::kResponseLostReset));
  HttpResult lost = client_->Post(path_ + "/updates");
  EXPECT_EQ(lost.failure, http::TransportFailure::kConnectionLost);
  EXPECT_EQ(sim_->RequestCount("updates.start"), 1);
  EXPECT_EQ(sim_->UpdatesCreated(id_), 1);
}

TEST_F(FaultsTest, LatencyIsAdded) {
  FaultRule r = Rule("pipelines.get", FaultKind::kLatency);
  r.latency = absl::Milliseconds(150);
  sim_->InjectFault(r);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Get(path_).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(150));
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Get(path_).status, 200);  // count was 1
  EXPECT_LT(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(150));
}

TEST_F(FaultsTest, LatencyAddsUpAndCombinesWithAFault) {
  FaultRule slow_all = Rule("*", FaultKind::kLatency, -1);
  slow_all.latency = absl::Milliseconds(100);
  FaultRule slow_get = Rule("pipelines.get", FaultKind::kLatency, 1);
  slow_get.latency = absl::Milliseconds(300);
  FaultRule error = Rule("pipelines.get", FaultKind::kHttpError, 1);
  error.status = 500;
  sim_->InjectFault(slow_all);
  sim_->InjectFault(slow_get);
  sim_->InjectFault(error);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Get(path_).status, 500);
  EXPECT_GE(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(400));
  // The one-shot rules are spent; the forever one still applies.
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Get(path_).status, 200);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(elapsed, std::chrono::milliseconds(100));
  EXPECT_LT(elapsed, std::chrono::milliseconds(400));
}

TEST_F(FaultsTest, RateLimitTokenBucket) {
  auto rule = FaultRuleFromJson(json::parse(
      R"({"endpoint": "pipelines.get", "kind": "rate_limit",
          "rate_per_second": 0.5, "burst": 5})"));
  ASSERT_TRUE(rule.ok()) << rule.status();
  sim_->InjectFault(*rule);
  int ok = 0, limited = 0;
  for (int i = 0; i < 20; ++i) {
    HttpResult r = client_->Get(path_);
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(r.headers["retry-after"], "2");
      EXPECT_EQ(r.json()["error_code"], "REQUEST_LIMIT_EXCEEDED");
    }
  }
  EXPECT_EQ(ok, 5);  // the burst; refilling 0.5/s adds none this quickly
  EXPECT_EQ(limited, 15);
  EXPECT_EQ(client_->Get("/api/2.0/pipelines").status, 200);  // other endpoint
}

TEST_F(FaultsTest, ProbabilisticFaults) {
  FaultRule r = Rule("pipelines.get", FaultKind::kHttpError, -1);
  r.status = 500;
  r.probability = 0.3;
  sim_->InjectFault(r);
  int errors = 0;
  for (int i = 0; i < 200; ++i) errors += client_->Get(path_).status == 500;
  EXPECT_GT(errors, 30);
  EXPECT_LT(errors, 90);
  EXPECT_EQ(sim_->RequestCount("pipelines.get"), 200);
}

TEST_F(FaultsTest, AdminEndpointSetsListsAndClearsRules) {
  auto admin = NewClient();
  HttpResult bad = admin->Post("/_sim/faults", R"({"kind": "teleport"})");
  EXPECT_EQ(bad.status, 400);
  HttpResult set = admin->Post(
      "/_sim/faults",
      R"([{"endpoint": "pipelines.get", "kind": "http_error", "status": 429,
           "retry_after_seconds": 2, "count": 1},
          {"endpoint": "updates.start", "kind": "response_lost_503"}])");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json()["rules"].size(), 2u);
  EXPECT_EQ(client_->Get(path_).status, 429);
  EXPECT_EQ(client_->Get(path_).status, 200);

  HttpResult stats = admin->Get("/_sim/stats");
  ASSERT_EQ(stats.status, 200);
  EXPECT_EQ(stats.json()["requests"]["pipelines.get"], 2);
  EXPECT_EQ(stats.json()["updates_created"], 0);

  EXPECT_EQ(admin->Delete("/_sim/faults").status, 200);
  EXPECT_EQ(admin->Get("/_sim/faults").json()["rules"].size(), 0u);
  EXPECT_EQ(client_->Post(path_ + "/updates").status, 200);
  EXPECT_EQ(admin->Get("/_sim/stats").json()["updates_created"], 1);

  HttpResult advanced =
      admin->Post("/_sim/clock/advance", R"({"seconds": 3600})");
  EXPECT_EQ(advanced.status, 200);
  EXPECT_EQ(client_->Get(path_).json()["state"], "IDLE");
}

TEST_F(FaultsTest, PeakConcurrencyCountsRequestsHeldByLatency) {
  FaultRule slow = Rule("pipelines.get", FaultKind::kLatency, -1);
  slow.latency = absl::Milliseconds(600);
  sim_->InjectFault(slow);
  std::vector<std::thread> callers;
  for (int i = 0; i < 5; ++i) {
    callers.emplace_back(
        [this] { EXPECT_EQ(NewClient()->Get(path_).status, 200); });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(sim_->PeakConcurrentRequests(), 5);
  auto admin = NewClient();
  EXPECT_EQ(admin->Get("/_sim/stats").json()["peak_concurrent_requests"], 5);
  EXPECT_EQ(admin->Delete("/_sim/stats").status, 200);
  // Reset: counters at zero, the peak at what is in flight (the GET below).
  HttpResult stats = admin->Get("/_sim/stats");
  EXPECT_EQ(stats.json()["requests"].size(), 0u);
  EXPECT_EQ(stats.json()["peak_concurrent_requests"], 1);
}

TEST_F(FaultsTest, RulesParseFromJson) {
  auto rule = FaultRuleFromJson(json::parse(
      R"({"endpoint": "*", "kind": "stall", "stall_ms": 1500, "count": -1})"));
  ASSERT_TRUE(rule.ok()) << rule.status();
  EXPECT_EQ(rule->kind, FaultKind::kStall);
  EXPECT_EQ(rule->stall, absl::Milliseconds(1500));
  EXPECT_EQ(rule->count, -1);
  EXPECT_FALSE(FaultRuleFromJson(json::parse(R"({"endpoint": "nope"})")).ok());
  EXPECT_FALSE(FaultRuleFromJson(json::parse(R"({"status": "x"})")).ok());
  EXPECT_FALSE(FaultRuleFromJson(json::parse(R"({"colour": 1})")).ok());
  auto html = FaultRuleFromJson(json::parse(R"({"kind": "html_error"})"));
  ASSERT_TRUE(html.ok());
  EXPECT_EQ(html->status, 502);
}

}  // namespace
}  // namespace polysync::databricks::sim
