// Test-only: the small gRPC calls end-to-end tests make against the
// service (a stub, a StartUpdate or GetUpdateStatus with a deadline), and a
// real-time wait.
//
//   auto stub = NewPipelinesStub(h.target());
//   const auto started = MustStartUpdate(*stub, StartRequest(pipeline_id));
//   const auto s = MustGetUpdateStatus(*stub, started.run_id());
#ifndef POLYSYNC_TESTS_TESTING_RPC_HELPERS_H_
#define POLYSYNC_TESTS_TESTING_RPC_HELPERS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"

namespace polysync::testing {

using PipelinesStub = ::polysync::databricks::v1::DatabricksPipelines::Stub;

// A stub of the service at `target` over an insecure channel.
std::unique_ptr<PipelinesStub> NewPipelinesStub(const std::string& target);

// Sets `context`'s deadline `timeout` from now.
void SetDeadlineIn(grpc::ClientContext& context, absl::Duration timeout);

// A request to start an update of `pipeline_id`.
::polysync::databricks::v1::StartUpdateRequest StartRequest(
    const std::string& pipeline_id, bool validate_only = false);

// Adds the boolean input parameter "full_refresh" with `value` (as the
// caller spells it) to `request`; returns it for later changes.
::polysync::databricks::v1::Parameter* AddFullRefresh(
    ::polysync::databricks::v1::StartUpdateRequest& request,
    const std::string& value);

// StartUpdate with a deadline `deadline` from now.
grpc::Status StartUpdate(
    PipelinesStub& stub,
    const ::polysync::databricks::v1::StartUpdateRequest& request,
    ::polysync::databricks::v1::StartUpdateResponse* response,
    absl::Duration deadline = absl::Seconds(30));

// The same, expecting (EXPECT_TRUE) the call to succeed.
::polysync::databricks::v1::StartUpdateResponse MustStartUpdate(
    PipelinesStub& stub,
    const ::polysync::databricks::v1::StartUpdateRequest& request,
    absl::Duration deadline = absl::Seconds(30));

// GetUpdateStatus of `run_id` with a deadline `deadline` from now; the
// call's status goes to `*out`.
::polysync::databricks::v1::UpdateStatus GetUpdateStatus(
    PipelinesStub& stub, const std::string& run_id, grpc::Status* out,
    absl::Duration deadline = absl::Seconds(30));

// The same, expecting (EXPECT_TRUE) the call to succeed.
::polysync::databricks::v1::UpdateStatus MustGetUpdateStatus(
    PipelinesStub& stub, const std::string& run_id,
    absl::Duration deadline = absl::Seconds(30));

// Waits (real time, checking every `poll`) until `done` holds; false after
// `limit`.
bool WaitFor(const std::function<bool()>& done,
             absl::Duration limit = absl::Seconds(20),
             absl::Duration poll = absl::Milliseconds(5));

}  // namespace polysync::testing

#endif  // POLYSYNC_TESTS_TESTING_RPC_HELPERS_H_
