#include "client/replica_set.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace polysync::client {
namespace {

std::vector<std::string> Addresses(int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i)
    out.push_back(absl::StrCat("10.0.0.", i, ":50051"));
  return out;
}

std::unique_ptr<ReplicaSet> Fixed(std::vector<std::string> replicas,
                                  absl::Time* now = nullptr) {
  ReplicaSetOptions o;
  o.replicas = std::move(replicas);
  o.cooldown = absl::Seconds(10);
  if (now != nullptr) o.clock = [now] { return *now; };
  auto set = ReplicaSet::Create(o);
  EXPECT_TRUE(set.ok()) << set.status();
  return *std::move(set);
}

std::string Owner(ReplicaSet& set, const std::string& key) {
  return set.Ranked(key, {}).front();
}

TEST(ReplicaSetTest, TheHashIsStableAcrossProcessesAndOrderOfTheList) {
  // A fixed value: every client process (and every build) must agree, or
  // two clients send one pipeline to two replicas.
  EXPECT_EQ(RendezvousScore("orders", "10.0.0.1:50051"),
            RendezvousScore("orders", "10.0.0.1:50051"));
  EXPECT_NE(RendezvousScore("orders", "10.0.0.1:50051"),
            RendezvousScore("orders", "10.0.0.2:50051"));
  auto a = Fixed(Addresses(3));
  std::vector<std::string> reversed = Addresses(3);
  std::reverse(reversed.begin(), reversed.end());
  auto b = Fixed(reversed);
  for (int i = 0; i < 50; ++i) {
    const std::string key = absl::StrCat("pipeline-", i);
    EXPECT_EQ(a->Ranked(key, {}), b->Ranked(key, {})) << key;
  }
}

TEST(ReplicaSetTest, PipelinesSpreadOverTheReplicas) {
  auto set = Fixed(Addresses(4));
  std::map<std::string, int> per_replica;
  for (int i = 0; i < 400; ++i) {
    ++per_replica[Owner(*set, absl::StrCat("pipeline-", i))];
  }
  ASSERT_EQ(per_replica.size(), 4u);
  for (const auto& [address, n] : per_replica) {
    EXPECT_GT(n, 50) << address;  // 100 each on average
    EXPECT_LT(n, 150) << address;
  }
}

TEST(ReplicaSetTest, ARemovedReplicaOnlyMovesItsOwnPipelines) {
  auto four = Fixed(Addresses(4));
  std::vector<std::string> three_addresses = Addresses(4);
  const std::string gone = three_addresses.back();
  three_addresses.pop_back();
  auto three = Fixed(three_addresses);
  int moved = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string key = absl::StrCat("pipeline-", i);
    const std::vector<std::string> before = four->Ranked(key, {});
    const std::string after = Owner(*three, key);
    if (before[0] == gone) {
      ++moved;
      // It goes to its second choice, as a failover would have sent it.
      EXPECT_EQ(after, before[1]) << key;
    } else {
      EXPECT_EQ(after, before[0]) << key;
    }
  }
  EXPECT_GT(moved, 0);
  // Added back: every pipeline returns to its first replica.
  for (int i = 0; i < 200; ++i) {
    const std::string key = absl::StrCat("pipeline-", i);
    EXPECT_EQ(Owner(*Fixed(Addresses(4)), key), Owner(*four, key));
  }
}

TEST(ReplicaSetTest, CooldownSendsPipelinesToTheNextInHashOrderUntilItEnds) {
  absl::Time now = absl::FromUnixSeconds(1000);
  auto set = Fixed(Addresses(3), &now);
  const std::vector<std::string> order = set->Ranked("orders", {});
  ASSERT_EQ(order.size(), 3u);
  set->MarkUnavailable(order[0]);
  EXPECT_EQ(set->Ranked("orders", {}),
            (std::vector<std::string>{order[1], order[2], order[0]}));
  // Both cooling down: the one left goes first, then the two in hash order.
  set->MarkUnavailable(order[1]);
  EXPECT_EQ(set->Ranked("orders", {}),
            (std::vector<std::string>{order[2], order[0], order[1]}));
  now += absl::Seconds(9);
  EXPECT_EQ(Owner(*set, "orders"), order[2]);
  now += absl::Seconds(1);  // the cooldown is over: back to the first
  EXPECT_EQ(set->Ranked("orders", {}), order);
}

TEST(ReplicaSetTest, TriedReplicasGoLastEvenBehindCoolingDownOnes) {
  absl::Time now = absl::FromUnixSeconds(1000);
  auto set = Fixed(Addresses(3), &now);
  const std::vector<std::string> order = set->Ranked("orders", {});
  set->MarkUnavailable(order[1]);
  EXPECT_EQ(set->Ranked("orders", {order[0]}),
            (std::vector<std::string>{order[2], order[1], order[0]}));
}

