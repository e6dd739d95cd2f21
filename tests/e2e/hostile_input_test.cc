// Hostile input: whatever a caller sends, the answer is a clear error with
// the right code, nothing reaches Databricks, and the server keeps serving.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/simulator/simulator.h"
#include "common/log.h"
#include "common/metrics.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "server/backend.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
using ::testing::HasSubstr;

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    polysync::testing::HarnessOptions options;
    options.configure_backend = [](server::BackendOptions& o) {
      o.job_type.watch.max_watchers = 3;
    };
    h_ = std::make_unique<polysync::testing::Harness>(std::move(options));
    sim_ = &h_->sim();
    channel_ =
        grpc::CreateChannel(h_->target(), grpc::InsecureChannelCredentials());
    stub_ = v1::DatabricksPipelines::NewStub(channel_);
    pipeline_id_ = *sim_->CreatePipeline(
        {{"name", "Ventes \"spéciales\" 'Q4' — Zürich 東京 ✓"}});
    baseline_ = Upstream();
  }

  int64_t Upstream() { return h_->UpstreamRequests(); }

  grpc::StatusCode StartCode(const v1::StartUpdateRequest& request) {
    grpc::ClientContext context;
    v1::StartUpdateResponse response;
    return stub_->StartUpdate(&context, request, &response).error_code();
  }
  grpc::StatusCode StatusCode(const std::string& run_id,
                              const std::string& workspace = "") {
    grpc::ClientContext context;
    v1::GetUpdateStatusRequest request;
    request.set_run_id(run_id);
    request.set_workspace(workspace);
    v1::UpdateStatus response;
    return stub_->GetUpdateStatus(&context, request, &response).error_code();
  }
  grpc::StatusCode SyncCode(const std::string& pipeline_id) {
    grpc::ClientContext context;
    v1::SyncParametersRequest request;
    request.set_pipeline_id(pipeline_id);
    v1::SyncParametersResponse response;
    return stub_->SyncParameters(&context, request, &response).error_code();
  }

  std::unique_ptr<polysync::testing::Harness> h_;
  sim::Simulator* sim_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
  std::string pipeline_id_;
  int64_t baseline_ = 0;
};

std::vector<std::string> HostileIds() {
  return {"../clusters",
          "..%2fclusters",
          "%2e%2e",
          "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5/../../clusters",
          "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5\r\nX-Injected: 1",
          std::string("a12cd3e4-0ab1-1abc-1a2b-\0a2bcd3e4fg5", 36),
          "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5?x=1",
          "a12cd3e4 0ab1 1abc 1a2b 1a2bcd3e4fg5",
          "ä12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg",
          "",
          std::string(1 << 20, 'a')};
}

