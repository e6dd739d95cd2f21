#include "adapters/databricks/simulator/simulator.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "adapters/databricks/simulator/http_server.h"
#include "adapters/databricks/simulator/seed.h"
#include "common/log.h"

namespace polysync::databricks::sim {
namespace {

using json = nlohmann::json;

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

HttpResponse FromApi(const ApiResult& r) {
  HttpResponse resp;
  resp.status = r.status;
  resp.body = Dump(r.body);
  return resp;
}

HttpResponse ApiError(int status, absl::string_view code,
                      absl::string_view message) {
  return FromApi(ApiResult::Error(status, code, message));
}

// What a route's handler gets.
struct Call {
  const HttpRequest& request;
  // The pattern's {...} segments in order, percent-decoded.
  const std::vector<std::string>& args;
  const QueryParams& params;
  // The JSON body of a POST or PUT to an API route ({} otherwise).
  const json& body;
  absl::Time now;
  // updates.start: how long the update it creates stays out of reads
  // (FaultRule::hidden_for of the firing rule; zero when none).
  absl::Duration hidden_for;
  Workspace& workspace;
  TokenStore& tokens;
  // The simulator's scheme ("http://" or "https://") and host:port, for
  // OIDC discovery without a Host header.
  absl::string_view scheme;
  absl::string_view self_host;
};

enum class Access {
  kPublic,  // no bearer token, no JSON body (token endpoints, discovery)
  kApi,     // /api/: a bearer token (TokenStore::Check), a JSON body
};

// One endpoint (its name for fault rules and request counters, its method
// and path pattern: literal segments, `{name}` for one segment of any value;
// wire/endpoints.h for the Pipelines API's, the service's metrics use the
// same names) and its handler.
struct Route {
  Endpoint endpoint;
  Access access;
  HttpResponse (*handle)(const Call&);
};

HttpResponse OidcDiscovery(const Call& c) {
  std::string host = c.request.Header("Host");
  if (host.empty()) host = std::string(c.self_host);
  const std::string base = absl::StrCat(c.scheme, host, "/oidc");
  HttpResponse resp;
  resp.body =
      Dump({{"issuer", base},
            {"authorization_endpoint", base + "/v1/authorize"},
            {"token_endpoint", base + "/v1/token"},
            {"grant_types_supported",
             {"client_credentials", "authorization_code", "refresh_token"}},
            {"scopes_supported", {"all-apis", "offline_access"}}});
  return resp;
}

// Checked in order; the first match decides. A request no route matches
// is the endpoint "unknown" (404 ENDPOINT_NOT_FOUND).
const Route kRoutes[] = {
    {kListPipelines, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.ListPipelines(c.now, c.params));
     }},
    {kCreatePipeline, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.CreatePipeline(c.now, c.body));
     }},
    {kGetPipeline, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.GetPipeline(c.now, c.args[0]));
     }},
    {kEditPipeline, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.EditPipeline(c.now, c.args[0], c.body));
     }},
    {kDeletePipeline, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.DeletePipeline(c.now, c.args[0]));
     }},
    {kListUpdates, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.ListUpdates(c.now, c.args[0], c.params));
     }},
    {kStartUpdate, Access::kApi,
     [](const Call& c) {
       return FromApi(
           c.workspace.StartUpdate(c.now, c.args[0], c.body, c.hidden_for));
     }},
    {kGetUpdate, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.GetUpdate(c.now, c.args[0], c.args[1]));
     }},
    {kGetRequest, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.GetRequest(c.now, c.args[0], c.args[1]));
     }},
    {kStopPipeline, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.StopPipeline(c.now, c.args[0]));
     }},
    {kListEvents, Access::kApi,
     [](const Call& c) {
       return FromApi(c.workspace.ListEvents(c.now, c.args[0], c.params));
     }},
    {kOidcDiscovery, Access::kPublic, OidcDiscovery},
    {kOidcToken, Access::kPublic,
     [](const Call& c) { return c.tokens.OidcToken(c.request, c.now); }},
    {kEntraToken, Access::kPublic,
     [](const Call& c) {
       return c.tokens.EntraToken(c.request, c.args[0], c.now);
     }},
    {kImdsToken, Access::kPublic,
     [](const Call& c) {
       return c.tokens.ImdsToken(c.request, c.params, c.now);
     }},
};

