#include "tests/testing/rpc_helpers.h"

#include <gtest/gtest.h>

#include <utility>

#include "absl/time/clock.h"

namespace polysync::testing {
namespace {
namespace v1 = ::polysync::databricks::v1;

// `response`, once EXPECT_TRUE has checked that `status` is OK.
template <typename Response>
Response ExpectOk(const grpc::Status& status, Response response) {
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}
}  // namespace

std::unique_ptr<PipelinesStub> NewPipelinesStub(const std::string& target) {
  return v1::DatabricksPipelines::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
}

void SetDeadlineIn(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

v1::StartUpdateRequest StartRequest(const std::string& pipeline_id,
                                    bool validate_only) {
  v1::StartUpdateRequest request;
  request.set_pipeline_id(pipeline_id);
  request.set_validate_only(validate_only);
  return request;
}

v1::Parameter* AddFullRefresh(v1::StartUpdateRequest& request,
                              const std::string& value) {
  v1::Parameter* p = request.add_parameters();
  p->set_name("full_refresh");
  p->set_data_type(v1::DATA_TYPE_BOOL);
  p->set_direction(v1::DIRECTION_INPUT);
  p->set_value(value);
  return p;
}

grpc::Status StartUpdate(PipelinesStub& stub,
                         const v1::StartUpdateRequest& request,
                         v1::StartUpdateResponse* response,
                         absl::Duration deadline) {
  grpc::ClientContext context;
  SetDeadlineIn(context, deadline);
  return stub.StartUpdate(&context, request, response);
}

v1::StartUpdateResponse MustStartUpdate(PipelinesStub& stub,
                                        const v1::StartUpdateRequest& request,
                                        absl::Duration deadline) {
  v1::StartUpdateResponse response;
  const grpc::Status status = StartUpdate(stub, request, &response, deadline);
  return ExpectOk(status, std::move(response));
}

v1::UpdateStatus GetUpdateStatus(PipelinesStub& stub, const std::string& run_id,
                                 grpc::Status* out, absl::Duration deadline) {
  v1::GetUpdateStatusRequest request;
  request.set_run_id(run_id);
  grpc::ClientContext context;
  SetDeadlineIn(context, deadline);
  v1::UpdateStatus response;
  *out = stub.GetUpdateStatus(&context, request, &response);
  return response;
}

v1::UpdateStatus MustGetUpdateStatus(PipelinesStub& stub,
                                     const std::string& run_id,
                                     absl::Duration deadline) {
  grpc::Status status;
  v1::UpdateStatus s = GetUpdateStatus(stub, run_id, &status, deadline);
  return ExpectOk(status, std::move(s));
}

bool WaitFor(const std::function<bool()>& done, absl::Duration limit,
             absl::Duration poll) {
  const absl::Time until = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(poll);
  }
  return true;
}

}  // namespace polysync::testing
