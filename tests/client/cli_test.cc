// The pdlt CLI run as a subprocess against an in-process server and
// simulated workspace: every command, JSON output, exit codes, and one clear
// line on stderr when something is wrong.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "adapters/databricks/simulator/test_client.h"
#include "nlohmann/json.hpp"
#include "tests/testing/service_harness.h"

extern char** environ;

namespace polysync::client {
namespace {

using ::polysync::testing::Harness;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Json = nlohmann::json;

std::string Runfile(const std::string& path) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"), "/", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string TmpFile(const std::string& name, const std::string& contents) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path, std::ios::trunc) << contents;
  return path;
}

struct Result {
  int code = -1;
  std::string out, err;

  std::vector<std::string> OutLines() const {
    return absl::StrSplit(out, '\n', absl::SkipEmpty());
  }
  std::vector<std::string> ErrLines() const {
    return absl::StrSplit(err, '\n', absl::SkipEmpty());
  }
  Json ParseJson() const {
    Json j = Json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }
  std::vector<Json> ParseJsonLines() const {
    std::vector<Json> all;
    for (const auto& line : OutLines()) {
      Json j = Json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << line;
      all.push_back(j);
    }
    return all;
  }
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "exit " << r.code << "\nstdout:\n"
            << r.out << "stderr:\n"
            << r.err;
}

// Runs pdlt with `args` and `env` (PDLT_* variables of the test's own
// environment are not passed on), stdout and stderr to files (not a tty).
Result Pdlt(const std::vector<std::string>& args,
            const std::vector<std::string>& env = {}) {
  static int n = 0;
  const std::string tmp = std::getenv("TEST_TMPDIR");
  const std::string out = absl::StrCat(tmp, "/pdlt-", n, ".out");
  const std::string err = absl::StrCat(tmp, "/pdlt-", n++, ".err");
  const std::string binary = Runfile("client/pdlt");
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "PDLT_")) env_s.emplace_back(*e);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  Result r;
  if (posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(),
                  envp.data()) != 0) {
    ADD_FAILURE() << "cannot run " << binary;
    return r;
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

// A port nothing listens on.
int ClosedPort() {
  Harness h;
  const int port = h.port();
  h.Shutdown();
  return port;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<Harness>();
    orders_ = h_->CreatePipeline("orders");
    sales_ = h_->CreatePipeline("sales daily");
    failing_ = h_->CreatePipeline("broken", databricks::sim::Behavior::kFail);
  }
  Result Run(std::vector<std::string> args,
             const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), {"--server", h_->target()});
    return Pdlt(args, env);
  }
  std::string StartRun(const std::string& pipeline_id) {
    Result r = Run({"start", pipeline_id, "--output", "json"});
    EXPECT_EQ(r.code, 0) << r;
    return r.ParseJson().value("runId", "");
  }

  // Waits until a pdlt started after `before` = UpdateGets() has its watch
  // open (a status read, then the watch's polls), so that the clock only
  // moves once the watch follows the run, however slow the machine.
  int64_t UpdateGets() { return h_->sim().RequestCount("updates.get"); }
  void AwaitWatchOpen(int64_t before) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (UpdateGets() < before + 3 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  std::unique_ptr<Harness> h_;
  std::string orders_, sales_, failing_;
};

TEST_F(CliTest, HelpForEveryCommand) {
  Result top = Pdlt({"--help"});
  EXPECT_EQ(top.code, 0) << top;
  EXPECT_THAT(top.out, HasSubstr("exit codes:"));
  EXPECT_THAT(top.out, HasSubstr("PDLT_SERVER"));
  for (const char* command : {"workspaces", "import", "sync", "start", "status",
                              "stop", "watch", "health"}) {
    Result r = Pdlt({command, "--help"});
    EXPECT_EQ(r.code, 0) << r;
    EXPECT_THAT(r.out, StartsWith(absl::StrCat("usage: pdlt ", command)));
    EXPECT_THAT(r.out, HasSubstr("--server"));
    EXPECT_TRUE(r.err.empty()) << r;
  }
  EXPECT_THAT(Pdlt({"start", "--help"}).out, HasSubstr("--if-running"));
  EXPECT_THAT(Pdlt({"import", "-h"}).out, HasSubstr("--name-filter"));
  EXPECT_EQ(Pdlt({"help"}).code, 0);
}