// The JSON body of a POST or PUT ({} when empty or another method); false
// when it is not JSON.
bool ReadJsonBody(const HttpRequest& req, json* body) {
  *body = json::object();
  if (req.method != "POST" && req.method != "PUT") return true;
  if (absl::StripAsciiWhitespace(req.body).empty()) return true;
  *body = json::parse(req.body, nullptr, false);
  return !body->is_discarded();
}

// The first route matching `method` and the path's `segments` (decoded),
// with its {...} segments in `args`; nullptr when none matches.
const Route* FindRoute(absl::string_view method,
                       const std::vector<std::string>& segments,
                       std::vector<std::string>* args) {
  for (const Route& route : kRoutes) {
    if (method != route.endpoint.method) continue;
    args->clear();
    size_t i = 0;
    bool match = true;
    for (absl::string_view p :
         absl::StrSplit(route.endpoint.path, '/', absl::SkipEmpty())) {
      if (i == segments.size()) {
        match = false;
        break;
      }
      if (absl::StartsWith(p, "{")) {
        args->push_back(segments[i]);
      } else if (p != segments[i]) {
        match = false;
        break;
      }
      ++i;
    }
    if (match && i == segments.size()) return &route;
  }
  return nullptr;
}

const char* ErrorCodeFor(int status) {
  switch (status) {
    case 400:
      return "INVALID_PARAMETER_VALUE";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "RESOURCE_DOES_NOT_EXIST";
    case 409:
      return "RESOURCE_CONFLICT";
    case 429:
      return "REQUEST_LIMIT_EXCEEDED";
    case 501:
      return "NOT_IMPLEMENTED";
    case 503:
      return "TEMPORARILY_UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return "INTERNAL_ERROR";
  }
}

// The response a firing rule makes without processing the request.
HttpResponse FaultResponse(const FaultRule& f) {
  HttpResponse r;
  switch (f.kind) {
    case FaultKind::kHttpError: {
      std::string message =
          f.status == 429
              ? "Too many requests. Please wait a moment and "
                "try again. If the issue persists, consider "
                "adjusting your request rate."
              : absl::StrCat("Simulated server error (HTTP ", f.status, ").");
      if (!f.message.empty()) message = f.message;
      r = ApiError(f.status,
                   f.error_code.empty() ? ErrorCodeFor(f.status) : f.error_code,
                   message);
      if (f.retry_after_seconds >= 0) {
        r.headers.emplace_back("Retry-After",
                               std::to_string(f.retry_after_seconds));
      }
      return r;
    }
    case FaultKind::kRateLimit: {
      r = ApiError(429, "REQUEST_LIMIT_EXCEEDED",
                   f.message.empty()
                       ? "RPC token bucket limit has been exceeded."
                       : f.message);
      const int retry_after =
          f.retry_after_seconds >= 0
              ? f.retry_after_seconds
              : std::max(1, static_cast<int>(std::ceil(1 / f.rate_per_second)));
      r.headers.emplace_back("Retry-After", std::to_string(retry_after));
      return r;
    }
    case FaultKind::kReset:
      r.action = WireAction::kReset;
      return r;
    case FaultKind::kStall:
      r.action = WireAction::kStallThenDrop;
      r.stall = f.stall;
      return r;
    case FaultKind::kMalformedJson:
      r.body = "{\"statuses\": [{\"pipeline_id\": \"5b1f\", <<not json>>";
      return r;
    case FaultKind::kHtmlError: {
      r.status = f.status;
      r.content_type = "text/html";
      std::string title = absl::StrCat(f.status, " Bad Gateway");
      if (f.status != 502) title = absl::StrCat(f.status, " Error");
      r.body = absl::StrCat("<html>\r\n<head><title>", title,
                            "</title></head>\r\n<body>\r\n<center><h1>", title,
                            "</h1></center>\r\n<hr><center>nginx</center>\r\n"
                            "</body>\r\n</html>\r\n");
      if (f.retry_after_seconds >= 0) {
        r.headers.emplace_back("Retry-After",
                               std::to_string(f.retry_after_seconds));
      }
      return r;
    }
    case FaultKind::kOversized:
      r.action = WireAction::kOversized;
      r.oversized_bytes = f.oversized_bytes;
      return r;
    default:
      return r;
  }
}

}  // namespace

