// GET /api/2.0/pipelines/{id}/events: the filter language, ordering and
// paging of the real endpoint.
#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/paging.h"
#include "adapters/databricks/simulator/workspace.h"
#include "adapters/databricks/simulator/workspace_internal.h"

namespace polysync::databricks::sim {
namespace {

using json = nlohmann::json;

struct Token {
  enum Kind { kWord, kString, kOp, kLParen, kRParen, kComma } kind;
  std::string text;
};

bool Tokenize(const std::string& s, std::vector<Token>* out) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '\'') {
      size_t j = s.find('\'', i + 1);
      if (j == std::string::npos) return false;
      out->push_back({Token::kString, s.substr(i + 1, j - i - 1)});
      i = j + 1;
    } else if (c == '(') {
      out->push_back({Token::kLParen, "("});
      ++i;
    } else if (c == ')') {
      out->push_back({Token::kRParen, ")"});
      ++i;
    } else if (c == ',') {
      out->push_back({Token::kComma, ","});
      ++i;
    } else if (c == '=' || c == '<' || c == '>' || c == '!') {
      size_t j = i + 1;
      if (j < s.size() && (s[j] == '=' || (c == '<' && s[j] == '>'))) ++j;
      out->push_back({Token::kOp, s.substr(i, j - i)});
      i = j;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
               c == '.') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) ||
                              s[j] == '_' || s[j] == '.')) {
        ++j;
      }
      out->push_back({Token::kWord, s.substr(i, j - i)});
      i = j;
    } else {
      return false;
    }
  }
  return true;
}

// One clause of the filter: column op value(s).
struct Clause {
  std::string column;  // level, update_id, id, timestamp
  std::string op;      // =, !=, <, <=, >, >=, in
  std::vector<std::string> values;
  absl::Time time;  // for timestamp
};

// Parses the filter; on error returns the message of a 400.
std::optional<std::string> ParseFilter(const std::string& filter,
                                       std::vector<Clause>* clauses) {
  std::vector<Token> tokens;
  if (!Tokenize(filter, &tokens)) return "Invalid filter: " + filter;
  size_t i = 0;
  auto at_end = [&] { return i >= tokens.size(); };
  while (true) {
    if (at_end() || tokens[i].kind != Token::kWord) {
      return "Invalid filter: " + filter;
    }
    Clause c;
    c.column = absl::AsciiStrToLower(tokens[i++].text);
    if (c.column == "event_type") {
      return "Invalid filter: filtering on event_type is not supported. "
             "Supported columns: timestamp, id, update_id, level.";
    }
    if (c.column != "level" && c.column != "update_id" && c.column != "id" &&
        c.column != "timestamp") {
      return "Invalid filter: unsupported column '" + c.column +
             "'. Supported columns: timestamp, id, update_id, level.";
    }
    if (at_end()) return "Invalid filter: " + filter;
    if (tokens[i].kind == Token::kWord &&
        absl::AsciiStrToLower(tokens[i].text) == "in") {
      ++i;
      c.op = "in";
      if (at_end() || tokens[i++].kind != Token::kLParen) {
        return "Invalid filter: " + filter;
      }
      while (true) {
        if (at_end() || tokens[i].kind != Token::kString) {
          return "Invalid filter: " + filter;
        }
        c.values.push_back(tokens[i++].text);
        if (at_end()) return "Invalid filter: " + filter;
        if (tokens[i].kind == Token::kComma) {
          ++i;
          continue;
        }
        if (tokens[i].kind == Token::kRParen) {
          ++i;
          break;
        }
        return "Invalid filter: " + filter;
      }
    } else if (tokens[i].kind == Token::kOp) {
      c.op = tokens[i++].text;
      if (c.op == "<>") c.op = "!=";
      if (at_end() || tokens[i].kind != Token::kString) {
        return "Invalid filter: " + filter;
      }
      c.values.push_back(tokens[i++].text);
      if (c.column != "timestamp" && c.op != "=" && c.op != "!=") {
        return "Invalid filter: operator " + c.op + " is not supported for " +
               c.column;
      }
    } else {
      return "Invalid filter: " + filter;
    }
    if (c.column == "timestamp") {
      std::string err;
      if (c.op == "in" ||
          !absl::ParseTime(absl::RFC3339_full, c.values[0], &c.time, &err)) {
        return "Invalid filter: bad timestamp in " + filter;
      }
    }
    if (c.column == "level") {
      for (auto& v : c.values) v = absl::AsciiStrToUpper(v);
    }
    clauses->push_back(std::move(c));
    if (at_end()) break;
    if (tokens[i].kind == Token::kWord &&
        absl::AsciiStrToLower(tokens[i].text) == "and") {
      ++i;
      continue;
    }
    return "Invalid filter: only AND is supported between conditions: " +
           filter;
  }
  return std::nullopt;
}