TEST(ReplicaSetTest, ASingleReplicaIsNeverCooledDown) {
  absl::Time now = absl::FromUnixSeconds(1000);
  ReplicaSetOptions o;
  o.target = "svc:50051";
  o.clock = [&now] { return now; };
  auto set = ReplicaSet::Create(o);
  ASSERT_TRUE(set.ok());
  (*set)->MarkUnavailable("svc:50051");
  EXPECT_EQ((*set)->Ranked("orders", {}),
            (std::vector<std::string>{"svc:50051"}));
  // Two replicas: a mark counts.
  auto two = Fixed(Addresses(2), &now);
  const std::vector<std::string> order = two->Ranked("orders", {});
  two->MarkUnavailable(order[0]);
  EXPECT_EQ(Owner(*two, "orders"), order[1]);
}

TEST(ReplicaSetTest, ResolvesTheTargetAndReResolvesAfterTheInterval) {
  absl::Time now = absl::FromUnixSeconds(1000);
  std::vector<std::string> answer = {"10.0.0.1:7", "10.0.0.2:7"};
  std::vector<std::string> asked;
  ReplicaSetOptions o;
  o.target = "pdlt.svc:7";
  o.resolve = true;
  o.re_resolve_interval = absl::Seconds(30);
  o.clock = [&now] { return now; };
  o.resolver = [&](const std::string& host, const std::string& port) {
    asked.push_back(absl::StrCat(host, " ", port));
    return answer;
  };
  auto set = ReplicaSet::Create(o);
  ASSERT_TRUE(set.ok()) << set.status();
  std::vector<std::string> got = (*set)->Ranked("orders", {});
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, answer);
  EXPECT_EQ(asked, (std::vector<std::string>{"pdlt.svc 7"}));
  // A resolved address verifies the name's certificate.
  EXPECT_EQ((*set)->TlsNameOf("10.0.0.1:7"), "pdlt.svc");

  answer = {"10.0.0.3:7"};
  now += absl::Seconds(29);
  EXPECT_EQ((*set)->Ranked("orders", {}).size(), 2u);  // not yet
  now += absl::Seconds(1);
  EXPECT_EQ((*set)->Ranked("orders", {}),
            (std::vector<std::string>{"10.0.0.3:7"}));
  // A failed resolution keeps the last set.
  answer.clear();
  now += absl::Seconds(30);
  EXPECT_EQ((*set)->Ranked("orders", {}),
            (std::vector<std::string>{"10.0.0.3:7"}));
  EXPECT_EQ(asked.size(), 3u);
}

TEST(ReplicaSetTest, UnresolvableFromTheStartFallsBackToTheTarget) {
  ReplicaSetOptions o;
  o.target = "pdlt.svc:7";
  o.resolve = true;
  o.resolver = [](const std::string&, const std::string&) {
    return std::vector<std::string>{};
  };
  auto set = ReplicaSet::Create(o);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ((*set)->Ranked("orders", {}),
            (std::vector<std::string>{"pdlt.svc:7"}));
  EXPECT_EQ((*set)->TlsNameOf("pdlt.svc:7"), "");
}

TEST(ReplicaSetTest, ResolvingNeedsHostAndPort) {
  for (const char* bad :
       {"pdlt.svc", "dns:///pdlt.svc:7", ":7", "pdlt.svc:", "unix:///tmp/s"}) {
    ReplicaSetOptions o;
    o.target = bad;
    o.resolve = true;
    o.resolver = [](const std::string&, const std::string&) {
      return std::vector<std::string>{"10.0.0.1:7"};
    };
    auto set = ReplicaSet::Create(o);
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    if (!set.ok()) {
      EXPECT_NE(set.status().message().find(bad), std::string::npos);
    }
  }
  std::string host, port;
  ASSERT_TRUE(SplitHostPort("[::1]:50051", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, "50051");
}

TEST(ReplicaSetTest, ResolveAddressesOfLoopbackAndOfNonsense) {
  std::vector<std::string> v4 = ResolveAddresses("127.0.0.1", "50051");
  EXPECT_EQ(v4, (std::vector<std::string>{"127.0.0.1:50051"}));
  std::vector<std::string> v6 = ResolveAddresses("::1", "7");
  EXPECT_EQ(v6, (std::vector<std::string>{"[::1]:7"}));
  EXPECT_TRUE(ResolveAddresses("no such host .invalid", "7").empty());
  EXPECT_TRUE(IsIpLiteral("10.1.2.3"));
  EXPECT_TRUE(IsIpLiteral("fe80::1"));
  EXPECT_FALSE(IsIpLiteral("pdlt.svc"));
}

TEST(ReplicaSetTest, ARunsCallsGoWhereItsPipelineGoes) {
  EXPECT_EQ(PipelineOfRun("a12cd3e4-0ab1:4e5f"), "a12cd3e4-0ab1");
  EXPECT_EQ(PipelineOfRun("no-colon"), "no-colon");
}

}  // namespace
}  // namespace polysync::client
