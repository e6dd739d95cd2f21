// pdlt: the operator CLI of polysync-dlt, on the client library.
//
// Why: operators need something easier than hand-written grpcurl JSON. Tables
// for people by default, `--output json` (protobuf JSON, one object per line)
// for scripts, and exit codes a script can act on.
//
//   pdlt workspaces
//   pdlt import --name-filter Sales
//   pdlt start 0a1b2c3d-... --full-refresh --idempotency-key polysync-run-1
//   pdlt start 0a1b2c3d-... --param parameters.region=emea
//   pdlt watch 0a1b2c3d-...:4e5f... ; echo $?   # 0 success, 1 failed, ...
//
// Exit codes (also in `pdlt --help`):
//   0   success (for status/watch: the update SUCCEEDED)
//   1   the update FAILED
//   2   the update was CANCELLED
//   3   status only: the update has not finished (RUNNING or UNKNOWN)
//   64  bad usage: unknown command or flag, missing or malformed argument,
//       unreadable --tls-*/--token-file
//   65  the service refused or failed the request (invalid argument, not
//       found, failed precondition, internal error, ...)
//   69  the service is unreachable or not serving (UNAVAILABLE, timeout;
//       `health` when NOT_SERVING)
//   77  not authenticated or not permitted
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
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
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cli/exit_codes.h"
#include "client/cli/output.h"
#include "client/pipelines_client.h"
#include "common/log.h"

namespace polysync::client {
namespace {

using ::polysync::client::cli::AuthName;
using ::polysync::client::cli::Elapsed;
using ::polysync::client::cli::ExitCodeFor;
using ::polysync::client::cli::Json;
using ::polysync::client::cli::kExitNotFinished;
using ::polysync::client::cli::kExitOk;
using ::polysync::client::cli::kExitServiceError;
using ::polysync::client::cli::kExitUnreachable;
using ::polysync::client::cli::kExitUsage;
using ::polysync::client::cli::OneLine;
using ::polysync::client::cli::PrintJson;
using ::polysync::client::cli::PrintTable;
using ::polysync::client::cli::StatusRows;
using ::polysync::client::cli::Time;
using ::polysync::client::cli::WatchLine;

constexpr char kServiceName[] = "polysync.databricks.v1.DatabricksPipelines";

// ---------------------------------------------------------------------------
// Flags

struct FlagSpec {
  const char* name;     // without "--"
  const char* metavar;  // nullptr: a boolean flag
  const char* help;
  const char* env = nullptr;  // environment variable giving the default
};

const std::vector<FlagSpec>& GlobalFlags() {
  static const auto* flags = new std::vector<FlagSpec>{
      {"server", "HOST:PORT", "the service (default localhost:50051)",
       "PDLT_SERVER"},
      {"workspace", "NAME", "workspace profile (default: the server's)",
       "PDLT_WORKSPACE"},
      {"tls-ca", "FILE", "CA bundle (PEM) to verify the server; enables TLS",
       "PDLT_TLS_CA"},
      {"tls-cert", "FILE", "client certificate (PEM); enables TLS",
       "PDLT_TLS_CERT"},
      {"tls-key", "FILE", "client certificate's private key (PEM)",
       "PDLT_TLS_KEY"},
      {"token-file", "FILE",
       "file holding a bearer token (sent in clear text only to loopback, "
       "unless --allow-plaintext-token)",
       "PDLT_TOKEN_FILE"},
      {"allow-plaintext-token", nullptr,
       "send --token-file's token without TLS to a non-loopback server (when "
       "something else, e.g. a service mesh, encrypts the traffic)",
       "PDLT_ALLOW_PLAINTEXT_TOKEN"},
      {"output", "table|json", "output format (default table)", "PDLT_OUTPUT"},
      {"affinity", nullptr,
       "resolve --server into its replicas and send each pipeline's calls "
       "to its own replica (a headless Service)",
       "PDLT_AFFINITY"},
      {"timeout", "DURATION",
       "budget of each call, e.g. 30s (watch: of the whole watch)",
       "PDLT_TIMEOUT"},
      {"help", nullptr, "show help"},
  };
  return *flags;
}

struct Command {
  const char* name;
  const char* args;  // positional arguments, for the usage line
  int positional;    // how many
  const char* summary;
  std::vector<FlagSpec> flags;
};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"workspaces", "", 0, "list the workspace profiles of the server", {}},
      {"import",
       "",
       0,
       "import pipelines as Polysync jobs (streams every batch)",
       {{"name-filter", "TEXT", "only names containing TEXT (case-sensitive)"},
        {"pipeline-id", "ID", "only this pipeline (repeatable)"}}},
      {"sync", "PIPELINE_ID", 1, "re-import one pipeline's parameters", {}},
      {"start",
       "PIPELINE_ID",
       1,
       "start an update; prints its run id",
       {{"full-refresh", nullptr, "fully refresh every table"},
        {"refresh", "TABLE", "refresh only TABLE (repeatable, or comma list)"},
        {"full-refresh-table", "TABLE",
         "fully refresh only TABLE (repeatable, or comma list)"},
        {"refresh-flow", "FLOW",
         "refresh only FLOW (repeatable, or comma list; added to --refresh "
         "and --full-refresh-table)"},
        {"reset-checkpoint", "FLOW",
         "reset FLOW's streaming checkpoint without clearing its tables "
         "(repeatable, or comma list)"},
        {"param", "parameters.KEY=VALUE",
         "the update's parameter KEY, overriding the pipeline's default for "
         "this update (repeatable; the name as 'pdlt sync' shows it; VALUE "
         "may contain '=' and ',')"},
        {"validate-only", nullptr, "validate the graph, update no table"},
        {"if-running", "fail|attach|restart",
         "when an update is active (default fail)"},
        {"idempotency-key", "KEY",
         "repeat-safe start: the same key returns the first answer"}}},
      {"status",
       "RUN_ID",
       1,
       "the status of a run; exit code 0/1/2 when finished, 3 when not",
       {}},
      {"stop", "RUN_ID", 1, "cancel a run", {}},
      {"watch",
       "RUN_ID",
       1,
       "follow a run until it finishes; exit code reflects its status",
       {}},
      {"health", "", 0, "the service's health check (SERVING or not)", {}},
  };
  return *commands;
}

