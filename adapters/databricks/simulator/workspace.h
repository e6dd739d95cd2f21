// The state of the simulated workspace: pipelines, updates, events and the
// update lifecycle. No HTTP here: the simulator's route table (simulator.cc)
// sends requests to these methods, which answer with the JSON body and HTTP
// status the real Pipelines API 2.0 would give. The methods are implemented
// by area: workspace_pipelines.cc, workspace_updates.cc, events.cc and
// lifecycle.cc (the update lifecycle); workspace.cc has the shared parts.
//
// Lifecycles are driven by time passed in by the caller (from the simulator's
// `Clock`): `Tick(now)` moves every active update through as many states as
// the elapsed time allows, writing one `update_progress` event per state
// change, timestamped with the simulated instant of the change.
//
// Thread-safe: every public method takes one std::mutex.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_WORKSPACE_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_WORKSPACE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/api_types.h"

namespace polysync::databricks::sim {

// How a pipeline's updates end.
enum class Behavior {
  kSucceed,            // COMPLETED (continuous pipelines stay RUNNING)
  kFail,               // FAILED, with ERROR events
  kFailOnceThenRetry,  // FAILED, then DLT retries (RETRY_ON_FAILURE) after
                       // WorkspaceOptions::retry_delay and the retry
                       // COMPLETES; same request_id
  kFailRetried,        // every attempt FAILS; DLT retries it
                       // WorkspaceOptions::max_retry_attempts times, then
                       // gives up (the pipeline shows after_failure_state)
};

// Which failures DLT retries, as the service's rule expects it: in
// production mode only (`development` false), never a `validate_only`
// update, never a `fatal` failure (Behavior::kFail's ERROR events are
// fatal; the retried behaviours' are not, their last attempt's included).

// Parses "succeed", "fail", "fail_once", "fail_retried" (the values of the
// spec configuration key `sim.behavior`).
bool ParseBehavior(absl::string_view text, Behavior* behavior);

// How long an update stays in each state.
struct LifecycleOptions {
  absl::Duration queued = absl::Seconds(1);
  absl::Duration created = absl::Seconds(1);
  absl::Duration waiting_for_resources = absl::Seconds(5);
  absl::Duration initializing = absl::Seconds(3);
  absl::Duration resetting = absl::Seconds(2);  // full refreshes only
  absl::Duration setting_up_tables = absl::Seconds(3);
  absl::Duration running = absl::Seconds(10);  // triggered pipelines
  absl::Duration stopping = absl::Seconds(2);
};

struct WorkspaceOptions {
  LifecycleOptions lifecycle;
  // The answer to starting an update while one is active. The real API's
  // status is undocumented; 409 RESOURCE_CONFLICT is the likely reading,
  // 400 INVALID_STATE the other one.
  int conflict_status = 409;
  std::string conflict_error_code = "RESOURCE_CONFLICT";
  // Azure's limit of concurrent pipeline updates per workspace (0: none).
  // The real answer above it is undocumented; 429 RESOURCE_EXHAUSTED here.
  int max_active_updates = 200;
  int limit_status = 429;
  std::string limit_error_code = "RESOURCE_EXHAUSTED";
  // How many entries `latest_updates` carries (newest first).
  int latest_updates_limit = 5;
  // Which API the workspace speaks.
  // false: today's, as databricks-sdk-py `service/pipelines.py` defines it:
  //   a start answers {"update_id"} only (StartUpdateResponse); updates carry
  //   no request_id (UpdateInfo); GET .../requests/{id} is not an endpoint
  //   (404 ENDPOINT_NOT_FOUND); update `mode` is DEFAULT or CONTINUOUS
  //   (UpdateMode) and, like `config`, only GET update returns it.
  // true: the retired API 2.0 guide's shapes: `request_id` in start answers
  //   and updates, the requests endpoint, `mode` TRIGGERED or CONTINUOUS.
  // The default is today's API; `--legacy_request_api` sets it in the
  // binary, PDLT_SIMULATOR_API=legacy in tests (tests/testing/simulator_api.h).
  bool legacy_request_api = false;
  // How long DLT takes to retry a failed update (Behavior::kFailOnceThenRetry)
  // after the failure. In that gap the pipeline's state is `retry_gap_state`
  // (RECOVERING is the likely real one; unverified, so tests vary it), no
  // update is active, a start is refused like a start while an update is
  // active, and a stop is the API's no-op (the retry still appears).
  absl::Duration retry_delay = absl::ZeroDuration();
  std::string retry_gap_state = "RECOVERING";
  // Behavior::kFailRetried: how many retries DLT makes before it gives up.
  int max_retry_attempts = 2;
  // The pipeline's state once its newest update FAILED and nothing retries
  // it (IDLE is what a triggered pipeline shows; tests vary it to check
  // the other conditions of the retry rule one at a time).
  std::string after_failure_state = "IDLE";
  // Whether a stop while a retry is pending cancels the retry (the pipeline
  // then goes to after_failure_state). Unverified either way: false keeps
  // the API's documented no-op for a pipeline without an active update.
  bool stop_cancels_pending_retry = false;
  // The pipeline's state follows a stop as the SDKs' stop-and-wait expects:
  // STOPPING while the stopped update ends, then IDLE. With this > 0 it
  // stays STOPPING that long after the stopped update is CANCELED (the
  // cluster being released: the update's end is seen before the pipeline
  // is idle), and a start meanwhile gets the conflict answer.
  absl::Duration idle_lag_after_stop = absl::ZeroDuration();
  // A busy pipeline (0: off). While an update is RUNNING or STOPPING its
  // flows report progress: this many INFO `flow_progress` events (origin:
  // the update and flow `orders_raw`) per simulated second, evenly spaced,
  // at most kMaxBusyEventsPerTick per tick. They bury the events written
  // before them: when STOPPING began, and (once a newer update of the
  // pipeline runs) an earlier update's terminal and ERROR events.
  int busy_events_per_second = 0;
  // How many events of a pipeline's log one list-events page examines
  // (0: all). The API "may return fewer than max_results events in a
  // response, even if there are more events available" (the SDKs'
  // ListPipelineEventsRequest): with a limit a page holds the matching
  // events among the next `events_scan_limit` of the log, and a
  // next_page_token while the log goes on, so a filtered read of an
  // earlier update on a busy pipeline gets empty pages first.
  int events_scan_limit = 0;
  uint64_t random_seed = 20261120;
};

// WorkspaceOptions::busy_events_per_second writes at most this many events
// per pipeline in one tick (the rest of a long jump of the clock is
// skipped).
inline constexpr int kMaxBusyEventsPerTick = 10000;

// RFC 3339 with milliseconds, UTC: "2026-11-20T09:00:01.250Z".
std::string FormatRfc3339Millis(absl::Time t);

class Workspace {
 public:
  explicit Workspace(WorkspaceOptions options);

