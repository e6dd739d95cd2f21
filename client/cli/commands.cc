#include "client/cli/commands.h"

#include <google/protobuf/util/message_differencer.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli/exit_codes.h"
#include "client/cli/output.h"

namespace polysync::client::cli {
namespace {

namespace v1 = ::polysync::databricks::v1;

constexpr char kServiceName[] = "polysync.databricks.v1.DatabricksPipelines";

[[noreturn]] void Die(int code, absl::string_view message) {
  std::fflush(stdout);
  std::cerr << "pdlt: " << OneLine(message) << std::endl;
  std::exit(code);
}

// Prints one clear line for a failed call and exits with its code.
[[noreturn]] void DieOnError(const absl::Status& status,
                             const std::string& target) {
  const Failure failure = FailureOf(status, target);
  Die(failure.code, failure.message);
}

}  // namespace

[[noreturn]] void UsageError(const std::string& message) {
  std::fflush(stdout);
  std::cerr << "pdlt: " << message << std::endl;
  std::exit(kExitUsage);
}

namespace {

// Repeated flags that also take comma lists: every item, trimmed.
std::vector<std::string> SplitLists(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      out.emplace_back(absl::StripAsciiWhitespace(part));
    }
  }
  return out;
}

// Argument checks (the service checks too; these give a clearer message and
// send nothing).

bool IsId(absl::string_view id) {
  static const int kGroups[] = {8, 4, 4, 4, 12};
  std::vector<absl::string_view> parts = absl::StrSplit(id, '-');
  if (parts.size() != 5) return false;
  for (int i = 0; i < 5; ++i) {
    if (static_cast<int>(parts[i].size()) != kGroups[i]) return false;
    for (char c : parts[i]) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
    }
  }
  return true;
}

std::string PipelineIdArg(const std::string& id) {
  if (!IsId(id)) {
    UsageError(absl::StrCat("invalid pipeline id \"", id,
                            "\": expected the 8-4-4-4-12 form, e.g. "
                            "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5"));
  }
  return id;
}

std::string RunIdArg(const std::string& id) {
  std::vector<std::string> parts = absl::StrSplit(id, ':');
  if (parts.size() != 2 || !IsId(parts[0]) || !IsId(parts[1])) {
    UsageError(
        absl::StrCat("invalid run id \"", id,
                     "\": expected PIPELINE_ID:UPDATE_ID as 'pdlt start' "
                     "prints it"));
  }
  return id;
}

int Workspaces(Context& ctx) {
  auto r = ctx.client->ListWorkspaces();
  if (!r.ok()) ctx.Fail(r.status());
  if (ctx.json) {
    PrintJson(*r);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "HOST", "AUTH", "DEFAULT"}};
  for (const auto& w : r->workspaces()) {
    rows.push_back({w.name(), w.host(), AuthName(w.auth_method()),
                    w.is_default() ? "*" : ""});
  }
  PrintTable(rows);
  return kExitOk;
}

int Import(Context& ctx) {
  v1::ImportPipelinesRequest request;
  request.set_name_filter(ctx.args.name_filter);
  for (const auto& id : SplitLists(ctx.args.pipeline_ids)) {
    request.add_pipeline_ids(PipelineIdArg(id));
  }
  int jobs = 0, errors = 0;
  std::vector<std::vector<std::string>> rows = {
      {"PIPELINE ID", "NAME", "STATE", "PARAMETERS"}};
  auto r = ctx.client->ImportPipelines(
      request, [&](const v1::ImportPipelinesResponse& batch) {
        jobs += batch.jobs_size();
        errors += batch.errors_size();
        if (ctx.json) {
          PrintJson(batch);
          return;
        }
        for (const auto& job : batch.jobs()) {
          std::vector<std::string> params;
          for (const auto& p : job.parameters()) {
            params.push_back(absl::StrCat(p.name(), "=", p.value()));
          }
          rows.push_back({job.external_id(), job.name(), job.pipeline_state(),
                          absl::StrJoin(params, " ")});
        }
        for (const auto& e : batch.errors()) {
          rows.push_back(
              {e.pipeline_id(), e.name(), "ERROR", OneLine(e.message())});
        }
      });
  if (!ctx.json && (r.ok() || rows.size() > 1)) {
    PrintTable(rows);
    std::cout << jobs << " pipelines imported" << (errors ? ", " : "")
              << (errors ? absl::StrCat(errors, " failed") : "") << "\n";
    std::cout.flush();
  }
  if (!r.ok()) ctx.Fail(r.status());
  return errors > 0 ? kExitServiceError : kExitOk;
}

