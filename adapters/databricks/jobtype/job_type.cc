#include "adapters/databricks/jobtype/job_type.h"

#include "adapters/databricks/jobtype/rules.h"
#include "adapters/databricks/wire/ids.h"

namespace polysync::databricks::jobtype {
namespace {

v1::AuthMethod AuthMethodOf(auth::AuthKind kind) {
  switch (kind) {
    case auth::AuthKind::kPersonalAccessToken:
      return v1::AUTH_METHOD_PERSONAL_ACCESS_TOKEN;
    case auth::AuthKind::kDatabricksOAuthM2M:
      return v1::AUTH_METHOD_DATABRICKS_OAUTH_M2M;
    case auth::AuthKind::kAzureClientSecret:
      return v1::AUTH_METHOD_AZURE_CLIENT_SECRET;
    case auth::AuthKind::kAzureWorkloadIdentity:
      return v1::AUTH_METHOD_AZURE_WORKLOAD_IDENTITY;
    case auth::AuthKind::kAzureManagedIdentity:
      return v1::AUTH_METHOD_AZURE_MANAGED_IDENTITY;
    case auth::AuthKind::kSimulated:
      return v1::AUTH_METHOD_SIMULATED;
  }
  return v1::AUTH_METHOD_UNSPECIFIED;
}

}  // namespace

JobType::JobType(api::Workspaces& workspaces, http::Transport& transport,
                 JobTypeOptions options)
    : workspaces_(workspaces),
      options_(std::move(options)),
      reader_(options_.status, transport),
      start_stop_(reader_, transport, options_.start_stop),
      watches_(reader_, transport, options_.watch) {}

std::shared_ptr<Import> JobType::ImportPipelines(
    const v1::ImportPipelinesRequest& request, api::CallContext ctx,
    Import::OnBatch on_batch, Import::OnDone on_done) {
  auto ws = workspaces_.Find(request.workspace());
  if (!ws.ok()) {
    on_done(ws.status());
    return nullptr;
  }
  return Import::Start(**ws, request, std::move(ctx), options_.import,
                       std::move(on_batch), std::move(on_done));
}

void JobType::SyncParameters(const v1::SyncParametersRequest& request,
                             api::CallContext ctx,
                             Done<v1::SyncParametersResponse> done) {
  auto ws = ResolvePipeline(request.workspace(), request.pipeline_id());
  if (!ws.ok()) {
    done(ws.status());
    return;
  }
  api::Workspace* workspace = *ws;
  const std::vector<std::string> prefixes =
      options_.import.configuration_prefixes;
  workspace->client().GetPipeline(
      request.pipeline_id(), std::move(ctx),
      [workspace, prefixes,
       done = std::move(done)](absl::StatusOr<Pipeline> pipeline) {
        if (!pipeline.ok()) {
          done(pipeline.status());
          return;
        }
        v1::SyncParametersResponse response;
        *response.mutable_job() = ImportedJobFromPipeline(
            *pipeline, workspace->name(), workspace->host(), prefixes);
        done(std::move(response));
      });
}

absl::StatusOr<api::Workspace*> JobType::ResolvePipeline(
    absl::string_view workspace, std::string_view pipeline_id) {
  auto ws = workspaces_.Find(workspace);
  if (!ws.ok()) return ws.status();
  if (auto s = ValidatePipelineId(pipeline_id); !s.ok()) return s;
  return *ws;
}

absl::StatusOr<JobType::ResolvedRun> JobType::Resolve(
    absl::string_view workspace, std::string_view run_id) {
  auto run = ParseRunId(run_id);
  if (!run.ok()) return run.status();
  auto ws = workspaces_.Find(workspace);
  if (!ws.ok()) return ws.status();
  return ResolvedRun{*ws, *std::move(run)};
}

void JobType::StartUpdate(const v1::StartUpdateRequest& request,
                          api::CallContext ctx,
                          Done<v1::StartUpdateResponse> done) {
  auto ws = ResolvePipeline(request.workspace(), request.pipeline_id());
  if (!ws.ok()) {
    done(ws.status());
    return;
  }
  auto plan = PlanStart(request);
  if (!plan.ok()) {
    done(plan.status());
    return;
  }
  start_stop_.Start(**ws, request, *std::move(plan), std::move(ctx),
                    std::move(done));
}

void JobType::GetUpdateStatus(const v1::GetUpdateStatusRequest& request,
                              api::CallContext ctx,
                              Done<v1::UpdateStatus> done) {
  auto resolved = Resolve(request.workspace(), request.run_id());
  if (!resolved.ok()) {
    done(resolved.status());
    return;
  }
  reader_.Read(*resolved->workspace, resolved->run, ctx, std::move(done));
}

void JobType::StopUpdate(const v1::StopUpdateRequest& request,
                         api::CallContext ctx,
                         Done<v1::StopUpdateResponse> done) {
  auto resolved = Resolve(request.workspace(), request.run_id());
  if (!resolved.ok()) {
    done(resolved.status());
    return;
  }
  start_stop_.Stop(*resolved->workspace, std::move(resolved->run),
                   std::move(ctx), std::move(done));
}

absl::StatusOr<uint64_t> JobType::WatchUpdate(
    const v1::WatchUpdateRequest& request, api::CallContext ctx,
    Watches::OnStatus on_status, Watches::OnEnd on_end) {
  auto resolved = Resolve(request.workspace(), request.run_id());
  if (!resolved.ok()) return resolved.status();
  return watches_.Watch(*resolved->workspace, resolved->run, ctx,
                        std::move(on_status), std::move(on_end));
}

v1::ListWorkspacesResponse JobType::ListWorkspaces() const {
  v1::ListWorkspacesResponse response;
  for (const auto& w : workspaces_.all()) {
    v1::Workspace* out = response.add_workspaces();
    out->set_name(w->name());
    out->set_host(w->host());
    out->set_auth_method(AuthMethodOf(w->profile().auth));
    out->set_is_default(w->name() == workspaces_.default_name());
    out->set_simulated(w->profile().auth == auth::AuthKind::kSimulated);
  }
  return response;
}

}  // namespace polysync::databricks::jobtype