struct Parsed {
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> positional;
  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() || it->second.empty() ? "" : it->second.back();
  }
  std::vector<std::string> All(const std::string& name) const {
    std::vector<std::string> out;
    auto it = values.find(name);
    if (it == values.end()) return out;
    for (const auto& v : it->second) {
      for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipEmpty())) {
        out.emplace_back(absl::StripAsciiWhitespace(part));
      }
    }
    return out;
  }
};

// Bad usage: one line on stderr, exit 64.
[[noreturn]] void UsageError(absl::string_view message) {
  std::fflush(stdout);
  std::cerr << "pdlt: " << message << std::endl;
  std::exit(64);
}

const FlagSpec* FindFlag(const std::string& name, const Command* command) {
  for (const auto& f : GlobalFlags()) {
    if (name == f.name) return &f;
  }
  if (command != nullptr) {
    for (const auto& f : command->flags) {
      if (name == f.name) return &f;
    }
  }
  return nullptr;
}

void PrintFlags(std::ostream& out, const std::vector<FlagSpec>& flags) {
  for (const auto& f : flags) {
    std::string left = absl::StrCat("  --", f.name);
    if (f.metavar != nullptr) absl::StrAppend(&left, " ", f.metavar);
    if (left.size() < 32) left.resize(32, ' ');
    out << left << " " << f.help;
    if (f.env != nullptr) out << " [$" << f.env << "]";
    out << "\n";
  }
}

void PrintUsage(std::ostream& out) {
  out << "usage: pdlt [flags] COMMAND [ARGS] [flags]\n\n"
         "Operator CLI of polysync-dlt (Delta Live Tables pipelines for "
         "Polysync).\n\ncommands:\n";
  for (const auto& c : Commands()) {
    std::string left = absl::StrCat("  ", c.name, " ", c.args);
    if (left.size() < 24) left.resize(24, ' ');
    out << left << " " << c.summary << "\n";
  }
  out << "\nflags (every command):\n";
  PrintFlags(out, GlobalFlags());
  out << "\n'pdlt COMMAND --help' describes a command.\n\n"
         "exit codes:\n"
         "  0   success (status/watch: the update succeeded)\n"
         "  1   the update failed\n"
         "  2   the update was cancelled\n"
         "  3   status: the update has not finished yet\n"
         "  64  bad usage (unknown command or flag, malformed argument, "
         "unreadable file)\n"
         "  65  the service refused or failed the request\n"
         "  69  the service is unreachable or not serving\n"
         "  77  not authenticated or not permitted\n";
}

