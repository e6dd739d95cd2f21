// databricks-simulator: the simulated Databricks workspace as a process.
// See README.md in this folder for flags, the admin API and examples.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/simulator.h"
#include "common/log.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 8443, "Port to listen on (0 picks a free port).");
ABSL_FLAG(int, io_threads, 2, "Threads serving HTTP.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain: serve HTTPS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(bool, seed, true, "Start with the dozen default pipelines.");
ABSL_FLAG(int, generate_pipelines, 0,
          "Also add this many generated pipelines.");
ABSL_FLAG(bool, manual_clock, false,
          "Time only moves through POST /_sim/clock/advance.");
ABSL_FLAG(double, time_scale, 1.0,
          "Multiplies every state duration (0.1 makes lifecycles 10x "
          "faster).");
ABSL_FLAG(absl::Duration, running_duration, absl::Seconds(10),
          "How long a triggered update stays RUNNING (before time_scale).");
ABSL_FLAG(int, conflict_status, 409,
          "HTTP status when an update is started while one is active.");
ABSL_FLAG(std::string, conflict_error_code, "RESOURCE_CONFLICT",
          "error_code when an update is started while one is active.");
ABSL_FLAG(int, max_active_updates, 200,
          "Concurrent updates allowed in the workspace (0: no limit).");
ABSL_FLAG(bool, legacy_request_api, false,
          "Speak the retired API guide's shapes: request_id in start answers "
          "and updates, GET .../requests/{id}, update mode TRIGGERED. false "
          "(the default): today's API as the SDKs define it (no request_id; "
          "the requests endpoint answers 404 ENDPOINT_NOT_FOUND; mode "
          "DEFAULT).");
ABSL_FLAG(absl::Duration, retry_delay, absl::ZeroDuration(),
          "How long DLT waits before retrying a failed update of a fail_once "
          "pipeline (before time_scale); the pipeline shows --retry_gap_state "
          "meanwhile and refuses starts.");
ABSL_FLAG(std::string, retry_gap_state, "RECOVERING",
          "The pipeline state while a retry is pending.");
ABSL_FLAG(int, max_retry_attempts, 2,
          "How many times DLT retries an update of a fail_retried pipeline "
          "(every attempt fails) before it gives up.");
ABSL_FLAG(std::string, after_failure_state, "IDLE",
          "The pipeline state once its newest update FAILED and nothing "
          "retries it.");
ABSL_FLAG(bool, stop_cancels_pending_retry, false,
          "A stop while DLT's retry is pending cancels the retry (false: the "
          "API's no-op for a pipeline without an active update; the retry "
          "still comes).");
ABSL_FLAG(int, busy_events_per_second, 0,
          "A busy pipeline: while an update is RUNNING or STOPPING its flows "
          "write this many INFO flow_progress events per simulated second "
          "(0: off).");
ABSL_FLAG(int, events_scan_limit, 0,
          "How many events of a pipeline's log one list-events page examines "
          "(0: all): a filtered page may then hold fewer than max_results, "
          "even none, with a next_page_token.");
ABSL_FLAG(std::string, token, "",
          "Personal access token to accept (default: a fixed test token; "
          "the DATABRICKS_SIM_TOKEN environment variable also works).");
ABSL_FLAG(absl::Duration, token_lifetime, absl::Hours(1),
          "expires_in of tokens issued by the token endpoints.");
ABSL_FLAG(absl::Duration, token_reject_when_left, absl::Seconds(30),
          "Issued tokens with this much or less left are refused (as Azure "
          "Databricks does with 30s).");
ABSL_FLAG(std::string, faults, "",
          "Fault rules active from the start: a JSON rule or array of rules "
          "(see README.md).");
ABSL_FLAG(std::string, faults_file, "", "File holding --faults JSON.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn, error.");

namespace {

using polysync::databricks::sim::ManualClock;
using polysync::databricks::sim::Simulator;
using polysync::databricks::sim::SimulatorOptions;

int Fail(const std::string& message) {
  polysync::log::Error("databricks simulator cannot start",
                       {polysync::log::Field("error", message)});
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves a simulated Databricks workspace (Pipelines API 2.0). See "
      "adapters/databricks/simulator/README.md.");
  absl::ParseCommandLine(argc, argv);
  polysync::log::Level level;
  if (!polysync::log::ParseLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return Fail("bad --log_level");
  }
  polysync::log::SetMinLevel(level);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SimulatorOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.io_threads = absl::GetFlag(FLAGS_io_threads);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.seed_default_pipelines = absl::GetFlag(FLAGS_seed);
  options.generated_pipelines = absl::GetFlag(FLAGS_generate_pipelines);
  if (absl::GetFlag(FLAGS_manual_clock)) {
    options.clock = std::make_shared<ManualClock>(absl::Now());
  }
  double scale = absl::GetFlag(FLAGS_time_scale);
  if (!(scale > 0)) return Fail("--time_scale must be positive");
  auto& l = options.workspace.lifecycle;
  l.running = absl::GetFlag(FLAGS_running_duration);
  for (absl::Duration* d :
       {&l.queued, &l.created, &l.waiting_for_resources, &l.initializing,
        &l.resetting, &l.setting_up_tables, &l.running, &l.stopping}) {
    *d = *d * scale;
  }
  options.workspace.conflict_status = absl::GetFlag(FLAGS_conflict_status);
  options.workspace.conflict_error_code =
      absl::GetFlag(FLAGS_conflict_error_code);
  options.workspace.max_active_updates =
      absl::GetFlag(FLAGS_max_active_updates);
  options.workspace.legacy_request_api =
      absl::GetFlag(FLAGS_legacy_request_api);
  options.workspace.retry_delay = absl::GetFlag(FLAGS_retry_delay) * scale;
  if (options.workspace.retry_delay < absl::ZeroDuration()) {
    return Fail("--retry_delay must not be negative");
  }
  options.workspace.retry_gap_state = absl::GetFlag(FLAGS_retry_gap_state);
  options.workspace.max_retry_attempts =
      absl::GetFlag(FLAGS_max_retry_attempts);
  if (options.workspace.max_retry_attempts < 0) {
    return Fail("--max_retry_attempts must not be negative");
  }
  options.workspace.after_failure_state =
      absl::GetFlag(FLAGS_after_failure_state);
  options.workspace.stop_cancels_pending_retry =
      absl::GetFlag(FLAGS_stop_cancels_pending_retry);
  options.workspace.busy_events_per_second =
      absl::GetFlag(FLAGS_busy_events_per_second);
  options.workspace.events_scan_limit = absl::GetFlag(FLAGS_events_scan_limit);
  if (options.workspace.busy_events_per_second < 0 ||
      options.workspace.events_scan_limit < 0) {
    return Fail(
        "--busy_events_per_second and --events_scan_limit must not "
        "be negative");
  }
  std::string token = absl::GetFlag(FLAGS_token);
  if (token.empty()) {
    if (const char* env = std::getenv("DATABRICKS_SIM_TOKEN")) token = env;
  }
  if (!token.empty()) options.auth.personal_access_token = token;
  options.auth.token_lifetime = absl::GetFlag(FLAGS_token_lifetime);
  options.auth.reject_when_left = absl::GetFlag(FLAGS_token_reject_when_left);

  std::string faults = absl::GetFlag(FLAGS_faults);
  if (!absl::GetFlag(FLAGS_faults_file).empty()) {
    std::ifstream in(absl::GetFlag(FLAGS_faults_file));
    if (!in) return Fail("cannot read --faults_file");
    std::stringstream ss;
    ss << in.rdbuf();
    faults = ss.str();
  }

  auto sim = Simulator::Start(options);
  if (!sim.ok()) return Fail(std::string(sim.status().message()));
  if (!faults.empty()) {
    auto rules = nlohmann::json::parse(faults, nullptr, false);
    if (rules.is_discarded()) return Fail("--faults is not JSON");
    if (auto s = (*sim)->InjectFaultJson(rules); !s.ok()) {
      return Fail(absl::StrCat("--faults: ", s.message()));
    }
  }
  // The port line on stdout lets scripts start it with --port=0.
  std::printf("listening on %s\n", (*sim)->base_url().c_str());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  polysync::log::Info("databricks simulator stopping",
                      {polysync::log::Field("signal", sig)});
  (*sim)->Shutdown();
  return 0;
}
