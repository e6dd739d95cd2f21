// The client library against an in-process server and simulated workspace.
#include "client/pipelines_client.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "tests/testing/service_harness.h"

namespace polysync::client {

namespace v1 = ::polysync::databricks::v1;
namespace {

using ::polysync::testing::Harness;
using ::testing::HasSubstr;

std::string Runfile(const std::string& path) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"), "/", path);
}

std::string TmpFile(const std::string& name, const std::string& contents) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path + ".tmp", std::ios::trunc) << contents;
  std::rename((path + ".tmp").c_str(), path.c_str());
  return path;
}

// A port nothing listens on (bound, then closed).
int ClosedPort() {
  Harness h;
  const int port = h.port();
  h.Shutdown();
  return port;
}

class LogCapture {
 public:
  LogCapture() {
    log::SetSinkForTesting([this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { log::SetSinkForTesting(nullptr); }
  int Count(absl::string_view containing) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& l : lines_) n += absl::StrContains(l, containing);
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

ClientOptions Fast(const std::string& target) {
  ClientOptions o;
  o.target = target;
  o.default_deadline = absl::Seconds(20);
  o.retry.initial_backoff = absl::Milliseconds(20);
  o.retry.max_backoff = absl::Milliseconds(100);
  o.max_reconnect_backoff = absl::Milliseconds(100);
  return o;
}

std::unique_ptr<PipelinesClient> MustCreate(const ClientOptions& o) {
  auto client = PipelinesClient::Create(o);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

TEST(PipelinesClientTest, EveryUnaryCallAndTheImportStream) {
  Harness h;
  const std::string orders = h.CreatePipeline("orders");
  h.CreatePipeline("sales daily");
  auto client = MustCreate(Fast(h.target()));

  auto workspaces = client->ListWorkspaces();
  ASSERT_TRUE(workspaces.ok()) << workspaces.status();
  ASSERT_EQ(workspaces->workspaces_size(), 1);
  EXPECT_EQ(workspaces->workspaces(0).name(), "test");

  std::vector<std::string> names;
  auto batches = client->ImportPipelines(
      {}, [&](const v1::ImportPipelinesResponse& batch) {
        for (const auto& job : batch.jobs()) names.push_back(job.name());
      });
  ASSERT_TRUE(batches.ok()) << batches.status();
  EXPECT_GE(*batches, 1);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("orders", "sales daily"));

  v1::ImportPipelinesRequest filtered;
  filtered.set_name_filter("sales");
  names.clear();
  ASSERT_TRUE(client
                  ->ImportPipelines(filtered,
                                    [&](const v1::ImportPipelinesResponse& b) {
                                      for (const auto& job : b.jobs())
                                        names.push_back(job.name());
                                    })
                  .ok());
  EXPECT_THAT(names, ::testing::ElementsAre("sales daily"));

  v1::SyncParametersRequest sync;
  sync.set_pipeline_id(orders);
  auto synced = client->SyncParameters(sync);
  ASSERT_TRUE(synced.ok()) << synced.status();
  EXPECT_EQ(synced->job().external_id(), orders);
  EXPECT_EQ(synced->job().parameters().rbegin()->name(), "full_refresh");

  v1::StartUpdateRequest start;
  start.set_pipeline_id(orders);
  auto started = client->StartUpdate(start);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_THAT(started->run_id(), HasSubstr(orders));

  auto status = client->GetUpdateStatus(started->run_id());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->run_id(), started->run_id());
  EXPECT_FALSE(status->terminal());

  v1::StopUpdateRequest stop;
  stop.set_run_id(started->run_id());
  auto stopped = client->StopUpdate(stop);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->stop_sent());

  auto healthy =
      client->CheckHealth("polysync.databricks.v1.DatabricksPipelines");
  ASSERT_TRUE(healthy.ok()) << healthy.status();
  EXPECT_TRUE(*healthy);
}

TEST(PipelinesClientTest, ServerErrorsKeepTheirCode) {
  Harness h;
  auto client = MustCreate(Fast(h.target()));
  auto bad = client->GetUpdateStatus("not-a-run-id");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(RequestIdOf(bad.status()), ::testing::StartsWith("pdlt-"));
  v1::SyncParametersRequest sync;
  sync.set_pipeline_id("a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5");
  EXPECT_EQ(client->SyncParameters(sync).status().code(),
            absl::StatusCode::kNotFound);
  ClientOptions other = Fast(h.target());
  other.workspace = "nope";
  EXPECT_EQ(MustCreate(other)->SyncParameters(sync).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PipelinesClientTest, WaitForUpdateReportsEachChangeUntilTerminal) {
  Harness h;
  const std::string id =
      h.CreatePipeline("orders", databricks::sim::Behavior::kFail);
  auto client = MustCreate(Fast(h.target()));
  v1::StartUpdateRequest start;
  start.set_pipeline_id(id);
  auto started = client->StartUpdate(start);
  ASSERT_TRUE(started.ok()) << started.status();
  h.StartTicking();
  std::vector<std::string> states;
  auto done = client->WaitForUpdate(
      started->run_id(),
      [&](const v1::UpdateStatus& s) { states.push_back(s.dlt_state()); });
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), v1::RUN_STATUS_FAILED);
  EXPECT_TRUE(done->terminal());
  EXPECT_GE(states.size(), 2u);
  EXPECT_EQ(states.back(), "FAILED");