bool Compare(const std::string& op, absl::Time a, absl::Time b) {
  if (op == "=") return a == b;
  if (op == "!=") return a != b;
  if (op == "<") return a < b;
  if (op == "<=") return a <= b;
  if (op == ">") return a > b;
  if (op == ">=") return a >= b;
  return false;
}

}  // namespace

ApiResult Workspace::ListEvents(absl::Time now, const std::string& id,
                                const QueryParams& params) {
  int max_results = 0;
  if (auto err = ParseMaxResults(params, 25, 1000, &max_results)) return *err;
  std::string filter = Param(params, "filter").value_or("");
  std::optional<std::string> order_by = Param(params, "order_by");
  std::optional<std::string> page_token = Param(params, "page_token");
  bool asc = false;
  int64_t after_seq = -1;
  if (page_token && !page_token->empty()) {
    if (!filter.empty() || order_by) {
      return ApiResult::Error(
          400, "INVALID_PARAMETER_VALUE",
          "page_token cannot be combined with any field other than "
          "max_results.");
    }
    auto state = DecodePageToken(*page_token);
    if (!state || !(*state)["f"].is_string() || !(*state)["a"].is_boolean() ||
        !(*state)["s"].is_number_integer() || (*state)["p"] != id) {
      return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                              "Invalid page_token.");
    }
    filter = (*state)["f"].get<std::string>();
    asc = (*state)["a"].get<bool>();
    after_seq = (*state)["s"].get<int64_t>();
  } else if (order_by) {
    // Accepts `timestamp asc` and the JSON-ish `["timestamp asc"]`.
    std::string o = absl::AsciiStrToLower(*order_by);
    o.erase(std::remove_if(o.begin(), o.end(),
                           [](char ch) {
                             return ch == '[' || ch == ']' || ch == '"' ||
                                    ch == '\'';
                           }),
            o.end());
    o = std::string(absl::StripAsciiWhitespace(o));
    if (o == "timestamp asc") {
      asc = true;
    } else if (o != "timestamp desc" && o != "timestamp") {
      return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                              "Invalid order_by: " + *order_by +
                                  " (supported: timestamp asc, timestamp "
                                  "desc)");
    }
  }
  std::vector<Clause> clauses;
  if (!filter.empty()) {
    if (auto err = ParseFilter(filter, &clauses)) {
      return ApiResult::Error(400, "INVALID_PARAMETER_VALUE", *err);
    }
  }
  auto matches = [&](const Event& e) {
    for (const Clause& c : clauses) {
      if (c.column == "timestamp") {
        if (!Compare(c.op, e.time, c.time)) return false;
        continue;
      }
      const std::string& v = c.column == "level"       ? e.level
                             : c.column == "update_id" ? e.update_id
                                                       : e.id;
      bool in =
          std::find(c.values.begin(), c.values.end(), v) != c.values.end();
      if (c.op == "!=" ? in : !in) return false;
    }
    return true;
  };

  std::lock_guard<std::mutex> lock(mu_);
  TickLocked(now);
  Pipeline* p = FindPipeline(id);
  if (p == nullptr) {
    return NoPipeline(id);
  }
  ApiResult r;
  json events = json::array();
  const auto& all = p->events;
  // The page goes on after the last event it examined.
  int64_t last_seq = -1;
  int examined = 0;
  bool more = false;
  auto visit = [&](const Event& e) {
    if (options_.events_scan_limit > 0 &&
        examined == options_.events_scan_limit) {
      more = true;
      return false;
    }
    if (matches(e)) {
      if (static_cast<int>(events.size()) == max_results) {
        more = true;
        return false;
      }
      events.push_back(e.json);
    }
    ++examined;
    last_seq = e.seq;
    return true;
  };
  if (asc) {
    for (const Event& e : all) {
      if (after_seq >= 0 && e.seq <= after_seq) continue;
      if (!visit(e)) break;
    }
  } else {
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (after_seq >= 0 && it->seq >= after_seq) continue;
      if (!visit(*it)) break;
    }
  }
  if (!events.empty()) r.body["events"] = std::move(events);
  if (more) {
    r.body["next_page_token"] = EncodePageToken(
        {{"p", id}, {"f", filter}, {"a", asc}, {"s", last_seq}});
  }
  return r;
}

}  // namespace polysync::databricks::sim
