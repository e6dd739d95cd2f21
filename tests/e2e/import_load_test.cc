// End to end: imports under load and with the workspace gone. Imports share
// the workspace's request slots with interactive calls (which go first), and
// an import against an unreachable workspace ends within about its retry
// budget instead of retrying every pipeline in turn.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/simulator.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "server/backend.h"
#include "tests/testing/rpc_helpers.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
using ::testing::HasSubstr;

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

class ImportLoadTest : public ::testing::Test {
 protected:
  // `workspace_extra`: keys of the workspace profile; `backend`: changes to
  // the harness's backend options.
  void StartHarness(const std::string& workspace_extra,
                    std::function<void(server::BackendOptions&)> backend) {
    polysync::testing::HarnessOptions options;
    options.workspace_extra = workspace_extra;
    options.configure_backend = std::move(backend);
    h_ = std::make_unique<polysync::testing::Harness>(std::move(options));
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
  }

  void TearDown() override {
    stub_.reset();
    h_.reset();
  }

  void AddRule(sim::FaultKind kind, const std::string& endpoint = "*",
               int skip = 0, absl::Duration latency = absl::ZeroDuration()) {
    sim::FaultRule rule;
    rule.endpoint = endpoint;
    rule.kind = kind;
    rule.count = -1;
    rule.skip = skip;
    rule.latency = latency;
    h_->sim().InjectFault(rule);
  }

  // Reads an import to its end.
  struct Outcome {
    grpc::Status status;
    int jobs = 0;
    int errors = 0;
    absl::Duration took;
  };
  Outcome Import(const v1::ImportPipelinesRequest& request,
                 absl::Duration deadline = absl::Seconds(120)) {
    grpc::ClientContext context;
    context.set_deadline(In(deadline));
    const absl::Time start = absl::Now();
    auto reader = stub_->ImportPipelines(&context, request);
    v1::ImportPipelinesResponse batch;
    Outcome out;
    while (reader->Read(&batch)) {
      out.jobs += batch.jobs_size();
      out.errors += batch.errors_size();
    }
    out.status = reader->Finish();
    out.took = absl::Now() - start;
    return out;
  }

  std::unique_ptr<polysync::testing::Harness> h_;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
};

// Three imports whose clients do not read keep the workspace's 4 slots and
// 10 requests/s busy; a status read still gets its requests through at once
// instead of queueing behind thousands of detail fetches.
TEST_F(ImportLoadTest, StatusStaysFastWhileImportsRun) {
  StartHarness(R"(, "limits": {"max_concurrent_requests": 4,
                               "requests_per_second": 10})",
               nullptr);
  const std::string id = h_->CreatePipeline("orders");
  v1::StartUpdateResponse started;
  {
    ASSERT_TRUE(polysync::testing::StartUpdate(
                    *stub_, polysync::testing::StartRequest(id), &started)
                    .ok());
  }
  h_->sim().GeneratePipelines(600);
  AddRule(sim::FaultKind::kLatency, "*", 0, absl::Milliseconds(50));

  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::ImportPipelinesResponse>>>
      imports;
  for (int i = 0; i < 3; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(In(absl::Seconds(300)));
    imports.push_back(stub_->ImportPipelines(contexts.back().get(), {}));
  }
  // The imports are fetching details.
  const absl::Time busy_by = absl::Now() + absl::Seconds(20);
  while (h_->sim().RequestCount("pipelines.get") < 30 &&
         absl::Now() < busy_by) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(h_->sim().RequestCount("pipelines.get"), 30);

  absl::Duration slowest = absl::ZeroDuration();
  for (int i = 0; i < 3; ++i) {
    grpc::Status s;
    const absl::Time start = absl::Now();
    polysync::testing::GetUpdateStatus(*stub_, started.run_id(), &s);
    slowest = std::max(slowest, absl::Now() - start);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Idle, a read takes one or two 50 ms requests; behind the imports' queue
  // it took seconds.
  EXPECT_LT(slowest, absl::Milliseconds(600));

  for (auto& c : contexts) c->TryCancel();
  for (auto& r : imports) r->Finish();
}

class UnreachableWorkspaceTest : public ImportLoadTest {
 protected:
  void SetUp() override {
    // A small retry budget: each request to a dead workspace gives up after
    // about 2 s.
    StartHarness(R"(, "limits": {"max_concurrent_requests": 4,
                                 "requests_per_second": 100000})",
                 [](server::BackendOptions& o) {
                   o.client.backoff.initial_delay = absl::Milliseconds(100);
                   o.client.backoff.max_delay = absl::Milliseconds(400);
                   o.client.backoff.budget = absl::Seconds(2);
                   o.client.backoff.max_attempts = 0;
                 });
  }
};

