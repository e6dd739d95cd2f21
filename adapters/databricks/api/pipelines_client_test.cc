// The typed client against the simulated workspace: every endpoint, id
// validation before anything is sent, retries and their limits, and the
// start-update rules (never started twice).
#include "adapters/databricks/api/pipelines_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/databricks/api/events.h"
#include "adapters/databricks/auth/credentials.h"
#include "adapters/databricks/http/curl_transport.h"
#include "adapters/databricks/simulator/simulator.h"
#include "tests/testing/simulator_api.h"
#include "tests/testing/sync.h"

namespace polysync::databricks::api {
namespace {

using ::polysync::testing::Await;
using sim::FaultKind;
using sim::FaultRule;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PipelinesClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<sim::ManualClock>();
    sim::SimulatorOptions options;
    options.clock = clock_;
    options.seed_default_pipelines = false;
    polysync::testing::ApplySimulatorApi(options);
    Configure(options);
    auto simulator = sim::Simulator::Start(options);
    ASSERT_TRUE(simulator.ok()) << simulator.status();
    sim_ = *std::move(simulator);
    transport_ = http::MakeCurlTransport({});
    auth::Profile profile;
    profile.name = "sim";
    profile.host = sim_->base_url();
    profile.auth = auth::AuthKind::kPersonalAccessToken;
    profile.token = secrets::SecretSource::FromEnv(
        "T", secrets::StaticEnv({{"T", sim_->access_token()}}));
    ClientOptions client_options;
    client_options.backoff.initial_delay = absl::Milliseconds(1);
    client_options.backoff.max_delay = absl::Milliseconds(5);
    client_options.backoff.budget = absl::Seconds(5);
    client_options.backoff.max_attempts = 4;
    client_ = std::make_unique<PipelinesClient>(
        sim_->base_url(),
        std::shared_ptr<auth::Credentials>(
            auth::MakeCredentials(profile, *transport_)),
        *transport_, client_options);
    auto id = sim_->CreatePipeline(
        {{"name", "orders"}, {"configuration", {{"spark.x", "1"}}}});
    ASSERT_TRUE(id.ok());
    pipeline_id_ = *id;
  }

  // Changes the simulator's options before it starts.
  virtual void Configure(sim::SimulatorOptions& /*options*/) {}

  void TearDown() override {
    client_.reset();
    transport_.reset();
  }

  void Fault(const std::string& endpoint, FaultKind kind, int count = 1,
             int status = 503) {
    FaultRule rule;
    rule.endpoint = endpoint;
    rule.kind = kind;
    rule.count = count;
    rule.status = status;
    sim_->InjectFault(rule);
  }

  absl::StatusOr<StartUpdateOutcome> Start(StartUpdateRequest request = {}) {
    return Await<StartUpdateOutcome>([&](auto done) {
      client_->StartUpdate(pipeline_id_, request, {}, done);
    });
  }

  absl::StatusOr<Pipeline> GetPipeline(const std::string& id) {
    return Await<Pipeline>(
        [&](auto done) { client_->GetPipeline(id, {}, done); });
  }

  std::shared_ptr<sim::ManualClock> clock_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<http::Transport> transport_;
  std::unique_ptr<PipelinesClient> client_;
  std::string pipeline_id_;
};