TEST_F(HostileInputTest, HostileIdsAreInvalidArgumentAndNothingIsSent) {
  for (const std::string& bad : HostileIds()) {
    EXPECT_EQ(SyncCode(bad), grpc::StatusCode::INVALID_ARGUMENT);
    v1::StartUpdateRequest start;
    start.set_pipeline_id(bad);
    EXPECT_EQ(StartCode(start), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(StatusCode(absl::StrCat(bad, ":", pipeline_id_)),
              grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(StatusCode(absl::StrCat(pipeline_id_, ":", bad)),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(Upstream(), baseline_);
}

TEST_F(HostileInputTest, UnknownWorkspacesAreNotFoundAndSelectNoHost) {
  for (const std::string& ws : std::vector<std::string>{
           "nope", "http://evil.example", "https://adb-1.azuredatabricks.net",
           "../w", std::string(100000, 'w')}) {
    EXPECT_EQ(StatusCode(absl::StrCat(pipeline_id_, ":", pipeline_id_), ws),
              grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(Upstream(), baseline_);
}

TEST_F(HostileInputTest, EnormousParameterListsAndSelectionsAreRefused) {
  v1::StartUpdateRequest many;
  many.set_pipeline_id(pipeline_id_);
  for (int i = 0; i < 5000; ++i) {
    v1::Parameter* p = many.add_parameters();
    p->set_name(absl::StrCat("p", i));
    p->set_value("v");
  }
  EXPECT_EQ(StartCode(many), grpc::StatusCode::INVALID_ARGUMENT);
  v1::StartUpdateRequest tables;
  tables.set_pipeline_id(pipeline_id_);
  for (int i = 0; i < 5000; ++i) tables.add_refresh_selection("t");
  EXPECT_EQ(StartCode(tables), grpc::StatusCode::INVALID_ARGUMENT);
  v1::StartUpdateRequest huge_value;
  huge_value.set_pipeline_id(pipeline_id_);
  v1::Parameter* p = huge_value.add_parameters();
  p->set_name("custom.x");
  p->set_value(std::string(1 << 20, 'v'));
  EXPECT_EQ(StartCode(huge_value), grpc::StatusCode::INVALID_ARGUMENT);
  v1::StartUpdateRequest crlf_table;
  crlf_table.set_pipeline_id(pipeline_id_);
  crlf_table.add_refresh_selection("sales\r\nX: y");
  EXPECT_EQ(StartCode(crlf_table), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Upstream(), baseline_);
}

TEST_F(HostileInputTest, OversizedMessagesAreRefusedByTheServer) {
  v1::StartUpdateRequest request;
  request.set_pipeline_id(pipeline_id_);
  request.set_idempotency_key(std::string(20 << 20, 'k'));  // 20 MiB
  EXPECT_EQ(StartCode(request), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Upstream(), baseline_);
  EXPECT_EQ(SyncCode(pipeline_id_), grpc::StatusCode::OK);
}

TEST_F(HostileInputTest, PipelineNameWithQuotesAndUnicodeRoundTrips) {
  grpc::ClientContext context;
  v1::SyncParametersRequest request;
  request.set_pipeline_id(pipeline_id_);
  v1::SyncParametersResponse response;
  ASSERT_TRUE(stub_->SyncParameters(&context, request, &response).ok());
  EXPECT_EQ(response.job().name(), "Ventes \"spéciales\" 'Q4' — Zürich 東京 ✓");

  v1::ImportPipelinesRequest import;
  import.set_name_filter("'Q4' — Zürich");
  grpc::ClientContext import_context;
  auto reader = stub_->ImportPipelines(&import_context, import);
  v1::ImportPipelinesResponse batch;
  int found = 0;
  while (reader->Read(&batch)) {
    for (const auto& job : batch.jobs()) {
      EXPECT_EQ(job.name(), "Ventes \"spéciales\" 'Q4' — Zürich 東京 ✓");
      ++found;
    }
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(found, 1);
}

// Any method's request bytes sent as they are (a bidi-shaped generic call,
// which is the same on the wire for unary and streaming methods).
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& method, const std::string& raw) {
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  auto call = generic.PrepareCall(
      &context, "/polysync.databricks.v1.DatabricksPipelines/" + method, &cq);
  void* tag = nullptr;
  bool ok = false;
  auto wait = [&] { return cq.Next(&tag, &ok) && ok; };
  call->StartCall(reinterpret_cast<void*>(1));
  if (wait()) {
    grpc::Slice slice(raw);
    grpc::ByteBuffer request(&slice, 1);
    call->Write(request, reinterpret_cast<void*>(2));
    if (wait()) {
      call->WritesDone(reinterpret_cast<void*>(3));
      wait();
    }
    grpc::ByteBuffer response;
    do {
      call->Read(&response, reinterpret_cast<void*>(4));
    } while (wait());
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  wait();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// The process-wide count of `method` calls answered with `code`.
double Calls(const std::string& method, const std::string& code) {
  const std::string text = metrics::Registry::Default().RenderPrometheus();
  const std::string series =
      absl::StrCat("\npolysync_rpc_calls_total{method=\"", method, "\",code=\"",
                   code, "\"} ");
  auto at = text.find(series);
  return at == std::string::npos ? 0
                                 : std::stod(text.substr(at + series.size()));
}

TEST_F(HostileInputTest, InvalidUtf8AndUndecodableBytesAreInvalidArgument) {
  std::mutex mu;
  std::vector<std::string> lines;
  log::SetSinkForTesting([&](absl::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  });
  // Valid UTF-8 reaches the handler, which refuses the id: INVALID_ARGUMENT.
  EXPECT_EQ(RawCall(channel_, "StartUpdate",
                    std::string("\x12\x03"
                                "abc",
                                5))
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const std::string bad_workspace("\x0a\x04\xff\xfe\xfd\xfc", 6);  // field 1
  // StartUpdateRequest.parameters[0].name: invalid UTF-8 one level down.
  const std::string bad_parameter("\x1a\x04\x0a\x02\xc3\x28", 6);
  const std::string truncated(
      "\x12\x10"
      "abc",
      5);  // a length past the end
  struct Case {
    std::string method;
    std::string bytes;
    std::string says;
  };
  std::vector<Case> cases;
  for (const char* method : {"ImportPipelines", "SyncParameters", "StartUpdate",
                             "GetUpdateStatus", "StopUpdate", "WatchUpdate"}) {
    cases.push_back({method, bad_workspace, ".workspace' is not valid UTF-8"});
    cases.push_back({method, truncated, "do not decode"});
  }
  cases.push_back(
      {"StartUpdate", bad_parameter, "Parameter.name' is not valid"});
  cases.push_back({"ListWorkspaces", truncated, "do not decode"});
  for (const Case& c : cases) {
    const double before = Calls(c.method, "INVALID_ARGUMENT");
    grpc::Status status = RawCall(channel_, c.method, c.bytes);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.method << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.says)) << c.method;
    EXPECT_EQ(Calls(c.method, "INVALID_ARGUMENT") - before, 1) << c.method;
  }
  log::SetSinkForTesting(nullptr);
  // Each refusal is a JSON log line naming the method and the code.
  int refused = 0;
  for (const auto& line : lines) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":")) << line;
    if (absl::StrContains(line, "\"msg\":\"rpc refused\"") &&
        absl::StrContains(line, "\"code\":\"INVALID_ARGUMENT\"")) {
      ++refused;
    }
  }
  EXPECT_EQ(refused, static_cast<int>(cases.size()));
  EXPECT_EQ(Upstream(), baseline_);
  // The next call is answered.
  EXPECT_EQ(SyncCode(pipeline_id_), grpc::StatusCode::OK);
}

TEST_F(HostileInputTest, TooManyWatchesIsResourceExhaustedNeverAStall) {
  v1::StartUpdateRequest start;
  start.set_pipeline_id(pipeline_id_);
  v1::StartUpdateResponse started;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->StartUpdate(&context, start, &started).ok());
  }
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::UpdateStatus>>> readers;
  for (int i = 0; i < 3; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    v1::WatchUpdateRequest watch;
    watch.set_run_id(started.run_id());
    readers.push_back(stub_->WatchUpdate(contexts.back().get(), watch));
    v1::UpdateStatus s;
    ASSERT_TRUE(readers.back()->Read(&s));
  }
  grpc::ClientContext extra;
  v1::WatchUpdateRequest watch;
  watch.set_run_id(started.run_id());
  auto refused = stub_->WatchUpdate(&extra, watch);
  v1::UpdateStatus s;
  EXPECT_FALSE(refused->Read(&s));
  grpc::Status status = refused->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("open watches"));
  // Unary calls are not held up by the open watches.
  grpc::ClientContext unary;
  unary.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(5));
  v1::ListWorkspacesResponse workspaces;
  EXPECT_TRUE(stub_->ListWorkspaces(&unary, {}, &workspaces).ok());
  for (auto& c : contexts) c->TryCancel();
  for (auto& r : readers) r->Finish();
}

}  // namespace
}  // namespace polysync