TEST_F(CliTest, VersionAndShortFlags) {
  Result version = Pdlt({"--version"});
  EXPECT_EQ(version.code, 0) << version;
  EXPECT_THAT(version.out, StartsWith("pdlt "));
  Result short_flags = Pdlt({"-s", h_->target(), "workspaces", "-o", "json"});
  ASSERT_EQ(short_flags.code, 0) << short_flags;
  EXPECT_EQ(short_flags.ParseJson()["workspaces"][0]["name"], "test");
  Result filtered = Run({"import", "-n", "sales", "-t", "30s"});
  ASSERT_EQ(filtered.code, 0) << filtered;
  EXPECT_THAT(filtered.out, HasSubstr("1 pipelines imported"));
  // A flag given twice: the last one counts.
  Result twice = Run({"workspaces", "--output", "xml", "--output", "json"});
  EXPECT_EQ(twice.code, 0) << twice;
  // `pdlt help COMMAND` is `pdlt COMMAND --help`.
  EXPECT_EQ(Pdlt({"help", "start"}).out, Pdlt({"start", "--help"}).out);
}

TEST_F(CliTest, BadUsageIsOneLineAndExit64) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"workspaces", "--bogus"},
      {"status"},
      {"status", "not-a-run-id"},
      {"status", absl::StrCat(orders_, ":nope")},
      {"sync", "../etc/passwd"},
      {"start", orders_, "--if-running", "sometimes"},
      {"start", orders_, "--idempotency-key"},
      {"workspaces", "--output", "xml"},
      {"watch", "a", "b"},
      {"workspaces", "--timeout", "soon"},
      {"workspaces", "--tls-ca", "/nonexistent/ca.pem"},
  };
  for (const auto& args : cases) {
    Result r = Run(args);
    EXPECT_EQ(r.code, 64) << absl::StrJoin(args, " ") << "\n" << r;
    if (!args.empty()) {
      ASSERT_EQ(r.ErrLines().size(), 1u) << r;
      EXPECT_THAT(r.err, StartsWith("pdlt: ")) << r;
    }
    EXPECT_THAT(r.err, ::testing::Not(HasSubstr("StatusCode"))) << r;
  }
  EXPECT_THAT(Run({"status", "not-a-run-id"}).err,
              HasSubstr("invalid run id \"not-a-run-id\""));
  // A bearer token is not sent in clear text off this machine.
  Result plaintext =
      Pdlt({"--server", "10.0.0.5:50051", "--token-file",
            TmpFile("cli-plain-token", "tok-CCCC-0123456789"), "workspaces"},
           {});
  EXPECT_EQ(plaintext.code, 64) << plaintext;
  EXPECT_THAT(plaintext.err, HasSubstr("clear text"));
  EXPECT_THAT(plaintext.err, HasSubstr("--allow-plaintext-token"));
  // Nothing reached Databricks.
  EXPECT_EQ(h_->sim().UpdatesCreated(), 0);
}

TEST_F(CliTest, UnreachableServiceIsOneClearLineAndExit69) {
  const std::string target = absl::StrCat("127.0.0.1:", ClosedPort());
  const std::string run_id = absl::StrCat(orders_, ":", orders_);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"workspaces"},
                                             {"import"},
                                             {"sync", orders_},
                                             {"start", orders_},
                                             {"status", run_id},
                                             {"stop", run_id},
                                             {"watch", run_id},
                                             {"health"}}) {
    std::vector<std::string> full = {"--server", target};
    full.insert(full.end(), args.begin(), args.end());
    Result r = Pdlt(full);
    EXPECT_EQ(r.code, 69) << args[0] << "\n" << r;
    ASSERT_EQ(r.ErrLines().size(), 1u) << r;
    EXPECT_EQ(r.ErrLines()[0],
              absl::StrCat("pdlt: cannot reach the service at ", target,
                           " (is it running?)"));
    EXPECT_TRUE(r.out.empty()) << r;
  }
  // The server address also comes from the environment.
  Result env = Pdlt({"workspaces"}, {absl::StrCat("PDLT_SERVER=", target)});
  EXPECT_EQ(env.code, 69) << env;
  EXPECT_THAT(env.err, HasSubstr(target));
}

