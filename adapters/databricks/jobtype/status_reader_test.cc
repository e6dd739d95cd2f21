// The status reader against the simulated workspace, called directly: how
// each state an update goes through reads, DLT's retries followed (through
// latest_updates and through list updates), a retry too late to follow,
// the retired API's requests endpoint, and the cache and the shared
// computation counted in upstream requests.
#include "adapters/databricks/jobtype/status_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <string>

#include "adapters/databricks/jobtype/engine_testing.h"

namespace polysync::databricks::jobtype {
namespace {

using testing::EngineSetup;
using ::testing::HasSubstr;

class StatusReaderTest : public testing::EngineTest {
 protected:
  // Every DLT state the run showed, read fresh after each second, with the
  // status it read as, until it is terminal.
  std::map<std::string, v1::RunStatus> Seen(const RunId& run) {
    std::map<std::string, v1::RunStatus> seen;
    for (int i = 0; i < 120; ++i) {
      auto s = ReadFresh(run);
      EXPECT_TRUE(s.ok()) << s.status();
      if (!s.ok()) break;
      seen[s->dlt_state()] = s->status();
      if (s->terminal()) break;
      Advance(absl::Seconds(1));
    }
    return seen;
  }
};

TEST_F(StatusReaderTest, EachStateOfASucceedingUpdateReadsAsTheTableSays) {
  Begin();
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  auto seen = Seen(run);
  const std::map<std::string, v1::RunStatus> want = {
      {"QUEUED", v1::RUN_STATUS_UNKNOWN},
      {"CREATED", v1::RUN_STATUS_UNKNOWN},
      {"WAITING_FOR_RESOURCES", v1::RUN_STATUS_UNKNOWN},
      {"INITIALIZING", v1::RUN_STATUS_UNKNOWN},
      {"SETTING_UP_TABLES", v1::RUN_STATUS_UNKNOWN},
      {"RUNNING", v1::RUN_STATUS_RUNNING},
      {"COMPLETED", v1::RUN_STATUS_SUCCESS},
  };
  EXPECT_EQ(seen, want);
  auto last = ReadFresh(run);
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->terminal());
  EXPECT_EQ(last->update_id(), run.update_id);
  EXPECT_TRUE(last->has_end_time());
}

TEST_F(StatusReaderTest, AStoppedUpdateReadsRunningWhileStoppingThenCancelled) {
  Begin();
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  ASSERT_TRUE(testing::Await<api::Empty>([&](auto done) {
                ws().client().StopPipeline(run.pipeline_id, {}, done);
              }).ok());
  auto seen = Seen(run);
  EXPECT_EQ(seen["STOPPING"], v1::RUN_STATUS_RUNNING);
  EXPECT_EQ(seen["CANCELED"], v1::RUN_STATUS_CANCELLED);
}

TEST_F(StatusReaderTest, AFailureInDevelopmentModeIsFinalWithItsMessages) {
  Begin();
  RunId run = StartDirect(
      CreatePipeline(sim::Behavior::kFailOnceThenRetry, /*development=*/true));
  auto s =
      ReadUntil(run, [](const v1::UpdateStatus& s) { return s.terminal(); });
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->dlt_state(), "FAILED");
  EXPECT_EQ(s->status(), v1::RUN_STATUS_FAILED);
  EXPECT_FALSE(s->retry().retrying());
  EXPECT_FALSE(s->failure_messages().empty());
}

EngineSetup RetryAfter(absl::Duration delay, int latest_updates = 5) {
  EngineSetup setup;
  setup.simulator = [delay, latest_updates](sim::SimulatorOptions& o) {
    o.workspace.retry_delay = delay;
    o.workspace.latest_updates_limit = latest_updates;
  };
  return setup;
}

TEST_F(StatusReaderTest, DltsRetryIsFollowedToTheNewUpdatesSuccess) {
  Begin(RetryAfter(absl::Minutes(2)));
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kFailOnceThenRetry));
  auto pending = ReadUntil(
      run, [](const v1::UpdateStatus& s) { return s.retry().attempts() > 0; });
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(pending->retry().retrying());
  EXPECT_EQ(pending->status(), v1::RUN_STATUS_RUNNING);
  EXPECT_FALSE(pending->terminal());
  EXPECT_TRUE(pending->retry().retry_update_id().empty());

  auto end =
      ReadUntil(run, [](const v1::UpdateStatus& s) { return s.terminal(); });
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(end->retry().attempts(), 2);
  EXPECT_FALSE(end->retry().retry_update_id().empty());
  EXPECT_NE(end->retry().retry_update_id(), run.update_id);
  EXPECT_EQ(end->run_id(), FormatRunId(run.pipeline_id, run.update_id));
}

TEST_F(StatusReaderTest, ARetryOlderThanLatestUpdatesIsFoundByListUpdates) {
  // latest_updates names only the newest update: once DLT has retried, the
  // failed update is not in it and the retry is found with until_update_id.
  Begin(RetryAfter(absl::Minutes(2), /*latest_updates=*/1));
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kFailOnceThenRetry));
  auto end =
      ReadUntil(run, [](const v1::UpdateStatus& s) { return s.terminal(); });
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(end->retry().attempts(), 2);
  EXPECT_GT(Requests("updates.list"), 0);
}

