// Running it for real: caller authorization (bearer tokens and client
// certificates), TLS, audit lines, the metrics endpoint, and the drain.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "adapters/databricks/http/curl_transport.h"
#include "adapters/databricks/simulator/simulator.h"
#include "common/log.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "server/backend.h"
#include "server/config.h"
#include "server/metrics_http.h"
#include "server/server.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/simulator_api.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
namespace health = ::grpc::health::v1;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Runfile(const std::string& path) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"), "/", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string TmpFile(const std::string& name, const std::string& contents) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path + ".tmp", std::ios::trunc) << contents;
  std::rename((path + ".tmp").c_str(), path.c_str());
  return path;
}

// A simulator, a backend and a server configured by `extra` JSON keys.
class Harness {
 public:
  explicit Harness(const std::string& extra) {
    sim::SimulatorOptions sim_options;
    sim_options.clock = std::make_shared<sim::ManualClock>();
    sim_options.seed_default_pipelines = false;
    polysync::testing::ApplySimulatorApi(sim_options);
    sim_ = *sim::Simulator::Start(sim_options);
    setenv("OPS_SIM_TOKEN", sim_->access_token().c_str(), 1);
    auto config = server::ParseConfig(
        absl::StrCat(R"({"listen": "127.0.0.1:0", "default_workspace": "prod",
            "workspaces": [{"name": "prod", "host": ")",
                     sim_->base_url(), R"(",
            "personal_access_token": {"token": {"env": "OPS_SIM_TOKEN"}}},
            {"name": "staging", "host": ")",
                     sim_->base_url(), R"(",
            "personal_access_token": {"token": {"env": "OPS_SIM_TOKEN"}}}])",
                     extra, "}"),
        "operations");
    EXPECT_TRUE(config.ok()) << config.status();
    config_ = *config;
    server::BackendOptions options;
    options.config = config_;
    backend_ = *server::Backend::Create(options);
    auto server = server::Server::Start({config_, true, &backend_->job_type()});
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    pipeline_id_ = *sim_->CreatePipeline({{"name", "orders"}});
  }
  ~Harness() {
    server_.reset();
    backend_.reset();
  }

  std::string target() const {
    return absl::StrCat("localhost:", server_->bound_port());
  }
  std::unique_ptr<v1::DatabricksPipelines::Stub> Stub(
      std::shared_ptr<grpc::ChannelCredentials> creds =
          grpc::InsecureChannelCredentials()) const {
    return v1::DatabricksPipelines::NewStub(
        grpc::CreateChannel(target(), creds));
  }

  std::unique_ptr<sim::Simulator> sim_;
  v1::ServerConfig config_;
  std::unique_ptr<server::Backend> backend_;
  std::unique_ptr<server::Server> server_;
  std::string pipeline_id_;
};

using ::polysync::testing::LogCapture;

grpc::Status StartWithToken(v1::DatabricksPipelines::Stub& stub,
                            const std::string& pipeline_id,
                            const std::string& token,
                            v1::StartUpdateResponse* response) {
  grpc::ClientContext context;
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::StartUpdateRequest request;
  request.set_pipeline_id(pipeline_id);
  return stub.StartUpdate(&context, request, response);
}

class AuthorizationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reader_token_ = TmpFile("reader-token", "reader-token-0123456789\n");
    operator_token_ = TmpFile("operator-token", "operator-token-0123456789\n");
    harness_ = std::make_unique<Harness>(absl::StrCat(
        R"(, "authorization": {"enabled": true,
              "tokens": [{"name": "dashboard", "token": {"file": ")",
        reader_token_, R"("}},
                         {"name": "polysync-backend", "token": {"file": ")",
        operator_token_, R"("}},
                         {"name": "elsewhere", "token": {"file": ")",
        TmpFile("elsewhere-token", "elsewhere-token-0123456789"), R"("}},
                         {"name": "archivist", "token": {"file": ")",
        TmpFile("archivist-token", "archivist-token-0123456789"), R"("}},
                         {"name": "starter", "token": {"file": ")",
        TmpFile("starter-token", "starter-token-0123456789"), R"("}}],
              "grants": [{"identity": "token:dashboard", "workspaces": ["*"],
                          "actions": ["read"]},
                         {"identity": "token:polysync-backend",
                          "workspaces": ["prod"], "actions": ["*"]},
                         {"identity": "token:elsewhere",
                          "workspaces": ["staging"], "actions": ["*"]},
                         {"identity": "token:archivist",
                          "workspaces": ["archive"], "actions": ["*"]},
                         {"identity": "token:starter",
                          "workspaces": ["prod"], "actions": ["start"]}]})"));
  }

  std::unique_ptr<Harness> harness_;
  std::string reader_token_, operator_token_;
};

