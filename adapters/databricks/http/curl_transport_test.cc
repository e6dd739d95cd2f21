// The libcurl transport against the simulated workspace over real sockets:
// success, keep-alive reuse, many requests at once, and every transport
// fault the simulator makes on the wire.
#include "adapters/databricks/http/curl_transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "adapters/databricks/simulator/simulator.h"

namespace polysync::databricks::http {
namespace {

using sim::FaultKind;
using sim::FaultRule;
using ::testing::HasSubstr;

std::string Runfile(const std::string& path) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"), "/", path);
}

class CurlTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimulatorOptions options;
    options.clock = std::make_shared<sim::ManualClock>();
    auto simulator = sim::Simulator::Start(options);
    ASSERT_TRUE(simulator.ok()) << simulator.status();
    sim_ = *std::move(simulator);
    transport_ = MakeCurlTransport(TransportOptions());
  }

  virtual CurlTransportOptions TransportOptions() {
    CurlTransportOptions o;
    o.max_response_bytes = 1 << 20;
    return o;
  }

  Request Get(const std::string& path) {
    Request r;
    r.url = sim_->base_url() + path;
    r.headers = {{"Authorization", "Bearer " + sim_->access_token()}};
    r.deadline = absl::Now() + absl::Seconds(10);
    return r;
  }

  void Fault(const std::string& endpoint, FaultKind kind, int count = 1) {
    FaultRule rule;
    rule.endpoint = endpoint;
    rule.kind = kind;
    rule.count = count;
    sim_->InjectFault(rule);
  }

  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<Transport> transport_;
};

TEST_F(CurlTransportTest, GetReturnsTheResponseAsData) {
  TransportResult r = SendAndWait(*transport_, Get("/api/2.0/pipelines"));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.response.status, 200);
  EXPECT_THAT(r.response.body, HasSubstr("\"statuses\""));
  EXPECT_THAT(std::string(r.response.Header("content-type")),
              HasSubstr("application/json"));
}

TEST_F(CurlTransportTest, HttpErrorsAreResponsesNotFailures) {
  TransportResult r = SendAndWait(
      *transport_,
      Get("/api/2.0/pipelines/00000000-0000-0000-0000-000000000000"));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.response.status, 404);
  EXPECT_THAT(r.response.body, HasSubstr("RESOURCE_DOES_NOT_EXIST"));
}

TEST_F(CurlTransportTest, PostSendsTheBody) {
  Request r = Get("/api/2.0/pipelines");
  r.method = "POST";
  r.body = R"({"name": "created by the transport test"})";
  r.headers.emplace_back("Content-Type", "application/json");
  TransportResult result = SendAndWait(*transport_, r);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.response.status, 200) << result.response.body;
  EXPECT_THAT(result.response.body, HasSubstr("pipeline_id"));
}

TEST_F(CurlTransportTest, ManyRequestsInFlightAtOnce) {
  FaultRule latency;
  latency.endpoint = "pipelines.list";
  latency.kind = FaultKind::kLatency;
  latency.latency = absl::Milliseconds(20);
  latency.count = -1;
  sim_->InjectFault(latency);
  constexpr int kRequests = 200;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    transport_->Send(Get("/api/2.0/pipelines?max_results=1"),
                     [&](TransportResult r) {
                       std::lock_guard<std::mutex> lock(mu);
                       ++done;
                       if (r.status.ok() && r.response.status == 200) ++ok;
                       cv.notify_all();
                     });
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30),
                          [&] { return done == kRequests; }));
  EXPECT_EQ(ok, kRequests);
  EXPECT_EQ(sim_->RequestCount("pipelines.list"), kRequests);
}

TEST_F(CurlTransportTest, ConnectionRefusedIsNotSent) {
  Request r;
  r.url = "http://127.0.0.1:1/api/2.0/pipelines";
  TransportResult result = SendAndWait(*transport_, r);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(result.failure, TransportFailure::kNotSent);
  EXPECT_TRUE(CertainlyNotSent(result.failure));
}

TEST_F(CurlTransportTest, PlainHttpToARemoteHostIsRefusedWithoutSending) {
  Request r;
  r.url = "http://adb-1234.5.azuredatabricks.net/api/2.0/pipelines";
  TransportResult result = SendAndWait(*transport_, r);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(result.failure, TransportFailure::kNotSent);
}

TEST_F(CurlTransportTest, PastDeadlineIsNotSent) {
  Request r = Get("/api/2.0/pipelines");
  r.deadline = absl::Now() - absl::Seconds(1);
  TransportResult result = SendAndWait(*transport_, r);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(result.failure, TransportFailure::kNotSent);
  EXPECT_EQ(sim_->RequestCount("pipelines.list"), 0);
}

TEST_F(CurlTransportTest, ResetIsConnectionLost) {
  Fault("pipelines.list", FaultKind::kReset);
  TransportResult r = SendAndWait(*transport_, Get("/api/2.0/pipelines"));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.failure, TransportFailure::kConnectionLost);
  // The next request works on a new connection.
  EXPECT_TRUE(SendAndWait(*transport_, Get("/api/2.0/pipelines")).status.ok());
}

TEST_F(CurlTransportTest, StallPastTheDeadlineTimesOut) {
  Fault("pipelines.list", FaultKind::kStall);
  Request r = Get("/api/2.0/pipelines");
  r.deadline = absl::Now() + absl::Milliseconds(300);
  TransportResult result = SendAndWait(*transport_, r);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(result.failure, TransportFailure::kTimeout);
  EXPECT_LT(result.elapsed, absl::Seconds(5));
}