TEST_F(StatusReaderTest, OnTheRetiredApiTheRetryIsFollowedThroughItsRequest) {
  EngineSetup setup;
  setup.simulator = [](sim::SimulatorOptions& o) {
    o.workspace.retry_delay = absl::Minutes(2);
    o.workspace.legacy_request_api = true;
  };
  Begin(setup);
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kFailOnceThenRetry));
  auto pending = ReadUntil(
      run, [](const v1::UpdateStatus& s) { return s.retry().attempts() > 0; });
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(pending->retry().retrying());
  EXPECT_EQ(pending->retry().request_status(), "ACTIVE");
  auto end =
      ReadUntil(run, [](const v1::UpdateStatus& s) { return s.terminal(); });
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(end->retry().request_status(), "TERMINATED");
  EXPECT_FALSE(end->request_id().empty());
  EXPECT_GT(Requests("requests.get"), 0);
  EXPECT_TRUE(ws().serves_requests_endpoint());
}

TEST_F(StatusReaderTest, ARetryAfterTheWindowIsNotFollowed) {
  EngineSetup setup = RetryAfter(absl::Minutes(20));
  setup.status = [](StatusOptions& o) { o.retry_window = absl::Minutes(15); };
  Begin(setup);
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kFailOnceThenRetry));
  auto pending = ReadUntil(
      run, [](const v1::UpdateStatus& s) { return s.retry().attempts() > 0; });
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(pending->retry().retrying());

  Advance(absl::Minutes(16));  // the window has passed, no retry yet
  auto failed = ReadFresh(run);
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->status(), v1::RUN_STATUS_FAILED);
  EXPECT_TRUE(failed->terminal());

  Advance(absl::Minutes(5));  // DLT's retry now exists and runs
  auto late = ReadFresh(run);
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(late->status(), v1::RUN_STATUS_FAILED);
  EXPECT_TRUE(late->terminal());
  EXPECT_EQ(late->dlt_state(), "FAILED");
  EXPECT_THAT(late->hint(), HasSubstr("is not followed"));
}

TEST_F(StatusReaderTest, AnUnreadablePipelineIsUnavailableNotFailed) {
  Begin(RetryAfter(absl::Minutes(2)));
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kFailOnceThenRetry));
  ASSERT_TRUE(ReadUntil(run, [](const v1::UpdateStatus& s) {
                return s.retry().attempts() > 0;
              }).ok());
  sim::FaultRule rule;
  rule.endpoint = "pipelines.get";
  rule.kind = sim::FaultKind::kHttpError;
  rule.status = 503;
  rule.count = -1;
  simulator().InjectFault(rule);
  auto s = ReadFresh(run);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
}

TEST_F(StatusReaderTest, TwoConcurrentReadsShareOneUpstreamGet) {
  Begin();
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  // The GET is slow, so the second read certainly finds the first in flight.
  sim::FaultRule slow;
  slow.endpoint = "updates.get";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(500);
  slow.count = -1;
  simulator().InjectFault(slow);
  simulator().ResetRequestCounts();
  std::promise<absl::StatusOr<v1::UpdateStatus>> a, b;
  auto fa = a.get_future(), fb = b.get_future();
  reader().Read(ws(), run, {}, [&a](auto s) { a.set_value(std::move(s)); });
  reader().Read(ws(), run, {}, [&b](auto s) { b.set_value(std::move(s)); });
  ASSERT_TRUE(testing::Ready(fa));
  ASSERT_TRUE(testing::Ready(fb));
  auto sa = fa.get(), sb = fb.get();
  ASSERT_TRUE(sa.ok()) << sa.status();
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sa->dlt_state(), sb->dlt_state());
  EXPECT_EQ(Requests("updates.get"), 1);
}

TEST_F(StatusReaderTest, CachedStatusIsReusedUntilItsTtlThenReadAgain) {
  EngineSetup setup;
  setup.status = [](StatusOptions& o) { o.cache_ttl = absl::Seconds(30); };
  Begin(setup);
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  simulator().ResetRequestCounts();
  auto first = Read(run);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->dlt_state(), "QUEUED");
  Advance(absl::Seconds(10));  // the update moved on; the cache has not
  auto second = Read(run);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->dlt_state(), "QUEUED");
  EXPECT_EQ(Requests("updates.get"), 1);
  EXPECT_EQ(reader().cached_entries(), 1u);

  auto fresh = ReadFresh(run);  // ReadFresh never answers from the cache
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->dlt_state(), "QUEUED");
  EXPECT_EQ(Requests("updates.get"), 2);

  Advance(absl::Seconds(31));  // past the TTL
  auto later = Read(run);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(Requests("updates.get"), 3);
}

TEST_F(StatusReaderTest, ACallersDeadlineIsAnsweredWhileTheReadGoesOn) {
  Begin();
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  sim::FaultRule slow;
  slow.endpoint = "updates.get";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Seconds(1);
  slow.count = 1;
  simulator().InjectFault(slow);
  api::CallContext hurried;
  hurried.deadline = absl::Now() + absl::Milliseconds(100);
  std::promise<absl::StatusOr<v1::UpdateStatus>> a, b;
  auto fa = a.get_future(), fb = b.get_future();
  reader().Read(ws(), run, hurried,
                [&a](auto s) { a.set_value(std::move(s)); });
  reader().Read(ws(), run, {}, [&b](auto s) { b.set_value(std::move(s)); });
  ASSERT_TRUE(testing::Ready(fa));
  EXPECT_EQ(fa.get().status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(testing::Ready(fb));
  EXPECT_TRUE(fb.get().ok());
}

}  // namespace
}  // namespace polysync::databricks::jobtype