TEST_F(PipelinesClientTest, ListsAllPagesOfPipelines) {
  sim_->GeneratePipelines(250);
  std::string token;
  int total = 0, pages = 0;
  do {
    ListPipelinesRequest request;
    request.max_results = 100;
    request.page_token = token;
    auto page = Await<ListPipelinesPage>(
        [&](auto done) { client_->ListPipelines(request, {}, done); });
    ASSERT_TRUE(page.ok()) << page.status();
    total += page->statuses.size();
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(total, 251);
  EXPECT_EQ(pages, 3);
}

TEST_F(PipelinesClientTest, GetsAPipelineWithItsSpec) {
  auto p = GetPipeline(pipeline_id_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->pipeline_id, pipeline_id_);
  EXPECT_EQ(p->name, "orders");
  ASSERT_TRUE(p->spec.has_value());
  ASSERT_EQ(p->spec->configuration.size(), 1u);
  EXPECT_EQ(p->spec->configuration[0].first, "spark.x");
}

TEST_F(PipelinesClientTest, UnknownPipelineIsNotFound) {
  auto p = GetPipeline("00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(p.status().message(), HasSubstr("RESOURCE_DOES_NOT_EXIST"));
}

TEST_F(PipelinesClientTest, MalformedIdsAreRefusedBeforeAnythingIsSent) {
  for (const std::string& bad : std::vector<std::string>{
           "../clusters", "%2e%2e", "a\r\nb", "", std::string(10000, 'a'),
           "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5/../x"}) {
    EXPECT_EQ(GetPipeline(bad).status().code(),
              absl::StatusCode::kInvalidArgument);
    auto update = Await<UpdateInfo>(
        [&](auto done) { client_->GetUpdate(pipeline_id_, bad, {}, done); });
    EXPECT_EQ(update.status().code(), absl::StatusCode::kInvalidArgument);
    auto request = Await<RequestStatus>([&](auto done) {
      client_->GetRequestStatus(pipeline_id_, bad, {}, done);
    });
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(sim_->RequestCount("pipelines.get"), 0);
  EXPECT_EQ(sim_->RequestCount("updates.get"), 0);
  EXPECT_EQ(sim_->RequestCount("requests.get"), 0);
}

TEST_F(PipelinesClientTest, StartsAnUpdateAndReadsItBack) {
  StartUpdateRequest request;
  request.full_refresh = true;
  auto started = Start(request);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_FALSE(started->adopted);
  // Request ids and the requests endpoint are the legacy API's only.
  const bool legacy = polysync::testing::LegacySimulatorApi();
  EXPECT_EQ(started->request_id.empty(), !legacy);
  auto update = Await<UpdateInfo>([&](auto done) {
    client_->GetUpdate(pipeline_id_, started->update_id, {}, done);
  });
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->update_id, started->update_id);
  EXPECT_EQ(update->full_refresh, true);
  EXPECT_EQ(update->request_id, started->request_id);

  if (legacy) {
    auto request_status = Await<RequestStatus>([&](auto done) {
      client_->GetRequestStatus(pipeline_id_, started->request_id, {}, done);
    });
    ASSERT_TRUE(request_status.ok()) << request_status.status();
    EXPECT_EQ(request_status->status, "ACTIVE");
  }

  auto updates = Await<ListUpdatesPage>(
      [&](auto done) { client_->ListUpdates(pipeline_id_, {}, {}, done); });
  ASSERT_TRUE(updates.ok()) << updates.status();
  ASSERT_EQ(updates->updates.size(), 1u);

  ASSERT_TRUE(sim_->AdvanceClock(absl::Minutes(5)).ok());
  auto events = Await<ListEventsPage>([&](auto done) {
    ListEventsRequest r;
    r.max_results = 100;
    client_->ListEvents(pipeline_id_, r, {}, done);
  });
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_FALSE(events->events.empty());
}

TEST_F(PipelinesClientTest, SecondStartWhileActiveIsFailedPrecondition) {
  ASSERT_TRUE(Start().ok());
  auto second = Start();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sim_->UpdatesCreated(pipeline_id_), 1);
}

TEST_F(PipelinesClientTest, StopStopsTheActiveUpdate) {
  auto started = Start();
  ASSERT_TRUE(started.ok());
  auto stopped = Await<Empty>(
      [&](auto done) { client_->StopPipeline(pipeline_id_, {}, done); });
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_TRUE(sim_->AdvanceClock(absl::Minutes(1)).ok());
  auto update = Await<UpdateInfo>([&](auto done) {
    client_->GetUpdate(pipeline_id_, started->update_id, {}, done);
  });
  ASSERT_TRUE(update.ok());
  EXPECT_EQ(update->state, "CANCELED");
}

TEST_F(PipelinesClientTest, GetsAreRetriedOnTransientFailures) {
  Fault("pipelines.get", FaultKind::kHttpError, 1, 503);
  Fault("pipelines.get", FaultKind::kReset, 1);
  Fault("pipelines.get", FaultKind::kTruncatedJson, 1);
  auto p = GetPipeline(pipeline_id_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(sim_->RequestCount("pipelines.get"), 4);
}

TEST_F(PipelinesClientTest, RetriesStopAtTheAttemptLimit) {
  Fault("pipelines.get", FaultKind::kHtmlError, -1, 502);
  auto p = GetPipeline(pipeline_id_);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(p.status().message(), HasSubstr("502"));
  EXPECT_EQ(sim_->RequestCount("pipelines.get"), 4);  // max_attempts
}

TEST_F(PipelinesClientTest, BrokenJsonInASuccessIsInternalAndNotRetried) {
  Fault("pipelines.get", FaultKind::kMalformedJson);
  auto p = GetPipeline(pipeline_id_);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(sim_->RequestCount("pipelines.get"), 1);
}

TEST_F(PipelinesClientTest, StartIsRetriedAfterA429) {
  FaultRule rule;
  rule.endpoint = "updates.start";
  rule.kind = FaultKind::kHttpError;
  rule.status = 429;
  rule.retry_after_seconds = 0;
  sim_->InjectFault(rule);
  auto started = Start();
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(sim_->RequestCount("updates.start"), 2);
  EXPECT_EQ(sim_->UpdatesCreated(pipeline_id_), 1);
}

TEST_F(PipelinesClientTest, StartIsNotRetriedAfterA500) {
  Fault("updates.start", FaultKind::kHttpError, 1, 500);
  auto started = Start();
  EXPECT_EQ(started.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(started.status().message(), HasSubstr("not retried"));
  EXPECT_EQ(sim_->RequestCount("updates.start"), 1);
  EXPECT_EQ(sim_->UpdatesCreated(pipeline_id_), 0);
}

TEST_F(PipelinesClientTest, LostStartResponseIsResolvedByAdoption) {
  for (FaultKind kind :
       {FaultKind::kResponseLost503, FaultKind::kResponseLostReset}) {
    Fault("updates.start", kind);
    auto started = Start();
    ASSERT_TRUE(started.ok()) << started.status();
    EXPECT_TRUE(started->adopted);
    // The adopted update's request id (the legacy API's only).
    EXPECT_EQ(started->request_id.empty(),
              !polysync::testing::LegacySimulatorApi());
    auto p = GetPipeline(pipeline_id_);
    ASSERT_TRUE(p.ok());
    ASSERT_FALSE(p->latest_updates.empty());
    EXPECT_EQ(p->latest_updates[0].update_id, started->update_id);
    // Let it finish so the next start is allowed.
    ASSERT_TRUE(sim_->AdvanceClock(absl::Minutes(5)).ok());
  }
  EXPECT_EQ(sim_->UpdatesCreated(pipeline_id_), 2);
  EXPECT_EQ(sim_->RequestCount("updates.start"), 2);
}

TEST_F(PipelinesClientTest, StopIsNotBlindlyRetried) {
  ASSERT_TRUE(Start().ok());
  Fault("pipelines.stop", FaultKind::kHttpError, 1, 503);
  auto stopped = Await<Empty>(
      [&](auto done) { client_->StopPipeline(pipeline_id_, {}, done); });
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(sim_->RequestCount("pipelines.stop"), 1);
}

TEST_F(PipelinesClientTest, WrongTokenIsUnauthenticated) {
  auth::Profile profile;
  profile.host = sim_->base_url();
  profile.token = secrets::SecretSource::FromEnv("T", [](absl::string_view) {
    return std::optional<std::string>("dapi-not-a-valid-token");
  });
  PipelinesClient client(sim_->base_url(),
                         std::shared_ptr<auth::Credentials>(
                             auth::MakeCredentials(profile, *transport_)),
                         *transport_, {});
  auto p = Await<Pipeline>(
      [&](auto done) { client.GetPipeline(pipeline_id_, {}, done); });
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(p.status().message(),
              ::testing::Not(HasSubstr("dapi-not-a-valid-token")));
}

TEST_F(PipelinesClientTest, DeadlineBoundsTheWholeCallIncludingRetries) {
  FaultRule stall;
  stall.endpoint = "pipelines.get";
  stall.kind = FaultKind::kStall;
  stall.count = -1;
  sim_->InjectFault(stall);
  CallContext ctx;
  ctx.deadline = absl::Now() + absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  auto p = Await<Pipeline>(
      [&](auto done) { client_->GetPipeline(pipeline_id_, ctx, done); });
  EXPECT_EQ(p.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(PipelinesClientTest, StartWhoseResponseTimedOutIsAdoptedNotRepeated) {
  FaultRule slow;
  slow.endpoint = "updates.start";
  slow.kind = FaultKind::kSlowBody;  // processed, then the answer drips
  slow.latency = absl::Seconds(2);
  slow.drip_bytes = 8;
  sim_->InjectFault(slow);
  CallContext ctx;
  ctx.deadline = absl::Now() + absl::Milliseconds(500);
  auto started = Await<StartUpdateOutcome>(
      [&](auto done) { client_->StartUpdate(pipeline_id_, {}, ctx, done); });
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_TRUE(started->adopted);
  EXPECT_EQ(sim_->UpdatesCreated(pipeline_id_), 1);
  EXPECT_EQ(sim_->RequestCount("updates.start"), 1);
}

TEST_F(PipelinesClientTest, GarbledSuccessfulStartIsAdopted) {
  Fault("updates.start", FaultKind::kTruncatedJson);
  auto started = Start();
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_TRUE(started->adopted);
  EXPECT_EQ(sim_->UpdatesCreated(pipeline_id_), 1);
}

TEST_F(PipelinesClientTest, StopIsNotRetriedEvenOnA429) {
  ASSERT_TRUE(Start().ok());
  FaultRule rule;
  rule.endpoint = "pipelines.stop";
  rule.kind = FaultKind::kHttpError;
  rule.status = 429;
  rule.retry_after_seconds = 0;
  sim_->InjectFault(rule);
  auto stopped = Await<Empty>(
      [&](auto done) { client_->StopPipeline(pipeline_id_, {}, done); });
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(sim_->RequestCount("pipelines.stop"), 1);
}

TEST_F(PipelinesClientTest, ErrorsNameThePipeline) {
  Fault("pipelines.get", FaultKind::kHtmlError, -1, 502);
  auto p = GetPipeline(pipeline_id_);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(p.status().message(), HasSubstr(pipeline_id_));
}

// One concurrency slot: a call that gives up waiting must not strand the
// calls queued behind it.
// --- ReadEvents -----------------------------------------------------------

class ReadEventsTest : public PipelinesClientTest {
 protected:
  absl::StatusOr<EventsRead> Read(EventQuery query,
                                  const std::string& pipeline_id = "") {
    return Await<EventsRead>([&](auto done) {
      client_->ReadEvents(pipeline_id.empty() ? pipeline_id_ : pipeline_id,
                          query, {}, done);
    });
  }

  // Starts an update of `pipeline_id` and lets it run to its end.
  std::string Finished(sim::Behavior behavior) {
    EXPECT_TRUE(sim_->SetBehavior(pipeline_id_, behavior).ok());
    auto started = Start();
    EXPECT_TRUE(started.ok()) << started.status();
    EXPECT_TRUE(sim_->AdvanceClock(absl::Minutes(1)).ok());
    return started.ok() ? started->update_id : "";
  }

  static std::vector<std::string> Ids(const std::vector<PipelineEvent>& e) {
    std::vector<std::string> ids;
    for (const auto& event : e) ids.push_back(event.id);
    return ids;
  }
};

TEST_F(ReadEventsTest, OneUpdateInEitherOrder) {
  const std::string update_id = Finished(sim::Behavior::kSucceed);
  Finished(sim::Behavior::kSucceed);  // another update's events
  EventQuery query;
  query.update_id = update_id;
  auto newest = Read(query);
  ASSERT_TRUE(newest.ok()) << newest.status();
  EXPECT_EQ(newest->end, EventsReadEnd::kLogEnded);
  EXPECT_EQ(newest->pages, 1);
  EXPECT_TRUE(newest->next_page_token.empty());
  EXPECT_EQ(newest->order, EventOrder::kNewestFirst);
  // create_update, 7 update_progress, 4 flow_progress: this update's only.
  ASSERT_EQ(newest->events.size(), 12u);
  for (const auto& e : newest->events) EXPECT_EQ(e.origin.update_id, update_id);
  EXPECT_EQ(newest->events.front().update_progress_state, "COMPLETED");
  EXPECT_EQ(newest->events.back().event_type, "create_update");
  for (size_t i = 1; i < newest->events.size(); ++i) {
    EXPECT_GT(*newest->events[i - 1].sequence, *newest->events[i].sequence);
  }

  query.order = EventOrder::kOldestFirst;
  auto oldest = Read(query);
  ASSERT_TRUE(oldest.ok()) << oldest.status();
  EXPECT_EQ(oldest->order, EventOrder::kOldestFirst);
  std::vector<std::string> reversed = Ids(newest->events);
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(Ids(oldest->events), reversed);
}

TEST_F(ReadEventsTest, LevelsFilterTheEvents) {
  const std::string update_id = Finished(sim::Behavior::kSucceed);
  EventQuery query;
  query.update_id = update_id;
  query.levels = {"WARN"};
  auto warn = Read(query);
  ASSERT_TRUE(warn.ok()) << warn.status();
  ASSERT_EQ(warn->events.size(), 1u);
  EXPECT_EQ(warn->events[0].level, "WARN");
  EXPECT_EQ(warn->events[0].origin.flow_name, "orders_cleaned");
  query.levels = {"INFO", "WARN"};
  auto both = Read(query);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->events.size(), 12u);
  query.levels = {"ERROR"};
  auto errors = Read(query);
  ASSERT_TRUE(errors.ok()) << errors.status();
  EXPECT_TRUE(errors->events.empty());
}

TEST_F(ReadEventsTest, FailureMessagesOldestFirstEachOnce) {
  const std::string update_id = Finished(sim::Behavior::kFail);
  EventQuery query;
  query.update_id = update_id;
  query.levels = {"ERROR"};
  auto read = Read(query);
  ASSERT_TRUE(read.ok()) << read.status();
  // The flow's and the update's ERROR event carry the same exception.
  ASSERT_EQ(read->events.size(), 2u);
  EXPECT_EQ(read->events[0].event_type, "update_progress");
  EXPECT_THAT(FailureMessages(read->events, update_id, read->order),
              ElementsAre(HasSubstr("Flow 'orders_cleaned' has FAILED fatally"),
                          HasSubstr("[TABLE_OR_VIEW_NOT_FOUND]"),
                          absl::StrCat("Update ", update_id.substr(0, 6),
                                       " is FAILED.")));
}

TEST_F(ReadEventsTest, FollowsPagesToTheEndOfTheLog) {
  const std::string update_id = Finished(sim::Behavior::kSucceed);
  EventQuery query;
  query.update_id = update_id;
  auto whole = Read(query);
  ASSERT_TRUE(whole.ok()) << whole.status();
  query.page_size = 5;
  sim_->ResetRequestCounts();
  auto paged = Read(query);
  ASSERT_TRUE(paged.ok()) << paged.status();
  EXPECT_EQ(paged->end, EventsReadEnd::kLogEnded);
  EXPECT_EQ(paged->pages, 3);  // 5 + 5 + 2
  EXPECT_EQ(sim_->RequestCount("events.list"), 3);
  EXPECT_EQ(Ids(paged->events), Ids(whole->events));
}

TEST_F(ReadEventsTest, PageTokenResumesWithoutFilterOrOrder) {
  const std::string update_id = Finished(sim::Behavior::kSucceed);
  EventQuery query;
  query.update_id = update_id;
  query.levels = {"INFO"};
  query.order = EventOrder::kOldestFirst;
  auto whole = Read(query);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(whole->events.size(), 11u);
  query.page_size = 4;
  query.max_pages = 1;
  auto first = Read(query);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->end, EventsReadEnd::kMaxPages);
  ASSERT_FALSE(first->next_page_token.empty());
  // The simulator, as the API, answers 400 to a page_token with a filter
  // or an order_by.
  query.page_token = first->next_page_token;
  query.max_pages = 10;
  auto rest = Read(query);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->end, EventsReadEnd::kLogEnded);
  std::vector<std::string> ids = Ids(first->events);
  for (const auto& id : Ids(rest->events)) ids.push_back(id);
  EXPECT_EQ(ids, Ids(whole->events));
}

TEST_F(ReadEventsTest, InvalidQueriesAreRefusedAndNothingIsSent) {
  const std::string update_id = Finished(sim::Behavior::kSucceed);
  sim_->ResetRequestCounts();
  auto refused = [&](EventQuery query, const std::string& pipeline_id = "") {
    auto read = Read(std::move(query), pipeline_id);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument)
        << read.status();
    return std::string(read.status().message());
  };
  EventQuery query;
  query.update_id = update_id;
  query.page_size = kMaxEventsPageSize + 1;
  EXPECT_THAT(refused(query), HasSubstr("page_size"));
  query.page_size = 0;
  EXPECT_THAT(refused(query), HasSubstr("page_size"));
  query.page_size = kMaxEventsPageSize;
  query.max_pages = 0;
  EXPECT_THAT(refused(query), HasSubstr("max_pages"));
  query.max_pages = kMaxEventPages + 1;
  EXPECT_THAT(refused(query), HasSubstr("max_pages"));
  query.max_pages = 1;
  for (const char* level : {"error", "FATAL", "", "ERROR' OR level='INFO"}) {
    EventQuery bad_level = query;
    bad_level.levels = {"ERROR", level};
    EXPECT_THAT(refused(bad_level), HasSubstr("levels[1]"));
  }
  for (const char* id : {"../x", "x' OR '1'='1", "a\r\nb"}) {
    EventQuery bad_update = query;
    bad_update.update_id = id;
    EXPECT_THAT(refused(bad_update), HasSubstr("update_id"));
    EXPECT_THAT(refused(query, id), HasSubstr("pipeline_id"));
  }
  EXPECT_EQ(sim_->RequestCount("*"), 0);
  // The largest page is accepted, by the API too.
  auto largest = Read(query);
  ASSERT_TRUE(largest.ok()) << largest.status();
  EXPECT_EQ(sim_->RequestCount("events.list"), 1);
}

// A busy pipeline: a newer continuous update's flows write 20 events a
// second, and each page examines at most 100 events of the log, as the API
// may ("fewer than max_results events in a response").
class BusyReadEventsTest : public ReadEventsTest {
 protected:
  void Configure(sim::SimulatorOptions& options) override {
    options.workspace.busy_events_per_second = 20;
    options.workspace.events_scan_limit = 100;
  }
};

TEST_F(BusyReadEventsTest, FindsAnEndTimeBehindPagesOfNoise) {
  auto id = sim_->CreatePipeline({{"name", "stream"}, {"continuous", true}},
                                 sim::Behavior::kFail);
  ASSERT_TRUE(id.ok());
  auto failed = Await<StartUpdateOutcome>(
      [&](auto done) { client_->StartUpdate(*id, {}, {}, done); });
  ASSERT_TRUE(failed.ok()) << failed.status();
  ASSERT_TRUE(sim_->AdvanceClock(absl::Minutes(1)).ok());  // FAILED
  ASSERT_TRUE(sim_->SetBehavior(*id, sim::Behavior::kSucceed).ok());
  auto running = Await<StartUpdateOutcome>(
      [&](auto done) { client_->StartUpdate(*id, {}, {}, done); });
  ASSERT_TRUE(running.ok()) << running.status();
  // 13 s to RUNNING, then 47 s of flow events: 940 newer events.
  ASSERT_TRUE(sim_->AdvanceClock(absl::Minutes(1)).ok());

  EventQuery query;
  query.update_id = failed->update_id;
  query.stop_when = IsTerminalUpdateProgress;
  query.keep = [](const PipelineEvent& e) {
    return e.event_type == "update_progress";
  };
  query.max_pages = 2;
  sim_->ResetRequestCounts();
  auto bounded = Read(query, *id);
  ASSERT_TRUE(bounded.ok()) << bounded.status();
  EXPECT_EQ(bounded->end, EventsReadEnd::kMaxPages);
  EXPECT_EQ(bounded->pages, 2);
  EXPECT_EQ(sim_->RequestCount("events.list"), 2);
  EXPECT_TRUE(bounded->events.empty());
  EXPECT_FALSE(bounded->next_page_token.empty());

  query.max_pages = 20;
  sim_->ResetRequestCounts();
  auto found = Read(query, *id);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->end, EventsReadEnd::kMatched);
  EXPECT_GE(found->pages, 10);
  EXPECT_EQ(sim_->RequestCount("events.list"), found->pages);
  ASSERT_FALSE(found->events.empty());
  EXPECT_EQ(found->events.front().update_progress_state, "FAILED");
  EXPECT_EQ(found->events.front().origin.update_id, failed->update_id);
  for (const auto& e : found->events) {
    EXPECT_EQ(e.event_type, "update_progress");
  }
  EXPECT_FALSE(found->next_page_token.empty());  // the log goes on

  // The same read resumed where the bounded one stopped.
  query.page_token = bounded->next_page_token;
  auto resumed = Read(query, *id);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->end, EventsReadEnd::kMatched);
  EXPECT_EQ(resumed->pages, found->pages - 2);
  EXPECT_EQ(Ids(resumed->events), Ids(found->events));

  // Its ERROR events are as far back: read to the end of the log, the
  // messages once each.
  EventQuery errors;
  errors.update_id = failed->update_id;
  errors.levels = {"ERROR"};
  errors.max_pages = 20;
  auto messages = Read(errors, *id);
  ASSERT_TRUE(messages.ok()) << messages.status();
  EXPECT_EQ(messages->end, EventsReadEnd::kLogEnded);
  EXPECT_GE(messages->pages, 10);
  EXPECT_EQ(messages->events.size(), 2u);
  EXPECT_EQ(
      FailureMessages(messages->events, failed->update_id, messages->order)
          .size(),
      3u);
}