Simulator::Simulator(SimulatorOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : std::make_shared<RealClock>()),
      manual_clock_(dynamic_cast<ManualClock*>(clock_.get())),
      workspace_(options_.workspace),
      tokens_(options_.auth, options_.workspace.random_seed + 1),
      faults_(options_.fault_seed) {}

Simulator::~Simulator() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Start(
    SimulatorOptions options) {
  std::unique_ptr<Simulator> sim(new Simulator(std::move(options)));
  if (sim->options_.seed_default_pipelines) {
    for (auto& p : DefaultPipelines()) {
      bool continuous = p.spec.value("continuous", false);
      std::string name = p.spec["name"].get<std::string>();
      auto id = sim->workspace_.AddPipeline(sim->clock_->Now(), p.spec,
                                            p.behavior, p.creator);
      if (!id.ok()) return id.status();
      sim->seeded_.push_back(SeededPipeline{*id, name, p.behavior, continuous});
      if (sim->options_.seed_history && !continuous) {
        const absl::Time now = sim->clock_->Now();
        for (auto [ago, cause] : {std::make_pair(absl::Hours(26), "JOB_TASK"),
                                  std::make_pair(absl::Hours(2), "API_CALL")}) {
          auto s =
              sim->workspace_.AddHistoricUpdate(*id, now - ago, now, cause);
          if (!s.ok()) return s;
        }
      }
    }
  }
  sim->GeneratePipelines(sim->options_.generated_pipelines);
  for (const auto& rule : sim->options_.faults) sim->faults_.Add(rule);

  HttpServerOptions server_options;
  server_options.host = sim->options_.host;
  server_options.port = sim->options_.port;
  server_options.io_threads = sim->options_.io_threads;
  server_options.tls_cert_file = sim->options_.tls_cert_file;
  server_options.tls_key_file = sim->options_.tls_key_file;
  Simulator* raw = sim.get();
  auto server = HttpServer::Start(
      server_options,
      [raw](const HttpRequest& req) { return raw->Handle(req); });
  if (!server.ok()) return server.status();
  sim->server_ = std::move(*server);
  sim->port_ = sim->server_->port();
  sim->tls_ = sim->server_->tls();
  polysync::log::Info(
      "databricks simulator listening",
      {polysync::log::Field("url", sim->base_url()),
       polysync::log::Field("pipelines",
                            static_cast<int64_t>(sim->PipelineCount()))});
  return sim;
}

void Simulator::Shutdown() {
  std::unique_ptr<HttpServer> server;
  {
    std::lock_guard<std::mutex> lock(mu_);
    server = std::move(server_);
  }
  if (server) server->Shutdown();
}

std::string Simulator::base_url() const {
  return absl::StrCat(tls_ ? "https://" : "http://", options_.host, ":",
                      port_.load());
}

std::string Simulator::access_token() const {
  return options_.auth.personal_access_token;
}

absl::StatusOr<std::string> Simulator::CreatePipeline(const json& spec,
                                                      Behavior behavior) {
  if (!spec.is_object() || spec.contains("id")) {
    return absl::InvalidArgumentError(
        "spec must be a JSON object without an id");
  }
  return workspace_.AddPipeline(clock_->Now(), spec, behavior,
                                "sim-user@example.com");
}

absl::Status Simulator::SetBehavior(const std::string& pipeline_id,
                                    Behavior behavior) {
  return workspace_.SetBehavior(pipeline_id, behavior);
}

std::vector<std::string> Simulator::GeneratePipelines(int count) {
  std::vector<std::string> ids;
  int first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = generated_;
    generated_ += std::max(0, count);
  }
  for (int i = 0; i < count; ++i) {
    SeedPipeline p = GeneratedPipeline(first + i);
    auto id = workspace_.AddPipeline(clock_->Now(), std::move(p.spec),
                                     p.behavior, p.creator);
    if (id.ok()) ids.push_back(*id);
  }
  return ids;
}

size_t Simulator::PipelineCount() const { return workspace_.PipelineCount(); }

