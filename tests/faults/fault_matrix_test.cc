// The fault matrix: every fault the simulated workspace injects, once, on the
// endpoint each RPC depends on, against every RPC. Each cell asserts the
// gRPC code the README's table promises, that retries stayed within budget
// (from the metrics), and that the server answers the next call.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "adapters/databricks/simulator/simulator.h"
#include "common/metrics.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "server/backend.h"
#include "tests/testing/rpc_helpers.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
using sim::FaultKind;
using Code = grpc::StatusCode;

enum class Rpc { kImport, kSync, kStart, kStatus, kStop, kWatch };

const char* RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kImport:
      return "ImportPipelines";
    case Rpc::kSync:
      return "SyncParameters";
    case Rpc::kStart:
      return "StartUpdate";
    case Rpc::kStatus:
      return "GetUpdateStatus";
    case Rpc::kStop:
      return "StopUpdate";
    case Rpc::kWatch:
      return "WatchUpdate";
  }
  return "?";
}

// The Databricks endpoint each RPC depends on, where the fault goes.
const char* EndpointFor(Rpc rpc) {
  switch (rpc) {
    case Rpc::kImport:
      return "pipelines.list";
    case Rpc::kSync:
      return "pipelines.get";
    case Rpc::kStart:
      return "updates.start";
    case Rpc::kStatus:
    case Rpc::kWatch:
      return "updates.get";
    case Rpc::kStop:
      return "pipelines.stop";
  }
  return "*";
}

const FaultKind kKinds[] = {FaultKind::kLatency,
                            FaultKind::kHttpError /*429*/,
                            FaultKind::kHttpError /*500*/,
                            FaultKind::kHttpError /*502*/,
                            FaultKind::kHttpError /*503*/,
                            FaultKind::kReset,
                            FaultKind::kStall,
                            FaultKind::kMalformedJson,
                            FaultKind::kTruncatedJson,
                            FaultKind::kHtmlError,
                            FaultKind::kOversized,
                            FaultKind::kResponseLost503};

struct Cell {
  Rpc rpc;
  FaultKind kind;
  int status;  // for kHttpError; for kStall, -1: past the caller's deadline
};

std::string CellName(const Cell& c) {
  std::string kind(sim::FaultKindName(c.kind));
  if (c.kind == FaultKind::kHttpError) kind = absl::StrCat("http", c.status);
  if (c.kind == FaultKind::kStall && c.status < 0) kind = "stall_past_deadline";
  return absl::StrCat(RpcName(c.rpc), "_", kind);
}

// What the README's fault table promises for one fault, once.
Code Expected(const Cell& c) {
  if (c.kind == FaultKind::kStall && c.status < 0) {
    return Code::DEADLINE_EXCEEDED;  // the caller's deadline wins
  }
  const bool decode_error =
      c.kind == FaultKind::kMalformedJson || c.kind == FaultKind::kOversized;
  switch (c.rpc) {
    case Rpc::kStart:
      // Retried only when certainly not processed (429, or a 503 with
      // Databricks' JSON error once the re-read shows no new update).
      // Otherwise the service looks for the update the request may have
      // created and adopts it (truncated answer, lost answer); with none it
      // answers UNAVAILABLE rather than risk a second update.
      if (c.kind == FaultKind::kLatency ||
          (c.kind == FaultKind::kHttpError &&
           (c.status == 429 || c.status == 503)) ||
          c.kind == FaultKind::kTruncatedJson ||
          c.kind == FaultKind::kResponseLost503) {
        return Code::OK;
      }
      return Code::UNAVAILABLE;
    case Rpc::kStop:
      // Stop ignores its (empty) body; after any other failure it re-checks
      // the active update and asks again.
      return c.kind == FaultKind::kOversized ? Code::INTERNAL : Code::OK;
    default:
      // Reads retry 429, 5xx and lost connections; a 2xx body that does not
      // decode (or is too large) is INTERNAL and not retried.
      return decode_error ? Code::INTERNAL : Code::OK;
  }
}

double RetriesSoFar() {
  double total = 0;
  metrics::Registry::Default()
      .Counter("polysync_upstream_retries_total", "", {"endpoint"})
      .ForEach(
          [&](const std::vector<std::string>&,
              const metrics::CounterCell& cell) { total += cell.Value(); });
  return total;
}

class FaultMatrixTest : public ::testing::TestWithParam<Cell> {
 protected:
  void SetUp() override {
    polysync::testing::HarnessOptions options;
    options.configure_backend = [](server::BackendOptions& o) {
      o.client.backoff.max_attempts = kMaxAttempts;
    };
    h_ = std::make_unique<polysync::testing::Harness>(std::move(options));
    sim_ = &h_->sim();
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
    pipeline_id_ = *sim_->CreatePipeline({{"name", "orders"}});
  }

  void TearDown() override {
    stub_.reset();
    h_.reset();
  }

  void Inject(const Cell& c) {
    sim::FaultRule rule;
    rule.endpoint = EndpointFor(c.rpc);
    rule.kind = c.kind;
    rule.count = 1;
    rule.status = c.kind == FaultKind::kHtmlError ? 502 : c.status;
    rule.retry_after_seconds = c.status == 429 ? 1 : -1;
    // A stall that drops the connection after 300 ms (then retried), or
    // one that outlasts the caller's deadline.
    rule.stall = c.status < 0 ? absl::Seconds(5) : absl::Milliseconds(300);
    if (c.status < 0) rule.count = -1;
    rule.latency = absl::Milliseconds(100);
    rule.oversized_bytes = 40u << 20;
    sim_->InjectFault(rule);
  }