TEST(PipelinesClientQueueTest, ExpiredWaiterDoesNotStrandTheQueue) {
  auto clock = std::make_shared<sim::ManualClock>();
  sim::SimulatorOptions options;
  options.clock = clock;
  options.seed_default_pipelines = false;
  polysync::testing::ApplySimulatorApi(options);
  auto simulator = sim::Simulator::Start(options);
  ASSERT_TRUE(simulator.ok());
  auto& sim = **simulator;
  auto id = sim.CreatePipeline({{"name", "orders"}});
  ASSERT_TRUE(id.ok());
  FaultRule slow;
  slow.endpoint = "pipelines.get";
  slow.kind = FaultKind::kLatency;
  slow.latency = absl::Seconds(2);
  sim.InjectFault(slow);  // the first GET holds the only slot for 2 s
  auto transport = http::MakeCurlTransport({});
  auth::Profile profile;
  profile.token = secrets::SecretSource::FromEnv(
      "T", secrets::StaticEnv({{"T", sim.access_token()}}));
  ClientOptions client_options;
  client_options.limiter.max_concurrency = 1;
  client_options.limiter.min_concurrency = 1;
  {
    PipelinesClient client(sim.base_url(),
                           std::shared_ptr<auth::Credentials>(
                               auth::MakeCredentials(profile, *transport)),
                           *transport, client_options);
    auto get = [&](absl::Duration timeout) {
      auto promise = std::make_shared<std::promise<absl::StatusOr<Pipeline>>>();
      CallContext ctx;
      ctx.deadline = absl::Now() + timeout;
      client.GetPipeline(*id, ctx, [promise](absl::StatusOr<Pipeline> p) {
        promise->set_value(std::move(p));
      });
      return promise->get_future();
    };
    auto a = get(absl::Seconds(10));
    absl::SleepFor(absl::Milliseconds(50));
    auto b = get(absl::Milliseconds(100));
    auto c = get(absl::Seconds(10));
    auto b_result = b.get();
    EXPECT_EQ(b_result.status().code(), absl::StatusCode::kDeadlineExceeded);
    // B gave up at its own deadline, while A still held the slot.
    EXPECT_EQ(a.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
    EXPECT_TRUE(a.get().ok());
    ASSERT_EQ(c.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_TRUE(c.get().ok());
  }
  transport.reset();
}

// An interactive call waiting for a slot goes before bulk calls (an
// import's) that queued earlier, and bulk never takes the reserved slot.
TEST(PipelinesClientQueueTest, WaitingInteractiveCallsGoBeforeBulkOnes) {
  auto clock = std::make_shared<sim::ManualClock>();
  sim::SimulatorOptions options;
  options.clock = clock;
  options.seed_default_pipelines = false;
  polysync::testing::ApplySimulatorApi(options);
  options.io_threads = 8;
  auto simulator = sim::Simulator::Start(options);
  ASSERT_TRUE(simulator.ok());
  auto& sim = **simulator;
  auto id = sim.CreatePipeline({{"name", "orders"}});
  ASSERT_TRUE(id.ok());
  FaultRule slow;
  slow.endpoint = "pipelines.get";
  slow.kind = FaultKind::kLatency;
  slow.latency = absl::Milliseconds(200);
  slow.count = -1;
  sim.InjectFault(slow);
  auto transport = http::MakeCurlTransport({});
  auth::Profile profile;
  profile.token = secrets::SecretSource::FromEnv(
      "T", secrets::StaticEnv({{"T", sim.access_token()}}));
  ClientOptions client_options;
  client_options.limiter.max_concurrency = 2;  // 1 for bulk, 1 reserved
  client_options.limiter.requests_per_second = 1e6;
  {
    PipelinesClient client(sim.base_url(),
                           std::shared_ptr<auth::Credentials>(
                               auth::MakeCredentials(profile, *transport)),
                           *transport, client_options);
    std::mutex mu;
    std::vector<std::string> order;
    std::vector<std::future<void>> calls;
    auto get = [&](const std::string& name, Priority priority) {
      auto promise = std::make_shared<std::promise<void>>();
      calls.push_back(promise->get_future());
      CallContext ctx;
      ctx.deadline = absl::Now() + absl::Seconds(10);
      ctx.priority = priority;
      client.GetPipeline(*id, ctx,
                         [&, name, promise](absl::StatusOr<Pipeline>) {
                           {
                             std::lock_guard<std::mutex> lock(mu);
                             order.push_back(name);
                           }
                           promise->set_value();
                         });
    };
    get("bulk1", Priority::kBulk);  // takes bulk's only slot
    get("bulk2", Priority::kBulk);  // waits
    get("bulk3", Priority::kBulk);  // waits
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_EQ(sim.RequestCount("pipelines.get"), 1);
    get("status1", Priority::kInteractive);  // the reserved slot, at once
    get("status2", Priority::kInteractive);  // waits, but ahead of bulk
    for (auto& c : calls) {
      ASSERT_EQ(c.wait_for(std::chrono::seconds(10)),
                std::future_status::ready);
    }
    ASSERT_EQ(order.size(), 5u);
    auto position = [&](const std::string& name) {
      return std::find(order.begin(), order.end(), name) - order.begin();
    };
    EXPECT_LT(position("status1"), position("bulk2"));
    EXPECT_LT(position("status2"), position("bulk2"));
    EXPECT_LT(position("bulk2"), position("bulk3"));
  }
  transport.reset();
}

}  // namespace
}  // namespace polysync::databricks::api