int Sync(Context& ctx) {
  v1::SyncParametersRequest request;
  request.set_pipeline_id(PipelineIdArg(ctx.args.id));
  auto r = ctx.client->SyncParameters(request);
  if (!r.ok()) ctx.Fail(r.status());
  if (ctx.json) {
    PrintJson(*r);
    return kExitOk;
  }
  const auto& job = r->job();
  PrintTable({{"pipeline id", job.external_id()},
              {"name", job.name()},
              {"job type", job.job_type()},
              {"state", job.pipeline_state()},
              {"workspace", job.workspace()},
              {"link", job.link()}});
  for (const auto& note : job.notes()) std::cout << "note: " << note << "\n";
  std::cout << "\n";
  std::vector<std::vector<std::string>> rows = {
      {"PARAMETER", "TYPE", "VALUE", "FORWARDED", "SOURCE"}};
  for (const auto& p : job.parameters()) {
    rows.push_back({p.name(),
                    p.data_type() == v1::DATA_TYPE_BOOL ? "bool" : "string",
                    p.value(), p.forwarded() ? "yes" : "no",
                    p.source_path().empty() ? "job type" : p.source_path()});
  }
  PrintTable(rows);
  return kExitOk;
}

int Start(Context& ctx) {
  v1::StartUpdateRequest request;
  request.set_pipeline_id(PipelineIdArg(ctx.args.id));
  v1::Parameter* p = request.add_parameters();
  p->set_name("full_refresh");
  p->set_data_type(v1::DATA_TYPE_BOOL);
  p->set_direction(v1::DIRECTION_INPUT);
  p->set_value(ctx.args.full_refresh ? "true" : "false");
  for (const auto& t : SplitLists(ctx.args.refresh)) {
    request.add_refresh_selection(t);
  }
  for (const auto& t : SplitLists(ctx.args.full_refresh_table)) {
    request.add_full_refresh_selection(t);
  }
  for (const auto& f : SplitLists(ctx.args.refresh_flow)) {
    request.add_refresh_flow_selection(f);
  }
  for (const auto& f : SplitLists(ctx.args.reset_checkpoint)) {
    request.add_reset_checkpoint_selection(f);
  }
  // --param values are taken whole (a value may hold commas).
  std::set<std::string> names;
  {
    for (const std::string& arg : ctx.args.params) {
      const auto eq = arg.find('=');
      const std::string name = arg.substr(0, eq);
      // The value is never echoed: it may be something secret.
      if (eq == std::string::npos) {
        UsageError(
            absl::StrCat("--param \"", name,
                         "\" has no '=': expected parameters.KEY=VALUE"));
      }
      if (!absl::StartsWith(name, "parameters.") ||
          name.size() == std::string("parameters.").size()) {
        UsageError(absl::StrCat("--param ", name,
                                "=...: expected parameters.KEY=VALUE (the name "
                                "as 'pdlt sync' shows it)"));
      }
      if (!names.insert(name).second) {
        UsageError(absl::StrCat("--param ", name, " is given twice"));
      }
      v1::Parameter* param = request.add_parameters();
      param->set_name(name);
      param->set_data_type(v1::DATA_TYPE_STRING);
      param->set_direction(v1::DIRECTION_INPUT);
      param->set_value(arg.substr(eq + 1));
    }
  }
  request.set_validate_only(ctx.args.validate_only);
  request.set_idempotency_key(ctx.args.idempotency_key);
  const std::string if_running = ctx.args.if_running;
  if (if_running.empty() || if_running == "fail") {
    request.set_if_running(v1::IF_RUNNING_FAIL);
  } else if (if_running == "attach") {
    request.set_if_running(v1::IF_RUNNING_ATTACH);
  } else if (if_running == "restart") {
    request.set_if_running(v1::IF_RUNNING_RESTART);
  } else {
    UsageError(absl::StrCat("--if-running must be fail, attach or ",
                            "restart, not \"", if_running, "\""));
  }
  auto r = ctx.client->StartUpdate(request);
  if (!r.ok()) ctx.Fail(r.status());
  if (ctx.json) {
    PrintJson(*r);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"run id", r->run_id()},
                                                {"update id", r->update_id()},
                                                {"request id", r->request_id()},
                                                {"link", r->link()}};
  if (r->attached()) rows.push_back({"attached", "yes (already running)"});
  if (r->replayed()) rows.push_back({"replayed", "yes (same idempotency key)"});
  if (!r->stopped_run_id().empty()) {
    rows.push_back({"stopped", r->stopped_run_id()});
  }
  PrintTable(rows);
  return kExitOk;
}