void PrintCommandUsage(std::ostream& out, const Command& c) {
  out << "usage: pdlt " << c.name << (c.args[0] ? " " : "") << c.args
      << " [flags]\n\n"
      << c.summary << ".\n";
  if (!c.flags.empty()) {
    out << "\nflags:\n";
    PrintFlags(out, c.flags);
  }
  out << "\nglobal flags:\n";
  PrintFlags(out, GlobalFlags());
}

// Parses argv; sets *command (nullptr when none was named).
Parsed Parse(int argc, char** argv, const Command** command) {
  Parsed parsed;
  *command = nullptr;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!flags_done && arg == "--") {
      flags_done = true;
      continue;
    }
    if (!flags_done && arg == "-h") arg = "--help";
    if (!flags_done && absl::StartsWith(arg, "--")) {
      std::string name = arg.substr(2);
      std::string value;
      bool has_value = false;
      const auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      const FlagSpec* spec = FindFlag(name, *command);
      if (spec == nullptr) {
        UsageError(absl::StrCat(
            "unknown flag --", name,
            *command ? absl::StrCat(" for '", (*command)->name, "'") : "",
            " (see 'pdlt --help')"));
      }
      if (spec->metavar == nullptr) {
        if (has_value && value != "true" && value != "false") {
          UsageError(absl::StrCat("--", name, " takes no value"));
        }
        if (!has_value) value = "true";
      } else if (!has_value) {
        if (i + 1 >= argc) {
          UsageError(
              absl::StrCat("--", name, " needs a value (", spec->metavar, ")"));
        }
        value = argv[++i];
      }
      parsed.values[name].push_back(value);
      continue;
    }
    if (*command == nullptr) {
      if (arg == "help") {
        parsed.values["help"].push_back("true");
        continue;
      }
      for (const auto& c : Commands()) {
        if (arg == c.name) *command = &c;
      }
      if (*command == nullptr) {
        UsageError(
            absl::StrCat("unknown command '", arg, "' (see 'pdlt --help')"));
      }
      continue;
    }
    parsed.positional.push_back(arg);
  }
  return parsed;
}

// ---------------------------------------------------------------------------
// Output helpers

[[noreturn]] void Die(int code, absl::string_view message) {
  std::fflush(stdout);
  std::cerr << "pdlt: " << OneLine(message) << std::endl;
  std::exit(code);
}

// Prints one clear line for a failed call and exits with its code.
[[noreturn]] void DieOnError(const absl::Status& status,
                             const std::string& target) {
  const cli::Failure failure = cli::FailureOf(status, target);
  Die(failure.code, failure.message);
}

// ---------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------
// Commands

struct Context {
  Parsed flags;
  ClientOptions options;
  bool json = false;
  std::unique_ptr<PipelinesClient> client;

