#include "adapters/databricks/jobtype/rules.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "adapters/databricks/wire/start_update.h"

namespace polysync::databricks::jobtype {
namespace {

v1::Parameter MakeParameter(absl::string_view name, v1::DataType type,
                            absl::string_view value, v1::ParameterSource source,
                            absl::string_view path) {
  v1::Parameter p;
  p.set_name(std::string(name));
  p.set_data_type(type);
  p.set_direction(v1::DIRECTION_INPUT);
  p.set_value(std::string(value));
  p.set_forwarded(false);
  p.set_source(source);
  p.set_source_path(std::string(path));
  return p;
}

absl::Status CheckTables(
    const google::protobuf::RepeatedPtrField<std::string>& tables,
    absl::string_view field) {
  if (static_cast<size_t>(tables.size()) > kMaxSelectionTables) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " has ", tables.size(), " tables; at most ",
                     kMaxSelectionTables, " are allowed"));
  }
  for (const auto& t : tables) {
    if (t.empty() || t.size() > kMaxTableNameBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": table names must be 1 to ", kMaxTableNameBytes, " bytes"));
    }
    for (unsigned char c : t) {
      if (c < 0x20 || c == 0x7f) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": a table name contains a control character"));
      }
    }
  }
  return absl::OkStatus();
}

// Adds job parameter `i`, a `parameters.<key>`, to the plan's update
// parameters. Caller input is not echoed: messages name the index.
absl::Status AddUpdateParameter(int i, const v1::Parameter& p,
                                StartUpdateRequest* plan) {
  if (p.direction() == v1::DIRECTION_OUTPUT) return absl::OkStatus();
  if (p.direction() != v1::DIRECTION_INPUT &&
      p.direction() != v1::DIRECTION_INPUT_OUTPUT) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameters[", i,
                     "]: a parameters.<key> must have direction "
                     "DIRECTION_INPUT or DIRECTION_INPUT_OUTPUT"));
  }
  if (p.data_type() != v1::DATA_TYPE_STRING) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parameters[", i,
        "]: a parameters.<key> must have data type DATA_TYPE_STRING"));
  }
  const std::string key(
      absl::string_view(p.name()).substr(kUpdateParameterPrefix.size()));
  if (key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parameters[", i, "]: \"parameters.\" needs a key after the dot"));
  }
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameters[", i, "]: the key contains a control character"));
    }
  }
  if (!plan->parameters.has_value()) plan->parameters.emplace();
  for (const auto& [k, v] : *plan->parameters) {
    if (k == key) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameters[", i, "]: this parameters.<key> is given twice"));
    }
  }
  plan->parameters->emplace_back(key, p.value());
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> DefaultConfigurationPrefixes() {
  return {"spark.", "custom."};
}

std::string PipelineLink(absl::string_view host,
                         absl::string_view pipeline_id) {
  return absl::StrCat(absl::StripSuffix(host, "/"), "/#joblist/pipelines/",
                      pipeline_id);
}

