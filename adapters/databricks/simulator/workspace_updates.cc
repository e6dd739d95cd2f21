// The updates endpoints of the workspace: start, list and get updates, the
// legacy requests endpoint and stop.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "adapters/databricks/simulator/paging.h"
#include "adapters/databricks/simulator/workspace.h"
#include "adapters/databricks/simulator/workspace_internal.h"

namespace polysync::databricks::sim {
namespace {

using json = nlohmann::json;

const char* const kCauses[] = {"API_CALL",
                               "RETRY_ON_FAILURE",
                               "SERVICE_UPGRADE",
                               "SCHEMA_CHANGE",
                               "JOB_TASK",
                               "USER_ACTION",
                               "INFRASTRUCTURE_MAINTENANCE"};

bool IsCause(const std::string& cause) {
  for (const char* c : kCauses) {
    if (cause == c) return true;
  }
  return false;
}

bool ReadStringList(const json& body, const char* key,
                    std::vector<std::string>* out) {
  out->clear();
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_array()) return false;
  for (const auto& v : *it) {
    if (!v.is_string()) return false;
    out->push_back(v.get<std::string>());
  }
  return true;
}

}  // namespace

Workspace::Update& Workspace::CreateUpdateLocked(Pipeline& p, absl::Time at,
                                                 const std::string& request_id,
                                                 StartSpec start) {
  const std::string cause = start.cause;
  Update u;
  u.id = NewId();
  u.pipeline_id = p.id;
  u.request_id = request_id;
  u.start = std::move(start);
  u.state = "QUEUED";
  u.cluster_id = NewClusterId(at);
  u.config = p.spec;
  u.created = at;
  u.state_since = at;
  auto continuous = p.spec.find("continuous");
  u.continuous = continuous != p.spec.end() && *continuous == true;
  u.fails = p.behavior == Behavior::kFail ||
            p.behavior == Behavior::kFailRetried ||
            (p.behavior == Behavior::kFailOnceThenRetry &&
             cause != "RETRY_ON_FAILURE");
  std::string id = u.id;
  Update& stored = updates_.emplace(id, std::move(u)).first->second;
  p.update_ids.push_back(id);
  p.active_update = id;
  if (counting_) {
    ++p.updates_created;
    ++updates_created_;
  }
  active_.insert(id);
  AddEvent(p, at, "INFO", "create_update",
           absl::StrCat("Update ", id.substr(0, 6), " started by ", cause, "."),
           &stored,
           {{"create_update",
             {{"cause", cause},
              {"full_refresh", stored.start.full_refresh},
              {"validate_only", stored.start.validate_only}}}});
  AddEvent(p, at, "INFO", "update_progress",
           absl::StrCat("Update ", id.substr(0, 6), " is QUEUED."), &stored,
           {{"update_progress", {{"state", "QUEUED"}}}});
  return stored;
}

ApiResult Workspace::StartUpdate(absl::Time now, const std::string& id,
                                 const json& body, absl::Duration hidden_for) {
  if (!body.is_object()) {
    return ApiResult::Error(400, "MALFORMED_REQUEST",
                            "The request body must be a JSON object.");
  }
  StartSpec start;
  if (!ReadBool(body, "full_refresh", &start.full_refresh) ||
      !ReadBool(body, "validate_only", &start.validate_only)) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            "full_refresh and validate_only are booleans.");
  }
  if (!ReadStringList(body, "refresh_selection", &start.refresh_selection) ||
      !ReadStringList(body, "full_refresh_selection",
                      &start.full_refresh_selection) ||
      !ReadStringList(body, "refresh_flow_selection",
                      &start.refresh_flow_selection) ||
      !ReadStringList(body, "reset_checkpoint_selection",
                      &start.reset_checkpoint_selection)) {
    return ApiResult::Error(
        400, "INVALID_PARAMETER_VALUE",
        "refresh_selection, full_refresh_selection, refresh_flow_selection "
        "and reset_checkpoint_selection are lists of strings.");
  }
  if (start.full_refresh && (!start.refresh_selection.empty() ||
                             !start.full_refresh_selection.empty() ||
                             !start.refresh_flow_selection.empty())) {
    return ApiResult::Error(
        400, "INVALID_PARAMETER_VALUE",
        "full_refresh cannot be combined with refresh_selection, "
        "full_refresh_selection or refresh_flow_selection.");
  }
  json given_parameters;
  if (std::string e = ReadParameters(body, &given_parameters); !e.empty()) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE", e);
  }
  if (body.contains("cause") && !body["cause"].is_null()) {
    if (!body["cause"].is_string() ||
        !IsCause(body["cause"].get<std::string>())) {
      return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                              "Invalid cause: " + body["cause"].dump());
    }
    start.cause = body["cause"].get<std::string>();
  }
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) return NoPipeline(id);
  if (!p->active_update.empty()) {
    return ApiResult::Error(
        options_.conflict_status, options_.conflict_error_code,
        absl::StrCat("Cannot start a new update of pipeline ", id, ": update ",
                     p->active_update, " is still active."));
  }
  if (!p->retry_of.empty()) {
    // DLT is about to retry a failed update: the pipeline is not idle.
    return ApiResult::Error(
        options_.conflict_status, options_.conflict_error_code,
        absl::StrCat("Cannot start a new update of pipeline ", id,
                     ": the pipeline is ", options_.retry_gap_state, "."));
  }
  if (p->stopping_until > now) {
    return ApiResult::Error(
        options_.conflict_status, options_.conflict_error_code,
        absl::StrCat("Cannot start a new update of pipeline ", id,
                     ": the pipeline is STOPPING."));
  }
  if (options_.max_active_updates > 0 &&
      static_cast<int>(active_.size()) >= options_.max_active_updates) {
    return ApiResult::Error(
        options_.limit_status, options_.limit_error_code,
        absl::StrCat("The workspace already runs ", active_.size(),
                     " pipeline updates, its limit of concurrent updates."));
  }
  // The update runs with the pipeline's defaults, overridden key by key by
  // the start's own parameters.
  start.parameters = p->parameters;
  for (const auto& [k, v] : given_parameters.items()) start.parameters[k] = v;
  std::string request_id = NewId();
  Update& u = CreateUpdateLocked(*p, now, request_id, std::move(start));
  if (hidden_for > absl::ZeroDuration()) u.visible_from = now + hidden_for;
  ApiResult r;
  r.body = {{"update_id", u.id}};  // StartUpdateResponse
  if (options_.legacy_request_api) r.body["request_id"] = request_id;
  return r;
}