TEST_F(CliTest, Workspaces) {
  Result table = Run({"workspaces"});
  ASSERT_EQ(table.code, 0) << table;
  ASSERT_EQ(table.OutLines().size(), 2u) << table;
  EXPECT_THAT(table.OutLines()[0], StartsWith("NAME"));
  EXPECT_THAT(table.OutLines()[1], StartsWith("test "));

  Result json = Run({"workspaces", "--output=json"});
  ASSERT_EQ(json.code, 0) << json;
  Json j = json.ParseJson();
  ASSERT_EQ(j["workspaces"].size(), 1u);
  EXPECT_EQ(j["workspaces"][0]["name"], "test");
  EXPECT_EQ(j["workspaces"][0]["authMethod"],
            "AUTH_METHOD_PERSONAL_ACCESS_TOKEN");
  EXPECT_EQ(j["workspaces"][0]["isDefault"], true);

  // PDLT_SERVER and PDLT_OUTPUT from the environment.
  Result env = Pdlt({"workspaces"}, {absl::StrCat("PDLT_SERVER=", h_->target()),
                                     "PDLT_OUTPUT=json"});
  ASSERT_EQ(env.code, 0) << env;
  EXPECT_EQ(env.ParseJson()["workspaces"][0]["name"], "test");
  // With replica affinity (the address resolves to itself).
  Result affinity = Run({"workspaces", "--affinity"});
  EXPECT_EQ(affinity.code, 0) << affinity;
  Result affinity_env = Run({"workspaces"}, {"PDLT_AFFINITY=1"});
  EXPECT_EQ(affinity_env.code, 0) << affinity_env;
  // An unknown workspace profile is the service's NOT_FOUND: 65.
  Result unknown = Run({"sync", orders_, "--workspace", "nope"});
  EXPECT_EQ(unknown.code, 65) << unknown;
  EXPECT_EQ(unknown.ErrLines().size(), 1u) << unknown;
  EXPECT_THAT(unknown.err, StartsWith("pdlt: not found: "));
}

TEST_F(CliTest, ImportStreamsJsonLinesAndFilters) {
  Result all = Run({"import", "--output", "json"});
  ASSERT_EQ(all.code, 0) << all;
  std::set<std::string> ids;
  for (const Json& batch : all.ParseJsonLines()) {
    for (const Json& job : batch["jobs"]) {
      ids.insert(job["externalId"].get<std::string>());
      EXPECT_EQ(job["jobType"], "Databricks Pipeline");
      EXPECT_EQ(job["parameters"].back()["name"], "full_refresh");
    }
  }
  EXPECT_EQ(ids, (std::set<std::string>{orders_, sales_, failing_}));

  Result filtered = Run({"import", "--name-filter", "sales", "-o"});
  EXPECT_EQ(filtered.code, 64);  // -o (--output) needs a value
  filtered = Run({"import", "--name-filter", "sales"});
  ASSERT_EQ(filtered.code, 0) << filtered;
  EXPECT_THAT(filtered.out, HasSubstr(sales_));
  EXPECT_THAT(filtered.out, ::testing::Not(HasSubstr(orders_)));
  EXPECT_THAT(filtered.out, HasSubstr("1 pipelines imported"));

  Result by_id = Run({"import", "--pipeline-id", orders_, "--pipeline-id",
                      failing_, "--output", "json"});
  ASSERT_EQ(by_id.code, 0) << by_id;
  ids.clear();
  for (const Json& batch : by_id.ParseJsonLines()) {
    for (const Json& job : batch["jobs"]) ids.insert(job["externalId"]);
  }
  EXPECT_EQ(ids, (std::set<std::string>{orders_, failing_}));
}

