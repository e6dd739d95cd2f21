#include "adapters/databricks/simulator/workspace.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "adapters/databricks/simulator/paging.h"

namespace polysync::databricks::sim {
namespace {

using json = nlohmann::json;

bool IsTerminal(const std::string& state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELED";
}

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

int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

// Reads an optional boolean field; the API guide's own example sends
// "full_refresh": "true", so the strings are accepted too.
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

// A `parameters` map (GetPipelineResponse.parameters, StartUpdate's
// `parameters`): absent or null is an empty map; otherwise an object of
// strings whose JSON is at most 10,000 characters ("Maximum total size: 10k
// characters (JSON format)"). The error message on failure, else empty.
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

std::optional<Behavior> BehaviorFromSpec(const json& spec) {
  auto conf = spec.find("configuration");
  if (conf == spec.end() || !conf->is_object()) return std::nullopt;
  auto b = conf->find("sim.behavior");
  if (b == conf->end() || !b->is_string()) return std::nullopt;
  Behavior behavior;
  if (!ParseBehavior(b->get<std::string>(), &behavior)) return std::nullopt;
  return behavior;
}

ApiResult NoPipeline(const std::string& id) {
  return ApiResult::Error(404, "RESOURCE_DOES_NOT_EXIST",
                          absl::StrCat("Pipeline ", id, " does not exist."));
}

// SQL LIKE with % and _, ASCII case-insensitive.
bool Like(absl::string_view text, absl::string_view pattern) {
  if (pattern.empty()) return text.empty();
  if (pattern[0] == '%') {
    for (size_t i = 0; i <= text.size(); ++i) {
      if (Like(text.substr(i), pattern.substr(1))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  if (pattern[0] == '_' ||
      absl::ascii_tolower(static_cast<unsigned char>(pattern[0])) ==
          absl::ascii_tolower(static_cast<unsigned char>(text[0]))) {
    return Like(text.substr(1), pattern.substr(1));
  }
  return false;
}

}  // namespace

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

ApiResult ApiResult::Error(int status, absl::string_view error_code,
                           absl::string_view message) {
  ApiResult r;
  r.status = status;
  r.body = json{{"error_code", std::string(error_code)},
                {"message", std::string(message)}};
  return r;
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

// --- pipelines -------------------------------------------------------------

absl::StatusOr<std::string> Workspace::AddPipeline(absl::Time now, json spec,
                                                   Behavior behavior,
                                                   const std::string& creator) {
  if (!spec.is_object()) {
    return absl::InvalidArgumentError("spec must be a JSON object");
  }
  // Default parameters are the pipeline's, beside its spec (CreatePipeline
  // and GetPipelineResponse have `parameters`; PipelineSpec has none).
  json parameters;
  if (std::string e = ReadParameters(spec, &parameters); !e.empty()) {
    return absl::InvalidArgumentError(e);
  }
  spec.erase("parameters");
  std::lock_guard<std::mutex> lock(mu_);
  Pipeline p;
  p.parameters = std::move(parameters);
  p.id = NewId();
  while (pipelines_.count(p.id)) p.id = NewId();
  spec["id"] = p.id;
  if (!spec.contains("name") || !spec["name"].is_string()) {
    spec["name"] = absl::StrCat("Pipeline ", p.id.substr(0, 8));
  }
  p.name = spec["name"].get<std::string>();
  p.spec = std::move(spec);
  p.creator = creator;
  p.behavior = behavior;
  p.last_modified = now;
  std::string id = p.id;
  pipelines_.emplace(id, std::move(p));
  return id;
}

absl::Status Workspace::AddHistoricUpdate(const std::string& id, absl::Time at,
                                          absl::Time now,
                                          const std::string& cause) {
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) return absl::NotFoundError("no pipeline " + id);
  if (!p->active_update.empty()) {
    return absl::FailedPreconditionError("an update is active");
  }
  counting_ = false;
  StartSpec start;
  start.cause = cause;
  start.parameters = p->parameters;
  CreateUpdateLocked(*p, at, NewId(), std::move(start));
  TickLocked(now);
  counting_ = true;
  return absl::OkStatus();
}

absl::Status Workspace::SetBehavior(const std::string& id, Behavior behavior) {
  std::lock_guard<std::mutex> lock(mu_);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) return absl::NotFoundError("no pipeline " + id);
  p->behavior = behavior;
  return absl::OkStatus();
}

ApiResult Workspace::CreatePipeline(absl::Time now, const json& body) {
  if (!body.is_object()) {
    return ApiResult::Error(400, "MALFORMED_REQUEST",
                            "The request body must be a JSON object.");
  }
  if (body.contains("id")) {
    return ApiResult::Error(
        400, "INVALID_PARAMETER_VALUE",
        "The pipeline id is assigned by the system and must not be given.");
  }
  if (body.contains("name") && !body["name"].is_string()) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            "name must be a string.");
  }
  bool allow_duplicates = false;
  bool dry_run = false;
  if (!ReadBool(body, "allow_duplicate_names", &allow_duplicates) ||
      !ReadBool(body, "dry_run", &dry_run)) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            "allow_duplicate_names and dry_run are booleans.");
  }
  json spec = body;
  spec.erase("allow_duplicate_names");
  spec.erase("dry_run");
  Behavior behavior = BehaviorFromSpec(spec).value_or(Behavior::kSucceed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    TickLocked(now);
    if (!allow_duplicates && spec.contains("name")) {
      const std::string name = spec["name"].get<std::string>();
      for (const auto& [id, p] : pipelines_) {
        if (p.name == name) {
          return ApiResult::Error(
              409, "RESOURCE_ALREADY_EXISTS",
              absl::StrCat("Pipeline with name '", name,
                           "' already exists (pipeline id ", id, ")."));
        }
      }
    }
    if (dry_run) {
      ApiResult r;
      std::string id = NewId();
      spec["id"] = id;
      r.body = {{"pipeline_id", id}, {"effective_settings", spec}};
      return r;
    }
  }
  auto id = AddPipeline(now, std::move(spec), behavior, "sim-user@example.com");
  if (!id.ok()) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            id.status().message());
  }
  ApiResult r;
  r.body = {{"pipeline_id", *id}};
  return r;
}