// The workspace goes away after the first page: listing fails within the
// budget, and the 100 pipelines already listed are not each retried for 2 s
// (4 at a time, that took about a minute): the import ends soon after,
// UNAVAILABLE, saying what was not fetched.
TEST_F(UnreachableWorkspaceTest, ListingFailureEndsTheImportWithinTheBudget) {
  h_->sim().GeneratePipelines(300);
  AddRule(sim::FaultKind::kReset, "*", /*skip=*/1);
  Outcome out = Import({}, absl::Seconds(60));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << out.status.error_message();
  EXPECT_THAT(out.status.error_message(), HasSubstr("not fetched"));
  EXPECT_EQ(out.jobs, 0);
  EXPECT_LT(out.took, absl::Seconds(10));
  EXPECT_LT(h_->sim().RequestCount("pipelines.get"), 300);
}

// With explicit ids (no listing): after a few pipelines in a row fail to
// connect, the rest are not tried; the stream ends UNAVAILABLE with the
// errors of those tried and the number not fetched.
TEST_F(UnreachableWorkspaceTest, ConnectionFailuresInARowStopTheImport) {
  v1::ImportPipelinesRequest request;
  for (int i = 0; i < 40; ++i) {
    request.add_pipeline_ids(h_->CreatePipeline(absl::StrCat("p", i)));
  }
  AddRule(sim::FaultKind::kReset);
  Outcome out = Import(request, absl::Seconds(60));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << out.status.error_message();
  EXPECT_THAT(out.status.error_message(), HasSubstr("unreachable"));
  EXPECT_THAT(out.status.error_message(), HasSubstr("not fetched"));
  EXPECT_GE(out.errors, 1);
  EXPECT_LT(out.errors, 40);
  EXPECT_LT(out.took, absl::Seconds(8));
}

// A caller's deadline ends the import at that deadline while the workspace
// holds every request.
TEST_F(UnreachableWorkspaceTest, TheCallersDeadlineIsHonoured) {
  v1::ImportPipelinesRequest request;
  for (int i = 0; i < 40; ++i) {
    request.add_pipeline_ids(h_->CreatePipeline(absl::StrCat("p", i)));
  }
  sim::FaultRule stall;
  stall.kind = sim::FaultKind::kStall;
  stall.stall = absl::Seconds(10);
  stall.count = -1;
  h_->sim().InjectFault(stall);
  Outcome out = Import(request, absl::Milliseconds(1500));
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(out.took, absl::Seconds(3));
  // Nothing more is sent once the deadline has passed.
  absl::SleepFor(absl::Milliseconds(300));
  const int64_t after = h_->sim().RequestCount("pipelines.get");
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(h_->sim().RequestCount("pipelines.get"), after);
}

// Pipelines whose details always answer 500 (an error of the service, not of
// the way to it) are retried at most twice within about 2 s each, with the
// default retry options, and reported with Databricks' error code; the
// import does not spend the 60 s budget on each of them (8 attempts apiece
// before).
class BrokenPipelinesTest : public ImportLoadTest {
 protected:
  void SetUp() override {
    StartHarness(R"(, "limits": {"max_concurrent_requests": 4,
                                 "requests_per_second": 100000})",
                 nullptr);
  }
};

TEST_F(BrokenPipelinesTest, AServiceErrorIsReportedAfterTwoQuickRetries) {
  v1::ImportPipelinesRequest request;
  for (int i = 0; i < 8; ++i) {
    request.add_pipeline_ids(h_->CreatePipeline(absl::StrCat("p", i)));
  }
  sim::FaultRule broken;
  broken.endpoint = "pipelines.get";
  broken.kind = sim::FaultKind::kHttpError;
  broken.status = 500;
  broken.error_code = "INTERNAL_ERROR";
  broken.count = -1;
  h_->sim().InjectFault(broken);
  h_->sim().ResetRequestCounts();
  grpc::ClientContext context;
  context.set_deadline(In(absl::Seconds(120)));
  const absl::Time start = absl::Now();
  auto reader = stub_->ImportPipelines(&context, request);
  v1::ImportPipelinesResponse batch;
  std::vector<v1::PipelineError> errors;
  while (reader->Read(&batch)) {
    for (const auto& e : batch.errors()) errors.push_back(e);
  }
  grpc::Status status = reader->Finish();
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(errors.size(), 8u);
  for (const auto& e : errors) {
    EXPECT_THAT(e.message(), HasSubstr("INTERNAL_ERROR")) << e.message();
  }
  // 8 pipelines, 4 at a time, each at most 3 attempts within about 2 s (a
  // slow machine may leave time for only 2); the old rule made 8 each.
  EXPECT_LT(took, absl::Seconds(8));
  EXPECT_GE(h_->sim().RequestCount("pipelines.get"), 8 * 2);
  EXPECT_LE(h_->sim().RequestCount("pipelines.get"), 8 * 3);
}

}  // namespace
}  // namespace polysync