v1::ImportedJob ImportedJobFromPipeline(
    const Pipeline& pipeline, absl::string_view workspace,
    absl::string_view host, const std::vector<std::string>& prefixes) {
  v1::ImportedJob job;
  job.set_name(!pipeline.name.empty()
                   ? pipeline.name
                   : (pipeline.spec ? pipeline.spec->name : std::string()));
  job.set_job_type(std::string(kJobType));
  job.set_external_id(pipeline.pipeline_id);
  job.set_link(PipelineLink(host, pipeline.pipeline_id));
  job.set_pipeline_state(pipeline.state);
  job.set_workspace(std::string(workspace));

  if (pipeline.spec.has_value()) {
    const PipelineSpec& spec = *pipeline.spec;
    const std::pair<const char*, const std::optional<bool>*> flags[] = {
        {"continuous", &spec.continuous},
        {"development", &spec.development},
        {"photon", &spec.photon}};
    for (const auto& [name, value] : flags) {
      if (!value->has_value()) continue;
      *job.add_parameters() = MakeParameter(
          name, v1::DATA_TYPE_BOOL, **value ? "true" : "false",
          v1::PARAMETER_SOURCE_PIPELINE_SPEC, absl::StrCat("spec.", name));
    }
    std::vector<std::pair<std::string, std::string>> config;
    for (const auto& [key, value] : spec.configuration) {
      // A "parameters." name is an update parameter's, never a
      // configuration key's (it would be forwarded as one).
      if (absl::StartsWith(key, kUpdateParameterPrefix)) continue;
      const bool wanted = std::any_of(
          prefixes.begin(), prefixes.end(),
          [&](const std::string& p) { return absl::StartsWith(key, p); });
      if (wanted) config.emplace_back(key, value);
    }
    std::stable_sort(
        config.begin(), config.end(),
        [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, value] : config) {
      *job.add_parameters() =
          MakeParameter(key, v1::DATA_TYPE_STRING, value,
                        v1::PARAMETER_SOURCE_PIPELINE_CONFIGURATION,
                        absl::StrCat("spec.configuration.", key));
    }
  }
  // The pipeline's default update parameters, forwarded per update.
  std::vector<std::pair<std::string, std::string>> defaults =
      pipeline.parameters;
  std::stable_sort(
      defaults.begin(), defaults.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [key, value] : defaults) {
    const std::string name = absl::StrCat(kUpdateParameterPrefix, key);
    v1::Parameter p =
        MakeParameter(name, v1::DATA_TYPE_STRING, value,
                      v1::PARAMETER_SOURCE_PIPELINE_PARAMETERS, name);
    p.set_forwarded(true);
    *job.add_parameters() = std::move(p);
  }
  if (pipeline.spec.has_value()) {
    if (pipeline.spec->continuous.value_or(false)) {
      job.add_notes(
          "Continuous pipeline: its updates keep running until stopped and "
          "never complete on their own; a Polysync run stays Running until "
          "it is cancelled.");
    }
  } else {
    job.add_notes("The pipeline has no spec: only full_refresh is available.");
  }
  v1::Parameter full_refresh =
      MakeParameter(kFullRefresh, v1::DATA_TYPE_BOOL, "false",
                    v1::PARAMETER_SOURCE_JOB_TYPE, "");
  full_refresh.set_forwarded(true);
  *job.add_parameters() = std::move(full_refresh);
  return job;
}

