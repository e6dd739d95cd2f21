#include "adapters/databricks/simulator/faults.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace polysync::databricks::sim {
namespace {

struct KindName {
  FaultKind kind;
  const char* name;
};

constexpr KindName kKindNames[] = {
    {FaultKind::kLatency, "latency"},
    {FaultKind::kHttpError, "http_error"},
    {FaultKind::kReset, "reset"},
    {FaultKind::kStall, "stall"},
    {FaultKind::kMalformedJson, "malformed_json"},
    {FaultKind::kTruncatedJson, "truncated_json"},
    {FaultKind::kHtmlError, "html_error"},
    {FaultKind::kOversized, "oversized"},
    {FaultKind::kResponseLost503, "response_lost_503"},
    {FaultKind::kResponseLostReset, "response_lost_reset"},
    {FaultKind::kSlowBody, "slow_body"},
    {FaultKind::kRateLimit, "rate_limit"},
};

bool KnownEndpoint(const std::string& endpoint) {
  if (endpoint == "*") return true;
  for (const char* e : kEndpoints) {
    if (endpoint == e) return true;
  }
  return false;
}

}  // namespace

absl::string_view FaultKindName(FaultKind kind) {
  for (const auto& k : kKindNames) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

bool ParseFaultKind(absl::string_view name, FaultKind* kind) {
  for (const auto& k : kKindNames) {
    if (name == k.name) {
      *kind = k.kind;
      return true;
    }
  }
  return false;
}

absl::StatusOr<FaultRule> FaultRuleFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("a rule is an object");
  FaultRule rule;
  for (const auto& [key, value] : j.items()) {
    auto need_int = [&, &key = key, &value = value]() -> absl::Status {
      if (!value.is_number_integer()) {
        return absl::InvalidArgumentError(key + " must be an integer");
      }
      return absl::OkStatus();
    };
    if (key == "endpoint") {
      if (!value.is_string() || !KnownEndpoint(value.get<std::string>())) {
        return absl::InvalidArgumentError(
            "unknown endpoint " + value.dump() +
            " (e.g. pipelines.get, updates.start, or *)");
      }
      rule.endpoint = value.get<std::string>();
    } else if (key == "kind") {
      if (!value.is_string() ||
          !ParseFaultKind(value.get<std::string>(), &rule.kind)) {
        return absl::InvalidArgumentError("unknown kind " + value.dump());
      }
    } else if (key == "count") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.count = value.get<int>();
    } else if (key == "skip") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.skip = value.get<int>();
    } else if (key == "probability") {
      if (!value.is_number() || value.get<double>() < 0 ||
          value.get<double>() > 1) {
        return absl::InvalidArgumentError("probability must be in [0, 1]");
      }
      rule.probability = value.get<double>();
    } else if (key == "latency_ms") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.latency = absl::Milliseconds(value.get<int64_t>());
    } else if (key == "status") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.status = value.get<int>();
      if (rule.status < 100 || rule.status > 599) {
        return absl::InvalidArgumentError("status must be an HTTP status");
      }
    } else if (key == "retry_after_seconds") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.retry_after_seconds = value.get<int>();
    } else if (key == "error_code" || key == "message") {
      if (!value.is_string()) {
        return absl::InvalidArgumentError(key + " must be a string");
      }
      (key == "error_code" ? rule.error_code : rule.message) =
          value.get<std::string>();
    } else if (key == "rate_per_second") {
      if (!value.is_number() || value.get<double>() <= 0) {
        return absl::InvalidArgumentError("rate_per_second must be positive");
      }
      rule.rate_per_second = value.get<double>();
    } else if (key == "drip_bytes") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.drip_bytes = std::max(1, value.get<int>());
    } else if (key == "burst") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.burst = std::max(1, value.get<int>());
    } else if (key == "stall_ms") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.stall = absl::Milliseconds(value.get<int64_t>());
    } else if (key == "hidden_ms") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.hidden_for = absl::Milliseconds(value.get<int64_t>());
    } else if (key == "oversized_bytes") {
      if (auto s = need_int(); !s.ok()) return s;
      rule.oversized_bytes = value.get<uint64_t>();
    } else {
      return absl::InvalidArgumentError("unknown key " + key);
    }
  }
  if (rule.kind == FaultKind::kHtmlError && !j.contains("status")) {
    rule.status = 502;
  }
  if (rule.kind == FaultKind::kRateLimit) {
    if (!j.contains("count")) rule.count = -1;
    rule.status = 429;
  }
  return rule;
}