TEST_F(CliTest, Sync) {
  Result json = Run({"sync", orders_, "--output", "json"});
  ASSERT_EQ(json.code, 0) << json;
  Json job = json.ParseJson()["job"];
  EXPECT_EQ(job["externalId"], orders_);
  EXPECT_EQ(job["name"], "orders");
  bool found = false;
  for (const Json& p : job["parameters"]) {
    if (p["name"] == "spark.sql.shuffle.partitions") {
      found = true;
      EXPECT_EQ(p["value"], "4");
    }
  }
  EXPECT_TRUE(found) << job.dump();
  Result table = Run({"sync", orders_});
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_THAT(table.out, HasSubstr("full_refresh"));
  EXPECT_THAT(table.out, HasSubstr("spark.sql.shuffle.partitions"));

  Result missing = Run({"sync", "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5"});
  EXPECT_EQ(missing.code, 65) << missing;
  EXPECT_EQ(missing.ErrLines().size(), 1u) << missing;
  // The request id correlates with the service's log lines.
  ASSERT_FALSE(missing.ErrLines().empty());
  EXPECT_THAT(missing.ErrLines()[0],
              ::testing::MatchesRegex(".* \\[request id pdlt-[0-9a-f]+\\]"));
}

TEST_F(CliTest, StartStatusStopWatchAndTheirExitCodes) {
  // start: idempotency key replays, selections, refusals.
  Result started =
      Run({"start", orders_, "--idempotency-key", "run-1", "--output", "json"});
  ASSERT_EQ(started.code, 0) << started;
  Json first = started.ParseJson();
  const std::string run_id = first["runId"];
  EXPECT_THAT(run_id, StartsWith(orders_ + ":"));
  EXPECT_EQ(first["replayed"], false);
  Result again =
      Run({"start", orders_, "--idempotency-key", "run-1", "--output", "json"});
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_EQ(again.ParseJson()["runId"], run_id);
  EXPECT_EQ(again.ParseJson()["replayed"], true);
  EXPECT_EQ(h_->sim().UpdatesCreated(), 1);

  // Another start while it runs: refused (65), attached, in one line.
  Result busy = Run({"start", orders_});
  EXPECT_EQ(busy.code, 65) << busy;
  EXPECT_EQ(busy.ErrLines().size(), 1u) << busy;
  EXPECT_THAT(busy.err, HasSubstr(run_id));
  Result attach =
      Run({"start", orders_, "--if-running", "attach", "--output", "json"});
  ASSERT_EQ(attach.code, 0) << attach;
  EXPECT_EQ(attach.ParseJson()["runId"], run_id);
  EXPECT_EQ(attach.ParseJson()["attached"], true);
  Result both = Run({"start", sales_, "--full-refresh", "--refresh", "a,b"});
  EXPECT_EQ(both.code, 65) << both;
  EXPECT_THAT(both.err, StartsWith("pdlt: invalid request: "));

  // status of a run still going: 3.
  Result status = Run({"status", run_id, "--output", "json"});
  EXPECT_EQ(status.code, 3) << status;
  EXPECT_EQ(status.ParseJson()["runId"], run_id);
  EXPECT_EQ(status.ParseJson()["terminal"], false);
  Result table = Run({"status", run_id});
  EXPECT_EQ(table.code, 3) << table;
  EXPECT_THAT(table.out, HasSubstr("run id"));

  // watch (piped: one JSON object per change) until it succeeds: 0. The
  // clock moves once the watch is open.
  Result watched;
  std::thread watcher([&] {
    watched = Run({"watch", run_id, "--output", "json"});
  });
  absl::SleepFor(absl::Milliseconds(500));
  h_->StartTicking();
  watcher.join();
  ASSERT_EQ(watched.code, 0) << watched;
  std::vector<Json> lines = watched.ParseJsonLines();
  ASSERT_GE(lines.size(), 2u) << watched;
  EXPECT_EQ(lines.back()["status"], "RUN_STATUS_SUCCESS");
  EXPECT_EQ(lines.back()["terminal"], true);
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["terminal"], false);
    EXPECT_NE(lines[i], lines[i + 1]);
  }
  Result done = Run({"status", run_id});
  EXPECT_EQ(done.code, 0) << done;
  EXPECT_THAT(done.out, HasSubstr("SUCCESS"));

  // A failing update: watch (plain lines) and status exit 1.
  const std::string failed_run = StartRun(failing_);
  Result plain = Run({"watch", failed_run});
  EXPECT_EQ(plain.code, 1) << plain;
  EXPECT_THAT(plain.out, HasSubstr("FAILED"));
  EXPECT_THAT(plain.out, ::testing::Not(HasSubstr("\r")));
  EXPECT_EQ(Run({"status", failed_run}).code, 1);
  h_->StopTicking();

  // stop: sent, then the run ends CANCELLED: watch and status exit 2.
  const std::string to_stop = StartRun(sales_);
  Result stopped = Run({"stop", to_stop, "--output", "json"});
  ASSERT_EQ(stopped.code, 0) << stopped;
  EXPECT_EQ(stopped.ParseJson()["stopSent"], true);
  EXPECT_EQ(stopped.ParseJson()["status"]["runId"], to_stop);
  h_->StartTicking();
  Result cancelled = Run({"watch", to_stop});
  EXPECT_EQ(cancelled.code, 2) << cancelled;
  EXPECT_THAT(cancelled.out, HasSubstr("CANCELLED"));
  EXPECT_EQ(Run({"status", to_stop}).code, 2);
  Result stop_again = Run({"stop", to_stop});
  EXPECT_EQ(stop_again.code, 0) << stop_again;
  EXPECT_THAT(stop_again.out, HasSubstr("nothing to stop"));

  // A run id of the right shape that does not exist: 65, one line.
  Result unknown = Run({"status", absl::StrCat(orders_, ":", orders_)});
  EXPECT_EQ(unknown.code, 65) << unknown;
  EXPECT_EQ(unknown.ErrLines().size(), 1u) << unknown;
}