ApiResult Workspace::GetPipeline(absl::Time now, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) return NoPipeline(id);
  ApiResult r;
  r.body = StatusJson(*p);
  r.body["spec"] = p->spec;
  r.body["last_modified"] = Millis(p->last_modified);
  if (!p->parameters.empty()) r.body["parameters"] = p->parameters;
  return r;
}

ApiResult Workspace::EditPipeline(absl::Time now, const std::string& id,
                                  const json& body) {
  if (!body.is_object()) {
    return ApiResult::Error(400, "MALFORMED_REQUEST",
                            "The request body must be a JSON object.");
  }
  if (body.contains("id") &&
      (!body["id"].is_string() || body["id"].get<std::string>() != id)) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            "The id in the body does not match the path.");
  }
  if (body.contains("name") && !body["name"].is_string()) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            "name must be a string.");
  }
  json parameters;
  if (std::string e = ReadParameters(body, &parameters); !e.empty()) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE", e);
  }
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) return NoPipeline(id);
  if (body.contains("pipeline_id") && body["pipeline_id"] != id) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            "The pipeline_id in the body does not match the "
                            "path.");
  }
  if (body.contains("expected_last_modified") &&
      !body["expected_last_modified"].is_number_integer()) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            "expected_last_modified must be an integer.");
  }
  if (body.contains("expected_last_modified") &&
      body["expected_last_modified"].get<int64_t>() !=
          Millis(p->last_modified)) {
    return ApiResult::Error(
        409, "ABORTED",
        "The pipeline settings were modified after expected_last_modified.");
  }
  json spec = body;
  spec.erase("allow_duplicate_names");
  spec.erase("pipeline_id");
  spec.erase("expected_last_modified");
  spec.erase("parameters");
  p->parameters = std::move(parameters);  // an edit replaces every setting
  spec["id"] = id;
  if (spec.contains("name")) p->name = spec["name"].get<std::string>();
  spec["name"] = p->name;
  if (auto b = BehaviorFromSpec(spec)) p->behavior = *b;
  p->spec = std::move(spec);
  p->last_modified = now;
  return ApiResult{};
}

ApiResult Workspace::DeletePipeline(absl::Time now, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) return NoPipeline(id);
  for (const auto& uid : p->update_ids) {
    active_.erase(uid);
    updates_.erase(uid);
  }
  retrying_.erase(id);
  pipelines_.erase(id);
  return ApiResult{};
}