  // A single watch of a finished run: one terminal status.
  v1::WatchUpdateRequest watch;
  watch.set_run_id(started->run_id());
  int seen = 0;
  auto again =
      client->WatchUpdate(watch, [&](const v1::UpdateStatus&) { ++seen; });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(seen, 1);
}

TEST(PipelinesClientTest, WaitForUpdateResumesWhenTheServerDrains) {
  Harness h;
  const std::string id = h.CreatePipeline("orders");
  auto client = MustCreate(Fast(h.target()));
  v1::StartUpdateRequest start;
  start.set_pipeline_id(id);
  auto started = client->StartUpdate(start);
  ASSERT_TRUE(started.ok()) << started.status();

  LogCapture logs;
  std::atomic<int> statuses{0};
  absl::StatusOr<v1::UpdateStatus> done;
  std::thread waiter([&] {
    done = client->WaitForUpdate(started->run_id(),
                                 [&](const v1::UpdateStatus&) { ++statuses; });
  });
  while (statuses == 0) absl::SleepFor(absl::Milliseconds(5));
  // The clock stands still: the watch is open. Drain, stay down a moment,
  // come back on the same port; then let the update finish.
  h.Restart(absl::Milliseconds(300));
  h.StartTicking();
  waiter.join();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_GE(logs.Count("watch interrupted; resuming"), 1);
}

TEST(PipelinesClientTest, WaitForUpdateGivesUpAtItsDeadline) {
  const int port = ClosedPort();
  auto client = MustCreate(Fast(absl::StrCat("127.0.0.1:", port)));
  const absl::Time t0 = absl::Now();
  auto done = client->WaitForUpdate("x:y", nullptr, absl::Milliseconds(500));
  EXPECT_EQ(done.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - t0, absl::Seconds(3));
}

TEST(PipelinesClientTest, RetriesIdempotentCallsUntilTheServerIsBack) {
  const int port = ClosedPort();
  ClientOptions o = Fast(absl::StrCat("127.0.0.1:", port));
  o.retry.max_attempts = 50;
  auto client = MustCreate(o);
  std::unique_ptr<Harness> h;
  std::thread later([&] {
    absl::SleepFor(absl::Milliseconds(300));
    h = std::make_unique<Harness>("", port);
  });
  auto workspaces = client->ListWorkspaces();
  later.join();
  ASSERT_TRUE(workspaces.ok()) << workspaces.status();
  EXPECT_EQ(workspaces->workspaces_size(), 1);
}

