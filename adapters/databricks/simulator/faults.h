// Fault injection: rules that make an endpoint misbehave on the wire.
//
// A rule names an endpoint (see `kEndpoints`, or "*" for every endpoint), a
// kind of fault and when it fires: the next `count` matching requests after
// skipping `skip` of them, or each matching request with `probability`.
// Rules are checked in the order they were added: every firing `kLatency`
// rule adds its delay, and the first firing rule of any other kind decides
// the response.
//
//   FaultRule rule;
//   rule.endpoint = "updates.start";
//   rule.kind = FaultKind::kResponseLost503;  // created, but the client
//   rule.count = 1;                           // sees a 503
//   simulator->InjectFault(rule);
//
// Rules are also written as JSON (flags, POST /_sim/faults):
//   {"endpoint": "pipelines.get", "kind": "http_error", "status": 429,
//    "retry_after_seconds": 2, "count": 3}
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_FAULTS_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_FAULTS_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/databricks/wire/endpoints.h"

namespace polysync::databricks::sim {

// The credential endpoints the simulator also serves (not Pipelines API
// endpoints, so not in wire/endpoints.h).
inline constexpr Endpoint kOidcDiscovery{
    "oidc.discovery", "GET", "/oidc/.well-known/oauth-authorization-server"};
inline constexpr Endpoint kOidcToken{"token.oidc", "POST", "/oidc/v1/token"};
inline constexpr Endpoint kEntraToken{"token.entra", "POST",
                                      "/{tenant}/oauth2/v2.0/token"};
inline constexpr Endpoint kImdsToken{"token.imds", "GET",
                                     "/metadata/identity/oauth2/token"};

// Endpoint names used by rules and request counters: the Pipelines API's
// (the names the service's metrics use), the token endpoints', and
// "unknown" for a request no route matches.
inline constexpr const char* kEndpoints[] = {
    kListPipelines.name, kCreatePipeline.name, kGetPipeline.name,
    kEditPipeline.name,  kDeletePipeline.name, kStopPipeline.name,
    kStartUpdate.name,   kListUpdates.name,    kGetUpdate.name,
    kGetRequest.name,    kListEvents.name,     kOidcToken.name,
    kEntraToken.name,    kImdsToken.name,      "unknown"};

enum class FaultKind {
  kLatency,          // adds `latency`, then answers normally
  kHttpError,        // `status` (429, 500, 502, 503...) with a Databricks
                     // error body; Retry-After when retry_after_seconds >= 0
  kReset,            // TCP reset instead of a response
  kStall,            // holds the connection for `stall`, then drops it
  kMalformedJson,    // 200 with a body that is not JSON
  kTruncatedJson,    // the real answer, cut in half (Content-Length is the
                     // full length), then close; the request IS processed
  kHtmlError,        // `status` (default 502) text/html page from a "proxy"
  kOversized,        // 200 JSON body of `oversized_bytes`, streamed
  kResponseLost503,  // processed (e.g. the update is created), client gets 503
  kResponseLostReset,  // processed, client gets a TCP reset
  kSlowBody,           // the real answer (processed), its body dripped
                       // `drip_bytes` every `latency`: a slow or stuck transfer
  kRateLimit,  // a token bucket (real time): above `rate_per_second` (with
               // `burst`), 429 REQUEST_LIMIT_EXCEEDED with Retry-After
};

// "latency", "http_error", "reset", "stall", "malformed_json",
// "truncated_json", "html_error", "oversized", "response_lost_503",
// "response_lost_reset", "slow_body", "rate_limit".
absl::string_view FaultKindName(FaultKind kind);
bool ParseFaultKind(absl::string_view name, FaultKind* kind);

struct FaultRule {
  std::string endpoint = "*";
  FaultKind kind = FaultKind::kHttpError;
  // When it fires: the next `count` matching requests after `skip` of them;
  // count < 0 means every matching request after the skipped ones.
  int count = 1;
  int skip = 0;
  // When in (0, 1): fires with this probability instead (count still caps
  // the number of firings when >= 0).
  double probability = 1.0;

  absl::Duration latency = absl::Milliseconds(100);  // kLatency, kSlowBody
  int status = 503;                                  // kHttpError, kHtmlError
  int retry_after_seconds = -1;                      // -1: no Retry-After
  // kHttpError: replace the default error_code / message (e.g. the 429
  // message "RPC token bucket limit has been exceeded" SDKs retry on).
  std::string error_code;
  std::string message;
  absl::Duration stall = absl::Seconds(30);  // kStall
  uint64_t oversized_bytes = 40ull << 20;    // kOversized
  int drip_bytes = 16;                       // kSlowBody
  double rate_per_second = 10;               // kRateLimit
  int burst = 10;                            // kRateLimit
  // A kind that processes the request (response_lost_*, truncated_json,
  // slow_body) on updates.start: the update it creates stays out of every
  // read for this long (a lagging read path), though a second start is
  // refused at once.
  absl::Duration hidden_for = absl::ZeroDuration();  // hidden_ms
};

// Parses one rule from JSON (keys as in FaultRule; durations in
// milliseconds: latency_ms, stall_ms; error_code and message strings).
absl::StatusOr<FaultRule> FaultRuleFromJson(const nlohmann::json& j);
nlohmann::json FaultRuleToJson(const FaultRule& rule);

// What the firing rules decided for one request.
struct FaultDecision {
  absl::Duration latency = absl::ZeroDuration();
  bool has_fault = false;
  FaultRule fault;  // valid when has_fault
};

// Thread-safe rule set.
class FaultInjector {
 public:
  explicit FaultInjector(uint64_t seed = 1) : rng_(seed) {}

  void Add(FaultRule rule);
  void Clear();
  std::vector<FaultRule> Rules() const;
  // Consumes the rules that fire for one request to `endpoint`.
  FaultDecision Decide(absl::string_view endpoint);

 private:
  struct State {
    FaultRule rule;
    int64_t seen = 0;   // matching requests so far
    int64_t fired = 0;  // firings so far
    // kRateLimit: tokens left and when they were last refilled.
    double tokens = -1;  // < 0: not started (full bucket)
    std::chrono::steady_clock::time_point refilled;
  };
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::vector<State> rules_;
};

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_FAULTS_H_