nlohmann::json FaultRuleToJson(const FaultRule& rule) {
  nlohmann::json j = {{"endpoint", rule.endpoint},
                      {"kind", std::string(FaultKindName(rule.kind))},
                      {"count", rule.count},
                      {"skip", rule.skip},
                      {"probability", rule.probability}};
  switch (rule.kind) {
    case FaultKind::kLatency:
      j["latency_ms"] = absl::ToInt64Milliseconds(rule.latency);
      break;
    case FaultKind::kHttpError:
    case FaultKind::kHtmlError:
      j["status"] = rule.status;
      j["retry_after_seconds"] = rule.retry_after_seconds;
      if (!rule.error_code.empty()) j["error_code"] = rule.error_code;
      if (!rule.message.empty()) j["message"] = rule.message;
      break;
    case FaultKind::kStall:
      j["stall_ms"] = absl::ToInt64Milliseconds(rule.stall);
      break;
    case FaultKind::kOversized:
      j["oversized_bytes"] = rule.oversized_bytes;
      break;
    case FaultKind::kSlowBody:
      j["latency_ms"] = absl::ToInt64Milliseconds(rule.latency);
      j["drip_bytes"] = rule.drip_bytes;
      break;
    case FaultKind::kRateLimit:
      j["rate_per_second"] = rule.rate_per_second;
      j["burst"] = rule.burst;
      break;
    default:
      break;
  }
  if (rule.hidden_for > absl::ZeroDuration()) {
    j["hidden_ms"] = absl::ToInt64Milliseconds(rule.hidden_for);
  }
  return j;
}

void FaultInjector::Add(FaultRule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  State state;
  state.rule = std::move(rule);
  rules_.push_back(std::move(state));
}

void FaultInjector::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

std::vector<FaultRule> FaultInjector::Rules() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FaultRule> out;
  for (const auto& s : rules_) out.push_back(s.rule);
  return out;
}

FaultDecision FaultInjector::Decide(absl::string_view endpoint) {
  FaultDecision d;
  std::lock_guard<std::mutex> lock(mu_);
  if (rules_.empty()) return d;
  for (State& s : rules_) {
    const FaultRule& r = s.rule;
    if (r.endpoint != "*" && r.endpoint != endpoint) continue;
    if (d.has_fault && r.kind != FaultKind::kLatency) continue;
    ++s.seen;
    if (s.seen <= r.skip) continue;
    if (r.count >= 0 && s.fired >= r.count) continue;
    if (r.kind == FaultKind::kRateLimit) {
      auto now = std::chrono::steady_clock::now();
      if (s.tokens < 0) {
        s.tokens = r.burst;
      } else {
        double elapsed =
            std::chrono::duration<double>(now - s.refilled).count();
        s.tokens =
            std::min<double>(r.burst, s.tokens + elapsed * r.rate_per_second);
      }
      s.refilled = now;
      if (s.tokens >= 1) {
        s.tokens -= 1;
        continue;  // within the rate: no fault
      }
    }
    if (r.probability < 1.0) {
      std::uniform_real_distribution<double> u(0.0, 1.0);
      if (u(rng_) >= r.probability) continue;
    }
    ++s.fired;
    if (r.kind == FaultKind::kLatency) {
      d.latency += r.latency;
    } else {
      d.has_fault = true;
      d.fault = r;
    }
  }
  return d;
}

}  // namespace polysync::databricks::sim