int Status(Context& ctx) {
  auto r = ctx.client->GetUpdateStatus(RunIdArg(ctx.args.id));
  if (!r.ok()) ctx.Fail(r.status());
  if (ctx.json) {
    PrintJson(*r);
  } else {
    PrintTable(StatusRows(*r));
  }
  return ExitCodeFor(r->status());
}

int Stop(Context& ctx) {
  v1::StopUpdateRequest request;
  request.set_run_id(RunIdArg(ctx.args.id));
  auto r = ctx.client->StopUpdate(request);
  if (!r.ok()) ctx.Fail(r.status());
  if (ctx.json) {
    PrintJson(*r);
    return kExitOk;
  }
  std::cout << (r->stop_sent() ? "stop sent" : "nothing to stop (finished)")
            << "\n";
  PrintTable(StatusRows(r->status()));
  return kExitOk;
}

int Watch(Context& ctx) {
  const std::string run_id = RunIdArg(ctx.args.id);
  // One call first: a wrong run id or an unreachable service fails at once
  // instead of being retried as an interrupted watch.
  auto first = ctx.client->GetUpdateStatus(run_id);
  if (!first.ok()) ctx.Fail(first.status());
  const bool live = !ctx.json && isatty(STDOUT_FILENO);
  const absl::Time started = absl::Now();

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::string current;
  auto draw = [&] {  // with mu held
    std::cout << "\r\033[K" << current << "  " << Elapsed(absl::Now() - started)
              << std::flush;
  };
  std::thread ticker;
  if (live) {
    ticker = std::thread([&] {
      std::unique_lock<std::mutex> lock(mu);
      while (!done) {
        if (!current.empty()) draw();
        cv.wait_for(lock, std::chrono::seconds(1));
      }
    });
  }
  auto on_status = [&](const v1::UpdateStatus& s) {
    std::lock_guard<std::mutex> lock(mu);
    if (ctx.json) {
      PrintJson(s);
    } else if (live) {
      current = WatchLine(s);
      draw();
    } else {
      std::cout << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ  ", absl::Now(),
                                    absl::UTCTimeZone())
                << WatchLine(s) << "\n"
                << std::flush;
    }
  };
  on_status(*first);
  absl::StatusOr<v1::UpdateStatus> last = *first;
  // An incomplete terminal answer (its failure messages unread) is followed
  // by the watch until the service has the rest.
  if (!first->terminal() || first->incomplete()) {
    v1::WatchUpdateRequest request;
    request.set_run_id(run_id);
    v1::UpdateStatus previous = *first;
    last = ctx.client->WaitForUpdate(
        request,
        [&](const v1::UpdateStatus& s) {
          // The watch starts with the status just printed.
          if (google::protobuf::util::MessageDifferencer::Equals(s, previous)) {
            return;
          }
          previous = s;
          on_status(s);
        },
        ctx.options.watch_deadline);
  }
  if (live) {
    {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      draw();
      std::cout << "\n" << std::flush;
    }
    cv.notify_all();
    ticker.join();
  }
  if (!last.ok() &&
      last.status().code() == absl::StatusCode::kDeadlineExceeded) {
    // The watch ran out of time: the update has not finished.
    std::cerr << "pdlt: the update did not finish within the watch's time "
                 "(--timeout gives more)"
              << std::endl;
    return kExitNotFinished;
  }
  if (!last.ok()) ctx.Fail(last.status());
  if (!ctx.json && !last->failure_messages().empty()) {
    for (const auto& m : last->failure_messages()) {
      std::cout << "failure: " << OneLine(m) << "\n";
    }
    std::cout.flush();
  }
  return ExitCodeFor(last->status());
}

