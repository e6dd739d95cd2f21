// The update lifecycle: state durations and transitions, the events they
// write, busy pipelines' flow events, DLT's retries and the clock's ticks.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/databricks/simulator/workspace.h"
#include "adapters/databricks/simulator/workspace_internal.h"

namespace polysync::databricks::sim {

using json = nlohmann::json;

absl::Duration Workspace::StateDuration(const Update& u) const {
  const LifecycleOptions& l = options_.lifecycle;
  if (u.state == "QUEUED") return l.queued;
  if (u.state == "CREATED") return l.created;
  if (u.state == "WAITING_FOR_RESOURCES") return l.waiting_for_resources;
  if (u.state == "INITIALIZING") return l.initializing;
  if (u.state == "RESETTING") return l.resetting;
  if (u.state == "SETTING_UP_TABLES") return l.setting_up_tables;
  if (u.state == "RUNNING") {
    return u.continuous && !u.fails ? absl::InfiniteDuration() : l.running;
  }
  if (u.state == "STOPPING") return l.stopping;
  return absl::InfiniteDuration();
}

std::string Workspace::NextState(const Update& u) const {
  if (u.state == "QUEUED") return "CREATED";
  if (u.state == "CREATED") return "WAITING_FOR_RESOURCES";
  if (u.state == "WAITING_FOR_RESOURCES") return "INITIALIZING";
  if (u.state == "INITIALIZING") {
    return u.start.full_refresh || !u.start.full_refresh_selection.empty()
               ? "RESETTING"
               : "SETTING_UP_TABLES";
  }
  if (u.state == "RESETTING") return "SETTING_UP_TABLES";
  if (u.state == "SETTING_UP_TABLES") {
    if (u.start.validate_only) return u.fails ? "FAILED" : "COMPLETED";
    return "RUNNING";
  }
  if (u.state == "RUNNING") return u.fails ? "FAILED" : "COMPLETED";
  if (u.state == "STOPPING") return "CANCELED";
  return u.state;
}

void Workspace::AddEvent(Pipeline& p, absl::Time at, const std::string& level,
                         const std::string& event_type,
                         const std::string& message, const Update* u,
                         json details, json error) {
  Event e;
  e.seq = ++seq_;
  e.time = at;
  e.id = NewId();
  e.level = level;
  json origin = {{"pipeline_id", p.id}, {"pipeline_name", p.name}};
  if (u != nullptr) {
    e.update_id = u->id;
    origin["update_id"] = u->id;
    origin["request_id"] = u->request_id;
    origin["cluster_id"] = u->cluster_id;
  }
  e.json = {{"id", e.id},
            {"sequence", {{"control_plane_seq_no", e.seq}}},
            {"origin", std::move(origin)},
            {"timestamp", FormatRfc3339Millis(at)},
            {"message", message},
            {"level", level},
            {"maturity_level", "STABLE"},
            {"event_type", event_type},
            {"details", std::move(details)}};
  if (!error.is_null()) e.json["error"] = std::move(error);
  p.events.push_back(std::move(e));
}

void Workspace::Transition(Pipeline& p, Update& u, const std::string& state,
                           absl::Time at, std::vector<std::string>* worklist) {
  const std::string previous = u.state;
  u.state = state;
  u.state_since = at;
  const std::string short_id = u.id.substr(0, 6);
  // Flow events, as DLT writes them around the update's own progress.
  auto flow_event = [&](const std::string& level, const std::string& flow,
                        const std::string& status, const std::string& message,
                        json details, json error = nullptr) {
    details["status"] = status;
    AddEvent(p, at, level, "flow_progress", message, &u,
             {{"flow_progress", std::move(details)}}, std::move(error));
    json& origin = p.events.back().json["origin"];
    origin["flow_name"] = flow;
    origin["dataset_name"] = flow;
  };
  if (state == "RUNNING") {
    for (const char* flow : {"orders_raw", "orders_cleaned"}) {
      flow_event("INFO", flow, "RUNNING",
                 absl::StrCat("Flow '", flow, "' is RUNNING."), json::object());
    }
  }
  if (state == "COMPLETED" && previous == "RUNNING") {
    flow_event("INFO", "orders_raw", "COMPLETED",
               "Flow 'orders_raw' has COMPLETED.",
               {{"metrics", {{"num_output_rows", 1200}}}});
    flow_event("WARN", "orders_cleaned", "COMPLETED",
               "Flow 'orders_cleaned' dropped 3 records that failed "
               "expectation 'valid_amount'.",
               {{"metrics", {{"num_output_rows", 1197}}},
                {"data_quality",
                 {{"dropped_records", 3},
                  {"expectations", json::array({{{"name", "valid_amount"},
                                                 {"dataset", "orders_cleaned"},
                                                 {"passed_records", 1197},
                                                 {"failed_records", 3}}})}}}});
  }
  if (state == "FAILED") {
    // kFail's failure is fatal; the retried behaviours' are not (whether
    // DLT retries also depends on the mode: WillRetry).
    const bool fatal = p.behavior == Behavior::kFail;
    json exceptions = json::array(
        {{{"class_name", "org.apache.spark.sql.AnalysisException"},
          {"message",
           "[TABLE_OR_VIEW_NOT_FOUND] The table or view "
           "`main`.`raw`.`orders_landing` cannot be found. Verify the "
           "spelling and correctness of the schema and catalog."},
          {"stack", json::array()}}});
    flow_event(
        "ERROR", "orders_cleaned", "FAILED",
        absl::StrCat(
            "Flow 'orders_cleaned' has FAILED", fatal ? " fatally" : "",
            u.attempt > 1 ? absl::StrCat(" (attempt ", u.attempt, ")") : "",
            ". An error occurred because we could not find "
            "the table main.raw.orders_landing."),
        json::object(), {{"exceptions", exceptions}, {"fatal", fatal}});
    AddEvent(p, at, "ERROR", "update_progress",
             absl::StrCat("Update ", short_id, " is FAILED."), &u,
             {{"update_progress", {{"state", state}}}},
             {{"exceptions", exceptions}, {"fatal", fatal}});
  } else {
    AddEvent(p, at, "INFO", "update_progress",
             absl::StrCat("Update ", short_id, " is ", state, "."), &u,
             {{"update_progress", {{"state", state}}}});
  }
  if (IsTerminal(state)) {
    active_.erase(u.id);
    if (p.active_update == u.id) p.active_update.clear();
    if (state == "CANCELED" && previous == "STOPPING") {
      p.stopping_until = at + options_.idle_lag_after_stop;
    }
    if (state == "FAILED" && WillRetry(p, u)) {
      // DLT retries the failed update itself, under the same request, once
      // retry_delay has passed.
      p.retry_of = u.id;
      p.retry_due = at + options_.retry_delay;
      retrying_.insert(p.id);
      if (options_.retry_delay <= absl::ZeroDuration() && worklist != nullptr) {
        StartDueRetriesLocked(at, worklist);
      }
    }
  }
}

void Workspace::BusyEventsLocked(Pipeline& p, Update& u, absl::Time until) {
  if (options_.busy_events_per_second <= 0) return;
  if (u.state != "RUNNING" && u.state != "STOPPING") return;
  if (u.busy_until == absl::InfinitePast()) u.busy_until = u.state_since;
  const absl::Duration every =
      absl::Seconds(1) / options_.busy_events_per_second;
  int written = 0;
  for (absl::Time at = u.busy_until + every; at <= until; at += every) {
    if (written == kMaxBusyEventsPerTick) {
      u.busy_until = until;
      return;
    }
    ++written;
    u.busy_until = at;
    AddEvent(
        p, at, "INFO", "flow_progress",
        "Flow 'orders_raw' is RUNNING: processed a micro-batch.", &u,
        {{"flow_progress",
          {{"status", "RUNNING"}, {"metrics", {{"num_output_rows", 100}}}}}});
    json& origin = p.events.back().json["origin"];
    origin["flow_name"] = "orders_raw";
    origin["dataset_name"] = "orders_raw";
  }
}

void Workspace::StartDueRetriesLocked(absl::Time now,
                                      std::vector<std::string>* worklist) {
  for (auto it = retrying_.begin(); it != retrying_.end();) {
    Pipeline* p = FindPipeline(*it);
    if (p == nullptr) {
      it = retrying_.erase(it);
      continue;
    }
    if (p->retry_due > now) {
      ++it;
      continue;
    }
    const Update& failed = updates_.at(p->retry_of);
    StartSpec start = failed.start;
    start.cause = "RETRY_ON_FAILURE";
    const std::string request_id = failed.request_id;
    const int attempt = failed.attempt + 1;
    const absl::Time at = p->retry_due;
    p->retry_of.clear();
    it = retrying_.erase(it);
    Update& retry = CreateUpdateLocked(*p, at, request_id, std::move(start));
    retry.attempt = attempt;
    worklist->push_back(retry.id);
  }
}

void Workspace::TickLocked(absl::Time now) {
  if (now > now_) now_ = now;
  std::vector<std::string> worklist(active_.begin(), active_.end());
  // A failure in this tick can make a retry due in it too: look again until
  // nothing moves.
  for (StartDueRetriesLocked(now, &worklist); !worklist.empty();
       StartDueRetriesLocked(now, &worklist)) {
    while (!worklist.empty()) {
      std::string id = std::move(worklist.back());
      worklist.pop_back();
      auto it = updates_.find(id);
      if (it == updates_.end()) continue;
      Update& u = it->second;
      Pipeline* p = FindPipeline(u.pipeline_id);
      if (p == nullptr) continue;
      while (!IsTerminal(u.state)) {
        absl::Duration d = StateDuration(u);
        if (d == absl::InfiniteDuration()) break;
        absl::Time end = u.state_since + d;
        if (end > now) break;
        BusyEventsLocked(*p, u, end);
        Transition(*p, u, NextState(u), end, &worklist);
      }
      BusyEventsLocked(*p, u, now);
    }
  }
}

void Workspace::Tick(absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
}

}  // namespace polysync::databricks::sim
