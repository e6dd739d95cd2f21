// Starts the server in-process on port 0 and talks to it the way grpcurl and
// Kubernetes probes do: through clients generated from Debian's grpc-proto.
#include "server/server.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "server/backend.h"
#include "server/config.h"
#include "src/proto/grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace polysync::server {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
namespace v1 = ::polysync::databricks::v1;
namespace health = ::grpc::health::v1;
namespace reflection = ::grpc::reflection::v1alpha;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = ParseConfig(R"json({
      "listen": "127.0.0.1:0",
      "workspaces": [{
        "name": "prod",
        "host": "https://adb-1234567890123456.7.azuredatabricks.net",
        "personal_access_token": {"token": {"env": "PROD_TOKEN"}}
      }]})json",
                              "test");
    ASSERT_TRUE(config.ok()) << config.status();
    setenv("PROD_TOKEN", "dapi-prod-token-for-the-test", 1);
    BackendOptions backend_options;
    backend_options.config = *config;
    backend_options.simulated_workspace = true;
    auto backend = Backend::Create(backend_options);
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
    auto server = Server::Start({*config, true, &backend_->job_type()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->bound_port()),
                            grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    server_.reset();
    backend_.reset();
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServerTest, BindsARealPort) { EXPECT_GT(server_->bound_port(), 0); }

TEST_F(ServerTest, ReflectionListsTheServiceAndHealth) {
  auto stub = reflection::ServerReflection::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  reflection::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> names;
  for (const auto& s : response.list_services_response().service()) {
    names.insert(s.name());
  }
  EXPECT_THAT(names, Contains("polysync.databricks.v1.DatabricksPipelines"));
  EXPECT_THAT(names, Contains("grpc.health.v1.Health"));

  // grpcurl's "describe" needs the file descriptors too.
  reflection::ServerReflectionRequest describe;
  describe.set_file_containing_symbol(
      "polysync.databricks.v1.DatabricksPipelines");
  ASSERT_TRUE(stream->Write(describe));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_GT(response.file_descriptor_response().file_descriptor_proto_size(),
            0);
  EXPECT_THAT(response.file_descriptor_response().file_descriptor_proto(0),
              HasSubstr("polysync/databricks/v1/pipelines.proto"));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ServerTest, HealthIsServingForProcessAndService) {
  auto stub = health::Health::NewStub(channel_);
  for (const std::string service :
       {"", "polysync.databricks.v1.DatabricksPipelines"}) {
    grpc::ClientContext context;
    health::HealthCheckRequest request;
    request.set_service(service);
    health::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.status(), health::HealthCheckResponse::SERVING)
        << "service '" << service << "'";
  }
}

TEST_F(ServerTest, HealthOfUnknownServiceIsNotFound) {
  auto stub = health::Health::NewStub(channel_);
  grpc::ClientContext context;
  health::HealthCheckRequest request;
  request.set_service("no.such.Service");
  health::HealthCheckResponse response;
  EXPECT_EQ(stub->Check(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, ListWorkspacesShowsProfilesWithoutSecrets) {
  auto stub = v1::DatabricksPipelines::NewStub(channel_);
  grpc::ClientContext context;
  v1::ListWorkspacesResponse response;
  ASSERT_TRUE(stub->ListWorkspaces(&context, {}, &response).ok());
  ASSERT_EQ(response.workspaces_size(), 2);
  EXPECT_EQ(response.workspaces(0).name(), "prod");
  EXPECT_EQ(response.workspaces(0).host(),
            "https://adb-1234567890123456.7.azuredatabricks.net");
  EXPECT_EQ(response.workspaces(0).auth_method(),
            v1::AUTH_METHOD_PERSONAL_ACCESS_TOKEN);
  EXPECT_TRUE(response.workspaces(0).is_default());
  EXPECT_FALSE(response.workspaces(0).simulated());
  EXPECT_EQ(response.workspaces(1).name(), "simulated");
  EXPECT_TRUE(response.workspaces(1).simulated());
  EXPECT_EQ(response.workspaces(1).auth_method(), v1::AUTH_METHOD_SIMULATED);
  EXPECT_THAT(response.DebugString(),
              ::testing::Not(HasSubstr("dapi-prod-token-for-the-test")));
}

}  // namespace
}  // namespace polysync::server

namespace polysync::server {
namespace {

TEST(ServerWithoutReflectionTest, ReflectionCanBeSwitchedOff) {
  auto config = ParseConfig(R"json({"listen": "127.0.0.1:0"})json", "test");
  ASSERT_TRUE(config.ok());
  BackendOptions backend_options;
  backend_options.config = *config;
  backend_options.simulated_workspace = true;
  auto backend = Backend::Create(backend_options);
  ASSERT_TRUE(backend.ok()) << backend.status();
  auto server = Server::Start(
      {*config, /*enable_reflection=*/false, &(*backend)->job_type()});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->bound_port()),
                          grpc::InsecureChannelCredentials());
  auto stub = reflection::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  stream->Write(request);
  reflection::ServerReflectionResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST(BackendTest, RefusesToStartWithoutAnyWorkspace) {
  auto config = ParseConfig(R"json({"listen": "127.0.0.1:0"})json", "test");
  ASSERT_TRUE(config.ok());
  unsetenv("DATABRICKS_HOST");
  BackendOptions backend_options;
  backend_options.config = *config;
  auto backend = Backend::Create(backend_options);
  EXPECT_EQ(backend.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(backend.status().message(), HasSubstr("--simulated_workspace"));
  EXPECT_THAT(backend.status().message(), HasSubstr("DATABRICKS_HOST"));
}

}  // namespace
}  // namespace polysync::server