void Simulator::InjectFault(FaultRule rule) { faults_.Add(std::move(rule)); }

absl::Status Simulator::InjectFaultJson(const json& rules) {
  std::vector<FaultRule> parsed;
  if (rules.is_array()) {
    for (const auto& r : rules) {
      auto rule = FaultRuleFromJson(r);
      if (!rule.ok()) return rule.status();
      parsed.push_back(*rule);
    }
  } else {
    auto rule = FaultRuleFromJson(rules);
    if (!rule.ok()) return rule.status();
    parsed.push_back(*rule);
  }
  for (auto& r : parsed) faults_.Add(std::move(r));
  return absl::OkStatus();
}

void Simulator::ClearFaults() { faults_.Clear(); }

void Simulator::Count(const std::string& endpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  ++request_counts_[endpoint];
}

void Simulator::ResetRequestCounts() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    request_counts_.clear();
  }
  if (server_) server_->ResetPeakInFlight();
}

int Simulator::PeakConcurrentRequests() const {
  return server_ ? server_->PeakInFlight() : 0;
}

int64_t Simulator::RequestCount(const std::string& endpoint) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (endpoint == "*") {
    int64_t total = 0;
    for (const auto& [k, v] : request_counts_) total += v;
    return total;
  }
  auto it = request_counts_.find(endpoint);
  return it == request_counts_.end() ? 0 : it->second;
}

int64_t Simulator::UpdatesCreated() const {
  return workspace_.UpdatesCreated();
}

int64_t Simulator::UpdatesCreated(const std::string& pipeline_id) const {
  return workspace_.UpdatesCreated(pipeline_id);
}

absl::Status Simulator::AdvanceClock(absl::Duration d) {
  if (manual_clock_ == nullptr) {
    return absl::FailedPreconditionError(
        "the simulator runs on real time; pass a ManualClock in "
        "SimulatorOptions::clock");
  }
  manual_clock_->Advance(d);
  workspace_.Tick(clock_->Now());
  return absl::OkStatus();
}

HttpResponse Simulator::Handle(const HttpRequest& req) {
  absl::string_view target = req.target;
  absl::string_view path = target, query;
  if (size_t q = target.find('?'); q != absl::string_view::npos) {
    path = target.substr(0, q);
    query = target.substr(q + 1);
  }
  if (absl::StartsWith(path, "/_sim/")) {
    return HandleAdmin(req, std::string(path));
  }
  std::vector<std::string> segments;
  for (absl::string_view s : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    segments.push_back(PercentDecode(s));
  }
  std::vector<std::string> args;
  const Route* route = FindRoute(req.method, segments, &args);
  const std::string endpoint =
      route ? std::string(route->endpoint.name) : "unknown";
  Count(endpoint);
  FaultDecision decision = faults_.Decide(endpoint);
  const bool process = !decision.has_fault ||
                       decision.fault.kind == FaultKind::kTruncatedJson ||
                       decision.fault.kind == FaultKind::kResponseLost503 ||
                       decision.fault.kind == FaultKind::kResponseLostReset ||
                       decision.fault.kind == FaultKind::kSlowBody;

  HttpResponse resp;
  if (!process) {
    resp = FaultResponse(decision.fault);
  } else {
    const absl::Time now = clock_->Now();
    const QueryParams params = ParseForm(query);
    const bool api = route == nullptr || route->access == Access::kApi;
    json body = json::object();
    // Every API route needs the token, however its path is spelled
    // (segments are percent-decoded: "/ap%69/2.0/pipelines" is a route).
    const bool api_path =
        route != nullptr || (!segments.empty() && segments[0] == "api");
    if (auto denied =
            api && api_path ? tokens_.Check(req, now) : std::nullopt) {
      resp = FromApi(*denied);
    } else if (route == nullptr) {
      resp = ApiError(
          404, "ENDPOINT_NOT_FOUND",
          absl::StrCat("No API found for '", req.method, " ", path, "'"));
    } else if (api && !ReadJsonBody(req, &body)) {
      resp = ApiError(400, "MALFORMED_REQUEST",
                      "Invalid JSON given in the body of the request.");
    } else {
      const std::string self_host =
          absl::StrCat(options_.host, ":", port_.load());
      const Call call{
          req,
          args,
          params,
          body,
          now,
          decision.has_fault ? decision.fault.hidden_for : absl::ZeroDuration(),
          workspace_,
          tokens_,
          tls_ ? "https://" : "http://",
          self_host};
      resp = route->handle(call);
    }
    if (decision.has_fault) {
      switch (decision.fault.kind) {
        case FaultKind::kTruncatedJson:
          resp.action = WireAction::kTruncate;
          break;
        case FaultKind::kSlowBody:
          resp.action = WireAction::kDrip;
          resp.drip_bytes = static_cast<size_t>(decision.fault.drip_bytes);
          resp.drip_interval = decision.fault.latency;
          break;
        case FaultKind::kResponseLost503:
          resp = ApiError(503, "TEMPORARILY_UNAVAILABLE",
                          "The service is temporarily unavailable.");
          break;
        case FaultKind::kResponseLostReset:
          resp = HttpResponse{};
          resp.action = WireAction::kReset;
          break;
        default:
          break;
      }
    }
  }
  resp.delay += decision.latency;
  return resp;
}