// The service's mark on an UNAVAILABLE that Databricks caused reaches the
// caller; the client's own connection failure carries none.
TEST(PipelinesClientTest, UnavailableSaysWhetherDatabricksCausedIt) {
  Harness h;
  const std::string id = h.CreatePipeline("orders");
  databricks::sim::FaultRule lost;
  lost.endpoint = "updates.start";
  lost.kind = databricks::sim::FaultKind::kHttpError;
  lost.status = 502;
  lost.count = 1;
  h.sim().InjectFault(lost);
  auto client = MustCreate(Fast(h.target()));
  v1::StartUpdateRequest start;
  start.set_pipeline_id(id);  // no key: not retried
  auto started = client->StartUpdate(start);
  ASSERT_EQ(started.status().code(), absl::StatusCode::kUnavailable)
      << started.status();
  EXPECT_TRUE(CausedByDatabricks(started.status())) << started.status();

  auto down = MustCreate(Fast(absl::StrCat("127.0.0.1:", ClosedPort())))
                  ->ListWorkspaces();
  ASSERT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(CausedByDatabricks(down.status()));
  EXPECT_FALSE(CausedByDatabricks(absl::UnavailableError("pipeline x")));
}

TEST(PipelinesClientTest, StartUpdateIsRetriedOnlyWithAnIdempotencyKey) {
  const int port = ClosedPort();
  ClientOptions o = Fast(absl::StrCat("127.0.0.1:", port));
  o.retry.max_attempts = 3;
  auto client = MustCreate(o);
  LogCapture logs;
  v1::StartUpdateRequest start;
  start.set_pipeline_id("a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5");
  EXPECT_EQ(client->StartUpdate(start).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(logs.Count("retrying"), 0);
  start.set_idempotency_key("k-1");
  EXPECT_EQ(client->StartUpdate(start).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(logs.Count("retrying"), 2);
  // Stop and status are retried too.
  v1::StopUpdateRequest stop;
  stop.set_run_id("a:b");
  EXPECT_EQ(client->StopUpdate(stop).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(logs.Count("retrying"), 4);
}

TEST(PipelinesClientTest, IdempotentStartReplaysTheFirstAnswer) {
  Harness h;
  const std::string id = h.CreatePipeline("orders");
  auto client = MustCreate(Fast(h.target()));
  v1::StartUpdateRequest start;
  start.set_pipeline_id(id);
  start.set_idempotency_key("polysync-run-1");
  auto first = client->StartUpdate(start);
  auto second = client->StartUpdate(start);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->run_id(), second->run_id());
  EXPECT_TRUE(second->replayed());
  EXPECT_EQ(h.sim().UpdatesCreated(), 1);
}

TEST(PipelinesClientTest, BearerTokenIsReReadOnEveryCall) {
  const std::string server_token =
      TmpFile("server-token", "tok-AAAA-0123456789");
  Harness h(absl::StrCat(
      R"(, "authorization": {"enabled": true,
            "tokens": [{"name": "backend", "token": {"file": ")",
      server_token, R"("}}],
            "grants": [{"identity": "token:backend", "workspaces": ["*"],
                        "actions": ["*"]}]})"));
  ClientOptions o = Fast(h.target());
  o.token_file = TmpFile("client-token", "tok-AAAA-0123456789\n");
  auto client = MustCreate(o);
  EXPECT_TRUE(client->ListWorkspaces().ok());
  TmpFile("client-token", "wrong-token-000000000");
  EXPECT_EQ(client->ListWorkspaces().status().code(),
            absl::StatusCode::kUnauthenticated);
  TmpFile("client-token", "tok-AAAA-0123456789");
  EXPECT_TRUE(client->ListWorkspaces().ok());

  ClientOptions none = Fast(h.target());
  EXPECT_EQ(MustCreate(none)->ListWorkspaces().status().code(),
            absl::StatusCode::kUnauthenticated);
  ClientOptions missing = Fast(h.target());
  missing.token_file = "/nonexistent/token";
  EXPECT_EQ(PipelinesClient::Create(missing).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PipelinesClientTest, TokenIsNeverSentInClearTextOffThisMachine) {
  ClientOptions o;
  o.token_file = TmpFile("plain-token", "tok-BBBB-0123456789");
  for (const char* local : {"127.0.0.1:50051", "localhost:50051", "[::1]:50051",
                            "dns:///localhost:50051", "unix:/run/pdlt.sock"}) {
    o.target = local;
    EXPECT_TRUE(PipelinesClient::Create(o).ok()) << local;
  }
  for (const char* remote : {"10.0.0.5:50051", "polysync-dlt.prod:50051",
                             "dns:///polysync-dlt:50051", "[2001:db8::1]:443",
                             "localhost.evil.example:50051"}) {
    o.target = remote;
    auto refused = PipelinesClient::Create(o);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
        << remote;
    EXPECT_THAT(refused.status().message(), HasSubstr("clear text")) << remote;
    // The secret itself is never in the message.
    EXPECT_THAT(refused.status().message(),
                ::testing::Not(HasSubstr("tok-BBBB")));
  }
  o.target = "10.0.0.5:50051";
  o.replicas = {"127.0.0.1:1", "10.0.0.6:50051"};
  EXPECT_FALSE(PipelinesClient::Create(o).ok());  // every replica counts
  o.replicas.clear();
  o.allow_token_over_plaintext = true;
  EXPECT_TRUE(PipelinesClient::Create(o).ok());
  o.allow_token_over_plaintext = false;
  o.tls_ca_file = TmpFile("plain-ca", "not checked until a call");
  EXPECT_TRUE(PipelinesClient::Create(o).ok());
}

TEST(PipelinesClientTest, MutualTls) {
  Harness h(absl::StrCat(
      R"(, "tls": {"cert_file": ")", Runfile("tests/testdata/server.pem"),
      R"(", "key_file": ")", Runfile("tests/testdata/server.key"),
      R"(", "client_ca_file": ")", Runfile("tests/testdata/ca.pem"),
      R"(", "require_client_certificate": true})"));
  // 127.0.0.1 (in the certificate too): c-ares leaks a little when a
  // channel to a name is destroyed while it re-resolves (LeakSanitizer).
  ClientOptions o = Fast(h.target());
  o.default_deadline = absl::Seconds(3);
  o.tls_ca_file = Runfile("tests/testdata/ca.pem");
  o.tls_cert_file = Runfile("tests/testdata/client.pem");
  o.tls_key_file = Runfile("tests/testdata/client.key");
  auto workspaces = MustCreate(o)->ListWorkspaces();
  EXPECT_TRUE(workspaces.ok()) << workspaces.status();

  ClientOptions no_cert = o;
  no_cert.tls_cert_file.clear();
  no_cert.tls_key_file.clear();
  EXPECT_EQ(MustCreate(no_cert)->ListWorkspaces().status().code(),
            absl::StatusCode::kUnavailable);
  ClientOptions half = o;
  half.tls_key_file.clear();
  EXPECT_EQ(PipelinesClient::Create(half).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Three replicas over one workspace: calls for one pipeline go to one
// replica; when it goes away, the next one in hash order takes over.
class AffinityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.AddReplica();
    h_.AddReplica();
    for (int i = 0; i < 3; ++i) targets_.push_back(h_.replica_target(i));
  }
  int IndexOf(const std::string& target) {
    for (int i = 0; i < 3; ++i) {
      if (targets_[i] == target) return i;
    }
    return -1;
  }
  ClientOptions Options() {
    ClientOptions o = Fast("unused");
    o.replicas = targets_;
    o.replica_cooldown = absl::Seconds(30);
    return o;
  }

  Harness h_;
  std::vector<std::string> targets_;
};

TEST_F(AffinityTest, OnePipelineOneReplicaAndFailoverInHashOrder) {
  const std::string id = h_.CreatePipeline("orders");
  auto client = MustCreate(Options());
  const std::vector<std::string> order = client->ReplicaOrder(id);
  ASSERT_EQ(order.size(), 3u);
  // Every client process agrees (the hash is stable, not per process).
  EXPECT_EQ(MustCreate(Options())->ReplicaOrder(id), order);

  // Pipelines spread over the replicas.
  std::set<std::string> used;
  for (int i = 0; i < 30; ++i) {
    used.insert(client->ReplicaOrder(absl::StrCat("pipeline-", i)).front());
  }
  EXPECT_EQ(used.size(), 3u);

  // Idempotency keys live in each replica's memory: with affinity, a repeat
  // reaches the same replica and is replayed.
  v1::StartUpdateRequest start;
  start.set_pipeline_id(id);
  start.set_idempotency_key("polysync-run-7");
  auto first = client->StartUpdate(start);
  ASSERT_TRUE(first.ok()) << first.status();
  for (int i = 0; i < 5; ++i) {
    auto again = MustCreate(Options())->StartUpdate(start);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->replayed());
    EXPECT_EQ(again->run_id(), first->run_id());
  }
  EXPECT_EQ(h_.sim().UpdatesCreated(), 1);

  // The others can go away: nothing for this pipeline notices.
  LogCapture logs;
  for (int i = 0; i < 3; ++i) {
    if (targets_[i] != order[0]) h_.ShutdownReplica(i);
  }
  ASSERT_TRUE(client->GetUpdateStatus(first->run_id()).ok());
  EXPECT_EQ(logs.Count("failing over"), 0);
  h_.ShutdownReplica(IndexOf(order[0]));
  // All down: the call fails UNAVAILABLE after trying each in hash order.
  EXPECT_EQ(client->GetUpdateStatus(first->run_id()).status().code(),
            absl::StatusCode::kUnavailable);
}

// A Databricks outage is not the replica's fault: the replica says so, and
// the client keeps the pipeline (and its idempotency key) there.
TEST_F(AffinityTest, DatabricksUnavailableKeepsTheReplica) {
  const std::string id = h_.CreatePipeline("orders");
  databricks::sim::FaultRule lost;
  lost.endpoint = "updates.start";
  lost.kind = databricks::sim::FaultKind::kHttpError;
  // A gateway's 502: the start may have been processed, so the service does
  // not retry it (a 503 with Databricks' error it would retry itself).
  lost.status = 502;
  lost.count = 1;
  h_.sim().InjectFault(lost);
  // The service's own answer carries the cause.
  {
    auto stub = v1::DatabricksPipelines::NewStub(grpc::CreateChannel(
        h_.replica_target(0), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    v1::StartUpdateRequest request;
    request.set_pipeline_id(id);
    v1::StartUpdateResponse response;
    ASSERT_EQ(stub->StartUpdate(&context, request, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
    const auto& trailers = context.GetServerTrailingMetadata();
    auto cause = trailers.find("polysync-unavailable-cause");
    ASSERT_NE(cause, trailers.end());
    EXPECT_EQ(std::string(cause->second.data(), cause->second.size()),
              "databricks");
  }
  h_.sim().InjectFault(lost);
  LogCapture logs;
  auto client = MustCreate(Options());
  v1::StartUpdateRequest start;
  start.set_pipeline_id(id);
  start.set_idempotency_key("polysync-run-8");
  auto started = client->StartUpdate(start);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(logs.Count("failing over"), 0);
  EXPECT_EQ(logs.Count("client call unavailable; retrying"), 1);
  // Still its replica: the key is replayed there.
  auto again = MustCreate(Options())->StartUpdate(start);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed());
  EXPECT_EQ(h_.sim().UpdatesCreated(), 1);
}

TEST_F(AffinityTest, FailsOverToTheNextInHashOrderAndStaysThere) {
  const std::string id = h_.CreatePipeline("orders");
  auto client = MustCreate(Options());
  const std::vector<std::string> order = client->ReplicaOrder(id);
  v1::StartUpdateRequest start;
  start.set_pipeline_id(id);
  auto run = client->StartUpdate(start);
  ASSERT_TRUE(run.ok()) << run.status();

  LogCapture logs;
  h_.ShutdownReplica(IndexOf(order[0]));
  auto status = client->GetUpdateStatus(run->run_id());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(logs.Count(absl::StrCat("\"to\":\"", order[1], "\"")), 1);
  EXPECT_EQ(client->ReplicaOrder(id).front(), order[1]);
  // Later calls go straight to the new replica.
  ASSERT_TRUE(client->GetUpdateStatus(run->run_id()).ok());
  v1::StopUpdateRequest stop;
  stop.set_run_id(run->run_id());
  ASSERT_TRUE(client->StopUpdate(stop).ok());
  EXPECT_EQ(logs.Count("failing over"), 1);
}

TEST_F(AffinityTest, WaitForUpdateMovesToTheNextReplicaWhenItsReplicaDrains) {
  const std::string id = h_.CreatePipeline("orders");
  auto client = MustCreate(Options());
  const std::vector<std::string> order = client->ReplicaOrder(id);
  v1::StartUpdateRequest start;
  start.set_pipeline_id(id);
  auto run = client->StartUpdate(start);
  ASSERT_TRUE(run.ok()) << run.status();
  LogCapture logs;
  std::atomic<int> statuses{0};
  absl::StatusOr<v1::UpdateStatus> done;
  std::thread waiter([&] {
    done = client->WaitForUpdate(run->run_id(),
                                 [&](const v1::UpdateStatus&) { ++statuses; });
  });
  while (statuses == 0) absl::SleepFor(absl::Milliseconds(5));
  h_.ShutdownReplica(IndexOf(order[0]));
  h_.StartTicking();
  waiter.join();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(logs.Count(absl::StrCat("\"replica\":\"", order[0], "\"")), 1);
}

TEST_F(AffinityTest, ReResolvesAndFollowsTheReplicaSet) {
  const std::string id = h_.CreatePipeline("orders");
  std::mutex mu;
  std::vector<std::string> resolved = {targets_[0], targets_[1]};
  std::vector<std::string> asked;
  ClientOptions o = Fast("polysync-dlt.polysync.svc:50051");
  o.pipeline_affinity = true;
  o.re_resolve_interval = absl::ZeroDuration();
  o.resolver = [&](const std::string& host, const std::string& port) {
    std::lock_guard<std::mutex> lock(mu);
    asked.push_back(absl::StrCat(host, " ", port));
    return resolved;
  };
  auto client = MustCreate(o);
  EXPECT_THAT(client->ReplicaOrder(id),
              ::testing::UnorderedElementsAre(targets_[0], targets_[1]));
  v1::SyncParametersRequest sync;
  sync.set_pipeline_id(id);
  ASSERT_TRUE(client->SyncParameters(sync).ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(asked.front(), "polysync-dlt.polysync.svc 50051");
    resolved = {targets_[1], targets_[2]};  // a replica replaced
  }
  EXPECT_THAT(client->ReplicaOrder(id),
              ::testing::UnorderedElementsAre(targets_[1], targets_[2]));
  // The replaced one may go away: nothing notices.
  LogCapture logs;
  h_.ShutdownReplica(0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->SyncParameters(sync).ok());
  EXPECT_EQ(logs.Count("failing over"), 0);
  {
    std::lock_guard<std::mutex> lock(mu);
    resolved.clear();  // resolution fails: the last set is kept
  }
  EXPECT_EQ(client->ReplicaOrder(id).size(), 2u);
  ASSERT_TRUE(client->SyncParameters(sync).ok());
}

TEST(AffinityDnsTest, ResolvesTheNameIntoReplicas) {
  Harness h;
  const std::string id = h.CreatePipeline("orders");
  ClientOptions o = Fast(absl::StrCat("localhost:", h.port()));
  o.pipeline_affinity = true;
  auto client = MustCreate(o);
  // localhost may also resolve to ::1, where nothing listens: calls fail over
  // to 127.0.0.1.
  const auto order = client->ReplicaOrder(id);
  ASSERT_GE(order.size(), 1u);
  EXPECT_THAT(order, ::testing::Contains(absl::StrCat("127.0.0.1:", h.port())));
  v1::SyncParametersRequest sync;
  sync.set_pipeline_id(id);
  for (int i = 0; i < 3; ++i) {
    auto synced = client->SyncParameters(sync);
    ASSERT_TRUE(synced.ok()) << synced.status();
  }
  ClientOptions bad = Fast("dns:///localhost:1");
  bad.pipeline_affinity = true;
  EXPECT_EQ(PipelinesClient::Create(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace polysync::client