int Health(Context& ctx) {
  auto r = ctx.client->CheckHealth(kServiceName);
  if (!r.ok()) ctx.Fail(r.status());
  if (ctx.json) {
    std::cout << "{\"status\":\"" << (*r ? "SERVING" : "NOT_SERVING")
              << "\"}\n";
  } else {
    std::cout << (*r ? "SERVING" : "NOT_SERVING") << "\n";
  }
  std::cout.flush();
  if (!*r) {
    std::cerr << "pdlt: the service at " << ctx.options.target
              << " is not serving (draining or starting)" << std::endl;
    return kExitUnreachable;
  }
  return kExitOk;
}

void ImportFlags(CLI::App& c, Args& a) {
  c.add_option("-n,--name-filter", a.name_filter,
               "only names containing TEXT (case-sensitive)")
      ->type_name("TEXT");
  c.add_option("--pipeline-id", a.pipeline_ids,
               "only this pipeline (repeatable)")
      ->type_name("ID")
      ->allow_extra_args(false);
}

void StartFlags(CLI::App& c, Args& a) {
  c.add_flag("-f,--full-refresh", a.full_refresh, "fully refresh every table");
  auto list = [&](const char* name, std::vector<std::string>& into,
                  const char* metavar, const char* help) {
    c.add_option(name, into, help)->type_name(metavar)->allow_extra_args(false);
  };
  list("--refresh", a.refresh, "TABLE",
       "refresh only TABLE (repeatable, or comma list)");
  list("--full-refresh-table", a.full_refresh_table, "TABLE",
       "fully refresh only TABLE (repeatable, or comma list)");
  list("--refresh-flow", a.refresh_flow, "FLOW",
       "refresh only FLOW (repeatable, or comma list; added to --refresh "
       "and --full-refresh-table)");
  list("--reset-checkpoint", a.reset_checkpoint, "FLOW",
       "reset FLOW's streaming checkpoint without clearing its tables "
       "(repeatable, or comma list)");
  list("--param", a.params, "parameters.KEY=VALUE",
       "the update's parameter KEY, overriding the pipeline's default for "
       "this update (repeatable; the name as 'pdlt sync' shows it; VALUE "
       "may contain '=' and ',')");
  c.add_flag("--validate-only", a.validate_only,
             "validate the graph, update no table");
  c.add_option("--if-running", a.if_running,
               "when an update is active (default fail)")
      ->type_name("fail|attach|restart");
  c.add_option("-k,--idempotency-key", a.idempotency_key,
               "repeat-safe start: the same key returns the first answer")
      ->type_name("KEY");
}

}  // namespace

void Context::Fail(const absl::Status& status) const {
  DieOnError(status, options.target);
}

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"workspaces", "", "list the workspace profiles of the server", nullptr,
       Workspaces},
      {"import", "", "import pipelines as Polysync jobs (streams every batch)",
       ImportFlags, Import},
      {"sync", "PIPELINE_ID", "re-import one pipeline's parameters", nullptr,
       Sync},
      {"start", "PIPELINE_ID", "start an update; prints its run id", StartFlags,
       Start},
      {"status", "RUN_ID",
       "the status of a run; exit code 0/1/2 when finished, 3 when not",
       nullptr, Status},
      {"stop", "RUN_ID", "cancel a run", nullptr, Stop},
      {"watch", "RUN_ID",
       "follow a run until it finishes; exit code reflects its status", nullptr,
       Watch},
      {"health", "", "the service's health check (SERVING or not)", nullptr,
       Health},
  };
  return *commands;
}

}  // namespace polysync::client::cli