absl::StatusOr<StartUpdateRequest> PlanStart(
    const v1::StartUpdateRequest& request) {
  StartUpdateRequest plan;
  plan.full_refresh = false;
  if (static_cast<size_t>(request.parameters_size()) > kMaxParameters) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameters: ", request.parameters_size(),
                     " parameters; at most ", kMaxParameters, " are allowed"));
  }
  if (request.idempotency_key().size() > kMaxIdempotencyKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "idempotency_key: at most ", kMaxIdempotencyKeyBytes, " bytes"));
  }
  bool seen_full_refresh = false;
  for (int i = 0; i < request.parameters_size(); ++i) {
    const v1::Parameter& p = request.parameters(i);
    if (p.name().empty() || p.name().size() > kMaxParameterNameBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameters[", i, "]: names must be 1 to ",
                       kMaxParameterNameBytes, " bytes"));
    }
    if (p.value().size() > kMaxParameterValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameters[", i, "]: the value has ", p.value().size(),
          " bytes; at most ", kMaxParameterValueBytes, " are allowed"));
    }
    if (absl::StartsWith(p.name(), kUpdateParameterPrefix)) {
      if (absl::Status s = AddUpdateParameter(i, p, &plan); !s.ok()) return s;
      continue;
    }
    if (p.name() != kFullRefresh) continue;
    if (p.direction() == v1::DIRECTION_OUTPUT) continue;  // never sent
    if (seen_full_refresh) {
      return absl::InvalidArgumentError(
          "parameters: full_refresh is given more than once");
    }
    seen_full_refresh = true;
    if (p.data_type() != v1::DATA_TYPE_BOOL) {
      return absl::InvalidArgumentError(
          "parameters: full_refresh must have data type DATA_TYPE_BOOL");
    }
    if (p.direction() != v1::DIRECTION_INPUT &&
        p.direction() != v1::DIRECTION_INPUT_OUTPUT) {
      return absl::InvalidArgumentError(
          "parameters: full_refresh must have direction DIRECTION_INPUT or "
          "DIRECTION_INPUT_OUTPUT");
    }
    // Exactly "true" or "false" in any case; nothing around them. The value
    // is not echoed: a rejected value is the caller's input, whatever it is.
    if (absl::EqualsIgnoreCase(p.value(), "true")) {
      plan.full_refresh = true;
    } else if (absl::EqualsIgnoreCase(p.value(), "false")) {
      plan.full_refresh = false;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameters: full_refresh must be \"true\" or \"false\" (any "
          "case, no spaces); the value given (",
          p.value().size(), " bytes) is neither"));
    }
  }
  if (auto s = CheckTables(request.refresh_selection(), "refresh_selection");
      !s.ok()) {
    return s;
  }
  if (auto s = CheckTables(request.full_refresh_selection(),
                           "full_refresh_selection");
      !s.ok()) {
    return s;
  }
  if (auto s = CheckTables(request.refresh_flow_selection(),
                           "refresh_flow_selection");
      !s.ok()) {
    return s;
  }
  if (auto s = CheckTables(request.reset_checkpoint_selection(),
                           "reset_checkpoint_selection");
      !s.ok()) {
    return s;
  }
  plan.refresh_selection.assign(request.refresh_selection().begin(),
                                request.refresh_selection().end());
  plan.full_refresh_selection.assign(request.full_refresh_selection().begin(),
                                     request.full_refresh_selection().end());
  plan.refresh_flow_selection.assign(request.refresh_flow_selection().begin(),
                                     request.refresh_flow_selection().end());
  plan.reset_checkpoint_selection.assign(
      request.reset_checkpoint_selection().begin(),
      request.reset_checkpoint_selection().end());
  if (request.validate_only()) plan.validate_only = true;
  if (absl::Status s = ValidateStartUpdate(plan); !s.ok()) return s;
  return plan;
}

v1::RunStatus StatusForState(absl::string_view s) {
  if (s == "RUNNING" || s == "STOPPING") return v1::RUN_STATUS_RUNNING;
  if (s == "COMPLETED") return v1::RUN_STATUS_SUCCESS;
  if (s == "FAILED") return v1::RUN_STATUS_FAILED;
  if (s == "CANCELED") return v1::RUN_STATUS_CANCELLED;
  return v1::RUN_STATUS_UNKNOWN;
}

bool IsTerminalStatus(v1::RunStatus status) {
  return status == v1::RUN_STATUS_SUCCESS || status == v1::RUN_STATUS_FAILED ||
         status == v1::RUN_STATUS_CANCELLED;
}

std::string HintFor(absl::string_view dlt_state, bool continuous,
                    absl::Time in_state_since, absl::Time now,
                    const HintOptions& options) {
  const absl::Duration in_state = now - in_state_since;
  if (dlt_state == "WAITING_FOR_RESOURCES" &&
      in_state > options.waiting_for_resources) {
    return absl::StrCat(
        "The update has been waiting for resources for ",
        absl::FormatDuration(absl::Trunc(in_state, absl::Seconds(1))),
        ": a required Databricks resource (cluster capacity or quota, "
        "target storage, cluster policy) may be missing. Investigate in the "
        "Delta Live Tables UI.");
  }
  if (dlt_state == "STOPPING" && continuous &&
      in_state > options.stopping_continuous) {
    return absl::StrCat(
        "The update has been STOPPING for ",
        absl::FormatDuration(absl::Trunc(in_state, absl::Seconds(1))),
        ": normal for a continuous pipeline, which drains in-flight "
        "micro-batches before it stops.");
  }
  return "";
}

bool ParseRfc3339(absl::string_view text, absl::Time* out) {
  std::string err;
  return absl::ParseTime(absl::RFC3339_full, std::string(text), out, &err);
}

}  // namespace polysync::databricks::jobtype