  // --- the REST API (each ticks the lifecycle to `now` first) -------------
  ApiResult ListPipelines(absl::Time now, const QueryParams& params);
  ApiResult CreatePipeline(absl::Time now, const nlohmann::json& body);
  ApiResult GetPipeline(absl::Time now, const std::string& id);
  ApiResult EditPipeline(absl::Time now, const std::string& id,
                         const nlohmann::json& body);
  ApiResult DeletePipeline(absl::Time now, const std::string& id);
  // `hidden_for` > 0: the update is created at once (a second start is
  // refused) but stays out of every read (GET pipeline, list and get update)
  // for that long, as a lagging read path would show it.
  ApiResult StartUpdate(absl::Time now, const std::string& id,
                        const nlohmann::json& body,
                        absl::Duration hidden_for = absl::ZeroDuration());
  ApiResult ListUpdates(absl::Time now, const std::string& id,
                        const QueryParams& params);
  ApiResult GetUpdate(absl::Time now, const std::string& id,
                      const std::string& update_id);
  ApiResult GetRequest(absl::Time now, const std::string& id,
                       const std::string& request_id);
  ApiResult StopPipeline(absl::Time now, const std::string& id);
  ApiResult ListEvents(absl::Time now, const std::string& id,
                       const QueryParams& params);

  // --- for the C++ API ---------------------------------------------------
  // Adds a pipeline with `spec` (PipelineSettings JSON, no "id") and returns
  // its id. `creator` becomes creator_user_name and run_as_user_name.
  absl::StatusOr<std::string> AddPipeline(absl::Time now, nlohmann::json spec,
                                          Behavior behavior,
                                          const std::string& creator);
  // Adds an update of pipeline `id` that started at `at` (in the past) and
  // runs it up to `now`: seed history. Not counted by UpdatesCreated().
  absl::Status AddHistoricUpdate(const std::string& id, absl::Time at,
                                 absl::Time now, const std::string& cause);
  // Changes how future updates of the pipeline end.
  absl::Status SetBehavior(const std::string& id, Behavior behavior);
  // Moves every active update as far as `now` allows.
  void Tick(absl::Time now);