  [[noreturn]] void Fail(const absl::Status& status) const {
    DieOnError(status, options.target);
  }
};

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
  request.set_name_filter(ctx.flags.Get("name-filter"));
  for (const auto& id : ctx.flags.All("pipeline-id")) {
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
  request.set_pipeline_id(PipelineIdArg(ctx.flags.positional[0]));
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
  request.set_pipeline_id(PipelineIdArg(ctx.flags.positional[0]));
  v1::Parameter* p = request.add_parameters();
  p->set_name("full_refresh");
  p->set_data_type(v1::DATA_TYPE_BOOL);
  p->set_direction(v1::DIRECTION_INPUT);
  p->set_value(ctx.flags.Get("full-refresh") == "true" ? "true" : "false");
  for (const auto& t : ctx.flags.All("refresh")) {
    request.add_refresh_selection(t);
  }
  for (const auto& t : ctx.flags.All("full-refresh-table")) {
    request.add_full_refresh_selection(t);
  }
  for (const auto& f : ctx.flags.All("refresh-flow")) {
    request.add_refresh_flow_selection(f);
  }
  for (const auto& f : ctx.flags.All("reset-checkpoint")) {
    request.add_reset_checkpoint_selection(f);
  }
  // --param values are taken whole (a value may hold commas).
  std::set<std::string> names;
  auto params = ctx.flags.values.find("param");
  if (params != ctx.flags.values.end()) {
    for (const std::string& arg : params->second) {
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
  request.set_validate_only(ctx.flags.Get("validate-only") == "true");
  request.set_idempotency_key(ctx.flags.Get("idempotency-key"));
  const std::string if_running = ctx.flags.Get("if-running");
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
  auto r = ctx.client->GetUpdateStatus(RunIdArg(ctx.flags.positional[0]));
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
  request.set_run_id(RunIdArg(ctx.flags.positional[0]));
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
  const std::string run_id = RunIdArg(ctx.flags.positional[0]);
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

std::string FlagOrEnv(const Parsed& parsed, const char* name) {
  if (parsed.Has(name)) return parsed.Get(name);
  const FlagSpec* spec = FindFlag(name, nullptr);
  if (spec != nullptr && spec->env != nullptr) {
    const char* value = std::getenv(spec->env);
    if (value != nullptr) return value;
  }
  return "";
}

int Run(int argc, char** argv) {
  const Command* command = nullptr;
  Parsed parsed = Parse(argc, argv, &command);
  if (parsed.Has("help")) {
    if (command != nullptr) {
      PrintCommandUsage(std::cout, *command);
    } else {
      PrintUsage(std::cout);
    }
    return kExitOk;
  }
  if (command == nullptr) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  const std::string help_hint =
      absl::StrCat(" (see 'pdlt ", command->name, " --help')");
  if (static_cast<int>(parsed.positional.size()) != command->positional) {
    std::cerr << "pdlt: " << command->name << " takes "
              << (command->positional == 0
                      ? std::string("no arguments")
                      : absl::StrCat("exactly one argument, ", command->args))
              << help_hint << std::endl;
    return kExitUsage;
  }

  Context ctx;
  ctx.flags = parsed;
  const std::string output = FlagOrEnv(parsed, "output");
  if (output == "json") {
    ctx.json = true;
  } else if (!output.empty() && output != "table") {
    std::cerr << "pdlt: --output must be table or json, not \"" << output
              << "\"" << help_hint << std::endl;
    return kExitUsage;
  }
  ClientOptions& o = ctx.options;
  o.target = FlagOrEnv(parsed, "server");
  if (o.target.empty()) o.target = "localhost:50051";
  o.workspace = FlagOrEnv(parsed, "workspace");
  o.tls_ca_file = FlagOrEnv(parsed, "tls-ca");
  o.tls_cert_file = FlagOrEnv(parsed, "tls-cert");
  o.tls_key_file = FlagOrEnv(parsed, "tls-key");
  o.token_file = FlagOrEnv(parsed, "token-file");
  const std::string plaintext = FlagOrEnv(parsed, "allow-plaintext-token");
  o.allow_token_over_plaintext = plaintext == "true" || plaintext == "1";
  const std::string affinity = FlagOrEnv(parsed, "affinity");
  o.pipeline_affinity = affinity == "true" || affinity == "1";
  o.default_deadline = absl::Seconds(30);
  o.retry.max_attempts = 3;
  o.retry.initial_backoff = absl::Milliseconds(250);
  o.max_reconnect_backoff = absl::Seconds(2);
  const std::string timeout = FlagOrEnv(parsed, "timeout");
  if (!timeout.empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(timeout, &d) || d <= absl::ZeroDuration()) {
      std::cerr << "pdlt: --timeout must be a duration such as 30s or 5m, not "
                << "\"" << timeout << "\"" << help_hint << std::endl;
      return kExitUsage;
    }
    o.default_deadline = d;
    o.import_deadline = d;
    o.watch_deadline = d;
  }
  auto client = PipelinesClient::Create(o);
  if (!client.ok()) {
    std::cerr << "pdlt: " << OneLine(client.status().message()) << std::endl;
    return kExitUsage;
  }
  ctx.client = *std::move(client);

  const std::string name = command->name;
  if (name == "workspaces") return Workspaces(ctx);
  if (name == "import") return Import(ctx);
  if (name == "sync") return Sync(ctx);
  if (name == "start") return Start(ctx);
  if (name == "status") return Status(ctx);
  if (name == "stop") return Stop(ctx);
  if (name == "watch") return Watch(ctx);
  if (name == "health") return Health(ctx);
  return kExitUsage;
}

}  // namespace
}  // namespace polysync::client

int main(int argc, char** argv) {
  // The library logs retries at info and gRPC logs handshake failures; an
  // operator sees one line on error (PDLT_DEBUG=1 shows everything).
  const bool debug = std::getenv("PDLT_DEBUG") != nullptr;
  polysync::log::SetMinLevel(debug ? polysync::log::Level::kDebug
                                   : polysync::log::Level::kError);
  setenv("GRPC_VERBOSITY", debug ? "DEBUG" : "NONE", /*overwrite=*/0);
  return polysync::client::Run(argc, argv);
}
