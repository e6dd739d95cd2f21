#include "adapters/databricks/wire/request_bodies.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/wire/ids.h"
#include "adapters/databricks/wire/start_update.h"
#include "adapters/databricks/wire/text.h"

namespace polysync::databricks {
namespace {

absl::Status CheckMaxResults(const std::optional<int>& max_results,
                             int limit = kMaxPageSize) {
  if (!max_results.has_value()) return absl::OkStatus();
  if (*max_results < 1 || *max_results > limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_results must be between 1 and ", limit, ", got ", *max_results));
  }
  return absl::OkStatus();
}

bool IsLevel(std::string_view level) {
  if (level.empty() || level.size() > 16) return false;
  for (char c : level) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> StartUpdateBody(const StartUpdateRequest& request) {
  if (absl::Status s = ValidateStartUpdate(request); !s.ok()) return s;
  nlohmann::ordered_json body = nlohmann::ordered_json::object();
  if (!request.pipeline_id.empty()) {
    body["pipeline_id"] = request.pipeline_id;
  }
  if (request.full_refresh.has_value()) {
    body["full_refresh"] = *request.full_refresh;
  }
  if (!request.refresh_selection.empty()) {
    body["refresh_selection"] = request.refresh_selection;
  }
  if (!request.full_refresh_selection.empty()) {
    body["full_refresh_selection"] = request.full_refresh_selection;
  }
  if (!request.refresh_flow_selection.empty()) {
    body["refresh_flow_selection"] = request.refresh_flow_selection;
  }
  if (!request.reset_checkpoint_selection.empty()) {
    body["reset_checkpoint_selection"] = request.reset_checkpoint_selection;
  }
  if (request.parameters.has_value()) {
    nlohmann::ordered_json& parameters = body["parameters"];
    parameters = nlohmann::ordered_json::object();
    for (const auto& [key, value] : *request.parameters) {
      parameters[key] = value;
    }
  }
  if (request.validate_only.has_value()) {
    body["validate_only"] = *request.validate_only;
  }
  if (request.cause.has_value()) body["cause"] = *request.cause;
  // ValidateStartUpdate checked that everything is UTF-8; `replace` only
  // guarantees that dump() can never throw.
  return body.dump(-1, ' ', false,
                   nlohmann::ordered_json::error_handler_t::replace);
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                            c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

QueryBuilder& QueryBuilder::Add(std::string_view key, std::string_view value) {
  query_.push_back(query_.empty() ? '?' : '&');
  query_.append(PercentEncode(key));
  query_.push_back('=');
  query_.append(PercentEncode(value));
  return *this;
}

QueryBuilder& QueryBuilder::Add(std::string_view key, int64_t value) {
  return Add(key, std::string_view(absl::StrCat(value)));
}

std::string QueryBuilder::Build() const { return query_; }

absl::StatusOr<std::string> ListPipelinesQuery(
    const ListPipelinesRequest& request) {
  if (absl::Status s = CheckMaxResults(request.max_results); !s.ok()) return s;
  QueryBuilder query;
  if (request.max_results.has_value()) {
    query.Add("max_results", int64_t{*request.max_results});
  }
  if (!request.page_token.empty()) query.Add("page_token", request.page_token);
  if (!request.filter.empty()) query.Add("filter", request.filter);
  for (const std::string& order : request.order_by) {
    query.Add("order_by", order);
  }
  return query.Build();
}

absl::StatusOr<std::string> ListUpdatesQuery(
    const ListUpdatesRequest& request) {
  if (absl::Status s = CheckMaxResults(request.max_results); !s.ok()) return s;
  if (!request.until_update_id.empty()) {
    if (absl::Status s = ValidateUpdateId(request.until_update_id); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("until_", s.message()));
    }
  }
  QueryBuilder query;
  if (request.max_results.has_value()) {
    query.Add("max_results", int64_t{*request.max_results});
  }
  if (!request.page_token.empty()) query.Add("page_token", request.page_token);
  if (!request.until_update_id.empty()) {
    query.Add("until_update_id", request.until_update_id);
  }
  return query.Build();
}

absl::StatusOr<std::string> ListEventsQuery(const ListEventsRequest& request) {
  if (absl::Status s = CheckMaxResults(request.max_results, kMaxEventsPageSize);
      !s.ok()) {
    return s;
  }
  QueryBuilder query;
  if (request.max_results.has_value()) {
    query.Add("max_results", int64_t{*request.max_results});
  }
  if (!request.page_token.empty()) {
    query.Add("page_token", request.page_token);
    return query.Build();  // the token carries filter and order_by
  }
  if (!request.filter.empty()) query.Add("filter", request.filter);
  for (const std::string& order : request.order_by) {
    query.Add("order_by", order);
  }
  return query.Build();
}

absl::StatusOr<std::string> EventsFilter(
    std::string_view update_id, const std::vector<std::string>& levels) {
  std::string filter;
  if (!update_id.empty()) {
    if (absl::Status s = ValidateUpdateId(update_id); !s.ok()) return s;
    absl::StrAppend(&filter, "update_id='", AsAbsl(update_id), "'");
  }
  for (const std::string& level : levels) {
    if (!IsLevel(level)) {
      return absl::InvalidArgumentError(
          absl::StrCat("event level must be 1-16 upper-case letters (INFO, "
                       "WARN, ERROR, METRICS), got \"",
                       EscapedPrefix(level), "\""));
    }
  }
  if (levels.empty()) return filter;
  if (!filter.empty()) filter.append(" AND ");
  if (levels.size() == 1) {
    absl::StrAppend(&filter, "level='", levels[0], "'");
    return filter;
  }
  filter.append("level in (");
  for (size_t i = 0; i < levels.size(); ++i) {
    absl::StrAppend(&filter, i == 0 ? "" : ", ", "'", levels[i], "'");
  }
  filter.append(")");
  return filter;
}

}  // namespace polysync::databricks
