// pdlt's commands: a table of them (name, arguments, summary, flags) where
// each command is a function of the parsed arguments and a connected client.
#ifndef POLYSYNC_CLIENT_CLI_COMMANDS_H_
#define POLYSYNC_CLIENT_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/pipelines_client.h"

namespace polysync::client::cli {

// The arguments and flags of the commands (only the parsed command's are
// set).
struct Args {
  std::string id;  // the positional PIPELINE_ID or RUN_ID
  // import
  std::string name_filter;
  std::vector<std::string> pipeline_ids;
  // start
  bool full_refresh = false;
  std::vector<std::string> refresh, full_refresh_table, refresh_flow,
      reset_checkpoint;
  std::vector<std::string> params;  // whole values (they may hold commas)
  bool validate_only = false;
  std::string if_running;
  std::string idempotency_key;
};

struct Context {
  Args args;
  ClientOptions options;
  bool json = false;
  std::unique_ptr<PipelinesClient> client;

  // One line for the failed call on stderr; exits with its code.
  [[noreturn]] void Fail(const absl::Status& status) const;
};

struct Command {
  const char* name;
  const char* args;  // the positional argument ("" none), e.g. "RUN_ID"
  const char* summary;
  // Declares the command's flags on its subcommand (nullptr: none).
  void (*flags)(CLI::App& command, Args& args);
  // Runs the command; returns the exit code.
  int (*run)(Context& ctx);
};

// Every command, in the order `pdlt --help` lists them.
const std::vector<Command>& Commands();

// Bad usage: "pdlt: <message>" on stderr, exit 64.
[[noreturn]] void UsageError(const std::string& message);

}  // namespace polysync::client::cli

#endif  // POLYSYNC_CLIENT_CLI_COMMANDS_H_