ApiResult Workspace::ListPipelines(absl::Time now, const QueryParams& params) {
  int max_results = 0;
  if (auto err = ParseMaxResults(params, 25, 100, &max_results)) return *err;
  std::string filter = Param(params, "filter").value_or("");
  std::string order = Param(params, "order_by").value_or("id asc");
  std::string after_key, after_id;
  if (auto token = Param(params, "page_token"); token && !token->empty()) {
    auto state = DecodePageToken(*token);
    if (!state || !(*state)["f"].is_string() || !(*state)["o"].is_string() ||
        !(*state)["k"].is_string() || !(*state)["i"].is_string()) {
      return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                              "Invalid page_token.");
    }
    filter = (*state)["f"].get<std::string>();
    order = (*state)["o"].get<std::string>();
    after_key = (*state)["k"].get<std::string>();
    after_id = (*state)["i"].get<std::string>();
  }
  // order_by: "id asc", "name desc", ...
  std::string o = absl::AsciiStrToLower(absl::StripAsciiWhitespace(order));
  bool by_name = false, desc = false;
  if (o == "id" || o == "id asc") {
  } else if (o == "id desc") {
    desc = true;
  } else if (o == "name" || o == "name asc") {
    by_name = true;
  } else if (o == "name desc") {
    by_name = true;
    desc = true;
  } else {
    return ApiResult::Error(
        400, "INVALID_PARAMETER_VALUE",
        "Invalid order_by: " + order + " (supported: id, name; asc or desc)");
  }
  // filter: name LIKE '...' or notebook='...'; no compound filters.
  std::string like, notebook;
  if (!filter.empty()) {
    absl::string_view f = absl::StripAsciiWhitespace(filter);
    auto quoted = [](absl::string_view rest, std::string* out) {
      rest = absl::StripAsciiWhitespace(rest);
      if (rest.size() < 2 || rest.front() != '\'' || rest.back() != '\'') {
        return false;
      }
      std::string v(rest.substr(1, rest.size() - 2));
      if (v.find('\'') != std::string::npos) return false;
      *out = v;
      return true;
    };
    bool ok = false;
    if (absl::StartsWithIgnoreCase(f, "name") &&
        absl::StartsWithIgnoreCase(
            absl::StripLeadingAsciiWhitespace(f.substr(4)), "like ")) {
      absl::string_view rest =
          absl::StripLeadingAsciiWhitespace(f.substr(4)).substr(5);
      ok = quoted(rest, &like);
    } else if (absl::StartsWithIgnoreCase(f, "notebook")) {
      absl::string_view rest = absl::StripLeadingAsciiWhitespace(f.substr(8));
      ok = !rest.empty() && rest[0] == '=' && quoted(rest.substr(1), &notebook);
    }
    if (!ok) {
      return ApiResult::Error(
          400, "INVALID_PARAMETER_VALUE",
          "Invalid filter: " + filter +
              " (supported: name LIKE '<pattern>' or notebook='<path>'; "
              "compound filters are not supported)");
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  // One page: its pipelines, and whether more follow.
  auto page_result = [&](const std::vector<const Pipeline*>& page, bool more) {
    ApiResult r;
    json statuses = json::array();
    for (const Pipeline* p : page) statuses.push_back(StatusJson(*p));
    if (!statuses.empty()) r.body["statuses"] = std::move(statuses);
    if (more && !page.empty()) {
      const Pipeline* last = page.back();
      r.body["next_page_token"] =
          EncodePageToken({{"f", filter},
                           {"o", order},
                           {"k", by_name ? last->name : last->id},
                           {"i", last->id}});
    }
    return r;
  };
  if (!by_name && filter.empty()) {
    // By id, unfiltered (what every SDK lists): walk the id-ordered map from
    // the cursor, so a page costs its own size, not the workspace's (12,000
    // pipelines would otherwise make every page tens of milliseconds).
    std::vector<const Pipeline*> page;
    bool more = false;
    if (!desc) {
      for (auto it = after_id.empty() ? pipelines_.begin()
                                      : pipelines_.upper_bound(after_id);
           it != pipelines_.end(); ++it) {
        if (static_cast<int>(page.size()) == max_results) {
          more = true;
          break;
        }
        page.push_back(&it->second);
      }
    } else {
      auto it = after_id.empty() ? pipelines_.end()
                                 : pipelines_.lower_bound(after_id);
      while (it != pipelines_.begin()) {
        --it;
        if (static_cast<int>(page.size()) == max_results) {
          more = true;
          break;
        }
        page.push_back(&it->second);
      }
    }
    return page_result(page, more);
  }
  std::vector<const Pipeline*> matches;
  for (const auto& [id, p] : pipelines_) {
    if (!filter.empty()) {
      if (!notebook.empty()) {
        bool found = false;
        auto libs = p.spec.find("libraries");
        if (libs != p.spec.end() && libs->is_array()) {
          for (const auto& lib : *libs) {
            if (lib.is_object() && lib.contains("notebook") &&
                lib["notebook"].is_object() &&
                lib["notebook"].contains("path") &&
                lib["notebook"]["path"] == notebook) {
              found = true;
            }
          }
        }
        if (!found) continue;
      } else if (!Like(p.name, like)) {
        continue;
      }
    }
    matches.push_back(&p);
  }
  // Keys by reference: sorting copies no strings.
  using Key = std::pair<const std::string&, const std::string&>;
  auto key = [by_name](const Pipeline* p) {
    return Key(by_name ? p->name : p->id, p->id);
  };
  std::sort(matches.begin(), matches.end(),
            [&](const Pipeline* a, const Pipeline* b) {
              return desc ? key(b) < key(a) : key(a) < key(b);
            });
  size_t start = 0;
  if (!after_id.empty()) {
    // Past the cursor (the previous page's last pipeline) in either order.
    const Key cursor(after_key, after_id);
    start = std::partition_point(matches.begin(), matches.end(),
                                 [&](const Pipeline* p) {
                                   return desc ? !(key(p) < cursor)
                                               : !(cursor < key(p));
                                 }) -
            matches.begin();
  }
  const size_t end = std::min(matches.size(), start + max_results);
  return page_result(std::vector<const Pipeline*>(matches.begin() + start,
                                                  matches.begin() + end),
                     end < matches.size());
}

// --- updates -----------------------------------------------------------------

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

// --- lifecycle
// -----------------------------------------------------------------

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