// start --param, --refresh-flow and --reset-checkpoint reach the update:
// the simulated workspace records its parameters (the given ones over the
// pipeline's defaults) and its flow selection. A malformed --param is bad
// usage and sends nothing.
TEST_F(CliTest, StartPassesUpdateParametersAndFlowSelections) {
  auto id = h_->sim().CreatePipeline(
      {{"name", "regional sales"},
       {"parameters", {{"region", "emea"}, {"start_date", "2026-01-01"}}}},
      databricks::sim::Behavior::kSucceed);
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string regional = *id;

  const int64_t before = h_->UpstreamRequests();
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{
           {"--param", "parameters.region"},
           {"--param", "region=apac"},
           {"--param", "parameters.=apac"},
           {"--param", "parameters.region=a", "--param", "parameters.region=b"},
           {"--param"}}) {
    std::vector<std::string> args = {"start", regional};
    args.insert(args.end(), bad.begin(), bad.end());
    Result r = Run(args);
    EXPECT_EQ(r.code, 64) << absl::StrJoin(bad, " ") << "\n" << r;
    EXPECT_EQ(r.ErrLines().size(), 1u) << r;
    EXPECT_THAT(r.err, StartsWith("pdlt: --param")) << r;
  }
  EXPECT_THAT(Run({"start", regional, "--param", "parameters.region"}).err,
              HasSubstr("has no '='"));
  EXPECT_EQ(h_->UpstreamRequests(), before);
  EXPECT_EQ(h_->sim().UpdatesCreated(regional), 0);

  // The reset checkpoint selection is the service's to check: a flow name
  // with a control character is refused naming that field.
  Result refused = Run({"start", regional, "--reset-checkpoint", "raw\x01"});
  EXPECT_EQ(refused.code, 65) << refused;
  EXPECT_THAT(refused.err, HasSubstr("reset_checkpoint_selection")) << refused;

  Result started =
      Run({"start", regional, "--param", "parameters.region=apac,south",
           "--param=parameters.note=a=b", "--refresh-flow", "orders_raw,fx",
           "--refresh-flow", "returns", "--reset-checkpoint", "orders_raw",
           "--output", "json"});
  ASSERT_EQ(started.code, 0) << started;
  const std::string update_id = started.ParseJson().value("updateId", "");
  ASSERT_FALSE(update_id.empty()) << started;
  databricks::sim::testing::TestClient sim_client(h_->sim().base_url(),
                                                  h_->sim().access_token());
  auto got = sim_client.Get(
      absl::StrCat("/api/2.0/pipelines/", regional, "/updates/", update_id));
  ASSERT_EQ(got.status, 200) << got.body;
  const Json update = got.json()["update"];
  EXPECT_EQ(update["parameters"], Json({{"region", "apac,south"},
                                        {"note", "a=b"},
                                        {"start_date", "2026-01-01"}}))
      << update.dump();
  EXPECT_EQ(update["refresh_flow_selection"],
            Json({"orders_raw", "fx", "returns"}))
      << update.dump();
  EXPECT_EQ(h_->sim().UpdatesCreated(regional), 1);

  Result help = Pdlt({"start", "--help"});
  EXPECT_THAT(help.out, HasSubstr("--param parameters.KEY=VALUE"));
  EXPECT_THAT(help.out, HasSubstr("--refresh-flow FLOW"));
  EXPECT_THAT(help.out, HasSubstr("--reset-checkpoint FLOW"));
}

