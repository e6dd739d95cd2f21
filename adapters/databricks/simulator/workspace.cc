// The workspace's shared pieces: the helpers of workspace_internal.h, the
// JSON of pipelines and updates, ids and counters. The REST API's methods
// are in workspace_pipelines.cc, workspace_updates.cc and events.cc; the
// update lifecycle in lifecycle.cc.
#include "adapters/databricks/simulator/workspace.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "adapters/databricks/simulator/workspace_internal.h"

namespace polysync::databricks::sim {

using json = nlohmann::json;

bool IsTerminal(const std::string& state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELED";
}

bool ReadBool(const json& body, const char* key, bool* out) {
  *out = false;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return true;
  if (it->is_boolean()) {
    *out = it->get<bool>();
    return true;
  }
  if (it->is_string()) {
    std::string s = absl::AsciiStrToLower(it->get<std::string>());
    if (s == "true" || s == "false") {
      *out = s == "true";
      return true;
    }
  }
  return false;
}

std::string ReadParameters(const json& body, json* out) {
  *out = json::object();
  auto it = body.find("parameters");
  if (it == body.end() || it->is_null()) return "";
  if (!it->is_object()) return "parameters must be a map of strings.";
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return "parameters must be a map of strings.";
  }
  if (it->dump().size() > 10000) {
    return "parameters exceed the maximum total size of 10000 characters.";
  }
  *out = *it;
  return "";
}

ApiResult NoPipeline(const std::string& id) {
  return ApiResult::Error(404, "RESOURCE_DOES_NOT_EXIST",
                          absl::StrCat("Pipeline ", id, " does not exist."));
}

bool ParseBehavior(absl::string_view text, Behavior* behavior) {
  if (text == "succeed") {
    *behavior = Behavior::kSucceed;
  } else if (text == "fail") {
    *behavior = Behavior::kFail;
  } else if (text == "fail_once") {
    *behavior = Behavior::kFailOnceThenRetry;
  } else if (text == "fail_retried") {
    *behavior = Behavior::kFailRetried;
  } else {
    return false;
  }
  return true;
}

std::string FormatRfc3339Millis(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

Workspace::Workspace(WorkspaceOptions options)
    : options_(std::move(options)), rng_(options_.random_seed) {}

std::string Workspace::NewId() {
  uint64_t a = rng_(), b = rng_();
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", a >> 32,
                         (a >> 16) & 0xffff, a & 0xffff, b >> 48,
                         b & 0xffffffffffffULL);
}

std::string Workspace::NewClusterId(absl::Time now) {
  return absl::StrCat(absl::FormatTime("%m%d-%H%M%S", now, absl::UTCTimeZone()),
                      "-",
                      absl::StrFormat("%08x", static_cast<uint32_t>(rng_())));
}

Workspace::Pipeline* Workspace::FindPipeline(const std::string& id) {
  auto it = pipelines_.find(id);
  return it == pipelines_.end() ? nullptr : &it->second;
}

json Workspace::UpdateJson(const Update& u, bool listed) const {
  const StartSpec& s = u.start;
  json j = {{"pipeline_id", u.pipeline_id},
            {"update_id", u.id},
            {"cause", s.cause},
            {"state", u.state},
            {"cluster_id", u.cluster_id},
            {"creation_time", Millis(u.created)},
            {"full_refresh", s.full_refresh},
            {"validate_only", s.validate_only}};
  if (options_.legacy_request_api) {
    // The retired guide's UpdateInfo.
    j["config"] = u.config;
    j["mode"] = u.continuous ? "CONTINUOUS" : "TRIGGERED";
    j["request_id"] = u.request_id;
  } else if (!listed) {
    // UpdateInfo: `config` "Not returned by ListUpdates", `mode` "Returned
    // only for GetUpdate".
    j["config"] = u.config;
    j["mode"] = u.continuous ? "CONTINUOUS" : "DEFAULT";
  }
  if (!s.refresh_selection.empty()) {
    j["refresh_selection"] = s.refresh_selection;
  }
  if (!s.full_refresh_selection.empty()) {
    j["full_refresh_selection"] = s.full_refresh_selection;
  }
  if (!s.refresh_flow_selection.empty()) {
    j["refresh_flow_selection"] = s.refresh_flow_selection;
  }
  if (!s.parameters.empty()) j["parameters"] = s.parameters;
  return j;
}

json Workspace::LatestUpdates(const Pipeline& p) const {
  json list = json::array();
  for (auto it = p.update_ids.rbegin();
       it != p.update_ids.rend() &&
       static_cast<int>(list.size()) < options_.latest_updates_limit;
       ++it) {
    const Update& u = updates_.at(*it);
    if (!Visible(u)) continue;
    list.push_back({{"update_id", u.id},
                    {"state", u.state},
                    {"creation_time", FormatRfc3339Millis(u.created)}});
  }
  return list;
}

bool Workspace::WillRetry(const Pipeline& p, const Update& u) const {
  if (u.start.validate_only) return false;
  auto dev = u.config.find("development");
  if (dev != u.config.end() && *dev == true) return false;
  switch (p.behavior) {
    case Behavior::kFailOnceThenRetry:
      return u.start.cause != "RETRY_ON_FAILURE";
    case Behavior::kFailRetried:
      return u.attempt <= options_.max_retry_attempts;
    default:
      return false;
  }
}

json Workspace::StatusJson(const Pipeline& p) const {
  const bool running =
      !p.active_update.empty() && Visible(updates_.at(p.active_update));
  // PipelineState: RUNNING, STOPPING while a stopped update ends (and for
  // idle_lag_after_stop after it), DLT's retry gap, after_failure_state
  // when the newest update FAILED and nothing retries it, else IDLE.
  std::string state = "IDLE";
  if (running) {
    state = updates_.at(p.active_update).state == "STOPPING" ? "STOPPING"
                                                             : "RUNNING";
  } else if (!p.retry_of.empty()) {
    state = options_.retry_gap_state;
  } else if (p.stopping_until > now_) {
    state = "STOPPING";
  }
  json j = {{"pipeline_id", p.id},
            {"name", p.name},
            {"creator_user_name", p.creator},
            {"run_as_user_name", p.creator}};
  std::string health = "HEALTHY";
  for (auto it = p.update_ids.rbegin(); it != p.update_ids.rend(); ++it) {
    const Update& last = updates_.at(*it);
    if (!Visible(last)) continue;
    j["cluster_id"] = last.cluster_id;
    if (last.state == "FAILED") {
      health = "UNHEALTHY";
      if (state == "IDLE") state = options_.after_failure_state;
    }
    j["latest_updates"] = LatestUpdates(p);
    break;
  }
  j["state"] = state;
  j["health"] = health;
  return j;
}

int64_t Workspace::UpdatesCreated() const {
  std::lock_guard<std::mutex> lock(mu_);
  return updates_created_;
}

int64_t Workspace::UpdatesCreated(const std::string& pipeline_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pipelines_.find(pipeline_id);
  return it == pipelines_.end() ? 0 : it->second.updates_created;
}

size_t Workspace::PipelineCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pipelines_.size();
}

}  // namespace polysync::databricks::sim
