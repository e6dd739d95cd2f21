// The importer against the simulated workspace, called directly: every page
// listed and every pipeline delivered once, in batches; a pipeline whose
// details fail becomes an error while the rest import; a listing that fails
// ends the import with what was built; a dead workspace stops it early;
// ids fetched without listing; refusals that send nothing; cancel.
#include "adapters/databricks/jobtype/importer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "adapters/databricks/jobtype/engine_testing.h"

namespace polysync::databricks::jobtype {
namespace {

using ::testing::HasSubstr;

// What one import delivered.
struct Delivered {
  std::vector<v1::ImportPipelinesResponse> batches;
  absl::Status end;
  int jobs() const {
    int n = 0;
    for (const auto& b : batches) n += b.jobs_size();
    return n;
  }
  int errors() const {
    int n = 0;
    for (const auto& b : batches) n += b.errors_size();
    return n;
  }
};

class ImporterTest : public testing::EngineTest {
 protected:
  // Runs an import to its end (at most a minute of real time).
  Delivered Run(const v1::ImportPipelinesRequest& request,
                const ImportOptions& options) {
    auto out = std::make_shared<Delivered>();
    auto mu = std::make_shared<std::mutex>();
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    import_ = Import::Start(
        ws(), request, {}, options,
        [out, mu](v1::ImportPipelinesResponse batch) {
          std::lock_guard<std::mutex> lock(*mu);
          out->batches.push_back(std::move(batch));
        },
        [out, mu, done](const absl::Status& status) {
          {
            std::lock_guard<std::mutex> lock(*mu);
            out->end = status;
          }
          done->set_value();
        });
    if (!testing::Ready(future)) {
      ADD_FAILURE() << "the import never ended";
      return {};
    }
    std::lock_guard<std::mutex> lock(*mu);
    return *out;
  }

  static ImportOptions Pages(int page_size, int batch_size) {
    ImportOptions options;
    options.page_size = page_size;
    options.batch_size = batch_size;
    return options;
  }

  void Fault(const std::string& endpoint, sim::FaultKind kind, int status,
             int count, int skip = 0, const std::string& error_code = "") {
    sim::FaultRule rule;
    rule.endpoint = endpoint;
    rule.kind = kind;
    rule.status = status;
    rule.count = count;
    rule.skip = skip;
    rule.error_code = error_code;
    simulator().InjectFault(rule);
  }