  std::string StartRun() {
    grpc::ClientContext context;
    v1::StartUpdateRequest request;
    request.set_pipeline_id(pipeline_id_);
    v1::StartUpdateResponse response;
    grpc::Status s = stub_->StartUpdate(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.run_id();
  }

  grpc::Status Call(
      Rpc rpc, const std::string& run_id,
      std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    switch (rpc) {
      case Rpc::kImport: {
        auto reader = stub_->ImportPipelines(&context, {});
        v1::ImportPipelinesResponse batch;
        while (reader->Read(&batch)) {
        }
        return reader->Finish();
      }
      case Rpc::kSync: {
        v1::SyncParametersRequest r;
        r.set_pipeline_id(pipeline_id_);
        v1::SyncParametersResponse out;
        return stub_->SyncParameters(&context, r, &out);
      }
      case Rpc::kStart: {
        v1::StartUpdateRequest r;
        r.set_pipeline_id(pipeline_id_);
        v1::StartUpdateResponse out;
        return stub_->StartUpdate(&context, r, &out);
      }
      case Rpc::kStatus: {
        v1::GetUpdateStatusRequest r;
        r.set_run_id(run_id);
        v1::UpdateStatus out;
        return stub_->GetUpdateStatus(&context, r, &out);
      }
      case Rpc::kStop: {
        v1::StopUpdateRequest r;
        r.set_run_id(run_id);
        v1::StopUpdateResponse out;
        return stub_->StopUpdate(&context, r, &out);
      }
      case Rpc::kWatch: {
        v1::WatchUpdateRequest r;
        r.set_run_id(run_id);
        auto reader = stub_->WatchUpdate(&context, r);
        std::atomic<bool> ticking{true};
        std::thread ticker([&] {
          while (ticking) {
            sim_->AdvanceClock(absl::Seconds(1)).IgnoreError();
            absl::SleepFor(absl::Milliseconds(5));
          }
        });
        v1::UpdateStatus s;
        while (reader->Read(&s)) {
        }
        ticking = false;
        ticker.join();
        return reader->Finish();
      }
    }
    return grpc::Status::OK;
  }

  static constexpr int kMaxAttempts = 4;
  std::unique_ptr<polysync::testing::Harness> h_;
  sim::Simulator* sim_ = nullptr;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
  std::string pipeline_id_;
};

TEST_P(FaultMatrixTest, AnswersAsPromisedWithinBudgetAndKeepsServing) {
  const Cell cell = GetParam();
  std::string run_id;
  if (cell.rpc != Rpc::kStart && cell.rpc != Rpc::kImport &&
      cell.rpc != Rpc::kSync) {
    run_id = StartRun();
  }
  const double retries_before = RetriesSoFar();
  const int64_t starts_before = sim_->UpdatesCreated(pipeline_id_);
  const int64_t hits_before = sim_->RequestCount(EndpointFor(cell.rpc));
  Inject(cell);
  const bool past_deadline = cell.kind == FaultKind::kStall && cell.status < 0;
  grpc::Status status =
      past_deadline ? Call(cell.rpc, run_id, std::chrono::milliseconds(1000))
                    : Call(cell.rpc, run_id);
  EXPECT_EQ(status.error_code(), Expected(cell))
      << CellName(cell) << ": " << status.error_message();
  // The fault was on the path: the endpoint was called.
  EXPECT_GT(sim_->RequestCount(EndpointFor(cell.rpc)), hits_before)
      << CellName(cell);
  // Each upstream call retries at most kMaxAttempts - 1 times; one RPC makes
  // a handful of them.
  EXPECT_LE(RetriesSoFar() - retries_before, 6 * (kMaxAttempts - 1));
  if (cell.rpc == Rpc::kStart) {
    // Never two updates from one StartUpdate.
    EXPECT_LE(sim_->UpdatesCreated(pipeline_id_) - starts_before, 1);
  }
  // The server answers the next call.
  sim_->ClearFaults();
  grpc::ClientContext context;
  v1::ListWorkspacesResponse workspaces;
  EXPECT_TRUE(stub_->ListWorkspaces(&context, {}, &workspaces).ok());
  grpc::Status sync = Call(Rpc::kSync, "");
  EXPECT_TRUE(sync.ok()) << sync.error_message();
}

std::vector<Cell> AllCells() {
  std::vector<Cell> cells;
  const int statuses[] = {0, 429, 500, 502, 503, 0, 0, 0, 0, 0, 0, 0};
  for (Rpc rpc : {Rpc::kImport, Rpc::kSync, Rpc::kStart, Rpc::kStatus,
                  Rpc::kStop, Rpc::kWatch}) {
    for (size_t i = 0; i < std::size(kKinds); ++i) {
      if (kKinds[i] == FaultKind::kResponseLost503 && rpc != Rpc::kStart) {
        continue;  // "processed but the answer lost" is a start-update fault
      }
      cells.push_back({rpc, kKinds[i], statuses[i]});
    }
    cells.push_back({rpc, FaultKind::kStall, -1});
  }
  return cells;
}

INSTANTIATE_TEST_SUITE_P(Matrix, FaultMatrixTest,
                         ::testing::ValuesIn(AllCells()),
                         [](const ::testing::TestParamInfo<Cell>& info) {
                           return CellName(info.param);
                         });

}  // namespace
}  // namespace polysync
