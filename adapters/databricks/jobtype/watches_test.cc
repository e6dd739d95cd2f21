// The watches engine against the simulated workspace, called directly:
// watchers of one run share one poll and see the same changes, each watch
// ends after a terminal status, an error that is not transient ends every
// watcher of the run while transient ones keep the poll going, and
// cancelling, the watcher limit and EndAll.
#include "adapters/databricks/jobtype/watches.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "adapters/databricks/jobtype/engine_testing.h"

namespace polysync::databricks::jobtype {
namespace {

using testing::EngineSetup;

// What one watcher received.
struct Watcher {
  std::mutex mu;
  std::vector<v1::UpdateStatus> statuses;
  std::optional<absl::Status> end;
  int ends = 0;

  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return statuses.size();
  }
  bool ended() {
    std::lock_guard<std::mutex> lock(mu);
    return end.has_value();
  }
  std::vector<std::string> states() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::string> out;
    for (const auto& s : statuses) out.push_back(s.dlt_state());
    return out;
  }
};

class WatchesTest : public testing::EngineTest {
 protected:
  void Begin(EngineSetup setup = {}, int max_watchers = 100) {
    EngineTest::Begin(std::move(setup));
    WatchOptions options;
    options.initial_interval = absl::Milliseconds(5);
    options.max_interval = absl::Milliseconds(20);
    options.max_watchers = max_watchers;
    watches_ = std::make_unique<Watches>(reader(), transport(), options);
  }

  void TearDown() override {
    if (watches_) watches_->EndAll(absl::CancelledError("test over"));
    EngineTest::TearDown();
  }

  absl::StatusOr<uint64_t> Watch(const RunId& run,
                                 const std::shared_ptr<Watcher>& w) {
    return watches_->Watch(
        ws(), run, {},
        [w](const v1::UpdateStatus& s) {
          std::lock_guard<std::mutex> lock(w->mu);
          w->statuses.push_back(s);
        },
        [w](const absl::Status& s) {
          std::lock_guard<std::mutex> lock(w->mu);
          w->end = s;
          ++w->ends;
        });
  }