  std::shared_ptr<Import> import_;
};

TEST_F(ImporterTest, EveryPageIsListedAndEveryPipelineDeliveredOnceInBatches) {
  Begin();
  std::vector<std::string> ids = simulator().GeneratePipelines(250);
  Delivered d = Run({}, Pages(/*page_size=*/100, /*batch_size=*/40));
  ASSERT_TRUE(d.end.ok()) << d.end;
  EXPECT_EQ(d.jobs(), 250);
  EXPECT_EQ(d.errors(), 0);
  std::set<std::string> seen;
  for (const auto& b : d.batches) {
    EXPECT_LE(b.jobs_size(), 40);
    for (const auto& job : b.jobs()) {
      EXPECT_TRUE(seen.insert(job.external_id()).second) << job.external_id();
    }
  }
  EXPECT_EQ(seen, std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(Requests("pipelines.list"), 3);
  EXPECT_EQ(Requests("pipelines.get"), 250);
}

TEST_F(ImporterTest, APipelineWhoseDetailsFailIsAnErrorAndTheRestImport) {
  Begin();
  simulator().GeneratePipelines(20);
  Fault("pipelines.get", sim::FaultKind::kHttpError, 403, /*count=*/1,
        /*skip=*/5, "PERMISSION_DENIED");
  Delivered d = Run({}, Pages(100, 100));
  ASSERT_TRUE(d.end.ok()) << d.end;
  EXPECT_EQ(d.jobs(), 19);
  ASSERT_EQ(d.errors(), 1);
  for (const auto& b : d.batches) {
    for (const auto& e : b.errors()) {
      EXPECT_EQ(e.code(),
                static_cast<int>(absl::StatusCode::kPermissionDenied));
      EXPECT_FALSE(e.pipeline_id().empty());
      EXPECT_FALSE(e.message().empty());
    }
  }
}

TEST_F(ImporterTest, AListingFailureEndsTheImportWithWhatWasBuilt) {
  Begin();
  simulator().GeneratePipelines(250);
  // The second page is refused (not retried).
  Fault("pipelines.list", sim::FaultKind::kHttpError, 400, /*count=*/-1,
        /*skip=*/1, "INVALID_PARAMETER_VALUE");
  Delivered d = Run({}, Pages(100, 100));
  EXPECT_EQ(d.end.code(), absl::StatusCode::kInvalidArgument) << d.end;
  EXPECT_LE(d.jobs(), 100);
  EXPECT_EQ(Requests("pipelines.list"), 2);
  EXPECT_LE(Requests("pipelines.get"), 100);  // nothing of later pages
}

TEST_F(ImporterTest, PipelinesInARowWithoutAnAnswerStopTheImport) {
  Begin();
  simulator().GeneratePipelines(30);
  Fault("pipelines.get", sim::FaultKind::kReset, 0, /*count=*/-1);
  ImportOptions options = Pages(100, 100);
  options.max_concurrent_details = 1;
  options.unreachable_after = 3;
  Delivered d = Run({}, options);
  EXPECT_EQ(d.end.code(), absl::StatusCode::kUnavailable) << d.end;
  EXPECT_THAT(d.end.message(), HasSubstr("unreachable"));
  EXPECT_THAT(d.end.message(), HasSubstr("27 pipelines not fetched"));
  EXPECT_EQ(d.jobs(), 0);
}

TEST_F(ImporterTest, IdsAreFetchedWithoutListingAndTheNameFilterStillApplies) {
  Begin();
  const std::string a =
      CreatePipeline(sim::Behavior::kSucceed, false, "orders");
  const std::string b =
      CreatePipeline(sim::Behavior::kSucceed, false, "Orders");
  CreatePipeline(sim::Behavior::kSucceed, false, "orders_eu");
  v1::ImportPipelinesRequest request;
  request.add_pipeline_ids(a);
  request.add_pipeline_ids(b);
  request.set_name_filter("ord");  // exact, case-sensitive
  Delivered d = Run(request, Pages(100, 100));
  ASSERT_TRUE(d.end.ok()) << d.end;
  ASSERT_EQ(d.jobs(), 1);
  EXPECT_EQ(d.batches[0].jobs(0).external_id(), a);
  EXPECT_EQ(d.batches[0].jobs(0).name(), "orders");
  EXPECT_EQ(Requests("pipelines.list"), 0);
  EXPECT_EQ(Requests("pipelines.get"), 2);
}

TEST_F(ImporterTest, AMalformedIdIsRefusedAtOnceAndNothingIsSent) {
  Begin();
  v1::ImportPipelinesRequest request;
  request.add_pipeline_ids("../../etc");
  Delivered d = Run(request, Pages(100, 100));
  EXPECT_EQ(d.end.code(), absl::StatusCode::kInvalidArgument) << d.end;
  EXPECT_TRUE(d.batches.empty());
  EXPECT_EQ(simulator().RequestCount("*"), 0);
}

TEST_F(ImporterTest, CancelStopsTheFetchesAndEndsTheImportCancelled) {
  Begin();
  simulator().GeneratePipelines(50);
  sim::FaultRule slow;
  slow.endpoint = "pipelines.get";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(100);
  slow.count = -1;
  simulator().InjectFault(slow);
  auto first_batch = std::make_shared<std::promise<void>>();
  auto batched = first_batch->get_future();
  auto once = std::make_shared<std::once_flag>();
  auto done = std::make_shared<std::promise<absl::Status>>();
  auto future = done->get_future();
  ImportOptions options = Pages(100, /*batch_size=*/2);
  options.max_concurrent_details = 2;
  auto import = Import::Start(
      ws(), {}, {}, options,
      [first_batch, once](v1::ImportPipelinesResponse) {
        std::call_once(*once, [&] { first_batch->set_value(); });
      },
      [done](const absl::Status& s) { done->set_value(s); });
  ASSERT_NE(import, nullptr);
  ASSERT_TRUE(testing::Ready(batched));  // listed, details being fetched
  import->Cancel();
  ASSERT_TRUE(testing::Ready(future));
  EXPECT_EQ(future.get().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(Requests("pipelines.get"), 50);
}

// Cancelled while the first page is on its way: that page's pipelines are
// not fetched, and the import ends CANCELLED.
TEST_F(ImporterTest, CancelBeforeTheFirstPageFetchesNothing) {
  Begin();
  simulator().GeneratePipelines(50);
  sim::FaultRule slow;
  slow.endpoint = "pipelines.list";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(300);
  slow.count = -1;
  simulator().InjectFault(slow);
  auto done = std::make_shared<std::promise<absl::Status>>();
  auto future = done->get_future();
  int batches = 0;
  auto import = Import::Start(
      ws(), {}, {}, Pages(100, /*batch_size=*/10),
      [&batches](v1::ImportPipelinesResponse) { ++batches; },
      [done](const absl::Status& s) { done->set_value(s); });
  ASSERT_NE(import, nullptr);
  import->Cancel();
  ASSERT_TRUE(testing::Ready(future));
  EXPECT_EQ(future.get().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Requests("pipelines.get"), 0);
  EXPECT_EQ(batches, 0);
}

}  // namespace
}  // namespace polysync::databricks::jobtype
