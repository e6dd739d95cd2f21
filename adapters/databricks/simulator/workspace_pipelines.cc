// The pipelines endpoints of the workspace (list, create, get, edit,
// delete) and the C++ API's pipeline setup.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/simulator/paging.h"
#include "adapters/databricks/simulator/workspace.h"
#include "adapters/databricks/simulator/workspace_internal.h"

namespace polysync::databricks::sim {
namespace {

using json = nlohmann::json;

std::optional<Behavior> BehaviorFromSpec(const json& spec) {
  auto conf = spec.find("configuration");
  if (conf == spec.end() || !conf->is_object()) return std::nullopt;
  auto b = conf->find("sim.behavior");
  if (b == conf->end() || !b->is_string()) return std::nullopt;
  Behavior behavior;
  if (!ParseBehavior(b->get<std::string>(), &behavior)) return std::nullopt;
  return behavior;
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

}  // namespace polysync::databricks::sim