  // Waits (real time, the clock standing still) for `done()`.
  static bool WaitFor(const std::function<bool()>& done,
                      absl::Duration limit = absl::Seconds(60)) {
    const absl::Time give_up = absl::Now() + limit;
    while (!done()) {
      if (absl::Now() > give_up) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

  std::unique_ptr<Watches> watches_;
};

TEST_F(WatchesTest, WatchersOfOneRunShareOnePollAndSeeTheSameChangesToTheEnd) {
  Begin();
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  std::vector<std::shared_ptr<Watcher>> ws;
  for (int i = 0; i < 3; ++i) {
    ws.push_back(std::make_shared<Watcher>());
    ASSERT_TRUE(Watch(run, ws.back()).ok());
  }
  EXPECT_EQ(watches_->watchers(), 3);
  EXPECT_EQ(watches_->polls(), 1);
  // Each gets the current status at once.
  ASSERT_TRUE(WaitFor([&] {
    for (auto& w : ws) {
      if (w->count() == 0) return false;
    }
    return true;
  }));
  for (auto& w : ws) EXPECT_EQ(w->states().front(), "QUEUED");

  ASSERT_TRUE(AdvanceUntil([&] {
    for (auto& w : ws) {
      if (!w->ended()) return false;
    }
    return true;
  }));
  for (auto& w : ws) {
    std::lock_guard<std::mutex> lock(w->mu);
    EXPECT_TRUE(w->end->ok()) << *w->end;
    EXPECT_EQ(w->ends, 1);
    ASSERT_FALSE(w->statuses.empty());
    EXPECT_TRUE(w->statuses.back().terminal());
    EXPECT_EQ(w->statuses.back().status(), v1::RUN_STATUS_SUCCESS);
    // Every message is a change.
    for (size_t i = 1; i < w->statuses.size(); ++i) {
      EXPECT_TRUE(w->statuses[i].dlt_state() !=
                      w->statuses[i - 1].dlt_state() ||
                  w->statuses[i].status() != w->statuses[i - 1].status());
    }
  }
  // The one poll fed them all.
  EXPECT_EQ(ws[0]->states(), ws[1]->states());
  EXPECT_EQ(ws[0]->states(), ws[2]->states());
  EXPECT_EQ(watches_->watchers(), 0);
  EXPECT_EQ(watches_->polls(), 0);
}

TEST_F(WatchesTest, AWatchEndsAfterAFinalFailure) {
  Begin();
  RunId run =
      StartDirect(CreatePipeline(sim::Behavior::kFail, /*development=*/true));
  auto w = std::make_shared<Watcher>();
  ASSERT_TRUE(Watch(run, w).ok());
  ASSERT_TRUE(AdvanceUntil([&] { return w->ended(); }));
  std::lock_guard<std::mutex> lock(w->mu);
  EXPECT_TRUE(w->end->ok()) << *w->end;
  ASSERT_FALSE(w->statuses.empty());
  EXPECT_EQ(w->statuses.back().status(), v1::RUN_STATUS_FAILED);
  EXPECT_TRUE(w->statuses.back().terminal());
}

TEST_F(WatchesTest, ARunThatDoesNotExistEndsEveryWatcherWithNotFound) {
  Begin();
  const std::string p = CreatePipeline(sim::Behavior::kSucceed);
  RunId run{p, "0a1b2c3d-0000-4000-8000-000000000000"};
  auto a = std::make_shared<Watcher>(), b = std::make_shared<Watcher>();
  ASSERT_TRUE(Watch(run, a).ok());
  ASSERT_TRUE(Watch(run, b).ok());
  ASSERT_TRUE(WaitFor([&] { return a->ended() && b->ended(); }));
  EXPECT_EQ(a->end->code(), absl::StatusCode::kNotFound) << *a->end;
  EXPECT_EQ(b->end->code(), absl::StatusCode::kNotFound) << *b->end;
  EXPECT_EQ(a->count(), 0u);
  EXPECT_EQ(watches_->polls(), 0);
}

TEST_F(WatchesTest, TransientErrorsKeepThePollGoing) {
  Begin();
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  sim::FaultRule down;
  down.endpoint = "updates.get";
  down.kind = sim::FaultKind::kHttpError;
  down.status = 503;
  down.count = -1;
  simulator().InjectFault(down);
  auto w = std::make_shared<Watcher>();
  ASSERT_TRUE(Watch(run, w).ok());
  // Many polls answered UNAVAILABLE (after the client's retries) ...
  ASSERT_TRUE(WaitFor([&] { return Requests("updates.get") >= 20; }));
  EXPECT_FALSE(w->ended());
  EXPECT_EQ(watches_->polls(), 1);
  // ... and once the workspace answers again, the watch goes on to the end.
  simulator().ClearFaults();
  ASSERT_TRUE(AdvanceUntil([&] { return w->ended(); }));
  std::lock_guard<std::mutex> lock(w->mu);
  EXPECT_TRUE(w->end->ok()) << *w->end;
  EXPECT_EQ(w->statuses.back().status(), v1::RUN_STATUS_SUCCESS);
}

TEST_F(WatchesTest, ACancelledWatcherGetsNothingMoreAndTheOtherGoesOn) {
  Begin();
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  auto gone = std::make_shared<Watcher>(), stays = std::make_shared<Watcher>();
  auto id = Watch(run, gone);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(Watch(run, stays).ok());
  ASSERT_TRUE(WaitFor([&] { return gone->count() > 0; }));
  watches_->Cancel(*id);
  watches_->Cancel(*id);  // safe twice
  EXPECT_EQ(watches_->watchers(), 1);
  const size_t seen = gone->count();
  ASSERT_TRUE(AdvanceUntil([&] { return stays->ended(); }));
  EXPECT_EQ(gone->count(), seen);
  EXPECT_FALSE(gone->ended());
  EXPECT_TRUE(stays->end->ok());
  EXPECT_GT(stays->count(), seen);
}

TEST_F(WatchesTest, WatchersBeyondTheLimitAreRefusedAndEndAllEndsTheRest) {
  Begin({}, /*max_watchers=*/2);
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  auto a = std::make_shared<Watcher>(), b = std::make_shared<Watcher>(),
       c = std::make_shared<Watcher>();
  ASSERT_TRUE(Watch(run, a).ok());
  ASSERT_TRUE(Watch(run, b).ok());
  EXPECT_EQ(Watch(run, c).status().code(),
            absl::StatusCode::kResourceExhausted);
  watches_->EndAll(absl::UnavailableError("draining"));
  ASSERT_TRUE(a->ended());
  ASSERT_TRUE(b->ended());
  EXPECT_EQ(a->end->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(b->end->code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(c->ended());
  EXPECT_EQ(watches_->watchers(), 0);
}

}  // namespace
}  // namespace polysync::databricks::jobtype
