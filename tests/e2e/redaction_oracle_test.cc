// Redaction is no oracle: a caller who sends a guess of a secret the service
// holds (here the workspace's token) as an identifier gets exactly the answer
// a wrong guess of the same length gets. Before, a right guess came back as
// "[REDACTED]" and a wrong one was echoed, so a token could be recovered one
// character at a time.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "tests/testing/rpc_helpers.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
using ::testing::HasSubstr;
using ::testing::Not;

class RedactionOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<polysync::testing::Harness>();
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
    secret_ = h_->sim().access_token();
    ASSERT_GE(secret_.size(), 8u);
    // A wrong guess of the same length.
    wrong_ = secret_;
    for (char& c : wrong_) c = c == 'z' ? 'y' : 'z';
    pipeline_id_ = *h_->sim().CreatePipeline({{"name", "oracle"}});
  }

  // The code and message of one call with `value` put into the request.
  using Call = std::function<grpc::Status(const std::string& value)>;
  void ExpectSameAnswer(const std::string& what, const Call& call) {
    grpc::Status right = call(secret_);
    grpc::Status wrong = call(wrong_);
    EXPECT_NE(right.error_code(), grpc::StatusCode::OK) << what;
    EXPECT_EQ(right.error_code(), wrong.error_code()) << what;
    EXPECT_EQ(right.error_message(), wrong.error_message()) << what;
    EXPECT_THAT(right.error_message(), Not(HasSubstr("REDACTED"))) << what;
    EXPECT_THAT(right.error_message(), Not(HasSubstr(secret_.substr(0, 8))))
        << what;
    EXPECT_THAT(wrong.error_message(), Not(HasSubstr(wrong_.substr(0, 8))))
        << what << ": a rejected value is not echoed";
  }

  std::unique_ptr<polysync::testing::Harness> h_;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
  std::string secret_, wrong_, pipeline_id_;
};

TEST_F(RedactionOracleTest, GuessesGetTheSameAnswerAsWrongGuesses) {
  const int64_t before = h_->UpstreamRequests();
  ExpectSameAnswer("SyncParameters.pipeline_id", [&](const std::string& v) {
    grpc::ClientContext context;
    v1::SyncParametersRequest request;
    request.set_pipeline_id(v);
    v1::SyncParametersResponse response;
    return stub_->SyncParameters(&context, request, &response);
  });
  ExpectSameAnswer("StartUpdate.pipeline_id", [&](const std::string& v) {
    grpc::ClientContext context;
    v1::StartUpdateRequest request;
    request.set_pipeline_id(v);
    v1::StartUpdateResponse response;
    return stub_->StartUpdate(&context, request, &response);
  });
  ExpectSameAnswer("GetUpdateStatus.run_id", [&](const std::string& v) {
    grpc::ClientContext context;
    v1::GetUpdateStatusRequest request;
    request.set_run_id(v);
    v1::UpdateStatus response;
    return stub_->GetUpdateStatus(&context, request, &response);
  });
  ExpectSameAnswer("GetUpdateStatus.run_id update", [&](const std::string& v) {
    grpc::ClientContext context;
    v1::GetUpdateStatusRequest request;
    request.set_run_id(pipeline_id_ + ":" + v);
    v1::UpdateStatus response;
    return stub_->GetUpdateStatus(&context, request, &response);
  });
  ExpectSameAnswer("GetUpdateStatus.workspace", [&](const std::string& v) {
    grpc::ClientContext context;
    v1::GetUpdateStatusRequest request;
    request.set_workspace(v);
    request.set_run_id(pipeline_id_ + ":00000000-0000-0000-0000-000000000000");
    v1::UpdateStatus response;
    return stub_->GetUpdateStatus(&context, request, &response);
  });
  ExpectSameAnswer("StartUpdate.full_refresh", [&](const std::string& v) {
    grpc::ClientContext context;
    v1::StartUpdateRequest request;
    request.set_pipeline_id(pipeline_id_);
    polysync::testing::AddFullRefresh(request, v);
    v1::StartUpdateResponse response;
    return stub_->StartUpdate(&context, request, &response);
  });
  ExpectSameAnswer("StopUpdate.run_id", [&](const std::string& v) {
    grpc::ClientContext context;
    v1::StopUpdateRequest request;
    request.set_run_id(v);
    v1::StopUpdateResponse response;
    return stub_->StopUpdate(&context, request, &response);
  });
  // All of it was refused before anything was sent.
  EXPECT_EQ(h_->UpstreamRequests(), before);
}

}  // namespace
}  // namespace polysync
