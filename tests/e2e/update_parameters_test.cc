// Per-update parameters end to end: a pipeline's default parameters are
// imported as forwarded `parameters.<key>` job parameters, StartUpdate sends
// the given ones in the update's `parameters` map (and nothing when none is
// given), and bad ones are refused before anything reaches Databricks.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "adapters/databricks/simulator/simulator.h"
#include "adapters/databricks/simulator/test_client.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "tests/testing/rpc_helpers.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
using nlohmann::json;

class UpdateParametersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<polysync::testing::Harness>();
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
    auto id = h_->sim().CreatePipeline(
        {{"name", "regional sales"},
         {"configuration", {{"spark.sql.shuffle.partitions", "4"}}},
         {"parameters", {{"region", "emea"}, {"start_date", "2026-01-01"}}}},
        sim::Behavior::kSucceed);
    ASSERT_TRUE(id.ok()) << id.status();
    pipeline_id_ = *id;
    sim_client_ = std::make_unique<sim::testing::TestClient>(
        h_->sim().base_url(), h_->sim().access_token());
  }

  v1::ImportedJob Sync() {
    grpc::ClientContext context;
    v1::SyncParametersRequest request;
    request.set_pipeline_id(pipeline_id_);
    v1::SyncParametersResponse response;
    grpc::Status status = stub_->SyncParameters(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.job();
  }

  grpc::Status Start(const v1::StartUpdateRequest& request,
                     v1::StartUpdateResponse* response) {
    return polysync::testing::StartUpdate(*stub_, request, response);
  }

  // The update as Databricks (the simulator) recorded it.
  json UpstreamUpdate(const std::string& update_id) {
    auto r = sim_client_->Get("/api/2.0/pipelines/" + pipeline_id_ +
                              "/updates/" + update_id);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["update"];
  }

  void FinishUpdate() {
    ASSERT_TRUE(h_->sim().AdvanceClock(absl::Minutes(5)).ok());
  }

  std::unique_ptr<polysync::testing::Harness> h_;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
  std::unique_ptr<sim::testing::TestClient> sim_client_;
  std::string pipeline_id_;
};

TEST_F(UpdateParametersTest, ImportedDefaultsAreForwardedAsGiven) {
  v1::ImportedJob job = Sync();
  std::vector<std::string> names;
  for (const auto& p : job.parameters()) names.push_back(p.name());
  EXPECT_THAT(names, ::testing::ElementsAre(
                         "spark.sql.shuffle.partitions", "parameters.region",
                         "parameters.start_date", "full_refresh"));
  const v1::Parameter& region = job.parameters(1);
  EXPECT_TRUE(region.forwarded());
  EXPECT_EQ(region.source(), v1::PARAMETER_SOURCE_PIPELINE_PARAMETERS);
  EXPECT_EQ(region.value(), "emea");

  // Polysync sends the job's parameters back, one of them changed.
  v1::StartUpdateRequest request;
  request.set_pipeline_id(pipeline_id_);
  *request.mutable_parameters() = job.parameters();
  request.mutable_parameters(1)->set_value("apac");
  request.add_refresh_flow_selection("orders_raw");
  v1::StartUpdateResponse response;
  grpc::Status status = Start(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  json update = UpstreamUpdate(response.update_id());
  EXPECT_EQ(update["parameters"],
            json({{"region", "apac"}, {"start_date", "2026-01-01"}}));
  EXPECT_EQ(update["refresh_flow_selection"], json({"orders_raw"}));
  FinishUpdate();

  // Without parameters.<key>: no map is sent, the defaults apply.
  v1::StartUpdateRequest plain;
  plain.set_pipeline_id(pipeline_id_);
  status = Start(plain, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(UpstreamUpdate(response.update_id())["parameters"],
            json({{"region", "emea"}, {"start_date", "2026-01-01"}}));
}

TEST_F(UpdateParametersTest, BadParametersAreRefusedAndNothingIsSent) {
  const int64_t before = h_->UpstreamRequests();
  auto with = [&](const std::string& name, const std::string& value) {
    v1::StartUpdateRequest request;
    request.set_pipeline_id(pipeline_id_);
    v1::Parameter* p = request.add_parameters();
    p->set_name(name);
    p->set_data_type(v1::DATA_TYPE_STRING);
    p->set_direction(v1::DIRECTION_INPUT);
    p->set_value(value);
    return request;
  };
  v1::StartUpdateRequest twice = with("parameters.k", "1");
  *twice.add_parameters() = twice.parameters(0);
  for (const v1::StartUpdateRequest& request :
       {with("parameters.", "v"), with("parameters.a\nb", "v"), twice,
        with("parameters.k", std::string(10001, 'v'))}) {
    v1::StartUpdateResponse response;
    grpc::Status status = Start(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << request.parameters(0).name();
  }
  EXPECT_EQ(h_->UpstreamRequests(), before);
  EXPECT_EQ(h_->sim().UpdatesCreated(pipeline_id_), 0);
}

}  // namespace
}  // namespace polysync