ApiResult Workspace::ListUpdates(absl::Time now, const std::string& id,
                                 const QueryParams& params) {
  int max_results = 0;
  if (auto err = ParseMaxResults(params, 25, 100, &max_results)) return *err;
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) return NoPipeline(id);
  std::vector<std::string> ids;  // the visible ones, oldest first
  for (const auto& uid : p->update_ids) {
    if (Visible(updates_.at(uid))) ids.push_back(uid);
  }
  // Cursor: index (in creation order) of the newest update still to return.
  int64_t start = static_cast<int64_t>(ids.size()) - 1;
  if (auto token = Param(params, "page_token"); token && !token->empty()) {
    auto state = DecodePageToken(*token);
    if (!state || !(*state)["n"].is_number_integer() || (*state)["p"] != id) {
      return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                              "Invalid page_token.");
    }
    start = std::min<int64_t>(start, (*state)["n"].get<int64_t>());
  }
  int64_t stop = -1;  // exclusive lower bound
  if (auto until = Param(params, "until_update_id"); until && !until->empty()) {
    auto it = std::find(ids.begin(), ids.end(), *until);
    if (it == ids.end()) {
      return ApiResult::Error(404, "RESOURCE_DOES_NOT_EXIST",
                              "Update " + *until + " does not exist.");
    }
    stop = (it - ids.begin()) - 1;
  }
  ApiResult r;
  json list = json::array();
  int64_t i = start;
  for (; i > stop && static_cast<int>(list.size()) < max_results; --i) {
    list.push_back(UpdateJson(updates_.at(ids[i]), /*listed=*/true));
  }
  if (!list.empty()) r.body["updates"] = std::move(list);
  if (i > stop)
    r.body["next_page_token"] = EncodePageToken({{"p", id}, {"n", i}});
  return r;
}

ApiResult Workspace::GetUpdate(absl::Time now, const std::string& id,
                               const std::string& update_id) {
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  if (FindPipeline(id) == nullptr) return NoPipeline(id);
  auto it = updates_.find(update_id);
  if (it == updates_.end() || it->second.pipeline_id != id ||
      !Visible(it->second)) {
    return ApiResult::Error(
        404, "RESOURCE_DOES_NOT_EXIST",
        absl::StrCat("Update ", update_id, " does not exist in pipeline ", id,
                     "."));
  }
  ApiResult r;
  r.body = {{"update", UpdateJson(it->second)}};
  return r;
}

ApiResult Workspace::GetRequest(absl::Time now, const std::string& id,
                                const std::string& request_id) {
  if (!options_.legacy_request_api) {
    // Not an endpoint of today's API (in neither SDK).
    return ApiResult::Error(
        404, "ENDPOINT_NOT_FOUND",
        absl::StrCat("No API found for 'GET /api/2.0/pipelines/", id,
                     "/requests/", request_id, "'"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) return NoPipeline(id);
  const Update* latest = nullptr;
  // A retry DLT has yet to start keeps its request active.
  bool active =
      !p->retry_of.empty() && updates_.at(p->retry_of).request_id == request_id;
  for (const auto& uid : p->update_ids) {
    const Update& u = updates_.at(uid);
    if (u.request_id != request_id) continue;
    latest = &u;
    if (!IsTerminal(u.state)) active = true;
  }
  if (latest == nullptr) {
    return ApiResult::Error(
        404, "RESOURCE_DOES_NOT_EXIST",
        absl::StrCat("Request ", request_id, " does not exist in pipeline ", id,
                     "."));
  }
  ApiResult r;
  r.body = {{"status", active ? "ACTIVE" : "TERMINATED"},
            {"latest_update", UpdateJson(*latest)}};
  return r;
}

ApiResult Workspace::StopPipeline(absl::Time now, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) return NoPipeline(id);
  if (!p->active_update.empty()) {
    Update& u = updates_.at(p->active_update);
    if (u.state != "STOPPING") Transition(*p, u, "STOPPING", now, nullptr);
  } else if (!p->retry_of.empty() && options_.stop_cancels_pending_retry) {
    p->retry_of.clear();
    retrying_.erase(p->id);
  }
  return ApiResult{};
}

}  // namespace polysync::databricks::sim