HttpResponse Simulator::HandleAdmin(const HttpRequest& req,
                                    const std::string& path) {
  json body = json::object();
  if (!absl::StripAsciiWhitespace(req.body).empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) {
      return ApiError(400, "MALFORMED_REQUEST", "Invalid JSON body.");
    }
  }
  HttpResponse resp;
  if (path == "/_sim/stats" && req.method == "GET") {
    json requests = json::object();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [k, v] : request_counts_) requests[k] = v;
    }
    resp.body = Dump({{"requests", requests},
                      {"updates_created", UpdatesCreated()},
                      {"pipelines", PipelineCount()},
                      {"tokens_issued", tokens_.TokensIssued()},
                      {"peak_concurrent_requests", PeakConcurrentRequests()},
                      {"now", FormatRfc3339Millis(clock_->Now())}});
    return resp;
  }
  if (path == "/_sim/stats" && req.method == "DELETE") {
    ResetRequestCounts();
    resp.body = "{}";
    return resp;
  }
  if (path == "/_sim/faults") {
    if (req.method == "POST") {
      if (auto s = InjectFaultJson(body); !s.ok()) {
        return ApiError(400, "INVALID_PARAMETER_VALUE", s.message());
      }
    } else if (req.method == "DELETE") {
      ClearFaults();
    } else if (req.method != "GET") {
      return ApiError(404, "ENDPOINT_NOT_FOUND", "Use GET, POST or DELETE.");
    }
    json rules = json::array();
    for (const auto& r : faults_.Rules()) rules.push_back(FaultRuleToJson(r));
    resp.body = Dump({{"rules", rules}});
    return resp;
  }
  if (path == "/_sim/clock/advance" && req.method == "POST") {
    if (!body.contains("seconds") || !body["seconds"].is_number() ||
        body["seconds"].get<double>() < 0 ||
        body["seconds"].get<double>() > 10 * 365 * 86400.0) {
      return ApiError(400, "INVALID_PARAMETER_VALUE", "Body: {\"seconds\": N}");
    }
    auto s = AdvanceClock(absl::Seconds(body["seconds"].get<double>()));
    if (!s.ok()) return ApiError(400, "INVALID_STATE", s.message());
    resp.body = Dump({{"now", FormatRfc3339Millis(clock_->Now())}});
    return resp;
  }
  if (path == "/_sim/pipelines/generate" && req.method == "POST") {
    if (!body.contains("count") || !body["count"].is_number_integer() ||
        body["count"].get<int64_t>() < 0 ||
        body["count"].get<int64_t>() > 100000) {
      return ApiError(400, "INVALID_PARAMETER_VALUE",
                      "Body: {\"count\": N} with N in [0, 100000]");
    }
    auto ids = GeneratePipelines(body["count"].get<int>());
    resp.body = Dump({{"pipeline_ids", ids}});
    return resp;
  }
  return ApiError(
      404, "ENDPOINT_NOT_FOUND",
      absl::StrCat("No admin API at '", req.method, " ", path, "'"));
}

}  // namespace polysync::databricks::sim
