// Exactly-once starts and a rolling replacement under load, through the
// client library as Polysync's backend uses it.
//
// 1,000 StartUpdate calls, each with its own idempotency key, while 20% of
// start requests hit "processed but the answer was lost" or a connection
// reset; the client retries as the library does. Databricks must see exactly
// one update per key. Then the same across three replicas behind the
// library's replica affinity, and a replica drained and replaced while a
// steady load runs: no call lost, no duplicate update.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/pipelines_client.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
using ::polysync::testing::Harness;

constexpr int kStarts = 1000;
constexpr int kThreads = 8;

void InjectStartFaults(sim::Simulator& s) {
  for (sim::FaultKind kind :
       {sim::FaultKind::kResponseLost503, sim::FaultKind::kReset}) {
    sim::FaultRule rule;
    rule.endpoint = "updates.start";
    rule.kind = kind;
    rule.probability = 0.10;
    rule.count = -1;
    s.InjectFault(rule);
  }
}

client::ClientOptions Options() {
  client::ClientOptions o;
  o.retry.max_attempts = 8;
  o.retry.initial_backoff = absl::Milliseconds(2);
  o.retry.max_backoff = absl::Milliseconds(50);
  o.default_deadline = absl::Seconds(60);
  return o;
}

// Starts pipeline i with key "key-i" from kThreads threads; returns the
// calls that failed for good.
int StartAll(client::PipelinesClient& c, const std::vector<std::string>& ids) {
  std::atomic<int> next{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < static_cast<int>(ids.size()); i = next++) {
        v1::StartUpdateRequest request;
        request.set_pipeline_id(ids[i]);
        request.set_idempotency_key(absl::StrCat("key-", i));
        auto started = c.StartUpdate(request);
        if (!started.ok()) {
          ++failed;
          ADD_FAILURE() << ids[i] << ": " << started.status();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return failed.load();
}

TEST(ExactlyOnceTest, OneReplicaStartsEachKeyOnce) {
  Harness h;
  const std::vector<std::string> ids = h.sim().GeneratePipelines(kStarts);
  InjectStartFaults(h.sim());
  h.StartTicking();  // updates finish, so the workspace's limit of 200
                     // concurrent updates is never the reason for a refusal
  client::ClientOptions o = Options();
  o.target = h.target();
  auto c = client::PipelinesClient::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(StartAll(**c, ids), 0);
  EXPECT_EQ(h.sim().UpdatesCreated(), kStarts);
  // The faults really fired: more start requests than updates.
  EXPECT_GT(h.sim().RequestCount("updates.start"), kStarts);
}

TEST(ExactlyOnceTest, ThreeReplicasWithAffinityStartEachKeyOnce) {
  Harness h;
  h.AddReplica();
  h.AddReplica();
  const std::vector<std::string> ids = h.sim().GeneratePipelines(kStarts);
  InjectStartFaults(h.sim());
  h.StartTicking();
  client::ClientOptions o = Options();
  o.replicas = {h.replica_target(0), h.replica_target(1), h.replica_target(2)};
  auto c = client::PipelinesClient::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(StartAll(**c, ids), 0);
  EXPECT_EQ(h.sim().UpdatesCreated(), kStarts);
}

TEST(RolloutTest, ReplacingAReplicaUnderLoadLosesNoCallAndStartsNothingTwice) {
  Harness h;
  h.AddReplica();
  h.AddReplica();
  const std::vector<std::string> ids = h.sim().GeneratePipelines(600);
  h.StartTicking();
  std::mutex mu;
  std::vector<std::string> replicas = {h.replica_target(0), h.replica_target(1),
                                       h.replica_target(2)};
  client::ClientOptions o = Options();
  o.target = "replicas:50051";
  o.pipeline_affinity = true;
  o.re_resolve_interval = absl::Milliseconds(50);
  o.replica_cooldown = absl::Seconds(1);
  o.resolver = [&](const std::string&, const std::string&) {
    std::lock_guard<std::mutex> lock(mu);
    return replicas;
  };
  auto c = client::PipelinesClient::Create(o);
  ASSERT_TRUE(c.ok()) << c.status();

  std::atomic<int> next{0}, failed{0}, calls{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int t = 0; t < 6; ++t) {
    load.emplace_back([&] {
      while (!stop) {
        const int i = next++;
        if (i >= static_cast<int>(ids.size())) break;
        v1::StartUpdateRequest request;
        request.set_pipeline_id(ids[i]);
        request.set_idempotency_key(absl::StrCat("rollout-", i));
        auto started = (*c)->StartUpdate(request);
        ++calls;
        if (!started.ok()) {
          ++failed;
          ADD_FAILURE() << "start " << i << ": " << started.status();
          continue;
        }
        auto status = (*c)->GetUpdateStatus(started->run_id());
        ++calls;
        if (!status.ok()) {
          ++failed;
          ADD_FAILURE() << "status " << i << ": " << status.status();
        }
        absl::SleepFor(absl::Milliseconds(2));
      }
    });
  }
  // Let the load run, then drain replica 1 and bring up its replacement.
  while (next < 150) absl::SleepFor(absl::Milliseconds(5));
  const int replacement = h.AddReplica();
  {
    std::lock_guard<std::mutex> lock(mu);
    replicas = {h.replica_target(0), h.replica_target(2),
                h.replica_target(replacement)};
  }
  absl::SleepFor(absl::Milliseconds(100));  // clients re-resolve
  h.ShutdownReplica(1);                     // drains: calls finish or move
  for (auto& t : load) t.join();
  stop = true;
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(calls.load(), 1000);
  EXPECT_EQ(h.sim().UpdatesCreated(), static_cast<int64_t>(ids.size()));
}

}  // namespace
}  // namespace polysync