// On a terminal, watch redraws one line ("\r" + erase) with the elapsed
// time instead of printing a line per change.
TEST_F(CliTest, WatchOnATerminalRedrawsOneLiveLine) {
  const std::string run_id = StartRun(orders_);
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  const std::string binary = Runfile("client/pdlt");
  std::vector<std::string> argv_s = {binary, "--server", h_->target(), "watch",
                                     run_id};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, slave, 1);
  posix_spawn_file_actions_addclose(&actions, master);
  pid_t pid;
  const int64_t gets = UpdateGets();
  ASSERT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(),
                        environ),
            0);
  posix_spawn_file_actions_destroy(&actions);
  close(slave);
  std::string screen;
  std::thread reader([&] {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(master, buf, sizeof(buf));
      if (n <= 0) break;  // EIO once the child closed the terminal
      screen.append(buf, n);
    }
  });
  // Let it draw a while (the elapsed time ticks), then finish the update.
  AwaitWatchOpen(gets);
  absl::SleepFor(absl::Milliseconds(1500));
  h_->StartTicking();
  int status = 0;
  waitpid(pid, &status, 0);
  reader.join();
  close(master);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << screen;
  EXPECT_THAT(screen, HasSubstr("\r\033[K"));
  EXPECT_THAT(screen, HasSubstr("SUCCESS  COMPLETED"));
  EXPECT_THAT(screen, HasSubstr("00:01"));  // the elapsed time was redrawn
  // One line in the end: no newline before the final one.
  EXPECT_EQ(std::count(screen.begin(), screen.end(), '\n'), 1) << screen;
}

// Databricks unavailable is the service failing the request (65, with the
// request id), not the service being unreachable (69).
TEST_F(CliTest, DatabricksUnavailableIsAServiceError) {
  databricks::sim::FaultRule lost;
  lost.endpoint = "updates.start";
  lost.kind = databricks::sim::FaultKind::kHttpError;
  lost.status = 502;
  lost.count = 1;
  h_->sim().InjectFault(lost);
  Result r = Run({"start", orders_});
  EXPECT_EQ(r.code, 65) << r;
  ASSERT_EQ(r.ErrLines().size(), 1u) << r;
  EXPECT_THAT(r.err,
              StartsWith("pdlt: the service could not complete the request: "));
  EXPECT_THAT(r.err, HasSubstr("[request id pdlt-"));
}