  int64_t UpdatesCreated() const;
  int64_t UpdatesCreated(const std::string& pipeline_id) const;
  size_t PipelineCount() const;

 private:
  struct Event {
    int64_t seq = 0;
    absl::Time time;
    std::string id;
    std::string level;
    std::string update_id;
    nlohmann::json json;
  };
  // What a start asks for (the StartUpdate body's fields that are kept).
  struct StartSpec {
    std::string cause = "API_CALL";
    bool full_refresh = false;
    std::vector<std::string> refresh_selection;
    std::vector<std::string> full_refresh_selection;
    std::vector<std::string> refresh_flow_selection;
    std::vector<std::string> reset_checkpoint_selection;
    bool validate_only = false;
    // The effective parameters: the pipeline's defaults overridden by the
    // start's `parameters` (an object of strings; may be empty).
    nlohmann::json parameters = nlohmann::json::object();
  };
  struct Update {
    std::string id;
    std::string pipeline_id;
    std::string request_id;
    StartSpec start;
    std::string state;
    std::string cluster_id;
    nlohmann::json config;
    absl::Time created;
    absl::Time state_since;
    absl::Time visible_from = absl::InfinitePast();
    bool continuous = false;
    bool fails = false;
    int attempt = 1;  // 2 for DLT's first retry, and so on
    // Busy pipelines: flow events are written up to this instant.
    absl::Time busy_until = absl::InfinitePast();
  };
  struct Pipeline {
    std::string id;
    nlohmann::json spec;  // includes "id"
    std::string name;
    std::string creator;
    absl::Time last_modified;
    Behavior behavior = Behavior::kSucceed;
    // Default parameters (GetPipelineResponse.parameters): an object of
    // strings, from the create or edit body's top-level `parameters`.
    nlohmann::json parameters = nlohmann::json::object();
    std::vector<std::string> update_ids;  // oldest first
    std::string active_update;            // empty when none
    // A failed update DLT will retry at `retry_due` (empty when none).
    std::string retry_of;
    absl::Time retry_due;
    // STOPPING until then after a stopped update ended
    // (WorkspaceOptions::idle_lag_after_stop).
    absl::Time stopping_until = absl::InfinitePast();
    std::vector<Event> events;  // oldest first
    int64_t updates_created = 0;
  };

  // Whether DLT retries `u` when it FAILS.
  bool WillRetry(const Pipeline& p, const Update& u) const;
  // Whether reads show `u` yet (see StartUpdate's hidden_for).
  bool Visible(const Update& u) const { return u.visible_from <= now_; }
  std::string NewId();
  std::string NewClusterId(absl::Time now);
  Pipeline* FindPipeline(const std::string& id);
  // `listed`: as ListUpdates shows it (without `config` and, in today's
  // API, `mode`).
  nlohmann::json UpdateJson(const Update& u, bool listed = false) const;
  nlohmann::json LatestUpdates(const Pipeline& p) const;
  nlohmann::json StatusJson(const Pipeline& p) const;
  void TickLocked(absl::Time now);
  // Creates an update (state QUEUED at `at`) and its events.
  Update& CreateUpdateLocked(Pipeline& p, absl::Time at,
                             const std::string& request_id, StartSpec start);
  // Starts the retries that are due by `now`; their ids go to `worklist`.
  void StartDueRetriesLocked(absl::Time now,
                             std::vector<std::string>* worklist);
  void Transition(Pipeline& p, Update& u, const std::string& state,
                  absl::Time at, std::vector<std::string>* worklist);
  // WorkspaceOptions::busy_events_per_second: the flow events of `u` from
  // its busy_until to `until`, when it is RUNNING or STOPPING.
  void BusyEventsLocked(Pipeline& p, Update& u, absl::Time until);
  void AddEvent(Pipeline& p, absl::Time at, const std::string& level,
                const std::string& event_type, const std::string& message,
                const Update* u, nlohmann::json details,
                nlohmann::json error = nullptr);
  absl::Duration StateDuration(const Update& u) const;
  std::string NextState(const Update& u) const;

  const WorkspaceOptions options_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::map<std::string, Pipeline> pipelines_;  // by id
  std::map<std::string, Update> updates_;      // by update id
  std::set<std::string> active_;               // update ids
  std::set<std::string> retrying_;             // pipeline ids with retry_of
  absl::Time now_ = absl::InfinitePast();      // the latest tick
  int64_t seq_ = 0;
  int64_t updates_created_ = 0;
  bool counting_ = true;  // false while adding history
};

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_WORKSPACE_H_