TEST_F(AuthorizationTest, CallsWithoutTheRightAreRefusedAndSendNothing) {
  auto stub = harness_->Stub();
  const int64_t before = harness_->sim_->RequestCount("*");
  v1::StartUpdateResponse r;
  EXPECT_EQ(StartWithToken(*stub, harness_->pipeline_id_, "", &r).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(StartWithToken(*stub, harness_->pipeline_id_, "wrong-token", &r)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status denied = StartWithToken(*stub, harness_->pipeline_id_,
                                       "reader-token-0123456789", &r);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("token:dashboard"));
  EXPECT_THAT(denied.error_message(), ::testing::Not(HasSubstr("0123456789")));

  // Every RPC checks: read-only calls with no credentials are refused too.
  {
    grpc::ClientContext context;
    v1::GetUpdateStatusRequest request;
    request.set_run_id(
        absl::StrCat(harness_->pipeline_id_, ":", harness_->pipeline_id_));
    v1::UpdateStatus status;
    EXPECT_EQ(stub->GetUpdateStatus(&context, request, &status).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer reader-token-0123456789");
    v1::StopUpdateRequest request;
    request.set_run_id(
        absl::StrCat(harness_->pipeline_id_, ":", harness_->pipeline_id_));
    v1::StopUpdateResponse response;
    EXPECT_EQ(stub->StopUpdate(&context, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext context;
    auto reader = stub->ImportPipelines(&context, {});
    v1::ImportPipelinesResponse batch;
    EXPECT_FALSE(reader->Read(&batch));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    v1::WatchUpdateRequest request;
    request.set_run_id(
        absl::StrCat(harness_->pipeline_id_, ":", harness_->pipeline_id_));
    auto reader = stub->WatchUpdate(&context, request);
    v1::UpdateStatus s;
    EXPECT_FALSE(reader->Read(&s));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(harness_->sim_->RequestCount("*"), before);
  EXPECT_EQ(harness_->sim_->UpdatesCreated(), 0);
}

TEST_F(AuthorizationTest, EveryRpcRefusesAnIdentityWithoutTheRight) {
  // "elsewhere" holds every right, but only in another workspace.
  auto stub = harness_->Stub();
  const int64_t before = harness_->sim_->RequestCount("*");
  const std::string run =
      absl::StrCat(harness_->pipeline_id_, ":", harness_->pipeline_id_);
  auto with = [](grpc::ClientContext& c) {
    c.AddMetadata("authorization", "Bearer elsewhere-token-0123456789");
  };
  std::vector<grpc::Status> results;
  {
    // Listing shows only the workspaces the caller may read.
    grpc::ClientContext c;
    with(c);
    v1::ListWorkspacesResponse r;
    ASSERT_TRUE(stub->ListWorkspaces(&c, {}, &r).ok());
    ASSERT_EQ(r.workspaces_size(), 1);
    EXPECT_EQ(r.workspaces(0).name(), "staging");
  }
  {
    grpc::ClientContext c;
    with(c);
    auto reader = stub->ImportPipelines(&c, {});
    v1::ImportPipelinesResponse b;
    while (reader->Read(&b)) {
    }
    results.push_back(reader->Finish());
  }
  {
    grpc::ClientContext c;
    with(c);
    v1::SyncParametersRequest q;
    q.set_pipeline_id(harness_->pipeline_id_);
    v1::SyncParametersResponse r;
    results.push_back(stub->SyncParameters(&c, q, &r));
  }
  {
    grpc::ClientContext c;
    with(c);
    v1::StartUpdateRequest q;
    q.set_pipeline_id(harness_->pipeline_id_);
    v1::StartUpdateResponse r;
    results.push_back(stub->StartUpdate(&c, q, &r));
  }
  {
    grpc::ClientContext c;
    with(c);
    v1::GetUpdateStatusRequest q;
    q.set_run_id(run);
    v1::UpdateStatus r;
    results.push_back(stub->GetUpdateStatus(&c, q, &r));
  }
  {
    grpc::ClientContext c;
    with(c);
    v1::StopUpdateRequest q;
    q.set_run_id(run);
    v1::StopUpdateResponse r;
    results.push_back(stub->StopUpdate(&c, q, &r));
  }
  {
    grpc::ClientContext c;
    with(c);
    v1::WatchUpdateRequest q;
    q.set_run_id(run);
    auto reader = stub->WatchUpdate(&c, q);
    v1::UpdateStatus s;
    while (reader->Read(&s)) {
    }
    results.push_back(reader->Finish());
  }
  ASSERT_EQ(results.size(), 6u);
  for (const auto& s : results) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << s.error_message();
  }
  EXPECT_EQ(harness_->sim_->RequestCount("*"), before);
  EXPECT_EQ(harness_->sim_->UpdatesCreated(), 0);
}

TEST_F(AuthorizationTest, ListWorkspacesShowsOnlyWhatTheCallerMayRead) {
  auto stub = harness_->Stub();
  auto list = [&](const std::string& token, v1::ListWorkspacesResponse* r) {
    grpc::ClientContext c;
    if (!token.empty()) c.AddMetadata("authorization", "Bearer " + token);
    return stub->ListWorkspaces(&c, {}, r);
  };
  auto names = [](const v1::ListWorkspacesResponse& r) {
    std::vector<std::string> out;
    for (const auto& w : r.workspaces()) out.push_back(w.name());
    return out;
  };
  v1::ListWorkspacesResponse r;
  ASSERT_TRUE(list("reader-token-0123456789", &r).ok());
  EXPECT_THAT(names(r), ::testing::ElementsAre("prod", "staging"));
  r.Clear();
  ASSERT_TRUE(list("operator-token-0123456789", &r).ok());
  EXPECT_THAT(names(r), ::testing::ElementsAre("prod"));
  // Granted only a workspace this server does not have: nothing to show.
  EXPECT_EQ(list("archivist-token-0123456789", &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(list("", &r).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthorizationTest, GrantedCallerStartsAndIsAudited) {
  LogCapture logs;
  auto stub = harness_->Stub();
  v1::StartUpdateResponse r;
  grpc::Status ok = StartWithToken(*stub, harness_->pipeline_id_,
                                   "operator-token-0123456789", &r);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  StartWithToken(*stub, harness_->pipeline_id_, "reader-token-0123456789", &r);
  auto audits = logs.Lines("\"msg\":\"audit\"");
  ASSERT_EQ(audits.size(), 2u);
  EXPECT_THAT(audits[0], HasSubstr("\"caller\":\"token:polysync-backend\""));
  EXPECT_THAT(audits[0], HasSubstr("\"outcome\":\"OK\""));
  ASSERT_FALSE(r.run_id().empty());
  EXPECT_THAT(audits[0], HasSubstr(absl::StrCat("\"run_id\":\"", r.run_id())));
  EXPECT_THAT(audits[0], HasSubstr("\"workspace\""));
  EXPECT_THAT(audits[1], HasSubstr("\"caller\":\"token:dashboard\""));
  EXPECT_THAT(audits[1], HasSubstr("PERMISSION_DENIED"));
}

TEST_F(AuthorizationTest, RestartNeedsTheStopRightAndAttachTheReadRight) {
  // Someone else's update is running.
  LogCapture logs;
  auto stub = harness_->Stub();
  v1::StartUpdateResponse first;
  ASSERT_TRUE(StartWithToken(*stub, harness_->pipeline_id_,
                             "operator-token-0123456789", &first)
                  .ok());
  const int64_t stops_before = harness_->sim_->RequestCount("pipelines.stop");
  auto start_as_starter = [&](v1::IfRunning if_running) {
    grpc::ClientContext c;
    c.AddMetadata("authorization", "Bearer starter-token-0123456789");
    c.AddMetadata("x-request-id", "restart-attempt-42");
    // The manual clock never moves: a restart that goes ahead waits forever.
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::StartUpdateRequest q;
    q.set_pipeline_id(harness_->pipeline_id_);
    q.set_if_running(if_running);
    v1::StartUpdateResponse r;
    return stub->StartUpdate(&c, q, &r);
  };
  // A caller granted only `start` may start (here: refused because another
  // update is active, which means the start right sufficed)...
  EXPECT_EQ(start_as_starter(v1::IF_RUNNING_FAIL).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // ...but not cancel the running update through a restart,
  grpc::Status restart = start_as_starter(v1::IF_RUNNING_RESTART);
  EXPECT_EQ(restart.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(restart.error_message(), HasSubstr("token:starter may not stop"));
  // ...nor learn its run id through an attach.
  grpc::Status attach = start_as_starter(v1::IF_RUNNING_ATTACH);
  EXPECT_EQ(attach.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(attach.error_message(), HasSubstr("token:starter may not read"));
  EXPECT_EQ(harness_->sim_->RequestCount("pipelines.stop"), stops_before);
  EXPECT_EQ(harness_->sim_->UpdatesCreated(), 1);
  // The refusal is audited, and the line carries the call's correlation id.
  auto audits = logs.Lines("\"caller\":\"token:starter\"");
  ASSERT_EQ(audits.size(), 3u);
  EXPECT_THAT(audits[1], HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(audits[1],
              HasSubstr("\"correlation_id\":\"restart-attempt-42\""));
  auto refused = logs.Lines("\"msg\":\"rpc refused\"");
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_THAT(refused[0],
              HasSubstr("\"correlation_id\":\"restart-attempt-42\""));
}

TEST_F(AuthorizationTest, RefusedCallsLogTheirCorrelationId) {
  LogCapture logs;
  auto stub = harness_->Stub();
  grpc::ClientContext given;
  given.AddMetadata("authorization", "Bearer reader-token-0123456789");
  given.AddMetadata("x-request-id", "stop-attempt-7");
  v1::StopUpdateRequest stop;
  stop.set_run_id(
      absl::StrCat(harness_->pipeline_id_, ":", harness_->pipeline_id_));
  v1::StopUpdateResponse stopped;
  ASSERT_EQ(stub->StopUpdate(&given, stop, &stopped).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  auto audits = logs.Lines("\"msg\":\"audit\"");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_THAT(audits[0], HasSubstr("\"correlation_id\":\"stop-attempt-7\""));
  auto refused = logs.Lines("\"msg\":\"rpc refused\"");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0], HasSubstr("\"correlation_id\":\"stop-attempt-7\""));
  // Without one, a generated id is logged and returned to the caller.
  grpc::ClientContext none;
  v1::SyncParametersRequest sync;
  sync.set_pipeline_id(harness_->pipeline_id_);
  v1::SyncParametersResponse synced;
  ASSERT_EQ(stub->SyncParameters(&none, sync, &synced).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto returned = none.GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(returned, none.GetServerInitialMetadata().end());
  const std::string id(returned->second.data(), returned->second.size());
  refused = logs.Lines("\"msg\":\"rpc refused\"");
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_THAT(refused[1],
              HasSubstr(absl::StrCat("\"correlation_id\":\"", id, "\"")));
}

// A refused caller's workspace is not echoed (unless a grant names it
// exactly): a guessed secret sent as the workspace gets the same answer as a
// wrong guess, even with a "*" grant in the configuration.
TEST_F(AuthorizationTest, RefusalsAreNoRedactionOracle) {
  auto stub = harness_->Stub();
  const std::string secret = "operator-token-0123456789";  // registered
  std::string wrong = secret;
  for (char& c : wrong) c = c == 'z' ? 'y' : 'z';
  auto refusal = [&](const std::string& workspace) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer reader-token-0123456789");
    v1::StopUpdateRequest stop;
    stop.set_workspace(workspace);
    stop.set_run_id(
        absl::StrCat(harness_->pipeline_id_, ":", harness_->pipeline_id_));
    v1::StopUpdateResponse stopped;
    return stub->StopUpdate(&context, stop, &stopped);
  };
  grpc::Status right = refusal(secret), other = refusal(wrong);
  EXPECT_NE(right.error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(right.error_code(), other.error_code());
  EXPECT_EQ(right.error_message(), other.error_message());
  EXPECT_THAT(right.error_message(), Not(HasSubstr("REDACTED")));
  EXPECT_THAT(other.error_message(), Not(HasSubstr("zzzz")));
  // A workspace a grant names is named.
  EXPECT_THAT(refusal("prod").error_message(), HasSubstr("\"prod\""));
}

// Audit lines show an identifier as sent only when it has the shape of one;
// otherwise its length: a cut or rejected value is never logged.
TEST_F(AuthorizationTest, AuditLinesDoNotLogInvalidIdentifiers) {
  LogCapture logs;
  auto stub = harness_->Stub();
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer operator-token-0123456789");
  v1::StopUpdateRequest stop;
  stop.set_workspace("prod");
  stop.set_run_id("operator-token-0123456789");  // a registered secret
  v1::StopUpdateResponse stopped;
  EXPECT_EQ(stub->StopUpdate(&context, stop, &stopped).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto audits = logs.Lines("\"msg\":\"audit\"");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_THAT(audits[0], HasSubstr("\"run_id\":\"(invalid, 25 bytes)\""));
  EXPECT_THAT(audits[0], Not(HasSubstr("REDACTED")));
  EXPECT_THAT(audits[0], HasSubstr("\"workspace\":\"prod\""));
}

TEST_F(AuthorizationTest, RotatedTokenFileIsUsedOnTheNextCall) {
  auto stub = harness_->Stub();
  TmpFile("operator-token", "rotated-operator-token-987654321\n");
  v1::StartUpdateResponse r;
  EXPECT_EQ(StartWithToken(*stub, harness_->pipeline_id_,
                           "operator-token-0123456789", &r)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status ok = StartWithToken(*stub, harness_->pipeline_id_,
                                   "rotated-operator-token-987654321", &r);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
}

TEST_F(AuthorizationTest, HealthNeedsNoCredentials) {
  auto stub = health::Health::NewStub(grpc::CreateChannel(
      harness_->target(), grpc::InsecureChannelCredentials()));
  for (const std::string service :
       {"", "polysync.databricks.v1.DatabricksPipelines"}) {
    grpc::ClientContext context;
    health::HealthCheckRequest request;
    request.set_service(service);
    health::HealthCheckResponse response;
    ASSERT_TRUE(stub->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status(), health::HealthCheckResponse::SERVING);
  }
}

class MutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    harness_ = std::make_unique<Harness>(absl::StrCat(
        R"(, "tls": {"cert_file": ")", Runfile("tests/testdata/server.pem"),
        R"(", "key_file": ")", Runfile("tests/testdata/server.key"),
        R"(", "client_ca_file": ")", Runfile("tests/testdata/ca.pem"),
        R"(", "require_client_certificate": true},
           "health_listen": "127.0.0.1:0",
           "authorization": {"enabled": true, "grants": [
             {"identity": "cert:CN=polysync-backend,O=Polysync",
              "workspaces": ["prod"], "actions": ["read", "start"]}]})"));
  }

  std::shared_ptr<grpc::ChannelCredentials> Credentials(bool with_client) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(Runfile("tests/testdata/ca.pem"));
    if (with_client) {
      options.pem_private_key = ReadFile(Runfile("tests/testdata/client.key"));
      options.pem_cert_chain = ReadFile(Runfile("tests/testdata/client.pem"));
    }
    return grpc::SslCredentials(options);
  }

  std::unique_ptr<Harness> harness_;
};

TEST_F(MutualTlsTest, ClientCertificateIdentifiesTheCaller) {
  LogCapture logs;
  auto stub = harness_->Stub(Credentials(true));
  v1::StartUpdateResponse r;
  grpc::Status ok = StartWithToken(*stub, harness_->pipeline_id_, "", &r);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  auto audits = logs.Lines("\"msg\":\"audit\"");
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_THAT(audits[0],
              HasSubstr("\"caller\":\"cert:CN=polysync-backend,O=Polysync\""));
  // Stop was not granted to this certificate.
  grpc::ClientContext context;
  v1::StopUpdateRequest stop;
  stop.set_run_id(r.run_id());
  v1::StopUpdateResponse stopped;
  EXPECT_EQ(stub->StopUpdate(&context, stop, &stopped).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(MutualTlsTest, NoClientCertificateNoConnection) {
  auto stub = harness_->Stub(Credentials(false));
  v1::StartUpdateResponse r;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  v1::StartUpdateRequest request;
  request.set_pipeline_id(harness_->pipeline_id_);
  EXPECT_EQ(stub->StartUpdate(&context, request, &r).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  auto plaintext = harness_->Stub();
  grpc::ClientContext context2;
  context2.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(5));
  EXPECT_EQ(plaintext->StartUpdate(&context2, request, &r).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(harness_->sim_->UpdatesCreated(), 0);
}

TEST_F(MutualTlsTest, ProbesUseThePlaintextHealthPort) {
  ASSERT_GT(harness_->server_->health_port(), 0);
  auto health_stub = health::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", harness_->server_->health_port()),
      grpc::InsecureChannelCredentials()));
  auto check = [&](const std::string& service) {
    grpc::ClientContext context;
    health::HealthCheckRequest request;
    request.set_service(service);
    health::HealthCheckResponse response;
    grpc::Status s = health_stub->Check(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.status();
  };
  EXPECT_EQ(check(""), health::HealthCheckResponse::SERVING);
  EXPECT_EQ(check("polysync.databricks.v1.DatabricksPipelines"),
            health::HealthCheckResponse::SERVING);
  // Only health is served there: the pipelines service is not.
  auto stub = v1::DatabricksPipelines::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", harness_->server_->health_port()),
      grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::ListWorkspacesResponse workspaces;
  EXPECT_EQ(stub->ListWorkspaces(&context, {}, &workspaces).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // Readiness follows the drain there too.
  harness_->server_->BeginDrain();
  EXPECT_EQ(check("polysync.databricks.v1.DatabricksPipelines"),
            health::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check(""), health::HealthCheckResponse::SERVING);
}

TEST(MetricsTest, CountersMatchTheCallsMade) {
  Harness harness("");
  auto endpoint = server::MetricsEndpoint::Start("127.0.0.1:0");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  auto transport = databricks::http::MakeCurlTransport({});
  auto scrape = [&] {
    databricks::http::Request r;
    r.url = absl::StrCat("http://127.0.0.1:", (*endpoint)->bound_port(),
                         "/metrics");
    auto result = databricks::http::SendAndWait(*transport, r);
    EXPECT_TRUE(result.status.ok()) << result.status;
    EXPECT_EQ(result.response.status, 200);
    return result.response.body;
  };
  // The registry is process-wide: compare before and after.
  // The sample line (not the "# HELP series ..." line).
  auto value = [](const std::string& text, const std::string& series) {
    auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return 0.0;
    return std::stod(text.substr(at + series.size() + 2));
  };
  const std::string list_ok =
      R"(polysync_rpc_calls_total{method="ListWorkspaces",code="OK"})";
  const std::string start_ok =
      R"(polysync_rpc_calls_total{method="StartUpdate",code="OK"})";
  const std::string start_bad =
      R"(polysync_rpc_calls_total{method="StartUpdate",code="INVALID_ARGUMENT"})";
  const std::string upstream_start =
      R"(polysync_upstream_requests_total{endpoint="updates.start",status="200"})";
  const std::string before = scrape();
  auto stub = harness.Stub();
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    v1::ListWorkspacesResponse response;
    ASSERT_TRUE(stub->ListWorkspaces(&context, {}, &response).ok());
  }
  v1::StartUpdateResponse r;
  ASSERT_TRUE(StartWithToken(*stub, harness.pipeline_id_, "", &r).ok());
  EXPECT_FALSE(StartWithToken(*stub, "../x", "", &r).ok());
  const std::string after = scrape();
  EXPECT_EQ(value(after, list_ok) - value(before, list_ok), 3);
  EXPECT_EQ(value(after, start_ok) - value(before, start_ok), 1);
  EXPECT_EQ(value(after, start_bad) - value(before, start_bad), 1);
  EXPECT_EQ(value(after, upstream_start) - value(before, upstream_start), 1);
  EXPECT_THAT(after,
              HasSubstr("# TYPE polysync_rpc_latency_seconds histogram"));
  EXPECT_THAT(after,
              HasSubstr(R"(polysync_workspace_reachable{workspace="prod"} 1)"));
  EXPECT_THAT(
      after,
      HasSubstr(
          R"(polysync_upstream_limit{workspace="prod",kind="concurrency"} 16)"));
  EXPECT_THAT(after,
              HasSubstr(R"(polysync_rpc_in_flight{method="StartUpdate"} 0)"));
  // No secret ever becomes a label or a value.
  EXPECT_THAT(after, ::testing::Not(HasSubstr(harness.sim_->access_token())));
  EXPECT_THAT(after, HasSubstr("polysync_upstream_request_seconds_bucket"));
  // The process's own CPU time and memory, as Prometheus names them.
  EXPECT_THAT(after, HasSubstr("# TYPE process_cpu_seconds_total counter"));
  EXPECT_GT(value(after, "process_cpu_seconds_total"), 0);
  EXPECT_GE(value(after, "process_cpu_seconds_total"),
            value(before, "process_cpu_seconds_total"));
  EXPECT_GT(value(after, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(value(after, "process_max_resident_memory_bytes"),
            value(after, "process_resident_memory_bytes"));
}

TEST(DrainTest, ReadinessFlipsFirstThenUnaryFinishesAndWatchesEndUnavailable) {
  Harness harness("");
  auto channel =
      grpc::CreateChannel(harness.target(), grpc::InsecureChannelCredentials());
  auto stub = v1::DatabricksPipelines::NewStub(channel);
  auto health_stub = health::Health::NewStub(channel);
  v1::StartUpdateResponse started;
  ASSERT_TRUE(StartWithToken(*stub, harness.pipeline_id_, "", &started).ok());

  // An open watch (the manual clock never moves: it would run forever).
  grpc::ClientContext watch_context;
  v1::WatchUpdateRequest watch;
  watch.set_run_id(started.run_id());
  auto reader = stub->WatchUpdate(&watch_context, watch);
  v1::UpdateStatus s;
  ASSERT_TRUE(reader->Read(&s));

  harness.server_->BeginDrain();
  auto check = [&](const std::string& service) {
    grpc::ClientContext context;
    health::HealthCheckRequest request;
    request.set_service(service);
    health::HealthCheckResponse response;
    EXPECT_TRUE(health_stub->Check(&context, request, &response).ok());
    return response.status();
  };
  EXPECT_EQ(check("polysync.databricks.v1.DatabricksPipelines"),
            health::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(check(""), health::HealthCheckResponse::SERVING);  // liveness
  // Still accepting calls during the drain delay.
  {
    grpc::ClientContext context;
    v1::ListWorkspacesResponse response;
    EXPECT_TRUE(stub->ListWorkspaces(&context, {}, &response).ok());
  }
  // A slow unary call in flight when the grace period starts finishes.
  sim::FaultRule slow;
  slow.endpoint = "updates.get";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(300);
  harness.sim_->InjectFault(slow);
  grpc::Status slow_status;
  std::thread slow_call([&] {
    grpc::ClientContext context;
    v1::GetUpdateStatusRequest request;
    request.set_run_id(started.run_id());
    v1::UpdateStatus response;
    slow_status = stub->GetUpdateStatus(&context, request, &response);
  });
  absl::SleepFor(absl::Milliseconds(100));
  const absl::Time t0 = absl::Now();
  std::thread shutdown([&] { harness.server_->Shutdown(absl::Seconds(2)); });
  while (reader->Read(&s)) {
  }
  grpc::Status watch_status = reader->Finish();
  slow_call.join();
  shutdown.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  EXPECT_EQ(watch_status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(watch_status.error_message(), HasSubstr("resume the watch"));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(4));
}

TEST(DrainTest, AnImportCutByTheDrainSaysImportAgain) {
  Harness harness("");
  harness.sim_->GeneratePipelines(300);
  // Every pipeline's details take 2 s: the import outlasts the grace period.
  sim::FaultRule slow;
  slow.endpoint = "pipelines.get";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Seconds(2);
  slow.count = -1;
  harness.sim_->InjectFault(slow);
  auto stub = harness.Stub();
  grpc::ClientContext context;
  auto reader = stub->ImportPipelines(&context, {});
  // The import is under way once it asks for details.
  for (int i = 0; i < 500 && harness.sim_->RequestCount("pipelines.get") == 0;
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_GT(harness.sim_->RequestCount("pipelines.get"), 0);
  harness.server_->BeginDrain();
  std::thread shutdown([&] { harness.server_->Shutdown(absl::Seconds(1)); });
  v1::ImportPipelinesResponse batch;
  while (reader->Read(&batch)) {
  }
  grpc::Status status = reader->Finish();
  shutdown.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(),
              HasSubstr("server draining; import again"));
}

}  // namespace
}  // namespace polysync