TEST_F(CurlTransportTest, TruncatedBodyIsConnectionLost) {
  Fault("pipelines.list", FaultKind::kTruncatedJson);
  TransportResult r = SendAndWait(*transport_, Get("/api/2.0/pipelines"));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.failure, TransportFailure::kConnectionLost);
}

TEST_F(CurlTransportTest, OversizedBodyIsRefusedNotBuffered) {
  FaultRule rule;
  rule.endpoint = "pipelines.list";
  rule.kind = FaultKind::kOversized;
  rule.oversized_bytes = 8 << 20;  // the cap here is 1 MiB
  sim_->InjectFault(rule);
  TransportResult r = SendAndWait(*transport_, Get("/api/2.0/pipelines"));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(r.failure, TransportFailure::kResponseTooLarge);
  EXPECT_THAT(r.status.message(), HasSubstr("limit"));
}

TEST_F(CurlTransportTest, HtmlErrorPageIsAResponse) {
  FaultRule rule;
  rule.endpoint = "pipelines.list";
  rule.kind = FaultKind::kHtmlError;
  rule.status = 502;
  sim_->InjectFault(rule);
  TransportResult r = SendAndWait(*transport_, Get("/api/2.0/pipelines"));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.response.status, 502);
  EXPECT_THAT(r.response.body, HasSubstr("<html"));
}

TEST_F(CurlTransportTest, TimersRunInOrderOnTheTransportThread) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> order;
  transport_->RunAfter(absl::Milliseconds(30), [&] {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(2);
    cv.notify_all();
  });
  transport_->RunAfter(absl::ZeroDuration(), [&] {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(1);
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5),
                          [&] { return order.size() == 2; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST_F(CurlTransportTest, ShutdownAnswersEveryPendingCallback) {
  Fault("pipelines.list", FaultKind::kStall);
  std::atomic<int> answered{0};
  transport_->Send(Get("/api/2.0/pipelines"),
                   [&](TransportResult) { answered++; });
  transport_->RunAfter(absl::Hours(1), [&] { answered++; });
  absl::SleepFor(absl::Milliseconds(50));
  transport_.reset();
  EXPECT_EQ(answered.load(), 2);
}

TEST_F(CurlTransportTest, CancelAllEndsAStalledRequestAndRefusesLaterOnes) {
  Fault("pipelines.list", FaultKind::kStall);  // 30 s
  std::promise<TransportResult> stalled;
  Request r = Get("/api/2.0/pipelines");
  r.deadline = absl::Now() + absl::Seconds(60);
  transport_->Send(
      r, [&](TransportResult result) { stalled.set_value(std::move(result)); });
  auto future = stalled.get_future();
  // Cancel once the request is on the wire (the simulator holds it).
  for (int i = 0; i < 500 && sim_->RequestCount("pipelines.list") == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(sim_->RequestCount("pipelines.list"), 1);
  const absl::Time cancelled_at = absl::Now();
  transport_->CancelAll("test is over");
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)),
            std::future_status::ready);
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(1));
  TransportResult result = future.get();
  EXPECT_EQ(result.status.code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(result.status.message()), HasSubstr("test is over"));
  EXPECT_EQ(result.failure, TransportFailure::kConnectionLost);

  TransportResult later = SendAndWait(*transport_, Get("/api/2.0/pipelines"));
  EXPECT_EQ(later.status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(later.failure, TransportFailure::kNotSent);
  EXPECT_EQ(sim_->RequestCount("pipelines.list"), 1) << "sent after CancelAll";
}

class CurlTransportTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimulatorOptions options;
    options.clock = std::make_shared<sim::ManualClock>();
    options.tls_cert_file = Runfile("tests/testdata/server.pem");
    options.tls_key_file = Runfile("tests/testdata/server.key");
    auto simulator = sim::Simulator::Start(options);
    ASSERT_TRUE(simulator.ok()) << simulator.status();
    sim_ = *std::move(simulator);
  }

  TransportResult GetWith(const std::string& ca_file) {
    CurlTransportOptions o;
    o.ca_bundle_file = ca_file;
    auto transport = MakeCurlTransport(o);
    Request r;
    r.url = sim_->base_url() + "/api/2.0/pipelines";
    r.headers = {{"Authorization", "Bearer " + sim_->access_token()}};
    return SendAndWait(*transport, r);
  }

  std::unique_ptr<sim::Simulator> sim_;
};

TEST_F(CurlTransportTlsTest, TrustedCaBundleVerifies) {
  ASSERT_THAT(sim_->base_url(), ::testing::StartsWith("https://"));
  TransportResult r = GetWith(Runfile("tests/testdata/ca.pem"));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.response.status, 200);
}

TEST_F(CurlTransportTlsTest, WrongCaIsRefused) {
  TransportResult r = GetWith(Runfile("tests/testdata/other_ca.pem"));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.failure, TransportFailure::kTls);
  EXPECT_EQ(sim_->RequestCount("pipelines.list"), 0);
}

TEST_F(CurlTransportTlsTest, SystemCasDoNotTrustTheTestCa) {
  TransportResult r = GetWith("");
  EXPECT_EQ(r.failure, TransportFailure::kTls);
}

}  // namespace
}  // namespace polysync::databricks::http