TEST_F(CliTest, Health) {
  Result ok = Run({"health"});
  EXPECT_EQ(ok.code, 0) << ok;
  EXPECT_EQ(ok.out, "SERVING\n");
  Result json = Run({"health", "--output", "json"});
  EXPECT_EQ(json.ParseJson()["status"], "SERVING");
  h_->BeginDrain();
  Result draining = Run({"health"});
  EXPECT_EQ(draining.code, 69) << draining;
  EXPECT_EQ(draining.out, "NOT_SERVING\n");
  EXPECT_EQ(draining.ErrLines().size(), 1u) << draining;
}

TEST(CliAuthTest, TokenFileAndMutualTls) {
  const std::string server_token =
      TmpFile("server-token", "tok-BBBB-0123456789");
  Harness h(absl::StrCat(
      R"(, "tls": {"cert_file": ")", Runfile("tests/testdata/server.pem"),
      R"(", "key_file": ")", Runfile("tests/testdata/server.key"),
      R"(", "client_ca_file": ")", Runfile("tests/testdata/ca.pem"),
      R"("},
         "authorization": {"enabled": true,
            "tokens": [{"name": "ops", "token": {"file": ")",
      server_token, R"("}}],
            "grants": [{"identity": "token:ops", "workspaces": ["*"],
                        "actions": ["read"]}]})"));
  // 127.0.0.1 (in the certificate too): c-ares leaks a little when a
  // channel to a name is destroyed while it re-resolves (LeakSanitizer).
  const std::string target = h.target();
  const std::string token = TmpFile("client-token", "tok-BBBB-0123456789\n");
  Result ok = Pdlt({"workspaces", "--server", target, "--tls-ca",
                    Runfile("tests/testdata/ca.pem"), "--token-file", token});
  EXPECT_EQ(ok.code, 0) << ok;
  // The same from the environment.
  Result env =
      Pdlt({"workspaces"},
           {absl::StrCat("PDLT_SERVER=", target),
            absl::StrCat("PDLT_TLS_CA=", Runfile("tests/testdata/ca.pem")),
            absl::StrCat("PDLT_TOKEN_FILE=", token)});
  EXPECT_EQ(env.code, 0) << env;
  // A client certificate is accepted too (the token identifies the caller).
  Result mtls =
      Pdlt({"workspaces", "--server", target, "--tls-ca",
            Runfile("tests/testdata/ca.pem"), "--tls-cert",
            Runfile("tests/testdata/client.pem"), "--tls-key",
            Runfile("tests/testdata/client.key"), "--token-file", token});
  EXPECT_EQ(mtls.code, 0) << mtls;

  Result no_token = Pdlt({"workspaces", "--server", target, "--tls-ca",
                          Runfile("tests/testdata/ca.pem")});
  EXPECT_EQ(no_token.code, 77) << no_token;
  EXPECT_EQ(no_token.ErrLines().size(), 1u) << no_token;
  EXPECT_THAT(no_token.err, StartsWith("pdlt: not authenticated"));
  // Read-only grant: start is refused.
  Result denied = Pdlt(
      {"start", "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5", "--server", target,
       "--tls-ca", Runfile("tests/testdata/ca.pem"), "--token-file", token});
  EXPECT_EQ(denied.code, 77) << denied;
  EXPECT_THAT(denied.err, StartsWith("pdlt: permission denied"));
  // Plaintext against a TLS server: unreachable.
  Result plaintext =
      Pdlt({"workspaces", "--server", target, "--timeout", "3s"});
  EXPECT_EQ(plaintext.code, 69) << plaintext;
  EXPECT_EQ(plaintext.ErrLines().size(), 1u) << plaintext;
}

}  // namespace
}  // namespace polysync::client
